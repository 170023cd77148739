// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * A migration of the flow table to new maps (another max-flows or unreplied
 * ring, or state pinned by an older ABI) under traffic, every flow and
 * counter kept: ctaccel_resize(), layout_migrate(); and one a killed process
 * left, finished from its record: migrate_resume(). The design is
 * docs/upgrading.md; the datapath's side is bpf/migrate.bpf.h. The program
 * swaps are a live upgrade's (replace.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
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

#define MIGRATE_PASSES 1000

/* Testing only: CTACCEL_MIGRATE_STOP=STEP kills the process right after
 * that step (swapped, carried, moved, repinned), as an operator's kill or
 * an OOM would (tests/integration/migrate.bats). */
static void stop_point(const char *step)
{
	const char *v = getenv("CTACCEL_MIGRATE_STOP");

	if (v && !strcmp(v, step))
		raise(SIGKILL);
}

uint64_t migration_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

/* The final programs, over the migration's maps but the old table and the
 * journal: they never look at either (an old table they held would stay in
 * memory for their life). */
static struct tracker *load_final(struct ctaccel *h, const struct ctaccel_config *mig_cfg,
				  const int *map, int *err)
{
	struct ctaccel_config cfg = *mig_cfg;
	int instead[PIN__COUNT];

	memcpy(instead, map, sizeof(instead));
	instead[PIN_FLOWS_PREV] = instead[PIN_JOURNAL] = -1;
	cfg.flags &= ~CTACCEL_CFG_MIGRATING;
	return load_over(h, &cfg, instead, NULL, err);
}

/* One migration's program sets and maps, while it runs. */
struct migration {
	struct tracker *mig, *fin;
	int map[PIN__COUNT]; /* the record's maps by row, -1 elsewhere */
	bool resumed;	     /* a killed process's migration, finished */
	int same;	     /* the counters keep their map (their layout) */
	int from[CTACCEL_STATS_SLOTS];
	uint32_t interval_ms; /* kernel expiry's, kept */
};

/*
 * Steps 1 to 3 of the migration (docs/upgrading.md), its two program sets
 * loaded over the maps of its record. A fresh migration that fails while
 * its programs go in puts the old ones back and removes its record; once
 * they are in, a failure (or a kill) leaves them and the record for
 * migrate_resume().
 */
static int migrate_steps(struct ctaccel *h, struct migration *g, struct ctaccel_migration *m)
{
	int old[PIN__COUNT], owned[PIN__COUNT];
	__s64 carried[CTACCEL_STATS_SLOTS];
	struct ctaccel_migrate_journal j;
	int i, err, left = 1;

	/* 1. The migration's programs in: from here each packet finds its
	 * flow in the new table, or in place in the old one. Again after a
	 * kill: it may have come while they went in. */
	state_progs(h, old, owned);
	err = swap_programs(h, g->mig, g->interval_ms);
	err = err ?: programs_settle();
	if (err && !g->resumed) {
		/* nothing was moved yet: the old programs take their hooks back */
		swap_filters(h, old);
		swap_sockops(h, old);
		expiry_ctl(h->fd[PIN_EXPIRY_CTL], g->interval_ms, CTACCEL_EXPIRY_TAKEOVER);
		migration_record_remove(h);
		lib_fail(h, err, "swap in the migration's programs (rolled back)");
	}
	for (i = 0; i < PIN__COUNT; i++)
		if (owned[i] >= 0)
			close(owned[i]);
	if (err)
		return err;
	stop_point("swapped");

	/* 2. No old program runs any more: the old counters, still, go into
	 * the new map (once: the journal says whether a killed process did
	 * it), and every entry moves. An entry another CPU holds (a reopen,
	 * a removal) is taken by a later pass. */
	err = journal_read(h, g->map[PIN_JOURNAL], &j);
	if (!err && !g->same && !(j.done & CTACCEL_MIGRATE_STATS)) {
		err = stats_carried(h, g->from, carried);
		left = err ?: migrate_run(h, g->mig, CTACCEL_MIGRATE_STATS, 0, carried, m);
		stop_point("carried");
	}
	if (err)
		return err;
	for (i = 0; i < MIGRATE_PASSES && left > 0; i++) {
		left = migrate_run(h, g->mig, 0, 0, NULL, m);
		if (left > 0)
			usleep(1000);
	}
	if (left)
		return left < 0 ? left
				: lib_fail(h, -EBUSY,
					   "move the flows: entries still held after %d passes", i);
	stop_point("moved");

	/* 3. The new maps under the pinned names, then the final programs,
	 * which never look at the old table. A last pass takes what a reopen
	 * kept there meanwhile. */
	for (i = 0; i < PIN__COUNT && !err; i++)
		if (g->map[i] >= 0 && pin_defs[i].life == PIN_LIFE_KEEP)
			err = repin_fd(h, g->map[i], pin_name(i));
	if (!err)
		stop_point("repinned");
	err = err ?: repin_swapped(h, g->fin);
	err = err ?: swap_programs(h, g->fin, g->interval_ms);
	err = err ?: programs_settle();
	if (!err) {
		left = migrate_run(h, g->mig, CTACCEL_MIGRATE_DONE, 0, NULL, m);
		err = left < 0 ? left : 0;
	}
	if (!err) {
		migration_record_remove(h);
		err = ctaccel_open(h);
	}
	return err;
}

