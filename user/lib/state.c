// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The handle and the pinned state under its root: pin paths, opening the
 * pins (layout and ABI checked first). The lock is lock.c's; bpffs, mount
 * namespaces and capabilities are host.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "tracker.skel.h"

void lib_print(const struct ctaccel *h, enum ctaccel_print_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!h || !h->print)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->print(level, msg, h->print_ctx);
}

void lib_warn_err(const struct ctaccel *h, int err, const char *fmt, ...)
{
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pr_warn(h, "%s: %s", what, strerror(-err));
}

int ctaccel_new(const struct ctaccel_opts *opts, struct ctaccel **out)
{
	const char *root = opts && opts->pin_path ? opts->pin_path : CTACCEL_PIN_DEFAULT;
	struct ctaccel *h;
	int i;

	if (!*root || strlen(root) >= sizeof(h->root) - 64)
		return -ENAMETOOLONG;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	snprintf(h->root, sizeof(h->root), "%s", root);
	/* "/sys/fs/bpf/ctaccel/" and "/sys/fs/bpf/ctaccel" are one state. */
	while (strlen(h->root) > 1 && h->root[strlen(h->root) - 1] == '/')
		h->root[strlen(h->root) - 1] = 0;
	if (opts) {
		h->print = opts->print;
		h->print_ctx = opts->print_ctx;
		h->tc_filters = opts->tc_filters;
	}
	h->lock_fd = -1;
	for (i = 0; i < PIN__COUNT; i++)
		h->fd[i] = -1;
	*out = h;
	return 0;
}

void ctaccel_free(struct ctaccel *h)
{
	if (!h)
		return;
	ctaccel_close(h);
	ctaccel_unlock(h);
	free(h);
}

const char *ctaccel_pin_root(const struct ctaccel *h)
{
	return h->root;
}

int ctaccel_pin_file(const struct ctaccel *h, const char *name, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", h->root, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int pin_get_file(const struct ctaccel *h, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (ctaccel_pin_file(h, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int pin_get(const struct ctaccel *h, enum pin_id id)
{
	return pin_name(id) ? pin_get_file(h, pin_name(id)) : -ENOENT;
}

bool pin_exists(const struct ctaccel *h, const char *name)
{
	char path[PATH_MAX];

	return !ctaccel_pin_file(h, name, path, sizeof(path)) && access(path, F_OK) == 0;
}

int pin_fd(struct ctaccel *h, int fd, const char *name)
{
	char path[PATH_MAX];
	int err;

	err = ctaccel_pin_file(h, name, path, sizeof(path));
	if (!err && (bpf_obj_pin(fd, path) || chmod(path, 0600)))
		err = -errno;
	return err ? lib_fail(h, err, "pin %s", path) : 0;
}

void unpin(struct ctaccel *h, const char *name)
{
	char path[PATH_MAX];

	if (!ctaccel_pin_file(h, name, path, sizeof(path)))
		unlink(path);
}

int repin_fd(struct ctaccel *h, int fd, const char *name)
{
	unpin(h, name);
	return pin_fd(h, fd, name);
}

/*
 * A link whose last pin goes is released later, from an RCU callback and a
 * work item: its program would stay attached for a while after unload has
 * returned. Detached first, it is off when the call returns. (A link kind
 * with no detach operation keeps the later release.)
 */
static void link_detach_pinned(const char *path)
{
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return;
	bpf_link_detach(fd);
	close(fd);
}

/* The devices' tcx links: one pin per device and hook, named by ifindex. */
static void unpin_tcx_links(struct ctaccel *h)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dir = opendir(h->root);

	if (!dir)
		return;
	while ((e = readdir(dir)))
		if (!strncmp(e->d_name, PIN_TCX_PREFIX, strlen(PIN_TCX_PREFIX)) &&
		    !ctaccel_pin_file(h, e->d_name, path, sizeof(path))) {
			link_detach_pinned(path);
			unlink(path);
		}
	closedir(dir);
}

