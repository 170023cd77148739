// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * ctaccel's connection tracker: tc programs for ingress and egress that keep
 * one entry per TCP or UDP flow with nf_conntrack's states, and the compare-and-
 * delete program through which every removal outside the datapath goes.
 *
 * Every packet is passed on unchanged (TC_ACT_UNSPEC, so later tc filters
 * still run); whatever ctaccel cannot do is counted instead.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "tracker.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader (ctaccel_config_default() and overrides). */
const volatile struct ctaccel_config ctaccel_cfg;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CTACCEL_DEFAULT_MAX_FLOWS);
	/* Memory follows the live flows, not the configured maximum. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ctaccel_flow_key);
	__type(value, struct ctaccel_flow);
} ctaccel_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctaccel_stats);
} ctaccel_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32); /* ifindex */
	__type(value, struct ctaccel_iface);
} ctaccel_ifaces SEC(".maps");

struct policy_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CTACCEL_POLICY_KEYS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ctaccel_policy_key);
	__type(value, struct ctaccel_policy_val);
} ctaccel_policy_initial SEC(".maps");

/* One slot: userspace swaps in a whole new trie to replace the policy. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct policy_trie);
} ctaccel_policy SEC(".maps") = {
	.values = {[0] = &ctaccel_policy_initial},
};

/* Keys of recent new flows; sized by the loader (ctaccel_cfg.unreplied_max). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CTACCEL_DEFAULT_MAX_FLOWS / 4);
	__type(key, __u32);
	__type(value, struct ctaccel_unreplied_slot);
} ctaccel_unreplied SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctaccel_unreplied_head);
} ctaccel_unreplied_head SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CTACCEL_EVENTS_BYTES);
} ctaccel_events SEC(".maps");

/* Written by monitors only: the datapath reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctaccel_monitor);
} ctaccel_monitor SEC(".maps");

/* Written by userspace only (its one writer), after each policy change. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctaccel_policy_gen);
} ctaccel_policy_gen SEC(".maps");

/*
 * Counters only the tc programs write are plain per-CPU increments: tc runs in
 * softirq or with BH disabled, so nothing else on this CPU interleaves. Slots
 * that the (process-context, interruptible) delete program also writes are
 * changed with atomics on both sides.
 */
#define CTR_INC(st, name)	((st)->name++)
#define CTR_ADD(st, name, v)	((st)->name += (v))
#define CTR_ATOMIC(st, name, v) __sync_fetch_and_add(&(st)->name, (v))

static __always_inline void gauge_add(struct ctaccel_stats *st, __u32 state, __s64 v)
{
	if (state < CTACCEL_ST__MAX)
		__sync_fetch_and_add(&st->flows_in_state[state], v);
}

#include "parse.bpf.h"
#include "discard.bpf.h"
#include "fastpath.bpf.h"

#include "policy.bpf.h"
#include "events.bpf.h"
#include "latency.bpf.h"

#include "removal.bpf.h"
#include "unreplied.bpf.h"

static __always_inline void flow_account(struct ctaccel_flow *f, __u32 dir, const struct pkt *p,
					 __u64 now, struct ctaccel_stats *st)
{
	struct ctaccel_flow_leg *leg = &f->leg[dir & 1];
	__u32 bits = (__u32)p->tcp_flags << ((dir & 1) * 8);

	__sync_fetch_and_add(&leg->packets, 1);
	__sync_fetch_and_add(&leg->bytes, p->ip_len);
	if ((*(volatile __u32 *)&f->tcp_flags & bits) != bits)
		__sync_fetch_and_or(&f->tcp_flags, bits);
	/* Any concurrent writer stores a time of this very moment. */
	if (f->last_seen != (__u32)now)
		f->last_seen = now;
	CTR_INC(st, tracked_packets);
	CTR_ADD(st, tracked_bytes, p->ip_len);
}

/*
 * flow_step() results besides 0 (done, still in flight on the entry): the
 * packet removed the entry (and left it), and either starts a new flow with
 * the next lookup or is done.
 */
