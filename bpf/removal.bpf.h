/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Removing an entry: the reference word that keeps packets in flight from
 * being lost with a removed entry (flow_ref, flow_quiesce), flow_release(),
 * the compare-and-delete flow_remove() that every removal outside the packet
 * path goes through, and the body of the delete program that runs it for
 * userspace.
 */
#ifndef CTACCEL_REMOVAL_BPF_H
#define CTACCEL_REMOVAL_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "events.bpf.h"

#define QUIESCE_SPINS (1 << 16)

struct quiesce {
	struct ctaccel_flow_key key;
	__u32 self;
	bool prev; /* the entry is in the table a migration leaves */
	bool done;
};

/* Once only `self` references are left, drop them and mark the entry DEAD in
 * one swap: no packet can take a reference after that. */
static __always_inline bool quiesce_try(struct ctaccel_flow *f, __u32 self)
{
	__u64 r = *(volatile __u64 *)&f->ref;

	if ((r & CTACCEL_REF_COUNT_MASK) != self)
		return false;
	return __sync_val_compare_and_swap(&f->ref, r, (r - self) | CTACCEL_REF_DEAD) == r;
}

/*
 * The callback looks the entry up by its key rather than being handed the
 * caller's pointer (rule stale-value, docs/checks.md). The caller swapped the
 * word to NONE, so nobody else deletes the entry while we wait: the key still
 * finds this element.
 */
static long quiesce_spin(__u32 i, struct quiesce *q)
{
	struct ctaccel_flow *f = bpf_map_lookup_elem(flows_of(q->prev), &q->key);

	if (f && !quiesce_try(f, q->self))
		return 0;
	q->done = true;
	return 1;
}

/*
 * Wait until only `self` packets (the caller's own) hold references on an
 * entry whose word was just swapped to NONE, then mark it DEAD. Packets that
 * arrive later see NONE (or DEAD) and leave it alone; those already past the
 * word finish within a few hundred instructions. If they do not, the entry is
 * marked DEAD all the same (counted in quiesce_timeouts). The first try needs
 * no loop: usually no other packet of the flow is in flight.
 */
static __always_inline bool flow_quiesce(struct ctaccel_flow *f, const struct ctaccel_flow_key *key,
					 __u32 self, bool prev)
{
	struct quiesce q = {.self = self, .prev = prev};

	if (quiesce_try(f, self))
		return true;
	q.key = *key;
	bpf_loop(QUIESCE_SPINS, quiesce_spin, &q, 0);
	if (!q.done) {
		__sync_fetch_and_or(&f->ref, CTACCEL_REF_DEAD);
		if (self)
			__sync_fetch_and_add(&f->ref, -(__u64)self);
	}
	return q.done;
}

/*
 * Take a reference on the entry the packet looked up, if it is still its own
 * (REF_TAKEN; else why not: the REF_* of common.bpf.h).
 * Every packet of the flow on every CPU moves this word twice, so a swap
 * loses whenever another CPU's packet lands between the read and the swap: a
 * lost swap retries at once with the value it found, and the bound is high,
 * because a packet that runs out of tries goes unaccounted (cas_exhausted).
 * Eight tries lost one packet in about two million with two CPUs on one flow.
 */
#define REF_TRIES 64

static __always_inline int flow_ref(struct ctaccel_flow *f, __u32 key_hash)
{
	__u64 r = *(volatile __u64 *)&f->ref, seen;
	int i;

	for (i = 0; i < REF_TRIES; i++) {
		if ((__u32)(r >> CTACCEL_REF_HASH_SHIFT) != key_hash)
			return REF_OTHER;
		if (r & CTACCEL_REF_DEAD)
			return REF_DEAD;
		seen = __sync_val_compare_and_swap(&f->ref, r, r + 1);
		if (seen == r)
			return REF_TAKEN;
		r = seen;
	}
	return REF_BUSY;
}

/*
 * Take a quiesced entry's flow out of the books: its gauge, its final legs
 * into the deleted totals, its DESTROY event. The element itself is the
 * caller's to delete, or to reuse for the tuple's next flow (flow_reopen).
 */