void unpin_all(struct ctaccel *h)
{
	char path[PATH_MAX];
	int i;

	unpin_tcx_links(h);
	for (i = 0; i < PIN__COUNT; i++) {
		if (!pin_name(i) || ctaccel_pin_file(h, pin_name(i), path, sizeof(path)))
			continue;
		if (pin_defs[i].kind == PIN_KIND_LINK)
			link_detach_pinned(path);
		unlink(path);
	}
	migration_record_remove(h);
	/* A daemon's instance lock, left by one that was killed. */
	if (!ctaccel_pin_file(h, CTACCEL_PIN_DAEMON, path, sizeof(path)))
		rmdir(path);
	if (!ctaccel_pin_file(h, CTACCEL_PIN_MONITOR_LOCK, path, sizeof(path)))
		rmdir(path);
	rmdir(h->root);
}

bool ctaccel_is_loaded(const struct ctaccel *h)
{
	return pin_exists(h, pin_name(PIN_FLOWS));
}

/* Offset and size of ctaccel_cfg inside the object's .rodata map value. */
static int config_layout(size_t *off, size_t *value_size)
{
	struct tracker *skel = tracker__open();

	*off = 0;
	*value_size = 0;
	if (!skel)
		return -errno;
	*off = (const char *)&skel->rodata->ctaccel_cfg - (const char *)skel->rodata;
	*value_size = bpf_map__value_size(skel->maps.rodata);
	tracker__destroy(skel);
	return 0;
}

/* The pinned flow table must have this library's layout. */
static int layout_check(struct ctaccel *h)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(h->fd[PIN_FLOWS], &info, &len))
		return lib_fail(h, -errno, "read %s/%s", h->root, pin_name(PIN_FLOWS));
	if (info.key_size != sizeof(struct ctaccel_flow_key) ||
	    info.value_size != sizeof(struct ctaccel_flow)) {
		pr_warn(h,
			"pinned flow table in %s has an incompatible layout (key %u, value %u "
			"bytes; this ctaccel uses %zu, %zu): unload it first",
			h->root, info.key_size, info.value_size, sizeof(struct ctaccel_flow_key),
			sizeof(struct ctaccel_flow));
		return -EPROTO;
	}
	h->max_flows = info.max_entries;
	return 0;
}

/* The configuration, with the ABI word of whoever pinned it. */
static int config_read(struct ctaccel *h, bool older)
{
	size_t off, vsize;
	struct bpf_map_info info = {};
	__u32 zero = 0, len = sizeof(info);
	char *buf;
	int err;

	err = config_layout(&off, &vsize);
	if (err)
		return lib_fail(h, err, "open the BPF object");
	if (bpf_obj_get_info_by_fd(h->fd[PIN_CONFIG], &info, &len))
		return lib_fail(h, -errno, "read %s/%s", h->root, pin_name(PIN_CONFIG));
	if (info.value_size != vsize) {
		pr_warn(h,
			"pinned configuration in %s has an incompatible layout (%u bytes; this "
			"ctaccel uses %zu): unload it first",
			h->root, info.value_size, vsize);
		return -EPROTO;
	}
	buf = calloc(1, vsize);
	if (!buf)
		return lib_fail(h, -ENOMEM, "read %s/%s", h->root, pin_name(PIN_CONFIG));
	if (bpf_map_lookup_elem(h->fd[PIN_CONFIG], &zero, buf))
		err = lib_fail(h, -errno, "read %s/%s", h->root, pin_name(PIN_CONFIG));
	else
		memcpy(&h->cfg, buf + off, sizeof(h->cfg));
	free(buf);
	if (err || h->cfg.abi == CTACCEL_ABI_VERSION || (older && abi_migratable(h->cfg.abi)))
		return err;
	if (abi_migratable(h->cfg.abi))
		pr_warn(h,
			"pinned state in %s is of abi %u (this ctaccel uses %u): 'ctaccel "
			"replace', or a daemon of this build at its start, migrates it (flows "
			"kept)",
			h->root, h->cfg.abi, CTACCEL_ABI_VERSION);
	else
		pr_warn(h,
			"pinned state in %s has an incompatible layout (abi %u; this ctaccel "
			"uses %u): unload it first",
			h->root, h->cfg.abi, CTACCEL_ABI_VERSION);
	return -EPROTO;
}

