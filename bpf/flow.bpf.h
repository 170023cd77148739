/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * A packet on its flow's entry: the reference that keeps it in flight there
 * (flow_update), the step of the state machine it makes with one
 * compare-and-swap of the word (flow_step), its accounting. What the step
 * leaves to the caller comes back as a FLOW_* code (common.bpf.h).
 */
#ifndef CTACCEL_FLOW_BPF_H
#define CTACCEL_FLOW_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "states.bpf.h"
#include "events.bpf.h"
#include "policy.bpf.h"
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

/* Rounds of a packet's compare-and-swap on its flow's word before it gives up
 * (cas_exhausted). */
#define CAS_TRIES 8

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
	/* a removal's key on the stack: Linux 6.1 takes no map key from a
	 * global function's argument memory (flow_update's packet) */
	struct ctaccel_flow_key k;
	int i;

	for (i = 0; i < CAS_TRIES; i++) {
		__u64 ct = *(volatile __u64 *)&f->ct, nct = ct;
		__u32 old = ctaccel_ct_state(ct), new;
		enum tcp_verdict v;

		if (old == CTACCEL_ST_NONE) {
			/* being moved to a migration's new table, or removed */
			if (migrating() && p->prev)
				return FLOW_MOVING;
			CTR_INC(st, flow_busy);
			return 0;
		}
		if (ctaccel_ct_expired(ct, now)) {
			if (__sync_val_compare_and_swap(&f->ct, ct, 0) != ct)
				continue;
			CTR_ATOMIC(st, flows_expired, 1);
			k = p->key; /* on the stack (flow_release) */
			flow_release(f, &k, old, st, 0, 0, 1, CTACCEL_GONE_expired, now, p->prev);
			return FLOW_AGAIN;
		}

		if (p->key.proto == IPPROTO_UDP) {
			nct = udp_step(ct, dir, now, f->first_seen, ctaccel_cfg.hz,
				       &ctaccel_live);
			v = TV_ACCOUNT;
		} else {
			v = tcp_step(ct, dir, index, now, &ctaccel_live, &nct);
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
			k = p->key;
			flow_release(f, &k, old, st, p->ip_len, 1, 1, CTACCEL_GONE_killed, now,
				     p->prev);
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
		if (migrating() && p->prev)
			return FLOW_MOVING;
		CTR_INC(st, flow_busy);
		return 0;
	default:
		CTR_INC(st, cas_exhausted);
		return 0;
	}
	p->bypass = f->bypass;
	ret = flow_step(f, p, index, now, st);
	if (ret == 0 || ret == FLOW_CSUM || (migrating() && ret == FLOW_MOVING))
		__sync_fetch_and_add(&f->ref, -1);
	return ret;
}

#endif /* CTACCEL_FLOW_BPF_H */