static __always_inline void flow_retire(struct ctaccel_flow *f, const struct ctaccel_flow_key *key,
					__u32 state, struct ctaccel_stats *st, __u64 extra_bytes,
					__u64 extra_packets, __u32 reason, __u64 now)
{
	gauge_add(st, state, -1);
	CTR_ATOMIC(st, deleted_packets, f->leg[0].packets + f->leg[1].packets + extra_packets);
	CTR_ATOMIC(st, deleted_bytes, f->leg[0].bytes + f->leg[1].bytes + extra_bytes);
	FLOW_EVENT(key, f, CTACCEL_EV_DESTROY, reason, state, now);
}

/*
 * (The key must not be a global function's argument memory, such as
 * flow_update's packet: Linux 6.1 takes no map key from there. Those
 * callers copy it to their stack first.)
 *
 * Remove an entry (of the table a migration leaves, if prev) whose word this
 * CPU has just swapped to NONE: nobody can
 * move it any more, and once the packets in flight have drained its legs are
 * final. Runs in tc and in the delete program, hence atomics throughout.
 */
static __always_inline void flow_release(struct ctaccel_flow *f, const struct ctaccel_flow_key *key,
					 __u32 state, struct ctaccel_stats *st, __u64 extra_bytes,
					 __u64 extra_packets, __u32 self, __u32 reason, __u64 now,
					 bool prev)
{
	/* Also drops the caller's own reference: the element may be reused
	 * once it is deleted. */
	if (!flow_quiesce(f, key, self, prev))
		CTR_ATOMIC(st, quiesce_timeouts, 1);
	flow_retire(f, key, state, st, extra_bytes, extra_packets, reason, now);
	bpf_map_delete_elem(flows_of(prev), key);
}

struct del_loop {
	__u64 reqs;
	__u64 now;
	__u32 flags;
	__u32 deleted;
	__u32 skipped;
	__u32 faults;
};

/*
 * Compare-and-delete one entry: remove it only if its word is still `ct` (the
 * caller's reading), and, unless forced, expired at `now`. True if this call
 * removed it. The one removal path of GC, the expiry walk, flush and unload.
 */
static __always_inline bool flow_remove(const struct ctaccel_flow_key *key, struct ctaccel_flow *f,
					struct ctaccel_stats *st, __u64 ct, bool force, __u64 now)
{
	__u32 state = ctaccel_ct_state(ct);

	if (state == CTACCEL_ST_NONE)
		return false;
	if (!force && !ctaccel_ct_expired(ct, now))
		return false;
	if (__sync_val_compare_and_swap(&f->ct, ct, 0) != ct)
		return false;
	CTR_ATOMIC(st, flows_deleted, 1);
	flow_release(f, key, state, st, 0, 0, 0,
		     force ? CTACCEL_GONE_flushed : CTACCEL_GONE_expired, now, false);
	return true;
}

static long delete_one(__u32 i, struct del_loop *l)
{
	struct ctaccel_del_req req;
	struct ctaccel_stats *st;
	struct ctaccel_flow *f;
	__u32 zero = 0;
	__u64 ct;

	if (bpf_copy_from_user(&req, sizeof(req), (void *)(l->reqs + (__u64)i * sizeof(req)))) {
		l->faults++;
		return 0;
	}
	st = bpf_map_lookup_elem(&ctaccel_stats, &zero);
	f = bpf_map_lookup_elem(&ctaccel_flows, &req.key);
	if (!st || !f)
		goto skip;
	ct = *(volatile __u64 *)&f->ct;
	if (req.expect_ct && ct != req.expect_ct)
		goto skip;
	if (!flow_remove(&req.key, f, st, ct, l->flags & CTACCEL_DEL_FORCE, l->now))
		goto skip;
	l->deleted++;
	return 0;
skip:
	l->skipped++;
	return 0;
}

/*
 * Compare-and-delete of userspace's requests (the ctaccel_delete program,
 * run through BPF_PROG_TEST_RUN): the one removal path for GC, flush and
 * unload, so that gauges and counters move where they live.
 */
static __always_inline int delete_requests(struct ctaccel_del_args *args)
{
	struct del_loop l = {
		.reqs = args->reqs,
		.flags = args->flags,
		.now = bpf_jiffies64(),
	};
	__u32 count = args->count;

	if (count > CTACCEL_DEL_BATCH_MAX)
		return -E2BIG;
	bpf_loop(count, delete_one, &l, 0);
	args->deleted = l.deleted;
	args->skipped = l.skipped;
	args->faults = l.faults;
	return 0;
}

#endif /* CTACCEL_REMOVAL_BPF_H */
