/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Expiry in the kernel, with no userspace process: a bpf_timer, started by
 * `ctaccel load` and `replace` and kept alive by the pinned map
 * (ctaccel_expiry), hands each tick to a BPF workqueue. A tick walks the flow table
 * only when an entry may be due (expiry_due(): what the last walk left, and
 * the timeouts of the states that hold entries), removes expired entries
 * through flow_remove() (compare-and-delete) and sets the timer for the next
 * tick. An entry that expires stays at most one pause plus two walks past its
 * timeout (docs/datapath.md).
 *
 * Why whole walks in a worker and not slices in the timer's softirq:
 * bpf_for_each_map_elem() cannot resume in the middle of a hash table, so a
 * slice would walk again every entry before it; an entry costs about 100 ns
 * (a cache miss each), which made 14 slices over 900,000 entries cost 715 ms
 * against 60 to 90 ms for one walk. A worker does not hold off packets.
 */
#ifndef CTACCEL_EXPIRY_BPF_H
#define CTACCEL_EXPIRY_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "removal.bpf.h"

struct expiry_walk {
	__u64 now;
	__u64 earliest; /* the soonest expiry of what stays */
	__u32 examined;
	__u32 removed;
	__u32 budget; /* removals this pass may make (from the map: see below) */
	bool cut;     /* it made them all before the end of the table */
};

/* Remove one entry if it has expired at w->now. */
static __always_inline void expire_one(struct ctaccel_flow_key *key, struct ctaccel_flow *f,
				       struct expiry_walk *w)
{
	struct ctaccel_flow_key k;
	struct ctaccel_stats *st;
	__u32 zero = 0;
	__u64 ct;

	w->examined++;
	ct = *(volatile __u64 *)&f->ct;
	if (ctaccel_ct_state(ct) == CTACCEL_ST_NONE)
		return;
	if (!ctaccel_ct_expired(ct, w->now)) {
		if (ctaccel_ct_expires(ct) < w->earliest)
			w->earliest = ctaccel_ct_expires(ct);
		return;
	}
	st = bpf_map_lookup_elem(&ctaccel_stats, &zero);
	/* a copy: the key the walk hands over is read-only, and the event
	 * and delete paths take a key they could write */
	k = *key;
	if (st && flow_remove(&k, f, st, ct, false, w->now))
		w->removed++;
}

static long expire_all_elem(struct bpf_map *map, struct ctaccel_flow_key *key,
			    struct ctaccel_flow *f, struct expiry_walk *w)
{
	expire_one(key, f, w);
	return 0;
}

/*
 * The timer's passes remove at most w->budget entries each: a mass expiry is
 * taken in bounded pieces, the next one soon after. The verifier follows a
 * callback until its states repeat, so the count it compares must meet a
 * budget it cannot know (read from the map), or it would walk every count.
 */
static long expire_budget_elem(struct bpf_map *map, struct ctaccel_flow_key *key,
			       struct ctaccel_flow *f, struct expiry_walk *w)
{
	if (w->removed >= w->budget) {
		w->cut = true;
		return 1;
	}
	expire_one(key, f, w);
	return 0;
}

/* Possible CPUs, at most: the gauges are summed until a CPU has no slot. */
#define EXPIRY_CPUS 4096

struct gauges {
	__s64 n[CTACCEL_ST__MAX];
};

static long add_cpu_gauges(__u32 cpu, struct gauges *g)
{
	struct ctaccel_stats *st;
	__u32 zero = 0, s;

	st = bpf_map_lookup_percpu_elem(&ctaccel_stats, &zero, cpu);
	if (!st)
		return 1; /* past the last CPU */
	for (s = 0; s < CTACCEL_ST__MAX; s++)
		g->n[s] += st->flows_in_state[s];
	return 0;
}

/*
 * The soonest any entry can expire, in jiffies, without walking the table.
 * What the last walk left expires at `earliest_j` or later; what was written
 * since it started (a new flow, a refresh, a state move) expires at least its
 * state's timeout after `walk_start_j`, and only states that hold entries now
 * (the per-state gauges, summed over CPUs) count. That holds while the
 * timeouts stay as they were when the walk started: after a change (or
 * during one) a flow written before it may expire sooner, and the next check
 * walks.
 */