static void migration_free(struct migration *g)
{
	int i;

	for (i = 0; i < PIN__COUNT; i++)
		if (g->map[i] >= 0 && g->resumed)
			close(g->map[i]);
	tracker__destroy(g->mig);
	tracker__destroy(g->fin);
}

static void migration_timed(struct ctaccel_migration *m)
{
	m->duration_ns = migration_now_ns() - m->started_ns;
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
	struct migration g = {.resumed = false};
	uint32_t entries[PIN__COUNT] = {0};
	struct ctaccel_unreplied_head head = {};
	struct ctaccel_expiry_status exp;
	struct ctaccel_config cfg;
	__u32 zero = 0;
	int i, err;

	memset(m, 0, sizeof(*m));
	m->started_ns = migration_now_ns();
	for (i = 0; i < PIN__COUNT; i++)
		g.map[i] = -1;
	g.same = stats_layout(h, g.from);
	if (g.same < 0)
		return g.same;
	err = ctaccel_expiry_status(h, &exp);
	if (err)
		return lib_fail(h, err, "read the expiry settings");
	g.interval_ms = exp.interval_ms;

	/* Both programs loaded before anything is swapped: a refusal (the
	 * verifier, memory) leaves the state as it was. The migration's make
	 * the new table, ring and head (and counters) with this build's
	 * types; the final ones take them over. The ring goes on from the old
	 * head, so that no claim it gives equals one a flow keeps from the
	 * old ring. */
	entries[PIN_FLOWS] = max_flows;
	entries[PIN_UNREPLIED] = unreplied_max ?: 1;
	entries[PIN_UNREPLIED_HEAD] = 1;
	entries[PIN_STATS] = g.same ? 0 : 1;
	entries[PIN_JOURNAL] = ENTRIES_AS_BUILT;
	/* the maps an older ABI's state lacks (ctaccel_open_upgrade()) */
	for (i = 0; i < PIN__COUNT; i++)
		if (pin_defs[i].life == PIN_LIFE_KEEP && pin_defs[i].obj == PIN_OBJ_tracker &&
		    h->fd[i] < 0)
			entries[i] = ENTRIES_AS_BUILT;
	cfg = h->cfg;
	cfg.unreplied_max = unreplied_max;
	cfg.flags |= CTACCEL_CFG_MIGRATING;
	g.map[PIN_FLOWS_PREV] = h->fd[PIN_FLOWS];
	g.mig = load_over(h, &cfg, g.map, entries, &err);
	if (!g.mig)
		goto cleanup;
	for (i = 0; i < PIN__COUNT; i++)
		if (entries[i])
			g.map[i] = bpf_map__fd(pin_map(g.mig, i));
	g.fin = load_final(h, &cfg, g.map, &err);
	if (!g.fin)
		goto cleanup;
	/* The record before anything moves: a bpffs that refuses it refuses
	 * the migration while nothing has changed, and a process that dies
	 * mid-way leaves what finishes it. */
	err = record_make(h, g.map);
	if (err)
		goto cleanup;
	/* The new ring goes on from the old one's position (a read of the
	 * pinned head; the move program writes the new one). */
	if (bpf_map_lookup_elem(h->fd[PIN_UNREPLIED_HEAD], &zero, &head))
		err = lib_fail(h, -errno, "read the unreplied ring's position");
	err = err ?: migrate_run(h, g.mig, CTACCEL_MIGRATE_START, head.next, NULL, m);
	if (err < 0) {
		migration_record_remove(h);
		goto cleanup;
	}
	err = migrate_steps(h, &g, m);
	if (err && migration_recorded(h))
		lib_fail(h, err,
			 "finish the migration (its programs count every packet; its "
			 "record below %s/%s lets 'ctaccel replace' finish it)",
			 h->root, CTACCEL_PIN_MIGRATION);
cleanup:
	migration_timed(m);
	migration_free(&g);
	return err;
}

