/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Starting a flow: a new entry for a flow's first packet (flow_create), or
 * the entry of a closed flow that a SYN reopens (flow_reopen), both filled by
 * flow_init, with the policy's verdict taken once.
 */
#ifndef CTACCEL_NEWFLOW_BPF_H
#define CTACCEL_NEWFLOW_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "discard.bpf.h"
#include "states.bpf.h"
#include "events.bpf.h"
#include "policy.bpf.h"
#include "removal.bpf.h"
#include "unreplied.bpf.h"

/*
 * A new flow's entry as its first packet makes it, but for the word and the
 * reference (the caller settles a UDP flow's bypass, which depends on the
 * skb). Bypass is decided here once: the flow skips nf_conntrack from its
 * first packet to its last. The fast-path verdict follows the policy.
 */
static __always_inline void flow_init(struct ctaccel_flow *nf, const struct pkt *p, __u32 index,
				      __u64 now, struct ctaccel_stats *st)
{
	__u32 gen = policy_gen_now(), verdict = policy_verdict(&p->key);

	nf->first_seen = now;
	nf->last_seen = now;
	nf->leg[CTACCEL_DIR_ORIG].packets = 1;
	nf->leg[CTACCEL_DIR_ORIG].bytes = p->ip_len;
	nf->tcp_flags = p->tcp_flags;
	nf->orig_is_hi = p->src_is_hi;
	nf->syn_in = p->ingress && (index == TCPI_SYN || p->key.proto == IPPROTO_UDP);
	if (index == TCPI_SYN && p->key.proto == IPPROTO_TCP)
		nf->syn_ns = bpf_ktime_get_ns();
	nf->bypass = !!(verdict & CTACCEL_POLICY_BYPASS);
	nf->fastpath = gen | !!(verdict & CTACCEL_POLICY_FASTPATH);
	CTR_INC(st, policy_lookups);
}

/*
 * A SYN reopens a closed TCP flow (TIME_WAIT or CLOSE) whose word it has
 * swapped to NONE, still holding its reference (flow_step's FLOW_REOPEN): the
 * tuple's next flow takes the same element, as nf_conntrack would replace the
 * entry, with no delete and no insert (port reuse under connection churn does
 * this for most connections).
 *
 * The entry is quiesced as for a removal, which leaves it DEAD: no packet can
 * take a reference while the fields are rewritten, and those that held one
 * have finished, so the old legs are final. The old flow is retired exactly
 * as a removed one; the new one is written, then DEAD is cleared, then the
 * word is stored. A packet that takes a reference after the swap that clears
 * DEAD reads every field of the new flow.
 *
 * The caller took the new flow's ring slot before (unreplied_take: its claim
 * comes in bits 8-39 of `old_claim`, the old state in bits 0-7, as a global
 * function has five arguments), so that the flow keeps its claim from its
 * first moment.
 * Returns 0 (this packet accounted in the new flow), or FLOW_AGAIN when the
 * entry was removed instead (the wait timed out). Either way the packet no
 * longer holds a reference.
 *
 * A global function called from the program's own frame: the verifier walks
 * it once, and flow_update's frame is not below it.
 */
__noinline int flow_reopen(struct ctaccel_flow *f, struct pkt *p, __u64 old_claim, __u64 now,
			   struct ctaccel_stats *st)
{
	__u32 old = old_claim & 0xff, claim = old_claim >> 8;
	struct ctaccel_flow_key key;
	__u64 nct = 0, dead;
	bool quiet;

	if (!f || !p || !st)
		return 0;
	/* On the stack: Linux 6.1 takes no map key from a global function's
	 * argument memory. */
	key = p->key;
	CTR_ATOMIC(st, flows_reopened, 1);
	quiet = flow_quiesce(f, &key, 1, p->prev);
	if (!quiet)
		CTR_ATOMIC(st, quiesce_timeouts, 1);
	flow_retire(f, &key, old, st, 0, 0, CTACCEL_GONE_reopened, now);
	/* A SYN the kernel drops after PRE_ROUTING ends the old flow as
	 * nf_conntrack kills it, and starts none (its new entry is never
	 * confirmed): the next round finds no entry and creates nothing. */
	if (!quiet || p->no_create) {
		/* a packet may still be in flight on it: not reused */
		bpf_map_delete_elem(flows_of(p->prev), &key);
		unreplied_release(claim);
		return FLOW_AGAIN;
	}

	/* Only a SYN reopens (the SYN rows of the transition table), and a
	 * SYN always opens a flow. */
	tcp_step(0, CTACCEL_DIR_ORIG, TCPI_SYN, now, &ctaccel_live, &nct);
	__builtin_memset(&f->leg, 0, sizeof(*f) - offsetof(struct ctaccel_flow, leg));
	flow_init(f, p, TCPI_SYN, now, st);
	f->unreplied_claim = claim;
	p->bypass = f->bypass;
	FLOW_EVENT(&key, f, CTACCEL_EV_NEW, 0, ctaccel_ct_state(nct), now);

