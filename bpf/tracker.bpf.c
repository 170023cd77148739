// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * ctaccel's tracker object, one translation unit: every program of it, the
 * modules it is made of (each .bpf.h stands on its own: its own includes,
 * nothing it uses defined here), and the tc packet path itself.
 *
 *   tc ingress, egress       track every TCP and UDP packet, mark bypassed
 *                            flows, forward fast-path flows (handle())
 *   syscall delete, clock,   run by userspace through BPF_PROG_TEST_RUN:
 *   expiry_ctl, expire       compare-and-delete, the datapath's clock,
 *                            kernel expiry's control and a forced pass
 *   sockops, cgroup bind4/6, the bypass mark of local TCP and UDP sockets
 *   connect4/6
 *
 * Every packet is passed on unchanged (TC_ACT_UNSPEC, so later tc filters
 * still run) unless the fast path forwards it; whatever ctaccel cannot do is
 * counted instead. The maps are in maps.bpf.h.
 */
#include "common.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "discard.bpf.h"
#include "states.bpf.h"
#include "events.bpf.h"
#include "policy.bpf.h"
#include "latency.bpf.h"
#include "removal.bpf.h"
#include "unreplied.bpf.h"
#include "newflow.bpf.h"
#include "flow.bpf.h"
#include "migrate.bpf.h"
#include "fastpath.bpf.h"
#include "expiry.bpf.h"
#include "sockops.bpf.h"
#include "udpsock.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Verify a packet's checksums once; false (counted) when they are bad. */
static __always_inline bool csum_settle(struct __sk_buff *skb, struct pkt *p,
					struct ctaccel_stats *st)
{
	if (p->csum != CSUM_UNKNOWN)
		return true;
	if (!csum_ok(skb, p, st)) {
		CTR_INC(st, bad_checksum);
		return false;
	}
	p->csum = CSUM_GOOD;
	return true;
}

/*
 * Settle the checksums before the flow is looked up where that costs little
 * (the kernel vouches for the segment: only the IPv4 header is summed, in
 * place) or will be needed anyway (a SYN, FIN or RST opens, moves or ends a
 * flow): otherwise such a packet finds its flow, learns that its move needs
 * the check, and looks the flow up again. Data and bare ACKs of other skbs
 * stay lazy (csum_matters). False (counted) when they are bad.
 */
static __always_inline bool csum_early(struct __sk_buff *skb, struct pkt *p,
				       struct ctaccel_stats *st)
{
	if (p->csum != CSUM_UNKNOWN)
		return true;
	if (csum_trusted(skb)) {
		if (p->key.family != AF_INET || ip_csum_inplace(skb, p) == 1) {
			p->csum = CSUM_GOOD;
			return true;
		}
		return csum_settle(skb, p, st);
	}
	if (p->tcp_flags & (TCPF_SYN | TCPF_FIN | TCPF_RST))
		return csum_settle(skb, p, st);
	return true;
}

/* A flow the kernel's routing would not let start: counted by why (a TTL
 * that expires is counted for every packet, in handle()). */
static __always_inline void route_refused(const struct pkt *p, struct ctaccel_stats *st)
{
	if (p->no_create == ROUTE_UNROUTABLE)
		CTR_INC(st, unroutable);
	else if (p->no_create == ROUTE_TOO_BIG)
		CTR_INC(st, too_big);
}

