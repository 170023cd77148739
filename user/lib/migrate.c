// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * A migration of the flow table to new maps (another max-flows or unreplied
 * ring, or state pinned by an older ABI) under traffic, every flow and
 * counter kept: ctaccel_resize(), layout_migrate(). The design is
 * docs/upgrading.md; the datapath's side is bpf/migrate.bpf.h. The program
 * swaps are a live upgrade's (load.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "tracker.skel.h"

/* The tc and cgroup programs run inside RCU read sections. */
int programs_settle(void)
{
	return syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) ? -errno : 0;
}

/* The old programs, by row, for a swap back: the pins the handle holds, and
 * the cgroup links' current programs (fds the caller closes: *owned). */
static void state_progs(struct ctaccel *h, int *prog, int *owned)
{
	struct bpf_link_info info;
	__u32 len;
	int i, fd;

	for (i = 0; i < PIN__COUNT; i++) {
		prog[i] = owned[i] = -1;
		if (pin_defs[i].obj != PIN_OBJ_tracker)
			continue;
		if (pin_defs[i].kind == PIN_KIND_PROG && pin_defs[i].life == PIN_LIFE_SWAP)
			prog[i] = h->fd[i];
		if (pin_defs[i].life != PIN_LIFE_CGROUP)
			continue;
		fd = pin_get(h, i);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			prog[i] = owned[i] = bpf_prog_get_fd_by_id(info.prog_id);
		close(fd);
	}
}

/* One pass of the move program: entries left behind, or -errno. */
static int migrate_run(struct ctaccel *h, struct tracker *skel, __u32 flags, __u64 head,
		       const __s64 *stats, struct ctaccel_migration *m)
{
	struct ctaccel_migrate_args a = {.flags = flags, .head = head, .started_ns = m->started_ns};
	/* Syscall programs write their results back into ctx_in. */
	LIBBPF_OPTS(bpf_test_run_opts, t, .ctx_in = &a, .ctx_size_in = sizeof(a));
	struct ctaccel_flow_key k;

	if (stats)
		memcpy(a.stats, stats, sizeof(a.stats));
	if (bpf_prog_test_run_opts(pin_prog_fd(skel, PIN_MIGRATE), &t))
		return lib_fail(h, -errno, "run the move program");
	if (a.err)
		return lib_fail(h, a.err, "move the flows");
	m->moved += a.moved;
	m->conflicts += a.conflicts;
	m->passes += !(flags & CTACCEL_MIGRATE_START);
	return bpf_map_get_next_key(bpf_map__fd(skel->maps.ctaccel_flows_prev), NULL, &k) ? 0 : 1;
}

/*
 * Where the counters the pinned programs write sit, from their own BTF
 * (struct ctaccel_stats): from[j], the old slot of this build's slot j, by
 * the counter's name (the gauges by state); -1 where the old layout has none
 * (a counter added since: 0 there). 1: this build's layout, 0: another one
 * (an older ABI's: the migration carries the counters), or -errno.
 */
static int stats_layout(struct ctaccel *h, int *from)
{
	struct bpf_prog_info info = {};
	const struct btf_member *mem;
	const struct btf_type *t, *arr;
	__u32 len = sizeof(info), slot;
	int id, i, j, same = 1, gauges = -1, states = 0;
	const char *name;
	struct btf *btf;

	for (j = 0; j < CTACCEL_STATS_SLOTS; j++)
		from[j] = -1;
	if (bpf_obj_get_info_by_fd(h->fd[PIN_INGRESS], &info, &len))
		return lib_fail(h, -errno, "read %s", pin_name(PIN_INGRESS));
	btf = info.btf_id ? btf__load_from_kernel_by_id(info.btf_id) : NULL;
	if (!btf)
		return lib_fail(h, info.btf_id ? -errno : -ENOTSUP,
				"read the pinned programs' BTF (their counters' layout)");
	id = btf__find_by_name_kind(btf, "ctaccel_stats", BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0, mem = t ? btf_members(t) : NULL; t && i < btf_vlen(t); i++, mem++) {
		name = btf__name_by_offset(btf, mem->name_off);
		slot = btf_member_bit_offset(t, i) / 64;
		if (name && !strcmp(name, "flows_in_state")) {
			arr = btf__type_by_id(btf, mem->type);
			states = arr && btf_is_array(arr) ? btf_array(arr)->nelems : 0;
			gauges = slot;
		}
		for (j = 0; name && j < CTACCEL_CTR__MAX; j++)
			if (!strcmp(name, ctaccel_counter_names[j]))
				from[j] = slot;
	}
	btf__free(btf);
	if (gauges < 0 || states != CTACCEL_ST__MAX) {
		pr_warn(h, "the pinned programs' counters have no per-state gauges ctaccel knows");
		return -EPROTO;
	}
	for (j = 0; j < CTACCEL_ST__MAX; j++)
		from[CTACCEL_CTR_SLOTS + j] = gauges + j;
	for (j = 0; j < CTACCEL_STATS_SLOTS; j++)
		same &= from[j] < 0 || from[j] == j;
	return same;
}

