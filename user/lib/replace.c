// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * A live upgrade: this library's programs loaded over the pinned maps and
 * swapped in (pins, the expiry timer, every device's hooks, the cgroup
 * links), flows and counters kept; state of another layout goes to a
 * migration (migrate.c), which loads and swaps with the pieces here.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "kernel.h"
#include "tracker.skel.h"

static int prog_tag(int fd, __u8 tag[BPF_TAG_SIZE])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	memcpy(tag, info.tag, BPF_TAG_SIZE);
	return 0;
}

/* Each device's programs replaced in place (its tcx link updated, or a tc
 * filter replaced with the same handle and priority: one RCU pointer swap
 * either way, so no packet goes untracked), egress first: it reads the
 * ifaces map the same way in both versions. Only the hooks this state uses:
 * `local off` has no egress program to replace. */
int swap_filters(struct ctaccel *h, const int *prog)
{
	bool egress = ctaccel_wanted_hooks(h) & CTACCEL_HOOK_EGRESS;
	__u32 key, next;
	bool first = true;
	int err = 0;

	while (bpf_map_get_next_key(h->fd[PIN_IFACES], first ? NULL : &key, &next) == 0) {
		if (egress)
			err = hook_attach(h, next, false, prog[PIN_EGRESS], NULL);
		err = err ?: hook_attach(h, next, true, prog[PIN_INGRESS], NULL);
		if (err && err != -ENODEV)
			return lib_fail(h, err, "replace on ifindex %u", next);
		key = next;
		first = false;
	}
	return 0;
}

/* The cgroup links take the new programs. */
int swap_sockops(struct ctaccel *h, const int *prog)
{
	int i, link_fd, err = 0;

	for (i = 0; i < PIN__COUNT && !err; i++) {
		if (pin_defs[i].life != PIN_LIFE_CGROUP)
			continue;
		link_fd = pin_get(h, i);
		/* none: local off, no cgroup v2, or pinned by an older ctaccel */
		if (link_fd < 0)
			continue;
		if (bpf_link_update(link_fd, prog[i], NULL))
			err = lib_fail(h, -errno, "update the %s link", pin_name(i));
		close(link_fd);
	}
	return err;
}

/* The attached programs of a skeleton, by row (-1 for rows of no program). */
static void skel_progs(const struct tracker *skel, int *prog)
{
	int i;

	for (i = 0; i < PIN__COUNT; i++)
		prog[i] = pin_defs[i].obj == PIN_OBJ_tracker && pin_defs[i].kind != PIN_KIND_MAP
				  ? pin_prog_fd(skel, i)
				  : -1;
}

int swap_programs(struct ctaccel *h, struct tracker *skel, uint32_t interval_ms)
{
	int prog[PIN__COUNT], err;

	/* the timer's callback the new object's, with the same settings */
	err = expiry_ctl(pin_prog_fd(skel, PIN_EXPIRY_CTL), interval_ms, CTACCEL_EXPIRY_TAKEOVER);
	skel_progs(skel, prog);
	err = err ?: swap_filters(h, prog);
	return err ?: swap_sockops(h, prog);
}

/*
 * The maps the state keeps, in the new object (pins.h's KEEP rows), but where
 * `instead` names another map for a row (the old table as FLOWS_PREV; a
 * migration's new maps, in its final programs): -1 elsewhere; and where
 * `entries` gives a row a size, the object's own new map of that size (a
 * migration's new table, ring, head, counters; ENTRIES_AS_BUILT: the size
 * the object has). NULL: none.
 */
static int reuse_maps(struct ctaccel *h, struct tracker *skel, const int *instead,
		      const uint32_t *entries)
{
	int i, fd, err = 0;

	for (i = 0; i < PIN__COUNT && !err; i++) {
		if (pin_defs[i].obj != PIN_OBJ_tracker || pin_defs[i].kind != PIN_KIND_MAP)
			continue;
		if (entries && entries[i]) {
			if (entries[i] != ENTRIES_AS_BUILT)
				err = bpf_map__set_max_entries(pin_map(skel, i), entries[i]);
			continue;
		}
		fd = instead && instead[i] >= 0		 ? instead[i]
		     : pin_defs[i].life == PIN_LIFE_KEEP ? h->fd[i]
							 : -1;
		if (fd >= 0)
			err = bpf_map__reuse_fd(pin_map(skel, i), fd);
	}
	return err;
}

/* The new object's programs and settings under the old names (SWAP rows).
 * bpffs refuses rename, so each old pin goes first; ctaccel's own writers
 * hold the lock meanwhile, and attached programs need no pin. */
