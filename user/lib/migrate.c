// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * A migration of the flow table to new maps (another max-flows or unreplied
 * ring) under traffic, every flow and counter kept: ctaccel_resize(). The
 * design is docs/upgrading.md; the datapath's side is bpf/migrate.bpf.h. The
 * program swaps are a live upgrade's (load.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "tracker.skel.h"

/* Wait until no program that ran before this call still runs: an RCU grace
 * period (the tc and cgroup programs run inside RCU read sections). */
static int programs_settle(void)
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
		       struct ctaccel_migration *m)
{
	struct ctaccel_migrate_args a = {.flags = flags, .head = head, .started_ns = m->started_ns};
	/* Syscall programs write their results back into ctx_in. */
	LIBBPF_OPTS(bpf_test_run_opts, t, .ctx_in = &a, .ctx_size_in = sizeof(a));
	struct ctaccel_flow_key k;

	if (bpf_prog_test_run_opts(pin_prog_fd(skel, PIN_MIGRATE), &t))
		return lib_fail(h, -errno, "run the move program");
	if (a.err)
		return lib_fail(h, a.err, "move the flows");
	m->moved += a.moved;
	m->conflicts += a.conflicts;
	m->passes += !(flags & CTACCEL_MIGRATE_START);
	return bpf_map_get_next_key(bpf_map__fd(skel->maps.ctaccel_flows_prev), NULL, &k) ? 0 : 1;
}

/* A new map like the pinned one of row `id`, with room for `entries`. */
static int map_like(struct ctaccel *h, enum pin_id id, __u32 entries)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int fd;

	if (bpf_obj_get_info_by_fd(h->fd[id], &info, &len))
		return lib_fail(h, -errno, "read %s", pin_name(id));
	o.map_flags = info.map_flags;
	fd = bpf_map_create(info.type, info.name, info.key_size, info.value_size, entries, &o);
	return fd < 0 ? lib_fail(h, -errno, "create a new %s of %u entries", pin_name(id), entries)
		      : fd;
}

#define MIGRATE_PASSES 1000

int ctaccel_resize(struct ctaccel *h, uint32_t max_flows, uint32_t unreplied_max,
		   struct ctaccel_migration *m)
{
	int instead[PIN__COUNT], prog[PIN__COUNT], old[PIN__COUNT], owned[PIN__COUNT];
	struct tracker *mig = NULL, *fin = NULL;
	struct ctaccel_unreplied_head head = {};
	struct ctaccel_expiry_status exp;
	struct ctaccel_config cfg;
	struct ctaccel_stats st;
	struct timespec t0, t1;
	__u32 zero = 0;
	int i, err, left = 1;
	/* the new table's spare pin: made, and kept (flows moved, not done) */
	bool pinned_next = false, keep_next = false;
	int64_t flows;

	memset(m, 0, sizeof(*m));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	m->started_ns = (uint64_t)t0.tv_sec * 1000000000ULL + t0.tv_nsec;
	for (i = 0; i < PIN__COUNT; i++)
		instead[i] = owned[i] = -1;
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
	err = ctaccel_expiry_status(h, &exp);
	if (err)
		return lib_fail(h, err, "read the expiry settings");

	/* The new table, ring and head beside the pinned ones. The ring goes
	 * on from the old head, so that no claim it gives equals one a flow
	 * keeps from the old ring. */
	static const struct {
		enum pin_id id;
		bool ring;
	} fresh[] = {{PIN_FLOWS, false}, {PIN_UNREPLIED, true}, {PIN_UNREPLIED_HEAD, false}};
	for (i = 0; i < (int)(sizeof(fresh) / sizeof(fresh[0])); i++) {
		err = map_like(h, fresh[i].id,
			       fresh[i].id == PIN_FLOWS ? max_flows
			       : fresh[i].ring		? (unreplied_max ?: 1)
							: 1);
		if (err < 0)
			goto cleanup;
		instead[fresh[i].id] = err;
	}

	/* Both programs loaded before anything is swapped: a refusal (the
	 * verifier, memory) leaves the state as it was. */
	cfg = h->cfg;
	cfg.unreplied_max = unreplied_max;
	cfg.flags |= CTACCEL_CFG_MIGRATING;
	instead[PIN_FLOWS_PREV] = h->fd[PIN_FLOWS];
	mig = load_over(h, &cfg, instead, &err);
	if (!mig)
		goto cleanup;
	cfg.flags &= ~CTACCEL_CFG_MIGRATING;
	instead[PIN_FLOWS_PREV] = -1;
	fin = load_over(h, &cfg, instead, &err);
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
	err = migrate_run(h, mig, CTACCEL_MIGRATE_START, head.next, m);
	if (err < 0)
		goto cleanup;

	/* 1. The migration's programs in: from here each packet finds its
	 * flow in the new table, or in place in the old one. */
	state_progs(h, old, owned);
	skel_progs(mig, prog);
	err = expiry_ctl(pin_prog_fd(mig, PIN_EXPIRY_CTL), exp.interval_ms, 0);
	err = err ?: swap_filters(h, prog);
	err = err ?: swap_sockops(h, prog);
	err = err ?: programs_settle();
	if (err) {
		/* nothing was moved yet: the old programs take their hooks back */
		swap_filters(h, old);
		swap_sockops(h, old);
		expiry_ctl(h->fd[PIN_EXPIRY_CTL], exp.interval_ms, 0);
		lib_fail(h, err, "swap in the migration's programs (rolled back)");
		goto cleanup;
	}

	keep_next = true;
	/* 2. No old program runs any more: move every entry. An entry
	 * another CPU holds (a reopen, a removal) is taken by a later pass. */
	for (i = 0; i < MIGRATE_PASSES && left > 0; i++) {
		left = migrate_run(h, mig, 0, 0, m);
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
	err = repin_fd(h, instead[PIN_FLOWS], pin_name(PIN_FLOWS));
	err = err ?: repin_fd(h, instead[PIN_UNREPLIED], pin_name(PIN_UNREPLIED));
	err = err ?: repin_fd(h, instead[PIN_UNREPLIED_HEAD], pin_name(PIN_UNREPLIED_HEAD));
	err = err ?: repin_swapped(h, fin);
	err = err ?: expiry_ctl(pin_prog_fd(fin, PIN_EXPIRY_CTL), exp.interval_ms, 0);
	skel_progs(fin, prog);
	err = err ?: swap_filters(h, prog);
	err = err ?: swap_sockops(h, prog);
	err = err ?: programs_settle();
	if (!err) {
		left = migrate_run(h, mig, CTACCEL_MIGRATE_DONE, 0, m);
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
	for (i = 0; i < PIN__COUNT; i++) {
		if (owned[i] >= 0)
			close(owned[i]);
		if (instead[i] >= 0 && i != PIN_FLOWS_PREV)
			close(instead[i]);
	}
	tracker__destroy(mig);
	tracker__destroy(fin);
	return err;
}