/* The old counters map's totals over the CPUs, in this build's slots. */
static int stats_carried(struct ctaccel *h, const int *from, __s64 *out)
{
	int ncpus = libbpf_num_possible_cpus(), cpu, j, err = 0;
	__u64(*percpu)[CTACCEL_STATS_SLOTS];
	__u32 zero = 0;

	if (ncpus <= 0)
		return lib_fail(h, ncpus ?: -EINVAL, "count the CPUs");
	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu)
		return lib_fail(h, -ENOMEM, "read the counters");
	if (bpf_map_lookup_elem(h->fd[PIN_STATS], &zero, percpu))
		err = lib_fail(h, -errno, "read the counters");
	for (j = 0; j < CTACCEL_STATS_SLOTS; j++) {
		out[j] = 0;
		for (cpu = 0; !err && from[j] >= 0 && cpu < ncpus; cpu++)
			out[j] += (__s64)percpu[cpu][from[j]];
	}
	free(percpu);
	return err;
}

#define MIGRATE_PASSES 1000

/*
 * The declared migrations between ABI versions, one step per bump (N-1 -> N),
 * oldest first: state pinned by an ABI from the first step's `from` on is
 * carried to this one by the chain of steps (ctaccel_replace(), a daemon's
 * start), as one migration: every step's new entries are written by the move
 * program (bpf/migrate.bpf.h), which reads the old table as this ABI's
 * entries; the ring, its head and the table are always rebuilt. A step whose
 * flow entry differs in size needs its translation there and a `prev` table
 * of the old layout first (flow_size says which). Older state is refused:
 * unload first. The assertion below makes an ABI bump without its step a
 * build error.
 */
static const struct abi_step {
	uint32_t from;	    /* to: from + 1 */
	uint32_t flow_size; /* bytes of a flow entry at `from` */
	const char *change;
} abi_steps[] = {
	{5, 96,
	 "a ring slot keeps its flow's claim instead of its creation time (the ring is rebuilt); "
	 "a flow keeps its slot's claim in former padding, 0 there meaning none (the move "
	 "program gives each unanswered flow a slot of the new ring)"},
	{6, 96,
	 "the per-state gauges at a fixed slot (64), clear of the counters, so that a counter "
	 "added takes a reserved slot and moves nothing (until ABI 6 the gauges followed the "
	 "last counter: a build of ABI 6 before 2026-12-07 has six counters fewer); the "
	 "counters map is rebuilt, every counter and gauge carried by name"},
	{7, 96,
	 "the timeouts and the mark leave the programs' read-only configuration for a map of "
	 "their own, ctaccel_live, written live (their old places in the configuration are "
	 "zero); the migration makes the map with the state's before any program reads it"},
};

#define ABI_STEPS (sizeof(abi_steps) / sizeof(abi_steps[0]))
_Static_assert(ABI_STEPS > 0 && CTACCEL_ABI_VERSION == 5 + ABI_STEPS,
	       "each ABI bump declares its step in abi_steps[] (consecutive, from 5)");

bool abi_migratable(uint32_t abi)
{
	size_t i;

	if (abi < abi_steps[0].from || abi >= CTACCEL_ABI_VERSION)
		return false;
	for (i = abi - abi_steps[0].from; i < ABI_STEPS; i++)
		if (abi_steps[i].from != abi_steps[0].from + i ||
		    abi_steps[i].flow_size != sizeof(struct ctaccel_flow))
			return false; /* a gap, or no translation of the entry's layout yet */
	return true;
}

/*
 * The migration itself (docs/upgrading.md): a new table of `max_flows`, a new
 * ring of `unreplied_max` slots and its head, and, where the pinned programs'
 * counters have another layout, a new counters map, which takes the old
 * one's totals once no old program writes it any more.
 */
