// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Lifecycle of the pinned state: load (and pin), unload, discard, GC. A live
 * upgrade is replace.c's, a migration of the table migrate.c's. Every call
 * that changes the system undoes what it did when it fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
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
int pin_prog_fd(const void *skel, enum pin_id id)
{
	return bpf_program__fd(pin_prog(skel, id));
}

/* A row's map or program, whichever it is. */
int pin_row_fd(const void *skel, enum pin_id id)
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

void timeouts_in(struct ctaccel_live *t, unsigned int hz, const struct ctaccel_load_opts *o)
{
	int i;

	for (i = 1; i < CTACCEL_ST__MAX; i++)
		t->timeout[i] = (__u64)o->timeout_s[i] * hz;
	t->unack = (__u64)o->timeout_unack_s * hz;
}

void timeouts_out(const struct ctaccel_live *t, unsigned int hz, struct ctaccel_load_opts *o)
{
	int i;

	for (i = 1; i < CTACCEL_ST__MAX; i++)
		o->timeout_s[i] = hz ? (uint32_t)(t->timeout[i] / hz) : 0;
	o->timeout_unack_s = hz ? (uint32_t)(t->unack / hz) : 0;
}

/* The datapath's configuration for a load with these options: timeouts in
 * jiffies of this kernel's HZ. */
static int config_of(struct ctaccel *h, const struct ctaccel_load_opts *o,
		     struct ctaccel_config *cfg)
{
	unsigned int hz = ctaccel_kernel_hz();
	char why[256];

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
	/* the map's value when it is made, before any program can run */
	timeouts_in(&skel->data_live->ctaccel_live, cfg.hz, o);
	skel->data_live->ctaccel_live.gen = 2;
	skel->data_live->ctaccel_live.mark = ctaccel_mark_word(o->mark, o->mark_mask);
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

int ctaccel_gc(struct ctaccel *h, struct ctaccel_gc_result *res)
{
	int err;

	if (!h->open)
		return lib_fail(h, -EBADF, "gc %s", h->root);
	err = ctaccel_expire_pass(h->fd[PIN_EXPIRE], res);
	return err ? lib_fail(h, err, "gc") : 0;
}