static __always_inline __u64 expiry_due(const struct ctaccel_expiry *e)
{
	struct gauges g = {};
	__u64 due = e->earliest_j, t;
	__u32 s;

	if (*(volatile __u64 *)&ctaccel_live.gen != expiry_walk_gen)
		return 0;
	bpf_loop(EXPIRY_CPUS, add_cpu_gauges, &g, 0);
	for (s = 1; s < CTACCEL_ST__MAX; s++) {
		if (g.n[s] <= 0)
			continue;
		t = ctaccel_live.timeout[s];
		if (s == CTACCEL_ST_ESTABLISHED && ctaccel_live.unack < t)
			t = ctaccel_live.unack;
		if (e->walk_start_j + t < due)
			due = e->walk_start_j + t;
	}
	return due;
}

/* kfuncs of the BPF workqueue (Linux 6.10). Weak: a kernel without them
 * loads the object with ctaccel_expiry_ctl_timer instead of
 * ctaccel_expiry_ctl (user/lib/kernel.c), and no loaded program calls them. */
extern int bpf_wq_init(struct bpf_wq *wq, void *p__map, unsigned int flags) __ksym __weak;
extern int bpf_wq_start(struct bpf_wq *wq, unsigned int flags) __ksym __weak;
extern int bpf_wq_set_callback_impl(struct bpf_wq *wq,
				    int (*callback_fn)(void *map, int *key, void *value),
				    unsigned int flags, void *aux__prog) __ksym __weak;

/*
 * A whole pass, in a kernel worker (process context): packets keep being
 * processed on this CPU meanwhile, as they are not in a timer's softirq. The
 * pause before the next pass grows with what the pass cost for the entries
 * that stay (its time, prorated), so that walking the table takes at most
 * 1/CTACCEL_EXPIRY_DUTY of one CPU however large it is; removals cost on top
 * of that, as many as expired.
 */
static int expiry_pass(void *map, int *slot_key, void *value)
{
	struct expiry_slot *slot = value;
	struct ctaccel_expiry *e = &slot->e;
	struct expiry_walk w = {
		.now = bpf_jiffies64(),
		.budget = e->remove_max,
		.earliest = ~0ULL,
	};
	__u64 t0 = bpf_ktime_get_ns(), t1, pause, walk, tick;

	e->checks += 1;
	e->last_check_ns = t0;
	pause = (__u64)e->interval_ms * 1000000ULL;
	/* Nothing can expire before the next tick: no walk (a cut pass left
	 * entries unexamined, so its earliest_j is 0 and the walk goes on). */
	tick = (__u64)e->interval_ms * ctaccel_cfg.hz / 1000 + 1;
	e->next_due_j = expiry_due(e);
	if (e->next_due_j > w.now + tick) {
		e->skipped += 1;
		e->busy_ns += bpf_ktime_get_ns() - t0;
		e->pause_ns = pause;
		if (!*(volatile __u32 *)&e->stopped)
			bpf_timer_start(&slot->timer, pause, 0);
		return 0;
	}
	/* the generation first: a change from here on walks again */
	expiry_walk_gen = *(volatile __u64 *)&ctaccel_live.gen;
	e->walk_start_j = w.now;
	(void)bpf_for_each_map_elem(&ctaccel_flows, expire_budget_elem, &w, 0);
	t1 = bpf_ktime_get_ns();
	e->earliest_j = w.cut ? 0 : w.earliest;
	e->passes += 1;
	e->removed += w.removed;
	e->busy_ns += t1 - t0;
	e->last_pass_end_ns = t1;
	e->last_pass_busy_ns = t1 - t0;
	e->last_pass_examined = w.examined;
	e->last_pass_removed = w.removed;
	/* what the pass cost for the entries that stay, and the buckets; no
	 * branch on the counters, or the verifier would follow every count
	 * through the callback */
	walk = (t1 - t0) * ((__u64)w.examined - w.removed + 1) / ((__u64)w.examined + 1);
	if (pause < walk * CTACCEL_EXPIRY_DUTY)
		pause = walk * CTACCEL_EXPIRY_DUTY;
	e->last_pass_cut = w.cut;
	if (w.cut) {
		/* more expired than one pass removes: the next piece soon, at
		 * most half of one CPU while the backlog lasts */
		e->cut_passes += 1;
		pause = t1 - t0;
		if (pause < CTACCEL_EXPIRY_CATCHUP_MS * 1000000ULL)
			pause = CTACCEL_EXPIRY_CATCHUP_MS * 1000000ULL;
	}
	e->pause_ns = pause;
	/* a stop that came while this pass ran must not be undone by it */
	if (!*(volatile __u32 *)&e->stopped)
		bpf_timer_start(&slot->timer, pause, 0);
	return 0;
}

