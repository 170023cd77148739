/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The fast path: packets of established, opted-in flows are forwarded from tc
 * ingress (route lookup, TTL or hop limit, redirect to the next hop's
 * neighbour), skipping the IP stack and netfilter. Whatever the kernel must
 * decide itself goes the slow way, counted by reason.
 */
#ifndef CTACCEL_FASTPATH_BPF_H
#define CTACCEL_FASTPATH_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "discard.bpf.h"

/* Results of fastpath_route(): FP_FORWARD or the reason for the slow path. */
enum fp_result {
	FP_FORWARD,
	FP_CONTROL,
	FP_OPTIONS,
	FP_NO_ROUTE,
	FP_NOT_FORWARDED,
	FP_FWD_DISABLED,
	FP_NO_NEIGH,
	FP_MTU,
	FP_EGRESS,
	FP_OTHER,
};

/* IPv4 TTL, protocol and header checksum: rewritten with one store. */
struct ttl_word {
	__u8 ttl;
	__u8 protocol;
	__u16 check;
};

/* RFC 1624 incremental update of a one's complement checksum. */
static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + (__u32) new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The length of each IP packet the skb leaves as: a GRO-merged skb is
 * checked per segment against the MTU, as the kernel's forward path does. */
static __always_inline __u32 seg_len(struct __sk_buff *skb, const struct pkt *p)
{
	if (skb->gso_size)
		return p->l4_off - ETH_HLEN + p->l4_hlen + skb->gso_size;
	return p->ip_len;
}

static __always_inline int fib_verdict(long rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		return FP_FORWARD;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return FP_NO_ROUTE;
	case BPF_FIB_LKUP_RET_NOT_FWDED:
		return FP_NOT_FORWARDED;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return FP_FWD_DISABLED;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return FP_NO_NEIGH;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return FP_MTU;
	default:
		return FP_OTHER;
	}
}

/*
 * The fast path's memo of IPv4 route lookups: what bpf_fib_lookup() answered
 * for one question (device in, source and destination, TOS; and the ports and
 * protocol where the answer may depend on them), per CPU and direct-mapped by
 * a hash of the question. The question leaves the ports and protocol out
 * while the netns has no policy rule of its own and multipath routes hash on
 * addresses only (net->ipv4.fib_has_custom_rules, which is never cleared,
 * and sysctl_fib_multipath_hash_policy 0): then the kernel's lookup does not
 * read them, and all flows between two hosts share one answer, as they do in
 * the kernel's FIB. An answer stands while the netns's IPv4 route generation
 * (rt_genid) stays where it was: the kernel moves it on every route or rule
 * added, on the deletion of a route a lookup has used, on a device going down
 * or up, a carrier or MTU change, and forwarding switched on or off, and
 * checks its own cached IPv4 routes against it the same way. IPv6 has no such
 * generation (a deleted IPv6 route is marked, not counted), so IPv6 packets
 * ask the FIB every time. Neighbours are never memoised: bpf_redirect_neigh()
 * resolves the next hop per packet in the kernel's neighbour layer, which
 * runs its state machine (probes a stale entry, queues behind an unresolved
 * one) as the kernel's own forwarding does. The memo is ctaccel_fp_routes
 * (maps.bpf.h).
 */

/* The devices generation (struct ctaccel_policy_gen.devices). */
static __always_inline __u32 devices_gen_now(void)
{
	__u32 zero = 0;
	struct ctaccel_policy_gen *g = bpf_map_lookup_elem(&ctaccel_policy_gen, &zero);

	return g ? *(volatile __u32 *)&g->devices : 0;
}

/*
 * The IPv4 route generation of the netns the packet came in on, and whether
 * that netns's lookups may read the ports and protocol: a policy rule of its
 * own (any rule can match them), or a multipath hash over more than the
 * addresses. A kernel without multipath routing has no hash policy.
 */
#if CTACCEL_KERN_CTX
static __always_inline __u32 route_gen4(struct __sk_buff *skb, bool *ports_matter)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	struct net *net = kskb->dev->nd_net.net;
	bool matter = net->ipv4.fib_has_custom_rules;

	/* A direct load, as every field here (no probe-read helper per
	 * packet); the branch is gone where the field is. */
	if (bpf_core_field_exists(net->ipv4.sysctl_fib_multipath_hash_policy))
		matter |= net->ipv4.sysctl_fib_multipath_hash_policy != 0;
	*ports_matter = matter;
	return net->ipv4.rt_genid.counter;
}
#else
/* Without bpf_cast_to_kern_ctx the generation cannot be read: no IPv4
 * answer is kept (ROUTE_MEMO 0), each packet asks the FIB, as IPv6 does. */