#define FLOW_AGAIN 1
#define FLOW_GONE  2
#define FLOW_CSUM  3 /* the packet would change the flow: verify its checksum first */
/* The packet claimed a closed flow to reopen it (flow_reopen), still holds its
 * reference, and passes the old state in bits 8-15. */
#define FLOW_REOPEN 4
#define CAS_TRIES   8

/* The word's state and nf_conntrack's flags; the kind of the last packet and
 * the expiry are left out (see docs/datapath.md). */
#define CT_CSUM_BITS                                                                               \
	(CTACCEL_CT_STATE_MASK | CTACCEL_CT_SEEN_REPLY | CTACCEL_CT_ASSURED |                      \
	 CTACCEL_CT_CLOSE_INIT | CTACCEL_CT_SIMOPEN | CTACCEL_CT_CHALLENGE)

/* Whether the kernel's verdict on the checksum decides what this packet does:
 * a SYN or RST (they open, reopen, kill), or any move of state or flags. A
 * segment that only adds to the counters is not checked. */
static __always_inline bool csum_matters(__u64 ct, __u64 nct, __u32 index, enum tcp_verdict v)
{
	return index == TCPI_SYN || index == TCPI_SYNACK || index == TCPI_RST || v == TV_REOPEN ||
	       v == TV_KILL || ((ct ^ nct) & CT_CSUM_BITS);
}

static __always_inline int flow_step(struct ctaccel_flow *f, struct pkt *p, __u32 index, __u64 now,
				     struct ctaccel_stats *st)
{
	__u32 dir = p->src_is_hi == f->orig_is_hi ? CTACCEL_DIR_ORIG : CTACCEL_DIR_REPLY, claim;
	int i;

	for (i = 0; i < CAS_TRIES; i++) {
		__u64 ct = *(volatile __u64 *)&f->ct, nct = ct;
		__u32 old = ctaccel_ct_state(ct), new;
		enum tcp_verdict v;

		if (old == CTACCEL_ST_NONE) {
			CTR_INC(st, flow_busy);
			return 0;
		}
		if (ctaccel_ct_expired(ct, now)) {
			if (__sync_val_compare_and_swap(&f->ct, ct, 0) != ct)
				continue;
			CTR_ATOMIC(st, flows_expired, 1);
			flow_release(f, &p->key, old, st, 0, 0, 1, CTACCEL_GONE_expired, now);
			return FLOW_AGAIN;
		}

		if (p->key.proto == IPPROTO_UDP) {
			nct = udp_step(ct, dir, now, f->first_seen, &ctaccel_cfg);
			v = TV_ACCOUNT;
		} else {
			v = tcp_step(ct, dir, index, now, &ctaccel_cfg, &nct);
		}
		if (v == TV_INVALID) {
			CTR_INC(st, invalid);
			return 0;
		}
		if (p->csum == CSUM_UNKNOWN && csum_matters(ct, nct, index, v))
			return FLOW_CSUM;
		if (v == TV_REOPEN || v == TV_KILL) {
			if (__sync_val_compare_and_swap(&f->ct, ct, 0) != ct)
				continue;
			if (v == TV_REOPEN)
				return FLOW_REOPEN | old << 8;
			/* nf_conntrack moves the entry to CLOSE, accounts the RST,
			 * then destroys the entry. */
			if (!state_is_closed(old))
				CTR_INC(st, flows_closed);
			if (old != CTACCEL_ST_CLOSE) {
				CTR_INC(st, transitions);
				FLOW_EVENT(&p->key, f, CTACCEL_EV_UPDATE, 0, CTACCEL_ST_CLOSE, now);
			}
			CTR_INC(st, tracked_packets);
			CTR_ADD(st, tracked_bytes, p->ip_len);
			CTR_ATOMIC(st, flows_killed, 1);
			flow_release(f, &p->key, old, st, p->ip_len, 1, 1, CTACCEL_GONE_killed,
				     now);
			return FLOW_GONE;
		}
		/* Read before the move: the claim of the flow the move is made on. */
		claim = (nct & ~ct) & CTACCEL_CT_SEEN_REPLY ? *(volatile __u32 *)&f->unreplied_claim
							    : 0;
		if (nct != ct && __sync_val_compare_and_swap(&f->ct, ct, nct) != ct)
			continue;
		if (claim)
			unreplied_release(claim);

		new = ctaccel_ct_state(nct);
		if (new != old) {
			gauge_add(st, old, -1);
			gauge_add(st, new, 1);
			CTR_INC(st, transitions);
			if (state_is_closed(new) && !state_is_closed(old))
				CTR_INC(st, flows_closed);
			FLOW_EVENT(&p->key, f, CTACCEL_EV_UPDATE, 0, new, now);
			latency_move(f, p, dir, old, new, st);
		}
		if (v == TV_IGNORE) {
			CTR_INC(st, ignored);
			return 0;
		}
		if (v == TV_NOACCT) {
			CTR_INC(st, syn_retransmits);
			if (index == TCPI_SYN && dir == CTACCEL_DIR_ORIG &&
			    old == CTACCEL_ST_SYN_SENT)
				latency_syn_again(f, p, st);
			return 0;
		}
		flow_account(f, dir, p, now, st);
		fast_decide(f, p, ct, nct);
		return 0;
	}
	CTR_INC(st, cas_exhausted);
	return 0;
}

