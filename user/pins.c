// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The pinned state under cli.pin_path: opening it, and the lock around it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "flowtab.h"
#include "tracker.skel.h"

static int pin_get(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, name);
	return bpf_obj_get(path);
}

/* For readers: the pins, then no capability at all. Reading and formatting
 * what the kernel holds needs no privilege once the pins are open. */
int pinned_open_readonly(struct pinned *p)
{
	int err = pinned_open(p);

	if (err)
		return err;
	err = caps_keep_only(0);
	if (err) {
		pr_err("drop capabilities: %s", strerror(-err));
		pinned_close(p);
	}
	return err;
}

bool pinned_exists(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, PIN_FLOWS);
	return access(path, F_OK) == 0;
}

/* Offset and size of ctaccel_cfg inside the object's .rodata map value. */
static int config_layout(size_t *off, size_t *value_size)
{
	struct tracker *skel = tracker__open();

	if (!skel)
		return -errno;
	*off = (const char *)&skel->rodata->ctaccel_cfg - (const char *)skel->rodata;
	*value_size = bpf_map__value_size(skel->maps.rodata);
	tracker__destroy(skel);
	return 0;
}

/* The pinned flow table must have this binary's layout. */
static int layout_check(int flows_fd, uint32_t *max_flows)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(flows_fd, &info, &len))
		return -errno;
	if (info.key_size != sizeof(struct ctaccel_flow_key) ||
	    info.value_size != sizeof(struct ctaccel_flow)) {
		pr_err("pinned flow table in %s has an incompatible layout (key %u, value %u "
		       "bytes; "
		       "this ctaccel uses %zu, %zu): unload it first",
		       cli.pin_path, info.key_size, info.value_size,
		       sizeof(struct ctaccel_flow_key), sizeof(struct ctaccel_flow));
		return -EPROTO;
	}
	*max_flows = info.max_entries;
	return 0;
}

int pinned_open(struct pinned *p)
{
	size_t off, vsize;
	char *buf = NULL;
	__u32 zero = 0;
	int err;

	memset(p, 0, sizeof(*p));
	p->flows_fd = p->stats_fd = p->ifaces_fd = p->config_fd = -1;
	p->ingress_fd = p->egress_fd = p->delete_fd = p->clock_fd = p->policy_fd = -1;
	if (!pinned_exists()) {
		pr_err("not loaded: nothing pinned in %s (run 'ctaccel load')", cli.pin_path);
		return -ENOENT;
	}
	p->flows_fd = pin_get(PIN_FLOWS);
	/* Layout first: state of another layout is refused before anything else. */
	if (p->flows_fd >= 0) {
		err = layout_check(p->flows_fd, &p->max_flows);
		if (err)
			goto fail;
	}
	p->stats_fd = pin_get(PIN_STATS);
	p->ifaces_fd = pin_get(PIN_IFACES);
	p->config_fd = pin_get(PIN_CONFIG);
	p->ingress_fd = pin_get(PIN_INGRESS);
	p->egress_fd = pin_get(PIN_EGRESS);
	p->delete_fd = pin_get(PIN_DELETE);
	p->clock_fd = pin_get(PIN_CLOCK);
	p->policy_fd = pin_get(PIN_POLICY);
	if (p->flows_fd < 0 || p->stats_fd < 0 || p->ifaces_fd < 0 || p->config_fd < 0 ||
	    p->ingress_fd < 0 || p->egress_fd < 0 || p->delete_fd < 0 || p->clock_fd < 0 ||
	    p->policy_fd < 0) {
		err = -errno;
		pr_err("open pins in %s: %s (incomplete state: 'ctaccel unload' removes it)",
		       cli.pin_path, strerror(-err));
		goto fail;
	}
	err = config_layout(&off, &vsize);
	if (err)
		goto fail;
	buf = calloc(1, vsize);
	if (!buf) {
		err = -ENOMEM;
		goto fail;
	}
	if (bpf_map_lookup_elem(p->config_fd, &zero, buf)) {
		err = -errno;
		pr_err("read %s/%s: %s", cli.pin_path, PIN_CONFIG, strerror(-err));
		goto fail;
	}
	memcpy(&p->cfg, buf + off, sizeof(p->cfg));
	free(buf);
	return 0;
fail:
	free(buf);
	pinned_close(p);
	return err;
}

void pinned_close(struct pinned *p)
{
	int *fds[] = {&p->flows_fd,  &p->stats_fd,  &p->ifaces_fd, &p->config_fd, &p->ingress_fd,
		      &p->egress_fd, &p->delete_fd, &p->clock_fd,  &p->policy_fd};
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/*
 * The lock is the pin directory's parent: flock works on directories, and the
 * parent exists before the first load and after the last unload.
 */
int cli_lock(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s", cli.pin_path);
	fd = open(dirname(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		pr_err("lock %s: %s", path, strerror(-err));
		return err;
	}
	if (flock(fd, LOCK_EX)) {
		int err = -errno;

		pr_err("lock %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

void cli_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

int bpffs_ensure(void)
{
	char parent[PATH_MAX];
	struct statfs st;

	snprintf(parent, sizeof(parent), "%s", cli.pin_path);
	dirname(parent);
	if (statfs(parent, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (strcmp(parent, "/sys/fs/bpf")) {
		pr_err("%s: not on a bpf filesystem", parent);
		return -ENOTSUP;
	}
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		int err = -errno;

		pr_err("mount bpffs on /sys/fs/bpf: %s", strerror(-err));
		return err;
	}
	return 0;
}

int with_pinned_locked(int (*fn)(const struct pinned *p, void *arg), void *arg)
{
	struct pinned p;
	int lock, err;

	lock = cli_lock();
	if (lock < 0)
		return PINNED_UNAVAILABLE;
	if (pinned_open(&p)) {
		cli_unlock(lock);
		return PINNED_UNAVAILABLE;
	}
	err = fn(&p, arg);
	pinned_close(&p);
	cli_unlock(lock);
	return err;
}