static int state_open(struct ctaccel *h, bool older)
{
	int i, err;

	ctaccel_close(h);
	if (!ctaccel_is_loaded(h)) {
		pr_warn(h, "not loaded: nothing pinned in %s (run 'ctaccel load')", h->root);
		return -ENOENT;
	}
	/* Layout and ABI word first: state of another layout is refused
	 * before anything else, missing pins of a newer layout included. */
	h->fd[PIN_FLOWS] = pin_get(h, PIN_FLOWS);
	if (h->fd[PIN_FLOWS] >= 0) {
		err = layout_check(h);
		if (err)
			goto fail;
	}
	h->fd[PIN_CONFIG] = pin_get(h, PIN_CONFIG);
	if (h->fd[PIN_CONFIG] >= 0) {
		err = config_read(h, older);
		if (err)
			goto fail;
	}
	for (i = 0; i < PIN__COUNT; i++) {
		if (pin_opened(i) && h->fd[i] < 0)
			h->fd[i] = pin_get(h, i);
		/* a map older state lacks: its migration makes it */
		if (older && h->cfg.abi != CTACCEL_ABI_VERSION && h->fd[i] == -ENOENT &&
		    pin_defs[i].life == PIN_LIFE_KEEP) {
			h->fd[i] = -1;
			continue;
		}
		if (pin_opened(i) && h->fd[i] < 0) {
			err = h->fd[i];
			pr_warn(h,
				"open pins in %s: %s: %s (incomplete state: 'ctaccel unload' "
				"removes it)",
				h->root, pin_name(i), strerror(-err));
			goto fail;
		}
	}
	h->open = true;
	return 0;
fail:
	ctaccel_close(h);
	return err;
}

int ctaccel_open(struct ctaccel *h)
{
	return state_open(h, false);
}

int ctaccel_open_upgrade(struct ctaccel *h)
{
	return state_open(h, true);
}

__u32 prog_id_of(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * Each descriptor of an open handle replaced by the pin's object in one
 * step (dup2): a reader in another thread meanwhile uses the old object or
 * the new one, never a closed descriptor or a number reused for something
 * else. The handle stays open throughout.
 */
static int reopen_in_place(struct ctaccel *h)
{
	int fresh[PIN__COUNT], i, err = 0;

	for (i = 0; i < PIN__COUNT; i++)
		fresh[i] = -1;
	for (i = 0; i < PIN__COUNT && !err; i++) {
		if (!pin_opened(i))
			continue;
		fresh[i] = pin_get(h, i);
		if (fresh[i] < 0)
			err = lib_fail(h, fresh[i], "open %s/%s", h->root, pin_name(i));
	}
	for (i = 0; i < PIN__COUNT && !err; i++)
		if (fresh[i] >= 0 && dup2(fresh[i], h->fd[i]) < 0)
			err = lib_fail(h, -errno, "reopen %s/%s", h->root, pin_name(i));
	for (i = 0; i < PIN__COUNT; i++)
		if (fresh[i] >= 0)
			close(fresh[i]);
	return err ?: config_read(h, false);
}

int ctaccel_refresh(struct ctaccel *h)
{
	int fd, err;
	bool same;

	if (!h->open)
		return ctaccel_open(h) ?: 1;
	fd = pin_get(h, PIN_INGRESS);
	if (fd < 0)
		return lib_fail(h, fd, "open %s/%s", h->root, pin_name(PIN_INGRESS));
	same = prog_id_of(fd) == prog_id_of(h->fd[PIN_INGRESS]);
	close(fd);
	if (same)
		return 0;
	err = reopen_in_place(h);
	return err ? err : 1;
}

void ctaccel_close(struct ctaccel *h)
{
	int i;

	for (i = 0; i < PIN__COUNT; i++) {
		if (h->fd[i] >= 0)
			close(h->fd[i]);
		h->fd[i] = -1;
	}
	h->open = false;
}

bool ctaccel_is_open(const struct ctaccel *h)
{
	return h->open;
}

uint32_t ctaccel_max_flows(const struct ctaccel *h)
{
	return h->max_flows;
}