/*
 * A migration a killed process left (its record): finished with what the
 * record holds, from the step the journal and the pins show, every flow and
 * counter kept. 0 when there is none, 1 when one was finished (the handle
 * reopened on its state), or -errno. Under the state lock, as every
 * migration.
 */
static int migrate_resume(struct ctaccel *h, struct ctaccel_migration *m)
{
	struct migration g = {.resumed = true};
	struct ctaccel_migrate_journal j;
	struct ctaccel_expiry_status exp;
	struct ctaccel_config cfg;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err, pid;

	memset(m, 0, sizeof(*m));
	if (!migration_recorded(h))
		return 0;
	pid = ctaccel_daemon_pid(h);
	if (pid && pid != getpid()) {
		pr_warn(h,
			"a ctaccel daemon (pid %d) runs on this state: stop it first, or "
			"restart it, which finishes the interrupted migration at its start",
			pid);
		return -EBUSY;
	}
	err = record_read(h, g.map);
	err = err ?: journal_read(h, g.map[PIN_JOURNAL], &j);
	if (err)
		goto cleanup;
	if (j.abi != CTACCEL_ABI_VERSION) {
		pr_warn(h,
			"the interrupted migration was begun by a build of abi %u (this one: "
			"%u): only such a build finishes it ('ctaccel replace')",
			j.abi, CTACCEL_ABI_VERSION);
		err = -EPROTO;
		goto cleanup;
	}
	m->started_ns = j.started_ns;
	if (bpf_obj_get_info_by_fd(g.map[PIN_FLOWS], &info, &len)) {
		err = lib_fail(h, -errno, "read the migration's new table");
		goto cleanup;
	}
	/* Where the counters change maps and the old totals are still to
	 * carry, the old ones are pinned and written by programs of the old
	 * layout (step 3 repins them only after): their BTF says where. */
	g.same = g.map[PIN_STATS] < 0;
	if (!g.same && !(j.done & CTACCEL_MIGRATE_STATS) && stats_layout(h, g.from) != 0) {
		err = lib_fail(h, -EPROTO, "read the old counters' layout");
		goto cleanup;
	}
	err = ctaccel_expiry_status(h, &exp);
	if (err) {
		lib_fail(h, err, "read the expiry settings");
		goto cleanup;
	}
	g.interval_ms = exp.interval_ms;
	pr_info(h,
		"finishing a migration to a table of %u that was interrupted %.1f s after "
		"it began",
		info.max_entries, (double)(migration_now_ns() - j.started_ns) / 1e9);
	cfg = h->cfg;
	cfg.unreplied_max = j.unreplied_max;
	cfg.flags |= CTACCEL_CFG_MIGRATING;
	g.mig = load_over(h, &cfg, g.map, NULL, &err);
	g.fin = g.mig ? load_final(h, &cfg, g.map, &err) : NULL;
	err = g.fin ? migrate_steps(h, &g, m) : err;
	if (err)
		lib_fail(h, err, "finish the interrupted migration (its record stays)");
	else
		pr_info(h,
			"finished the interrupted migration: %u flows moved now, %u passes, %u "
			"ended",
			m->moved, m->passes, m->conflicts);
cleanup:
	if (m->started_ns)
		migration_timed(m);
	migration_free(&g);
	return err ?: 1;
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
	/* a migration a killed process left, first: perhaps this one */
	err = migrate_resume(h, m);
	if (err < 0)
		return err;
	if (err && h->max_flows == max_flows && h->cfg.unreplied_max == unreplied_max)
		return 0;
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
	int from_slot[CTACCEL_STATS_SLOTS];
	int err, pid, resumed;
	uint32_t from;

	/* a migration a killed process left, first */
	resumed = migrate_resume(h, m);
	if (resumed < 0)
		return resumed;
	from = h->cfg.abi;
	if (from == CTACCEL_ABI_VERSION) {
		/* the ABI word alone cannot tell every change of layout: the
		 * counters' is read from the programs that write them */
		err = stats_layout(h, from_slot);
		if (err)
			return err < 0 ? err : resumed;
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
		pr_debug(h, "abi %u -> %u: %s", abi, abi + 1, abi_step_change(abi));
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