static __always_inline void track(struct __sk_buff *skb, struct pkt *p, struct ctaccel_stats *st)
{
	/* UDP has no flags: its datagrams take the class no TCP segment can. */
	__u32 index = p->key.proto == IPPROTO_TCP ? tcp_index_of(p->tcp_flags) : TCPI_NONE;
	__u64 now = bpf_jiffies64();
	struct ctaccel_flow *f;
	long ret;
	int i;

	if (!csum_early(skb, p, st))
		return;
	/* Each round either finishes, verified the checksum, removed a dead
	 * entry or lost an insert race, after which the next lookup sees the
	 * other CPU's work. */
	for (i = 0; i < 4; i++) {
		f = bpf_map_lookup_elem(&ctaccel_flows, &p->key);
		/* (all of it dropped by the verifier unless migrating) */
		if (migrating()) {
			p->prev = !f;
			if (!f)
				f = bpf_map_lookup_elem(&ctaccel_flows_prev, &p->key);
		}
		if (f) {
			ret = flow_update(f, p, index, now, st);
			if (ret == FLOW_CSUM && csum_settle(skb, p, st))
				continue;
			if (migrating() && ret == FLOW_MOVING) {
				if (migrate_wait(p, st))
					continue;
				return;
			}
			if ((ret & 0xff) == FLOW_REOPEN) {
				/* a reopening SYN that routing drops ends the old
				 * flow and starts none (flow_reopen) */
				route_settle(skb, p);
				/* the old state and the new flow's claim in one word */
				ret = ret >> 8 & 0xff;
				ret |= (long)unreplied_take(st, &p->key) << 8;
				if (flow_reopen(f, p, ret, now, st) == FLOW_AGAIN)
					continue;
				return;
			}
			if (ret != FLOW_AGAIN)
				return;
			continue;
		}
		if (!p->no_create) {
			if (!csum_settle(skb, p, st))
				return;
			route_settle(skb, p);
		}
		if (p->no_create) {
			route_refused(p, st);
			return;
		}
		if (flow_create(skb, p, index, now, st) != -EEXIST)
			return;
		CTR_INC(st, insert_races);
	}
	CTR_INC(st, cas_exhausted);
}

/*
 * An ICMP error about a tracked flow is counted on it, and carries its bypass
 * mark: nf_conntrack relates it to the flow (it accounts it nowhere), and
 * without its own entry an error about a bypassed flow must skip it too.
 * Anything else ICMP stays uncounted but for non_tcp.
 */
static __always_inline void icmp_error_count(struct pkt *p, struct ctaccel_stats *st)
{
	struct ctaccel_flow *f = bpf_map_lookup_elem(&ctaccel_flows, &p->key);

	if (!f && migrating())
		f = bpf_map_lookup_elem(&ctaccel_flows_prev, &p->key);
	if (!f || flow_ref(f, p->key_hash) != REF_TAKEN) {
		CTR_INC(st, non_tcp);
		return;
	}
	if (ctaccel_ct_state(*(volatile __u64 *)&f->ct) != CTACCEL_ST_NONE) {
		__sync_fetch_and_add(&f->icmp_errors, 1);
		p->bypass = f->bypass;
		CTR_INC(st, icmp_related);
	} else {
		CTR_INC(st, non_tcp);
	}
	__sync_fetch_and_add(&f->ref, -1);
}