static int migrate(struct ctaccel *h, uint32_t max_flows, uint32_t unreplied_max,
		   struct ctaccel_migration *m)
{
	int instead[PIN__COUNT], old[PIN__COUNT], owned[PIN__COUNT];
	uint32_t entries[PIN__COUNT] = {0};
	int from[CTACCEL_STATS_SLOTS];
	__s64 carried[CTACCEL_STATS_SLOTS];
	struct tracker *mig = NULL, *fin = NULL;
	struct ctaccel_unreplied_head head = {};
	struct ctaccel_expiry_status exp;
	struct ctaccel_config cfg;
	struct timespec t0, t1;
	__u32 zero = 0;
	int i, err, left = 1, same;
	/* the new table's spare pin: made, and kept (flows moved, not done) */
	bool pinned_next = false, keep_next = false;

	memset(m, 0, sizeof(*m));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	m->started_ns = (uint64_t)t0.tv_sec * 1000000000ULL + t0.tv_nsec;
	for (i = 0; i < PIN__COUNT; i++)
		instead[i] = owned[i] = -1;
	same = stats_layout(h, from);
	if (same < 0)
		return same;
	err = ctaccel_expiry_status(h, &exp);
	if (err)
		return lib_fail(h, err, "read the expiry settings");

	/* Both programs loaded before anything is swapped: a refusal (the
	 * verifier, memory) leaves the state as it was. The migration's make
	 * the new table, ring and head (and counters) with this build's
	 * types; the final ones take them over. The ring goes on from the old
	 * head, so that no claim it gives equals one a flow keeps from the
	 * old ring. */
	entries[PIN_FLOWS] = max_flows;
	entries[PIN_UNREPLIED] = unreplied_max ?: 1;
	entries[PIN_UNREPLIED_HEAD] = 1;
	entries[PIN_STATS] = same ? 0 : 1;
	/* the maps an older ABI's state lacks (ctaccel_open_upgrade()) */
	for (i = 0; i < PIN__COUNT; i++)
		if (pin_defs[i].life == PIN_LIFE_KEEP && pin_defs[i].obj == PIN_OBJ_tracker &&
		    h->fd[i] < 0)
			entries[i] = ENTRIES_AS_BUILT;
	cfg = h->cfg;
	cfg.unreplied_max = unreplied_max;
	cfg.flags |= CTACCEL_CFG_MIGRATING;
	instead[PIN_FLOWS_PREV] = h->fd[PIN_FLOWS];
	mig = load_over(h, &cfg, instead, entries, &err);
	if (!mig)
		goto cleanup;
	for (i = 0; i < PIN__COUNT; i++)
		if (entries[i])
			instead[i] = bpf_map__fd(pin_map(mig, i));
	cfg.flags &= ~CTACCEL_CFG_MIGRATING;
	instead[PIN_FLOWS_PREV] = -1;
	fin = load_over(h, &cfg, instead, NULL, &err);
	if (!fin)
		goto cleanup;
	/* The new table pinned beside the old one before anything moves: a
	 * bpffs that refuses it (read-only, full) refuses the migration while
	 * it can still be undone, and a process that dies mid-way leaves the
	 * moved flows reachable. */
	err = pin_fd(h, instead[PIN_FLOWS], pin_name(PIN_FLOWS_NEXT));
	if (err)
		goto cleanup;
	pinned_next = true;
	/* The new ring goes on from the old one's position (a read of the
	 * pinned head; the move program writes the new one). */
	if (bpf_map_lookup_elem(h->fd[PIN_UNREPLIED_HEAD], &zero, &head)) {
		err = lib_fail(h, -errno, "read the unreplied ring's position");
		goto cleanup;
	}
	err = migrate_run(h, mig, CTACCEL_MIGRATE_START, head.next, NULL, m);
	if (err < 0)
		goto cleanup;

	/* 1. The migration's programs in: from here each packet finds its
	 * flow in the new table, or in place in the old one. */
	state_progs(h, old, owned);
	err = swap_programs(h, mig, exp.interval_ms);
	err = err ?: programs_settle();
	if (err) {
		/* nothing was moved yet: the old programs take their hooks back */
		swap_filters(h, old);
		swap_sockops(h, old);
		expiry_ctl(h->fd[PIN_EXPIRY_CTL], exp.interval_ms, CTACCEL_EXPIRY_TAKEOVER);
		lib_fail(h, err, "swap in the migration's programs (rolled back)");
		goto cleanup;
	}

	keep_next = true;
	/* 2. No old program runs any more: the old counters, still, go into
	 * the new map (once), and every entry moves. An entry another CPU
	 * holds (a reopen, a removal) is taken by a later pass. */
	if (!same) {
		err = stats_carried(h, from, carried);
		left = err ?: migrate_run(h, mig, CTACCEL_MIGRATE_STATS, 0, carried, m);
	}
	for (i = 0; i < MIGRATE_PASSES && left > 0; i++) {
		left = migrate_run(h, mig, 0, 0, NULL, m);
		if (left > 0)
			usleep(1000);
	}
	if (left) {
		err = left < 0 ? left
			       : lib_fail(h, -EBUSY,
					  "move the flows: entries still held after %d passes", i);
		goto cleanup; /* the migration's programs stay: they count every packet */
	}