/* The timer only hands the pass to the worker. */
static int expiry_tick(void *map, __u32 *slot_key, struct expiry_slot *slot)
{
	bpf_wq_start(&slot->wq, 0);
	return 0;
}

/*
 * Without a workqueue (before Linux 6.10) the timer's callback walks itself,
 * in the timer's softirq: the same pass, the same compare-and-delete, the
 * same pause and the same bound on staleness, but the walk holds off this
 * CPU's packets while it runs (about 100 ns an entry: docs/kernels.md).
 */
static int expiry_tick_walk(void *map, int *slot_key, struct expiry_slot *slot)
{
	return expiry_pass(map, slot_key, slot);
}

/*
 * Start the expiry timer, or take it over after a replace (the callback
 * becomes this object's, so the timer holds these programs; the first slice
 * runs at once, unless the timer was stopped: CTACCEL_EXPIRY_TAKEOVER), or
 * stop it (CTACCEL_EXPIRY_STOP): the ctaccel_expiry_ctl
 * program, run through BPF_PROG_TEST_RUN by the loader and the daemon's
 * supervisor.
 */
static __always_inline int expiry_control(struct ctaccel_expiry_args *args, bool wq)
{
	struct expiry_slot *slot;
	__u32 zero = 0;
	bool stay;
	long err;

	slot = bpf_map_lookup_elem(&ctaccel_expiry, &zero);
	if (!slot)
		return -ENOENT;
	/* taken over stopped: the callback only, the timer not started */
	stay = (args->flags & CTACCEL_EXPIRY_TAKEOVER) && slot->e.stopped;
	if (args->flags & CTACCEL_EXPIRY_STOP) {
		slot->e.stopped = 1;
		err = bpf_timer_cancel(&slot->timer);
		goto out;
	}
	err = bpf_timer_init(&slot->timer, &ctaccel_expiry, CLOCK_MONOTONIC);
	if (err && err != -EBUSY)
		goto out;
	if (wq) {
		err = bpf_wq_init(&slot->wq, &ctaccel_expiry, 0);
		if (err && err != -EBUSY)
			goto out;
		err = bpf_wq_set_callback_impl(&slot->wq, expiry_pass, 0, NULL);
		if (err)
			goto out;
	}
	if (!stay) {
		slot->e.interval_ms =
			args->interval_ms ? args->interval_ms : CTACCEL_EXPIRY_INTERVAL_MS;
		slot->e.stopped = 0;
		slot->e.remove_max = CTACCEL_EXPIRY_REMOVE_MAX;
		slot->e.started_ns = bpf_ktime_get_ns();
	}
	err = wq ? bpf_timer_set_callback(&slot->timer, expiry_tick)
		 : bpf_timer_set_callback(&slot->timer, expiry_tick_walk);
	if (!stay)
		err = err ?: bpf_timer_start(&slot->timer, 0, 0);
out:
	args->err = err;
	return 0;
}

/*
 * A whole pass at once, for `ctaccel gc` and the daemon's POST /v1/gc (the
 * ctaccel_expire program, run through BPF_PROG_TEST_RUN, in the caller's
 * time), beside the timer's passes: both remove through compare-and-delete.
 */
static __always_inline int expiry_pass_now(struct ctaccel_expiry_args *args)
{
	struct expiry_walk w = {.now = bpf_jiffies64()};

	(void)bpf_for_each_map_elem(&ctaccel_flows, expire_all_elem, &w, 0);
	args->examined = w.examined;
	args->removed = w.removed;
	return 0;
}

#endif /* CTACCEL_EXPIRY_BPF_H */