static __always_inline __u32 route_gen4(struct __sk_buff *skb, bool *ports_matter)
{
	*ports_matter = true;
	return 0;
}
#endif
#define ROUTE_MEMO CTACCEL_KERN_CTX

/* The memo slot of an IPv4 packet's question. */
static __always_inline __u32 route_slot(const struct pkt *p, bool ports_matter)
{
	const struct ctaccel_flow_key *k = &p->key;
	__u32 h = (k->addr_lo[0] ^ k->addr_hi[0] * 0x9e3779b1 ^ p->src_is_hi) * 0x85ebca6b;

	if (ports_matter)
		h ^= (__u32)k->port_lo << 16 | k->port_hi;
	return (h * 0x9e3779b1 >> 22) & (FP_ROUTES - 1);
}

/* Whether the slot holds this packet's whole question: every word, without a
 * branch per word (asked on every fast packet). */
static __always_inline bool route_answers(const struct fp_route *r, struct __sk_buff *skb,
					  const struct pkt *p, bool ports_matter, __u32 gen,
					  __u32 len)
{
	const __u32 *x = (const __u32 *)&r->q, *y = (const __u32 *)&p->key;
	__u16 m16 = ports_matter ? 0xffff : 0;
	__u32 diff = 0;
	int i;

	for (i = 0; i < 8; i++)
		diff |= x[i] ^ y[i];
	diff |= (r->q.port_lo ^ (p->key.port_lo & m16)) | (r->q.port_hi ^ (p->key.port_hi & m16));
	diff |= (r->q.proto ^ (p->key.proto & (__u8)m16)) | (r->q.family ^ p->key.family);
	return !diff && r->gen == gen && r->in_ifindex == skb->ingress_ifindex &&
	       r->src_is_hi == p->src_is_hi && r->tos == p->tos && len <= r->fits_len;
}

/* Ask the FIB (the neighbour left to the redirect) and keep its answer in r. */
static __always_inline int route_lookup(struct __sk_buff *skb, const struct pkt *p, __u32 len,
					struct fp_route *r, bool ports_matter, __u32 gen)
{
	struct bpf_fib_lookup fib = {};
	int verdict;

	fib_params(skb, p, &fib);
	/* Non-zero: the route's MTU (and learned path MTU) is checked. */
	fib.tot_len = len;
	/* Without BPF_FIB_LOOKUP_SKIP_NEIGH (before Linux 6.3) the lookup
	 * answers NO_NEIGH where the neighbour is not known yet: that packet
	 * goes the slow way, and the kernel resolves it. */
	verdict = fib_verdict(bpf_fib_lookup(skb, &fib, sizeof(fib),
					     ctaccel_cfg.flags & CTACCEL_CFG_FIB_NEIGH
						     ? 0
						     : BPF_FIB_LOOKUP_SKIP_NEIGH));
	if (verdict != FP_FORWARD)
		return verdict;
	/* Packets of one CPU run here one at a time (softirq; on PREEMPT_RT
	 * the CPU's BH lock): no other reads the slot while it is filled. */
	r->q = p->key;
	if (!ports_matter) {
		r->q.port_lo = 0;
		r->q.port_hi = 0;
		r->q.proto = 0;
	}
	r->in_ifindex = skb->ingress_ifindex;
	r->gen = gen;
	r->out_ifindex = fib.ifindex;
	/* The gateway, or the destination: an IPv4 route may have an IPv6 gateway. */
	r->nh.nh_family = fib.family;
	__builtin_memcpy(r->nh.ipv6_nh, fib.ipv6_dst, sizeof(r->nh.ipv6_nh));
	r->fits_len = len;
	r->src_is_hi = p->src_is_hi;
	r->tos = p->tos;
	r->egress_ok = 0;
	return FP_FORWARD;
}