int repin_swapped(struct ctaccel *h, struct tracker *skel)
{
	int i, err = 0;

	for (i = 0; i < PIN__COUNT && !err; i++) {
		if (pin_defs[i].obj != PIN_OBJ_tracker || pin_defs[i].life != PIN_LIFE_SWAP)
			continue;
		err = repin_fd(h, pin_row_fd(skel, i), pin_name(i));
	}
	return err;
}

/*
 * This library's programs with `settings`, the paths this kernel takes now,
 * loaded over the open state's maps (`instead`, `entries`: reuse_maps()).
 * NULL and *err set when that fails.
 */
struct tracker *load_over(struct ctaccel *h, const struct ctaccel_config *settings,
			  const int *instead, const uint32_t *entries, int *err)
{
	uint32_t features = ctaccel_kernel_features();
	struct ctaccel_config cfg = *settings;
	struct tracker *skel;

	skel = kernel_tracker_open(features);
	if (!skel) {
		*err = lib_fail(h, -errno, "open BPF object");
		return NULL;
	}
	cfg.flags = (cfg.flags & ~KERNEL_CFG_FLAGS) | kernel_cfg_flags(features);
	/* settings read back from an older ABI's state (layout_migrate()) */
	cfg.abi = CTACCEL_ABI_VERSION;
	memset(cfg.timeout_abi7, 0, sizeof(cfg.timeout_abi7));
	cfg.mark_abi7 = cfg.mark_mask_abi7 = 0;
	memcpy((void *)&skel->rodata->ctaccel_cfg, &cfg, sizeof(cfg));
	/* the timeouts' value where the map is made here, not reused (state
	 * of an older ABI has none: its configuration's) */
	*err = state_live(h, &skel->data_live->ctaccel_live);
	if (*err) {
		tracker__destroy(skel);
		return NULL;
	}
	if (!skel->data_live->ctaccel_live.gen)
		skel->data_live->ctaccel_live.gen = 2;
	/* a migration's journal, where this load makes one (migrate.c) */
	skel->data_migrate->ctaccel_journal.abi = CTACCEL_ABI_VERSION;
	skel->data_migrate->ctaccel_journal.unreplied_max = cfg.unreplied_max;
	skel->data_migrate->ctaccel_journal.started_ns = migration_now_ns();
	/* A reused map takes the pinned one's size (max-flows, unreplied-max). */
	*err = reuse_maps(h, skel, instead, entries);
	*err = *err ?: tracker__load(skel);
	if (*err) {
		lib_fail(h, *err, "load this ctaccel's programs over the pinned maps");
		tracker__destroy(skel);
		return NULL;
	}
	return skel;
}

/*
 * Load this library's programs over the open maps (flows, counters, devices,
 * policy stay) and swap them in: the pins, then tc filters and the sock_ops
 * link. Pins first, so that whoever checks an attached program against the
 * pins or its own open programs (a running daemon) finds it one or the other
 * at every moment. Nothing happens when the programs are the same (same
 * tags) unless forced. The handle is reopened on the new pins. The programs
 * are loaded with `settings` and the paths this kernel takes now.
 */
int state_replace(struct ctaccel *h, const struct ctaccel_config *settings, bool force,
		  bool *replaced)
{
	__u8 old_tag[BPF_TAG_SIZE], new_tag[BPF_TAG_SIZE];
	struct ctaccel_expiry_status exp;
	struct tracker *skel;
	int err;

	*replaced = false;
	if (!h->open)
		return lib_fail(h, -EBADF, "replace the programs in %s", h->root);
	err = ctaccel_expiry_status(h, &exp);
	if (err)
		return lib_fail(h, err, "read the expiry settings");
	skel = load_over(h, settings, NULL, NULL, &err);
	if (!skel)
		return err;
	err = prog_tag(h->fd[PIN_INGRESS], old_tag);
	err = err ?: prog_tag(pin_prog_fd(skel, PIN_INGRESS), new_tag);
	if (err) {
		lib_fail(h, err, "read the programs' tags");
		goto out;
	}
	if (!force && !memcmp(old_tag, new_tag, sizeof(old_tag)))
		goto out; /* same programs: keep them */
	err = repin_swapped(h, skel);
	err = err ?: swap_programs(h, skel, exp.interval_ms);
	if (!err) {
		*replaced = true;
		err = ctaccel_open(h);
	}
out:
	tracker__destroy(skel);
	return err;
}

int ctaccel_replace(struct ctaccel *h, bool force, bool *replaced)
{
	struct ctaccel_migration m;
	int err;

	*replaced = false;
	if (!h->open)
		return lib_fail(h, -EBADF, "replace the programs in %s", h->root);
	/* state of another layout (an older ABI's), moved whole */
	err = layout_migrate(h, &m);
	*replaced = err > 0;
	if (err)
		return err < 0 ? err : 0;
	/* the same settings */
	return state_replace(h, &h->cfg, force, replaced);
}
