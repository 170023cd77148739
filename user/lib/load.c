// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Lifecycle of the pinned state: load (and pin), unload, discard, live
 * upgrade, GC. Every call that changes the system undoes what it did when it
 * fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "kernel.h"
#include "tracker.skel.h"
#include "sockets.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* The cookie of the network namespace this process runs in. */
static int netns_cookie(__u64 *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err = 0;

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len))
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

/* The cgroup v2 root: sock_ops there sees every socket of the host. */
static int cgroup2_root(char *path, size_t len)
{
	char line[1024], dev[256], mnt[512], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %511s %63s", dev, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			snprintf(path, len, "%s", mnt);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static int pin_link(struct ctaccel *h, struct bpf_link *link, const char *name)
{
	char path[PATH_MAX];
	int err;

	err = ctaccel_pin_file(h, name, path, sizeof(path));
	if (!err && (bpf_link__pin(link, path) || chmod(path, 0600)))
		err = -errno;
	return err ? lib_fail(h, err, "pin %s", path) : 0;
}

/* A row's program in an open skeleton of its object, for pins.h's rows. */
static int pin_prog_fd(const void *skel, enum pin_id id)
{
	return bpf_program__fd(pin_prog(skel, id));
}

/* A row's map or program, whichever it is. */
static int pin_row_fd(const void *skel, enum pin_id id)
{
	return pin_defs[id].kind == PIN_KIND_MAP ? bpf_map__fd(pin_map(skel, id))
						 : pin_prog_fd(skel, id);
}

static int attach_sockops(struct ctaccel *h, struct tracker *skel, const char *where)
{
	char cg[512];
	struct bpf_link *link;
	struct statfs st;
	int i, fd, err;

	if (where[0]) {
		/* Asked for: it must be a cgroup v2 hierarchy, or load fails. */
		if (statfs(where, &st) || st.f_type != CGROUP2_SUPER_MAGIC) {
			pr_warn(h, "cgroup %s: not a cgroup v2 hierarchy", where);
			return -ENOTDIR;
		}
		snprintf(cg, sizeof(cg), "%s", where);
	} else if (cgroup2_root(cg, sizeof(cg))) {
		/* Only the host's own connections need it: track without. */
		pr_info(h, "no cgroup v2 hierarchy mounted: sock_ops not attached, the host's own "
			   "connections are not bypassed (status: sock_ops absent)");
		return 0;
	}
	fd = open(cg, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return lib_fail(h, -errno, "open %s", cg);
	/* The programs on the cgroup v2 root (pins.h's CGROUP rows): sock_ops
	 * for TCP, the address hooks for UDP (bpf/udpsock.bpf.h). */
	for (i = 0, err = 0; i < PIN__COUNT && !err; i++) {
		if (pin_defs[i].life != PIN_LIFE_CGROUP)
			continue;
		link = bpf_program__attach_cgroup(pin_prog(skel, i), fd);
		if (!link) {
			err = lib_fail(h, -errno, "attach %s to %s", pin_name(i), cg);
			break;
		}
		err = pin_link(h, link, pin_name(i));
		bpf_link__destroy(link); /* the pin keeps it attached */
	}
	close(fd);
	return err;
}

/* Host socket transitions: the host-socket object's LOCAL rows, its map
 * pinned and its tracepoint program attached, counting from load on. */
static int attach_sockstate(struct ctaccel *h, __u64 cookie)
{
	struct bpf_link *link;
	struct sockets *skel;
	int i, err;

	skel = sockets__open();
	if (!skel)
		return lib_fail(h, -errno, "open the host socket programs");
	skel->rodata->netns_cookie = cookie;
	err = sockets__load(skel);
	if (err) {
		lib_fail(h, err, "load the host socket programs");
		goto out;
	}
	for (i = 0; i < PIN__COUNT && !err; i++) {
		if (pin_defs[i].obj != PIN_OBJ_sockets || pin_defs[i].life != PIN_LIFE_LOCAL)
			continue;
		if (pin_defs[i].kind == PIN_KIND_MAP) {
			err = pin_fd(h, bpf_map__fd(pin_map(skel, i)), pin_name(i));
			continue;
		}
		link = bpf_program__attach(pin_prog(skel, i));
		if (!link) {
			err = lib_fail(h, -errno, "attach %s", pin_defs[i].member);
			break;
		}
		err = pin_link(h, link, pin_name(i));
		bpf_link__destroy(link); /* the pin keeps it attached */
	}
out:
	sockets__destroy(skel);
	return err;
}

/* Every map and program of the tracker the state pins at load. */
static int pin_tracker(struct ctaccel *h, struct tracker *skel)
{
	int i, err = 0;

	for (i = 0; i < PIN__COUNT && !err; i++) {
		if (pin_defs[i].obj != PIN_OBJ_tracker ||
		    (pin_defs[i].life != PIN_LIFE_KEEP && pin_defs[i].life != PIN_LIFE_SWAP &&
		     pin_defs[i].life != PIN_LIFE_ONCE))
			continue;
		err = pin_fd(h, pin_row_fd(skel, i), pin_name(i));
	}
	return err;
}

/* The datapath's configuration for a load with these options: timeouts in
 * jiffies of this kernel's HZ. */
static int config_of(struct ctaccel *h, const struct ctaccel_load_opts *o,
		     struct ctaccel_config *cfg)
{
	unsigned int hz = ctaccel_kernel_hz();
	char why[256];
	int i;

	if (ctaccel_load_opts_check(o, why, sizeof(why))) {
		pr_warn(h, "%s", why);
		return -EINVAL;
	}
	if (!hz) {
		pr_warn(h, "cannot tell the kernel's HZ from CLOCK_MONOTONIC_COARSE");
		return -EINVAL;
	}
	memset(cfg, 0, sizeof(*cfg));
	cfg->hz = hz;
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		cfg->timeout[i] = (__u64)o->timeout_s[i] * hz;
	cfg->timeout_unack = (__u64)o->timeout_unack_s * hz;
	cfg->mark = o->mark;
	cfg->mark_mask = o->mark_mask;
	cfg->flags = o->local ? 0 : CTACCEL_CFG_NO_LOCAL;
	cfg->abi = CTACCEL_ABI_VERSION;
	cfg->unreplied_max = ctaccel_unreplied_slots(o);
	return 0;
}

int ctaccel_load(struct ctaccel *h, const struct ctaccel_load_opts *o)
{
	struct ctaccel_config cfg;
	uint32_t features;
	struct tracker *skel;
	int err;

	err = config_of(h, o, &cfg);
	if (err)
		return err;
	features = ctaccel_kernel_features();
	cfg.flags |= kernel_cfg_flags(features);
	skel = kernel_tracker_open(features);
	if (!skel)
		return lib_fail(h, -errno, "open BPF object");
	err = netns_cookie(&cfg.netns_cookie);
	if (err) {
		lib_fail(h, err, "network namespace cookie");
		goto cleanup;
	}
	memcpy((void *)&skel->rodata->ctaccel_cfg, &cfg, sizeof(cfg));
	err = bpf_map__set_max_entries(skel->maps.ctaccel_flows, o->max_flows);
	err = err ?: bpf_map__set_max_entries(skel->maps.ctaccel_unreplied, cfg.unreplied_max);
	err = err ?: tracker__load(skel);
	if (err) {
		pr_warn(h, "load BPF programs: %s%s", strerror(-err),
			err == -EPERM ? " (needs root: CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)" : "");
		goto cleanup;
	}
	if (mkdir(h->root, 0700) && errno != EEXIST) {
		err = lib_fail(h, -errno, "mkdir %s", h->root);
		goto cleanup;
	}
	chmod(h->root, 0700);
	err = pin_tracker(h, skel);
	/* Expiry needs no process from here on: the pinned map holds the timer. */
	if (!err) {
		err = expiry_ctl(pin_prog_fd(skel, PIN_EXPIRY_CTL), o->expiry_interval_ms, 0);
		if (err)
			lib_fail(h, err, "start kernel expiry");
	}
	if (!err && !(cfg.flags & CTACCEL_CFG_NO_LOCAL)) {
		err = err ?: attach_sockops(h, skel, o->cgroup);
		err = err ?: attach_sockstate(h, cfg.netns_cookie);
	}
	if (err)
		unpin_all(h);
cleanup:
	tracker__destroy(skel);
	return err;
}

/* The holder of an flock on the inode of fd, from /proc/locks. */
static int flock_holder(int fd)
{
	char line[256];
	unsigned long long ino;
	unsigned int maj, min;
	struct stat st;
	int pid, holder = 0;
	FILE *f;

	if (fstat(fd, &st))
		return -errno;
	f = fopen("/proc/locks", "r");
	if (!f)
		return -errno;
	while (!holder && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%llu", &pid, &maj, &min, &ino) == 4 &&
		    ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev))
			holder = pid;
	fclose(f);
	return holder;
}

int ctaccel_daemon_pid(const struct ctaccel *h)
{
	char path[PATH_MAX];
	int fd, pid = 0;

	if (ctaccel_pin_file(h, CTACCEL_PIN_DAEMON, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		flock(fd, LOCK_UN);
	else if (errno == EWOULDBLOCK)
		pid = flock_holder(fd) ?: -EBUSY;
	else
		pid = -errno;
	close(fd);
	return pid;
}

int ctaccel_unload(struct ctaccel *h, bool force)
{
	__u32 key, next;
	bool first = true;
	size_t deleted = 0;
	int err, ret = 0, pid;

	pid = ctaccel_daemon_pid(h);
	if (pid && !force) {
		if (pid > 0)
			pr_warn(h,
				"unload %s: the ctaccel daemon (pid %d) runs on it; stop it first, "
				"or 'ctaccel unload force'",
				h->root, pid);
		else
			pr_warn(h,
				"unload %s: a ctaccel daemon runs on it; stop it first, or "
				"'ctaccel unload force'",
				h->root);
		return -EBUSY;
	}

	if (!ctaccel_is_loaded(h)) {
		unpin_all(h); /* leftovers of an interrupted load, if any */
		return 0;
	}
	if (!h->open && ctaccel_open(h)) {
		/* Incomplete state: remove what is there. */
		unpin_all(h);
		return 0;
	}
	while (bpf_map_get_next_key(h->fd[PIN_IFACES], first ? NULL : &key, &next) == 0) {
		err = ctaccel_detach(h, next);
		if (err) {
			ret = err; /* reported; the next device still comes off */
			key = next;
			first = false;
		}
	}
	if (!ret)
		ret = ctaccel_nft_remove(h);
	if (!ret) {
		flows_flush(h, &deleted);
		ctaccel_close(h);
		unpin_all(h); /* the sock_ops link goes with its pin */
	}
	return ret;
}

/*
 * Pinned state this library cannot read (another layout), or one just
 * loaded and not wanted: take ctaccel's filters off the devices it lists and
 * remove every pin. The flows of the old table are lost with it. The nft
 * table, which belongs to the namespace, stays.
 */
int ctaccel_discard(struct ctaccel *h)
{
	__u32 key, next;
	bool first = true;
	int fd;

	ctaccel_close(h);
	fd = pin_get(h, PIN_IFACES);
	if (fd >= 0) {
		while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
			hook_detach(h, next, true);
			hook_detach(h, next, false);
			key = next;
			first = false;
		}
		close(fd);
	}
	unpin_all(h);
	if (ctaccel_is_loaded(h)) {
		pr_warn(h, "discard the state in %s: %s", h->root, strerror(EBUSY));
		return -EBUSY;
	}
	return 0;
}

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
static int swap_filters(struct ctaccel *h, const int *prog)
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
static int swap_sockops(struct ctaccel *h, const int *prog)
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

/*
 * The maps the state keeps, in the new object (pins.h's KEEP rows), but where
 * `instead` names another map for a row (a migration's new table, ring and
 * head; the old table as FLOWS_PREV): -1 elsewhere. NULL: none.
 */
static int reuse_maps(struct ctaccel *h, struct tracker *skel, const int *instead)
{
	int i, fd, err = 0;

	for (i = 0; i < PIN__COUNT && !err; i++) {
		if (pin_defs[i].obj != PIN_OBJ_tracker || pin_defs[i].kind != PIN_KIND_MAP)
			continue;
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
static int repin_swapped(struct ctaccel *h, struct tracker *skel)
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
 * Load this library's programs over the open maps (flows, counters, devices,
 * policy stay) and swap them in: the pins, then tc filters and the sock_ops
 * link. Pins first, so that whoever checks an attached program against the
 * pins or its own open programs (a running daemon) finds it one or the other
 * at every moment. Nothing happens when the programs are the same (same
 * tags) unless forced. The handle is reopened on the new pins. The programs
 * are loaded with `settings` (live.c changes timeouts so), the paths this
 * kernel takes now.
 */
/*
 * This library's programs with `settings`, the paths this kernel takes now,
 * loaded over the open state's maps (`instead`: reuse_maps()). NULL and
 * *err set when that fails.
 */
static struct tracker *load_over(struct ctaccel *h, const struct ctaccel_config *settings,
				 const int *instead, int *err)
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
	memcpy((void *)&skel->rodata->ctaccel_cfg, &cfg, sizeof(cfg));
	/* A reused map takes the pinned one's size (max-flows, unreplied-max). */
	*err = reuse_maps(h, skel, instead);
	*err = *err ?: tracker__load(skel);
	if (*err) {
		lib_fail(h, *err, "load this ctaccel's programs over the pinned maps");
		tracker__destroy(skel);
		return NULL;
	}
	return skel;
}

int state_replace(struct ctaccel *h, const struct ctaccel_config *settings, bool force,
		  bool *replaced)
{
	__u8 old_tag[BPF_TAG_SIZE], new_tag[BPF_TAG_SIZE];
	struct ctaccel_expiry_status exp;
	int err, prog[PIN__COUNT];
	struct tracker *skel;

	*replaced = false;
	if (!h->open)
		return lib_fail(h, -EBADF, "replace the programs in %s", h->root);
	err = ctaccel_expiry_status(h, &exp);
	if (err)
		return lib_fail(h, err, "read the expiry settings");
	skel = load_over(h, settings, NULL, &err);
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
	/* The timer's callback becomes the new object's, with the same settings. */
	err = err ?: expiry_ctl(pin_prog_fd(skel, PIN_EXPIRY_CTL), exp.interval_ms, 0);
	skel_progs(skel, prog);
	err = err ?: swap_filters(h, prog);
	err = err ?: swap_sockops(h, prog);
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
	/* the same settings */
	return state_replace(h, &h->cfg, force, replaced);
}

int ctaccel_gc(struct ctaccel *h, struct ctaccel_gc_result *res)
{
	int err;

	if (!h->open)
		return lib_fail(h, -EBADF, "gc %s", h->root);
	err = ctaccel_expire_pass(h->fd[PIN_EXPIRE], res);
	return err ? lib_fail(h, err, "gc") : 0;
}

/* Remove the pin `name` below the root, if there. */
static void unpin_name(struct ctaccel *h, const char *name)
{
	char path[PATH_MAX];

	if (!ctaccel_pin_file(h, name, path, sizeof(path)))
		unlink(path);
}

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
		unpin_name(h, pin_name(PIN_FLOWS_NEXT));
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