/* The TTL (with its checksum) or hop limit, spent here: one store. */
static __always_inline int spend_ttl(struct __sk_buff *skb, const struct pkt *p)
{
	struct ttl_word buf, *w, nw;
	__u8 hop;

	if (p->key.family == AF_INET6) {
		hop = p->ttl - 1;
		if (bpf_skb_store_bytes(skb, ETH_HLEN + 7, &hop, 1, 0))
			return FP_OTHER;
		return FP_FORWARD;
	}
	w = hdr_at(skb, ETH_HLEN + 8, sizeof(buf), &buf);
	if (!w)
		return FP_OTHER;
	nw = *w;
	nw.ttl = w->ttl - 1;
	nw.check = csum_replace16(w->check, bpf_htons((__u16)w->ttl << 8),
				  bpf_htons((__u16)nw.ttl << 8));
	if (bpf_skb_store_bytes(skb, ETH_HLEN + 8, &nw, sizeof(nw), 0))
		return FP_OTHER;
	return FP_FORWARD;
}

/*
 * Route one packet of a fast-path flow: FP_FORWARD once its TTL is spent and
 * it is redirected to its next hop, else the reason it goes the slow way
 * (untouched).
 */
__noinline int fastpath_route(struct __sk_buff *skb, struct pkt *p)
{
	struct ctaccel_iface *out;
	bool ports_matter = true;
	struct fp_route *r;
	__u32 ifindex, len, gen = 0, slot, devices;
	int verdict;

	if (!skb || !p)
		return FP_OTHER;
	if (p->tcp_flags & (TCPF_SYN | TCPF_FIN | TCPF_RST))
		return FP_CONTROL;
	if (skb->pkt_type != PACKET_HOST)
		return FP_NOT_FORWARDED;
	if (p->key.family == AF_INET && p->l4_off != ETH_HLEN + 20)
		return FP_OPTIONS;
	/* The kernel reassembles what nf_conntrack sees: fragments go its way,
	 * the first with the rest. */
	if (p->frag_head)
		return FP_OTHER;
	if (p->ttl <= 1)
		return FP_OTHER; /* not tracked at all when it expires here */
	len = seg_len(skb, p);
	if (ROUTE_MEMO && p->key.family == AF_INET) {
		gen = route_gen4(skb, &ports_matter);
		slot = route_slot(p, ports_matter);
	} else {
		/* IPv6, or no memo: a lookup for every packet (the slot is
		 * its scratch space). */
		slot = p->key_hash & (FP_ROUTES - 1);
	}
	r = bpf_map_lookup_elem(&ctaccel_fp_routes, &slot);
	if (!r)
		return FP_OTHER;
	if (!ROUTE_MEMO || p->key.family != AF_INET ||
	    !route_answers(r, skb, p, ports_matter, gen, len)) {
		verdict = route_lookup(skb, p, len, r, ports_matter, gen);
		if (verdict != FP_FORWARD)
			return verdict;
	}
	/* The replies must meet ctaccel at that device's ingress: asked of
	 * ctaccel_ifaces again whenever userspace changed it. Read before the
	 * map, so an answer kept with the current value was read after the
	 * change. */
	ifindex = r->out_ifindex;
	devices = devices_gen_now();
	if (!r->egress_ok || r->devices != devices) {
		out = bpf_map_lookup_elem(&ctaccel_ifaces, &ifindex);
		if (!out || !(out->flags & CTACCEL_IFACE_INGRESS))
			return FP_EGRESS;
		r->devices = devices;
		r->egress_ok = 1;
	}
	verdict = spend_ttl(skb, p);
	if (verdict != FP_FORWARD)
		return verdict;
	/* Fails only for bad arguments, which these are not. */
	bpf_redirect_neigh(ifindex, &r->nh, sizeof(r->nh), 0);
	return FP_FORWARD;
}

/* The slow_* counters follow the reasons' order: one index computes them. */
_Static_assert(CTACCEL_CTR_slow_other - CTACCEL_CTR_slow_control == FP_OTHER - FP_CONTROL &&
		       CTACCEL_CTR_slow_mtu - CTACCEL_CTR_slow_control == FP_MTU - FP_CONTROL,
	       "slow-path counters in the order of enum fp_result");

/* Forward a packet on the fast path, or count why it stays on the slow one. */
static __always_inline int fastpath(struct __sk_buff *skb, struct pkt *p, struct ctaccel_stats *st)
{
	__u32 r = fastpath_route(skb, p);

	if (r == FP_FORWARD) {
		CTR_INC(st, fastpath_packets);
		CTR_ADD(st, fastpath_bytes, p->ip_len);
		return TC_ACT_REDIRECT;
	}
	if (r < FP_CONTROL || r > FP_OTHER)
		r = FP_OTHER;
	((__u64 *)st)[CTACCEL_CTR_slow_control + r - FP_CONTROL]++;
	return TC_ACT_UNSPEC;
}

#endif /* CTACCEL_FASTPATH_BPF_H */