	dead = (__u64)p->key_hash << CTACCEL_REF_HASH_SHIFT | CTACCEL_REF_DEAD;
	__sync_val_compare_and_swap(&f->ref, dead, dead - CTACCEL_REF_DEAD);
	*(volatile __u64 *)&f->ct = nct;

	gauge_add(st, ctaccel_ct_state(nct), 1);
	CTR_INC(st, flows_created);
	CTR_INC(st, tracked_packets);
	CTR_ADD(st, tracked_bytes, p->ip_len);
	return 0;
}

/*
 * Whether a new UDP flow arriving at ingress may be bypassed: its replies
 * must carry the mark too. They do when the flow is forwarded (marked at the
 * other ingress), or when the local socket it reaches has the mark; a local
 * socket without it (bound to the wildcard address, say, which a rule for a
 * prefix cannot cover at bind) would send its replies through nf_conntrack's
 * output hook, which would take them for new flows. Only new UDP flows the
 * policy bypasses pay for the route and socket lookups. A global function:
 * the verifier walks it once.
 */
__noinline int udp_replies_marked(struct __sk_buff *skb, struct pkt *p)
{
	struct bpf_fib_lookup fib = {};
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u32 mark, len;

	if (!skb || !p)
		return true;
	fib_params(skb, p, &fib);
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_NOT_FWDED)
		return true; /* forwarded, or dropped: no local socket answers */
	/* the lookup's question holds the packet's ends already */
	if (p->key.family == AF_INET) {
		t.ipv4.saddr = fib.ipv4_src;
		t.ipv4.daddr = fib.ipv4_dst;
		t.ipv4.sport = fib.sport;
		t.ipv4.dport = fib.dport;
		len = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, fib.ipv6_src, 16);
		__builtin_memcpy(t.ipv6.daddr, fib.ipv6_dst, 16);
		t.ipv6.sport = fib.sport;
		t.ipv6.dport = fib.dport;
		len = sizeof(t.ipv6);
	}
	sk = bpf_sk_lookup_udp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return true; /* nobody listens: the kernel answers with an ICMP error */
	mark = sk->mark;
	bpf_sk_release(sk);
	return ctaccel_mark_carried(mark, live_mark());
}

/*
 * Returns -EEXIST when another CPU inserted the flow first. A global
 * function: the new entry's room is not on the stack of the packet's path
 * into flow_update (512 bytes for all frames of a call chain), and the key
 * is copied to the stack (Linux 6.1 takes no map key from a global
 * function's argument memory).
 */
__noinline int flow_create(struct __sk_buff *skb, struct pkt *p, __u32 index, __u64 now,
			   struct ctaccel_stats *st)
{
	struct ctaccel_flow nf = {};
	struct ctaccel_flow_key key;
	__u64 nct = 0;
	long err;

	if (!p || !st)
		return 0;
	key = p->key;
	if (p->key.proto == IPPROTO_UDP) {
		nct = udp_step(0, CTACCEL_DIR_ORIG, now, now, ctaccel_cfg.hz, &ctaccel_live);
	} else if (tcp_step(0, CTACCEL_DIR_ORIG, index, now, &ctaccel_live, &nct) !=
		   TV_ACCOUNT) {
		/* Only a SYN or a mid-stream ACK may start a flow. */
		CTR_INC(st, invalid);
		return 0;
	}
	nf.ct = nct;
	nf.ref = (__u64)p->key_hash << CTACCEL_REF_HASH_SHIFT;
	flow_init(&nf, p, index, now, st);
	/* A UDP flow is bypassed only where both directions carry the mark:
	 * one from a local socket only if that socket had it (ctaccel_udp_*:
	 * nf_conntrack's output hook runs before tc egress), one to a local
	 * socket only if that socket has it. nf_conntrack tracks the others
	 * whole. */
	if (!p->ingress && p->key.proto == IPPROTO_UDP &&
	    !ctaccel_mark_carried(skb->mark, live_mark()))
		nf.bypass = 0;
	if (nf.bypass && p->ingress && p->key.proto == IPPROTO_UDP && !udp_replies_marked(skb, p))
		nf.bypass = 0;
	p->bypass = nf.bypass;

	/* Room first: the slot's old flow may be what frees an entry. */
	nf.unreplied_claim = unreplied_take(st, &key);
	err = bpf_map_update_elem(&ctaccel_flows, &key, &nf, BPF_NOEXIST);
	if (err)
		unreplied_release(nf.unreplied_claim);
	if (err == -EEXIST)
		return -EEXIST;
	if (err == -E2BIG) {
		CTR_INC(st, table_full);
		return 0;
	}
	if (err) {
		CTR_INC(st, insert_failed);
		return 0;
	}
	gauge_add(st, ctaccel_ct_state(nct), 1);
	CTR_INC(st, flows_created);
	FLOW_EVENT(&key, &nf, CTACCEL_EV_NEW, 0, ctaccel_ct_state(nct), now);
	CTR_INC(st, tracked_packets);
	CTR_ADD(st, tracked_bytes, p->ip_len);
	return 0;
}

#endif /* CTACCEL_NEWFLOW_BPF_H */
