/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The ring of flows without a reply: a new flow takes the next slot and
 * removes the slot's previous flow if that one still has no reply. Needs
 * flow_release().
 * Part of the tc tracker's object: included once, by bpf/tracker.bpf.c, after
 * its maps and counters.
 */
#ifndef CTACCEL_UNREPLIED_BPF_H
#define CTACCEL_UNREPLIED_BPF_H

/*
 * The ring slot for a new flow. Its previous flow, if it still has no reply,
 * is removed now (oldest first): flows without a reply never hold more than
 * unreplied_max entries. A flow that has a reply, is being removed, or is
 * gone is left alone, and so is a flow with the key `own` (the caller's new
 * flow, reopened in place in an entry whose previous flow may have had this
 * slot in the same jiffy). -1 when there is no ring.
 *
 * A global function: the verifier walks the removal once, not once per call
 * site of the creating path.
 */
__noinline int unreplied_slot(struct ctaccel_stats *st, const struct ctaccel_flow_key *own)
{
	struct ctaccel_unreplied_head *head;
	struct ctaccel_unreplied_slot *slot_p, old;
	__u32 zero = 0, slot, cap = ctaccel_cfg.unreplied_max, state;
	struct ctaccel_flow *f;
	__u64 ct;

	head = bpf_map_lookup_elem(&ctaccel_unreplied_head, &zero);
	if (!st || !head || !cap)
		return -1;
	slot = __sync_fetch_and_add(&head->next, 1) % cap;
	slot_p = bpf_map_lookup_elem(&ctaccel_unreplied, &slot);
	if (!slot_p)
		return -1;
	/* A copy: the slot comes round again only after cap more new flows. */
	__builtin_memcpy(&old, slot_p, sizeof(old));
	if (!old.key.family)
		return slot;
	f = bpf_map_lookup_elem(&ctaccel_flows, &old.key);
	/* Gone, or a later flow of the same tuple (it has its own slot). */
	if (!f || f->first_seen != old.first_seen)
		return slot;
	ct = *(volatile __u64 *)&f->ct;
	state = ctaccel_ct_state(ct);
	if (state == CTACCEL_ST_NONE || (ct & CTACCEL_CT_SEEN_REPLY))
		return slot;
	if (own && key_equal(&old.key, own))
		return slot;
	if (__sync_val_compare_and_swap(&f->ct, ct, 0) != ct)
		return slot; /* it moved meanwhile: a reply, or another remover */
	CTR_INC(st, unreplied_evicted);
	flow_release(f, &old.key, state, st, 0, 0, 0, CTACCEL_GONE_evicted, bpf_jiffies64());
	return slot;
}

/* Record a new flow in its ring slot (or clear the slot: key NULL). */
static __always_inline void unreplied_set(int slot, const struct ctaccel_flow_key *key,
					  __u64 first_seen)
{
	struct ctaccel_unreplied_slot *s;
	__u32 i = slot;

	if (slot < 0)
		return;
	s = bpf_map_lookup_elem(&ctaccel_unreplied, &i);
	if (!s)
		return;
	if (key) {
		__builtin_memcpy(&s->key, key, sizeof(s->key));
		s->first_seen = first_seen;
	} else {
		__builtin_memset(s, 0, sizeof(*s));
	}
}

#endif /* CTACCEL_UNREPLIED_BPF_H */