/*
 * The packet is in flight on the entry from before it reads the word until its
 * accounting is done (or the entry, claimed by this packet, is deleted).
 *
 * A global function: the verifier walks it once, not once per call site and
 * retry round of the caller.
 */
__noinline int flow_update(struct ctaccel_flow *f, struct pkt *p, __u32 index, __u64 now,
			   struct ctaccel_stats *st)
{
	int ret;

	if (!f || !p || !st)
		return 0;
	switch (flow_ref(f, p->key_hash)) {
	case REF_TAKEN:
		break;
	case REF_OTHER:
		CTR_INC(st, flow_reused);
		return FLOW_AGAIN;
	case REF_DEAD:
		CTR_INC(st, flow_busy);
		return 0;
	default:
		CTR_INC(st, cas_exhausted);
		return 0;
	}
	p->bypass = f->bypass;
	ret = flow_step(f, p, index, now, st);
	if (ret == 0 || ret == FLOW_CSUM)
		__sync_fetch_and_add(&f->ref, -1);
	return ret;
}

#include "newflow.bpf.h"

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
		if (f) {
			ret = flow_update(f, p, index, now, st);
			if (ret == FLOW_CSUM && csum_settle(skb, p, st))
				continue;
			if ((ret & 0xff) == FLOW_REOPEN) {
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
		if (!csum_settle(skb, p, st))
			return;
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
	if (!egress && p.ttl <= 1 && ttl_expires_here(skb, &p)) {
		CTR_INC(st, ttl_expired);
		return TC_ACT_UNSPEC;
	}
	/* nf_conntrack checks checksums at PRE_ROUTING only: what leaves
	 * through egress was made or checked by this host. */
	p.csum = egress ? CSUM_GOOD : CSUM_UNKNOWN;
	p.ingress = !egress;
	track(skb, &p, st);
mark:
	/* tc ingress runs before netfilter's prerouting hook, where the raw
	 * notrack rule of table inet ctaccel sees this mark. Local output is
	 * marked on the socket (ctaccel_sockops): there the output hook runs
	 * before tc egress. */
	if (p.bypass && !egress) {
		skb->mark = (skb->mark & ~ctaccel_cfg.mark_mask) | ctaccel_cfg.mark;
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

#include "expiry.bpf.h"
#include "sockops.bpf.h"
#include "udpsock.bpf.h"

/* The datapath's clock for userspace, which has no jiffies of its own. */
SEC("syscall")
int ctaccel_clock(struct ctaccel_clock *clk)
{
	clk->jiffies = bpf_jiffies64();
	return 0;
}