static __always_inline int handle(struct __sk_buff *skb, bool egress)
{
	struct ctaccel_stats *st;
	struct pkt p = {};
	bool icmp = false;
	__u32 zero = 0;

#ifdef CTACCEL_UPGRADE_SALT
	/* Only in the live-upgrade soak's second build (Makefile): other
	 * instructions, hence other program tags. */
	asm volatile("r0 = %[salt]" ::[salt] "i"(CTACCEL_UPGRADE_SALT) : "r0");
#endif
	st = bpf_map_lookup_elem(&ctaccel_stats, &zero);
	if (!st)
		return TC_ACT_UNSPEC;
	CTR_INC(st, packets);
	CTR_ADD(st, bytes, skb->len);

	/* A forwarded packet was already tracked at the ingress it came from. */
	if (egress && skb->ingress_ifindex) {
		__u32 ifindex = skb->ingress_ifindex;
		struct ctaccel_iface *in = bpf_map_lookup_elem(&ctaccel_ifaces, &ifindex);

		if (in && (in->flags & CTACCEL_IFACE_INGRESS)) {
			CTR_INC(st, skipped_egress);
			return TC_ACT_UNSPEC;
		}
	}

	switch (parse(skb, &p)) {
	case PKT_TCP:
	case PKT_UDP:
		break;
	case PKT_UDP_INVALID:
		CTR_INC(st, invalid);
		return TC_ACT_UNSPEC;
	case PKT_ICMP_ERROR:
		icmp = true;
		break;
	case PKT_NON_IP:
		CTR_INC(st, non_ip);
		return TC_ACT_UNSPEC;
	case PKT_NON_TCP:
		CTR_INC(st, non_tcp);
		return TC_ACT_UNSPEC;
	case PKT_FRAGMENT:
		CTR_INC(st, fragments);
		return TC_ACT_UNSPEC;
	case PKT_UNPARSED:
		CTR_INC(st, unparsed);
		return TC_ACT_UNSPEC;
	default:
		CTR_INC(st, malformed);
		return TC_ACT_UNSPEC;
	}
	if (!egress && skb->pkt_type == PACKET_OTHERHOST) {
		CTR_INC(st, not_for_host);
		return TC_ACT_UNSPEC;
	}
	if (icmp) {
		icmp_error_count(&p, st);
		goto mark;
	}
	if (p.key.proto == IPPROTO_TCP && !tcp_flags_valid(p.tcp_flags)) {
		CTR_INC(st, invalid);
		return TC_ACT_UNSPEC;
	}
	/* nf_conntrack checks checksums at PRE_ROUTING only: what leaves
	 * through egress was made or checked by this host. */
	p.csum = egress ? CSUM_GOOD : CSUM_UNKNOWN;
	p.ingress = !egress;
	/* nf_conntrack has seen the packet at PRE_ROUTING when ip_forward
	 * drops it: a confirmed entry is accounted and moved, a new one is
	 * never confirmed (discard.bpf.h). Counted for every such packet;
	 * the other drops only for packets that would start a flow. */
	if (p.ttl <= 1) {
		route_settle(skb, &p);
		if (p.no_create == ROUTE_TTL)
			CTR_INC(st, ttl_expired);
	}
	track(skb, &p, st);
mark:
	/* tc ingress runs before netfilter's prerouting hook, where the raw
	 * notrack rule of table inet ctaccel sees this mark. Local output is
	 * marked on the socket (ctaccel_sockops): there the output hook runs
	 * before tc egress. */
	if (p.bypass && !egress) {
		skb->mark = ctaccel_mark_set(skb->mark, live_mark());
		CTR_INC(st, bypassed_packets);
	}
	/* Only an ingress packet is ever fast (fast_decide): egress does not
	 * carry the fast path's frame. */
	if (p.fast && !egress)
		return fastpath(skb, &p, st);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int ctaccel_ingress(struct __sk_buff *skb)
{
	return handle(skb, false);
}

SEC("tc")
int ctaccel_egress(struct __sk_buff *skb)
{
	return handle(skb, true);
}

/*
 * Compare-and-delete, run through BPF_PROG_TEST_RUN: the one removal path for
 * GC, flush and unload (removal.bpf.h).
 */
SEC("syscall")
int ctaccel_delete(struct ctaccel_del_args *args)
{
	return delete_requests(args);
}

/* A pass of a migration's move (migrate.bpf.h), for user/lib/migrate.c. */
SEC("syscall")
int ctaccel_migrate(struct ctaccel_migrate_args *args)
{
	return migrate_pass(args);
}

/* The datapath's clock for userspace, which has no jiffies of its own. */
SEC("syscall")
int ctaccel_clock(struct ctaccel_clock *clk)
{
	clk->jiffies = bpf_jiffies64();
	return 0;
}

/* Kernel expiry's control: start, take over after a replace, stop
 * (expiry.bpf.h); with a BPF workqueue, or (a kernel without one) the
 * timer's own walk: the loader loads one of the two. */
SEC("syscall")
int ctaccel_expiry_ctl(struct ctaccel_expiry_args *args)
{
	return expiry_control(args, true);
}

SEC("?syscall")
int ctaccel_expiry_ctl_timer(struct ctaccel_expiry_args *args)
{
	return expiry_control(args, false);
}

/* A whole expiry pass now, in the caller's time (expiry.bpf.h). */
SEC("syscall")
int ctaccel_expire(struct ctaccel_expiry_args *args)
{
	return expiry_pass_now(args);
}

/* The bypass mark of local TCP sockets (sockops.bpf.h). */
SEC("sockops")
int ctaccel_sockops(struct bpf_sock_ops *ops)
{
	return sockops_mark(ops);
}

/* The bypass mark of local UDP sockets, at bind and connect (udpsock.bpf.h). */
SEC("cgroup/bind4")
int ctaccel_udp_bind4(struct bpf_sock_addr *ctx)
{
	return udp_sock_hook(ctx, false, true);
}

SEC("cgroup/bind6")
int ctaccel_udp_bind6(struct bpf_sock_addr *ctx)
{
	return udp_sock_hook(ctx, true, true);
}

SEC("cgroup/connect4")
int ctaccel_udp_connect4(struct bpf_sock_addr *ctx)
{
	return udp_sock_hook(ctx, false, false);
}

SEC("cgroup/connect6")
int ctaccel_udp_connect6(struct bpf_sock_addr *ctx)
{
	return udp_sock_hook(ctx, true, false);
}
