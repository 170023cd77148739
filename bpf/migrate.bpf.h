/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * A migration of the flow table (CTACCEL_CFG_MIGRATING; the design is in
 * docs/upgrading.md): packets whose entry is still in the table being left
 * are counted there in place, with the same atomics and references as
 * always, and the move program takes each entry over to the new table with
 * the removal protocol: claim the word, wait for the packets in flight, copy,
 * delete. A packet that meets a claimed entry waits for the claim to end.
 */
#ifndef CTACCEL_MIGRATE_BPF_H
#define CTACCEL_MIGRATE_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "removal.bpf.h"
#include "unreplied.bpf.h"

struct migrate_wait {
	struct ctaccel_flow_key key;
	bool done;
};

/* The claim is over when the tuple is in the new table, gone from the old
 * one, or its old entry holds a flow again (a reopen in place). */
static long migrate_wait_spin(__u32 i, struct migrate_wait *w)
{
	struct ctaccel_flow *f;

	if (bpf_map_lookup_elem(&ctaccel_flows, &w->key))
		goto done;
	f = bpf_map_lookup_elem(&ctaccel_flows_prev, &w->key);
	if (!f || ctaccel_ct_state(*(volatile __u64 *)&f->ct) != CTACCEL_ST_NONE)
		goto done;
	return 0;
done:
	w->done = true;
	return 1;
}

/*
 * A packet met its entry claimed in the table being left (FLOW_MOVING): the
 * claimer is past the packets in flight, so the wait is a copy and a delete
 * long. Waits that run out are counted as flow_busy, as a removal's are. A
 * global function: its frame is not on the packet path's stack.
 */
__noinline int migrate_wait(const struct pkt *p, struct ctaccel_stats *st)
{
	struct migrate_wait w = {};

	if (!p || !st)
		return false;
	w.key = p->key;
	CTR_INC(st, migrate_waits);
	bpf_loop(QUIESCE_SPINS, migrate_wait_spin, &w, 0);
	if (!w.done)
		CTR_INC(st, flow_busy);
	return w.done;
}

struct migrate_walk {
	struct ctaccel_stats *st;
	__u32 moved;
	__u32 busy;
	__u32 conflicts;
};

/*
 * Move one entry: claim its word (NONE), wait until no packet is in flight on
 * it and mark it DEAD, then copy it, with its word as claimed, a fresh
 * reference word and, if it still has no reply, a slot of the new ring, into
 * the new table, and delete it. A tuple the new table holds already (its
 * first packets raced the programs' swap) or has no room for ends here, in
 * the books as any removal (migrate_conflicts).
 */
static long migrate_elem(struct bpf_map *map, struct ctaccel_flow_key *key, struct ctaccel_flow *f,
			 struct migrate_walk *w)
{
	struct ctaccel_flow nf;
	struct ctaccel_flow_key k = *key;
	__u32 state;
	__u64 ct;
	long err;

	if (!w->st)
		return 1;
	ct = *(volatile __u64 *)&f->ct;
	state = ctaccel_ct_state(ct);
	if (state == CTACCEL_ST_NONE || __sync_val_compare_and_swap(&f->ct, ct, 0) != ct) {
		w->busy++; /* another claimer's: the next pass sees how it ended */
		return 0;
	}
	if (!flow_quiesce(f, &k, 0, true))
		CTR_ATOMIC(w->st, quiesce_timeouts, 1);
	__builtin_memcpy(&nf, f, sizeof(nf));
	nf.ct = ct;
	nf.ref = nf.ref & ~(CTACCEL_REF_COUNT_MASK | CTACCEL_REF_DEAD);
	nf.unreplied_claim = ct & CTACCEL_CT_SEEN_REPLY ? 0 : unreplied_take(w->st, &k);
	err = bpf_map_update_elem(&ctaccel_flows, &k, &nf, BPF_NOEXIST);
	if (err) {
		unreplied_release(nf.unreplied_claim);
		CTR_ATOMIC(w->st, migrate_conflicts, 1);
		flow_retire(f, &k, state, w->st, 0, 0, CTACCEL_GONE_flushed, bpf_jiffies64());
		w->conflicts++;
	} else {
		CTR_ATOMIC(w->st, flows_migrated, 1);
		w->moved++;
	}
	bpf_map_delete_elem(&ctaccel_flows_prev, &k);
	return 0;
}

/*
 * The old counters map's totals (userspace read them once its last writer had
 * gone, and put them in this layout's slots) added to this CPU's slots of the
 * new map, each in one atomic add: the datapath's own adds to this CPU's
 * slots run in softirq, never interrupted by this program (test runs of a
 * syscall program stay on one CPU), so none is lost. Totals are sums over
 * the CPUs; which CPU's slot holds a part does not matter.
 */
static __always_inline void migrate_stats(struct ctaccel_stats *st,
					  const struct ctaccel_migrate_args *args)
{
	__u64 *slot = (__u64 *)st;
	__u32 i;

	/* unrolled: a context is read at constant offsets only */
#pragma clang loop unroll(full)
	for (i = 0; i < CTACCEL_STATS_SLOTS; i++)
		if (args->stats[i])
			__sync_fetch_and_add(&slot[i], args->stats[i]);
}

static __always_inline int migrate_pass(struct ctaccel_migrate_args *args)
{
	struct ctaccel_unreplied_head *head;
	struct migrate_walk w = {};
	__u32 zero = 0;

	if (!migrating()) {
		args->err = -EINVAL;
		return 0;
	}
	w.st = bpf_map_lookup_elem(&ctaccel_stats, &zero);
	head = bpf_map_lookup_elem(&ctaccel_unreplied_head, &zero);
	if (!w.st || !head) {
		args->err = -ENOENT;
		return 0;
	}
	/* Each once-only pass at most once per migration, whoever runs it:
	 * a process that finishes a killed one's migration asks again for
	 * what the journal may already hold. */
	if (args->flags & CTACCEL_MIGRATE_START) {
		/* a new map, not in use yet: the datapath's only writer is
		 * still the datapath */
		if (!(__sync_fetch_and_or(&ctaccel_journal.done, CTACCEL_MIGRATE_START) &
		      CTACCEL_MIGRATE_START)) {
			__sync_lock_test_and_set(&head->next, args->head);
			CTR_ATOMIC(w.st, migrations_started, 1);
		}
		args->err = 0;
		return 0;
	}
	if ((args->flags & CTACCEL_MIGRATE_STATS) &&
	    !(__sync_fetch_and_or(&ctaccel_journal.done, CTACCEL_MIGRATE_STATS) &
	      CTACCEL_MIGRATE_STATS))
		migrate_stats(w.st, args);
	(void)bpf_for_each_map_elem(&ctaccel_flows_prev, migrate_elem, &w, 0);
	if ((args->flags & CTACCEL_MIGRATE_DONE) &&
	    !(__sync_fetch_and_or(&ctaccel_journal.done, CTACCEL_MIGRATE_DONE) &
	      CTACCEL_MIGRATE_DONE)) {
		CTR_ATOMIC(w.st, migrations, 1);
		CTR_ATOMIC(w.st, migrate_ns, bpf_ktime_get_ns() - args->started_ns);
	}
	args->moved = w.moved;
	args->busy = w.busy;
	args->conflicts = w.conflicts;
	args->err = 0;
	return 0;
}

#endif /* CTACCEL_MIGRATE_BPF_H */
