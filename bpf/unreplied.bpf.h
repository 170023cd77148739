/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The ring of flows without a reply: a new flow takes the next slot and
 * removes the slot's previous flow if that one still has no reply.
 */
#ifndef CTACCEL_UNREPLIED_BPF_H
#define CTACCEL_UNREPLIED_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "removal.bpf.h"

/* The slot of a claim; cap is not 0. */
static __always_inline __u32 unreplied_slot_of(__u32 claim, __u32 cap)
{
	return (claim - 1) % cap;
}

/*
 * Take the ring's next slot for a new flow of `key` and record the flow there:
 * the claim (what the flow keeps), or 0 when there is no ring. The slot's
 * previous flow, if it still has no reply, is removed now (oldest first):
 * flows without a reply never hold more than unreplied_max entries. A slot
 * whose flow has been answered says so (claim 0), and costs no lookup.
 * Otherwise a flow that has a reply, is being removed (a reopen holds its
 * word at NONE while it takes the slot), or is gone is left alone, and so is
 * a flow that does not keep the slot's claim (a later flow of the tuple).
 *
 * The new flow is recorded before it is in the table: until a flow keeps the
 * claim in its entry, no reply can be taken for it. The claim is stored by an
 * atomic swap, after the key.
 *
 * A global function: the verifier walks the removal once, not once per call
 * site of the creating path.
 */
__noinline __u32 unreplied_take(struct ctaccel_stats *st, const struct ctaccel_flow_key *key)
{
	struct ctaccel_unreplied_head *head;
	struct ctaccel_unreplied_slot *slot_p, old;
	__u32 zero = 0, slot, cap = ctaccel_cfg.unreplied_max, state, claim;
	struct ctaccel_flow *f;
	bool prev = false;
	__u64 ct;

	head = bpf_map_lookup_elem(&ctaccel_unreplied_head, &zero);
	if (!st || !key || !head || !cap)
		return 0;
	claim = __sync_fetch_and_add(&head->next, 1) % (cap * (0xffffffffU / cap)) + 1;
	slot = unreplied_slot_of(claim, cap);
	slot_p = bpf_map_lookup_elem(&ctaccel_unreplied, &slot);
	if (!slot_p)
		return 0;
	/* A copy: the slot comes round again only after cap more new flows. */
	__builtin_memcpy(&old, slot_p, sizeof(old));
	__builtin_memcpy(&slot_p->key, key, sizeof(slot_p->key));
	__sync_lock_test_and_set(&slot_p->claim, claim);
	if (!old.key.family || !old.claim)
		return claim;
	f = bpf_map_lookup_elem(&ctaccel_flows, &old.key);
	/* migrating: a flow reopened in the table being left took this ring's
	 * slot where it is */
	if (!f && migrating()) {
		f = bpf_map_lookup_elem(&ctaccel_flows_prev, &old.key);
		prev = true;
	}
	if (!f || f->unreplied_claim != old.claim)
		return claim;
	ct = *(volatile __u64 *)&f->ct;
	state = ctaccel_ct_state(ct);
	if (state == CTACCEL_ST_NONE || (ct & CTACCEL_CT_SEEN_REPLY))
		return claim;
	if (__sync_val_compare_and_swap(&f->ct, ct, 0) != ct)
		return claim; /* it moved meanwhile: a reply, or another remover */
	/* atomic: the move program takes slots too (migrate.bpf.h), in
	 * process context */
	CTR_ATOMIC(st, unreplied_evicted, 1);
	flow_release(f, &old.key, state, st, 0, 0, 0, CTACCEL_GONE_evicted, bpf_jiffies64(), prev);
	return claim;
}

/*
 * The slot of a claim holds no flow to remove any more: the flow was answered
 * (its first reply), or never made it into the table. The swap expects the
 * claim, so a slot taken since by a later flow is left as it is. A reply
 * passes its flow's claim as read before the packet moved the word: a reopen
 * of the entry stores a new claim only after it swapped the word to NONE,
 * which fails that move. A global function: its frame is not its caller's.
 */
__noinline int unreplied_release(__u32 claim)
{
	__u32 cap = ctaccel_cfg.unreplied_max, slot;
	struct ctaccel_unreplied_slot *s;

	if (!claim || !cap)
		return 0;
	slot = unreplied_slot_of(claim, cap);
	s = bpf_map_lookup_elem(&ctaccel_unreplied, &slot);
	if (s)
		__sync_val_compare_and_swap(&s->claim, claim, 0);
	return 0;
}

#endif /* CTACCEL_UNREPLIED_BPF_H */