	/* 3. The new maps under the pinned names, then the final programs,
	 * which never look at the old table. A last pass takes what a reopen
	 * kept there meanwhile. */
	for (i = 0; i < PIN__COUNT && !err; i++)
		if (entries[i])
			err = repin_fd(h, instead[i], pin_name(i));
	err = err ?: repin_swapped(h, fin);
	err = err ?: swap_programs(h, fin, exp.interval_ms);
	err = err ?: programs_settle();
	if (!err) {
		left = migrate_run(h, mig, CTACCEL_MIGRATE_DONE, 0, NULL, m);
		err = left < 0 ? left : 0;
	}
	if (!err) {
		keep_next = false;
		err = ctaccel_open(h);
	}
	if (err)
		lib_fail(h, err, "finish the migration (the new table stays pinned as %s)",
			 pin_name(PIN_FLOWS_NEXT));
cleanup:
	if (pinned_next && !keep_next)
		unpin(h, pin_name(PIN_FLOWS_NEXT));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	m->duration_ns =
		(uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ULL + t1.tv_nsec - t0.tv_nsec;
	/* instead[]: the old table (the handle's) and maps of `mig` */
	for (i = 0; i < PIN__COUNT; i++)
		if (owned[i] >= 0)
			close(owned[i]);
	tracker__destroy(mig);
	tracker__destroy(fin);
	return err;
}

int ctaccel_resize(struct ctaccel *h, uint32_t max_flows, uint32_t unreplied_max,
		   struct ctaccel_migration *m)
{
	struct ctaccel_stats st;
	int64_t flows;
	int err;

	memset(m, 0, sizeof(*m));
	if (!h->open)
		return lib_fail(h, -EBADF, "resize %s", h->root);
	err = ctaccel_stats(h, &st);
	if (err)
		return err;
	flows = ctaccel_stats_flows(&st);
	if (flows > (int64_t)max_flows) {
		pr_warn(h,
			"max-flows %u is below the %lld flows tracked now: the migration would "
			"end %lld of them; refused",
			max_flows, (long long)flows, (long long)(flows - max_flows));
		return -ENOSPC;
	}
	return migrate(h, max_flows, unreplied_max, m);
}

int layout_migrate(struct ctaccel *h, struct ctaccel_migration *m)
{
	uint32_t from = h->cfg.abi;
	int from_slot[CTACCEL_STATS_SLOTS];
	int err, pid;

	if (from == CTACCEL_ABI_VERSION) {
		/* the ABI word alone cannot tell every change of layout: the
		 * counters' is read from the programs that write them */
		err = stats_layout(h, from_slot);
		if (err)
			return err < 0 ? err : 0;
		pr_info(h, "the pinned programs write the counters in another layout: migrating");
	} else if (!abi_migratable(from)) {
		pr_warn(h, "no migration from abi %u to abi %u: unload it first", from,
			CTACCEL_ABI_VERSION);
		return -EPROTO;
	}
	/* A daemon of the old build holds the old maps and programs open
	 * (its GC and repairs would go on in the old layout): its own start
	 * migrates, another process waits for it to stop. */
	pid = ctaccel_daemon_pid(h);
	if (pid && pid != getpid()) {
		pr_warn(h,
			"a ctaccel daemon (pid %d) runs on this state and holds its maps: stop it "
			"first, or start this build's daemon, which migrates the state at its "
			"start (flows kept)",
			pid);
		return -EBUSY;
	}
	for (uint32_t abi = from; abi < CTACCEL_ABI_VERSION; abi++)
		pr_debug(h, "abi %u -> %u: %s", abi, abi + 1,
			 abi_steps[abi - abi_steps[0].from].change);
	/* the same sizes: the table holds every flow it holds now */
	err = migrate(h, h->max_flows, h->cfg.unreplied_max, m);
	if (err) {
		pr_warn(h,
			"migrate the state of abi %u to abi %u: not done (the state stays abi %u)",
			from, CTACCEL_ABI_VERSION, h->cfg.abi);
		return err;
	}
	pr_info(h,
		"migrated the state of abi %u to abi %u: %u flows in %.1f ms (%u passes, %u ended)",
		from, CTACCEL_ABI_VERSION, m->moved, m->duration_ns / 1e6, m->passes, m->conflicts);
	return 1;
}
