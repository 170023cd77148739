// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Devices: ctaccel's tc filters on a device's clsact hooks, the record of
 * each device in ctaccel_ifaces, and the clsact qdisc when ctaccel made it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

/* Where ctaccel's filters sit on a clsact hook. */
#define TC_HANDLE   0xc7ac
#define TC_PRIORITY 1

static enum bpf_tc_attach_point hook_of(bool ingress)
{
	return ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

static int print_nothing(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/*
 * libbpf's print function is one per process: a daemon's threads that each
 * set and restore it could leave it silenced for good, so the quiet spells
 * are one at a time.
 */
static pthread_mutex_t quiet_lock = PTHREAD_MUTEX_INITIALIZER;
static libbpf_print_fn_t quiet_prev;

static void libbpf_quiet(bool on)
{
	if (on) {
		pthread_mutex_lock(&quiet_lock);
		quiet_prev = libbpf_set_print(print_nothing);
	} else {
		libbpf_set_print(quiet_prev);
		pthread_mutex_unlock(&quiet_lock);
	}
}

/* With `created`, make sure the clsact qdisc exists first (one for both hooks). */
int tc_attach_prog(unsigned int ifindex, bool ingress, int prog_fd, bool *created)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = hook_of(ingress));
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	if (created) {
		/* An existing qdisc is an answer, not an error: without this
		 * libbpf prints the kernel's "Exclusivity flag on" for it. */
		libbpf_quiet(true);
		err = bpf_tc_hook_create(&hook);
		libbpf_quiet(false);
		if (err && err != -EEXIST)
			return err;
		*created = !err;
	}
	return bpf_tc_attach(&hook, &opts);
}

int tc_detach_prog(unsigned int ifindex, bool ingress)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = hook_of(ingress));
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);
	int err = bpf_tc_detach(&hook, &opts);

	return err == -ENOENT || err == -ENODEV || err == -EINVAL ? 0 : err;
}

static __u32 tc_prog_id(unsigned int ifindex, bool ingress)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = hook_of(ingress));
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);
	int err;

	/* No qdisc or no filter is an answer here, not an error to print. */
	libbpf_quiet(true);
	err = bpf_tc_query(&hook, &opts);
	libbpf_quiet(false);
	return err ? 0 : opts.prog_id;
}

int ctaccel_ifindex(struct ctaccel *h, const char *verb, const char *name, unsigned int *ifindex)
{
	*ifindex = if_nametoindex(name);
	if (!*ifindex)
		return lib_fail(h, -ENODEV, "%s %s", verb, name);
	return 0;
}

unsigned int ctaccel_wanted_hooks(const struct ctaccel *h)
{
	return h->cfg.flags & CTACCEL_CFG_NO_LOCAL ? CTACCEL_HOOK_INGRESS : CTACCEL_HOOK_BOTH;
}

/* The program attached at a hook is this state's: the handle's own, or the
 * pinned one (another process replaced the programs since the handle was
 * opened; ctaccel_replace() pins before it swaps). */
static bool hook_is_ours(const struct ctaccel *h, unsigned int ifindex, bool ingress)
{
	__u32 id = tc_prog_id(ifindex, ingress);
	int fd;
	bool ours;

	if (!id)
		return false;
	if (id == prog_id_of(h->fd[ingress ? CTACCEL_FD_INGRESS : CTACCEL_FD_EGRESS]))
		return true;
	fd = pin_get(h, ingress ? PIN_INGRESS : PIN_EGRESS);
	if (fd < 0)
		return false;
	ours = id == prog_id_of(fd);
	close(fd);
	return ours;
}

unsigned int ctaccel_device_hooks(const struct ctaccel *h, unsigned int ifindex)
{
	unsigned int hooks = 0;

	if (hook_is_ours(h, ifindex, true))
		hooks |= CTACCEL_HOOK_INGRESS;
	if (hook_is_ours(h, ifindex, false))
		hooks |= CTACCEL_HOOK_EGRESS;
	return hooks;
}

int ctaccel_devices_prune(struct ctaccel *h, unsigned int *pruned)
{
	char name[IF_NAMESIZE];
	__u32 key, next;
	bool first = true;

	*pruned = 0;
	while (bpf_map_get_next_key(h->fd[CTACCEL_FD_IFACES], first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (if_indextoname(next, name) || errno != ENXIO)
			continue;
		if (bpf_map_delete_elem(h->fd[CTACCEL_FD_IFACES], &next))
			return lib_fail(h, -errno, "forget device ifindex %u", next);
		(*pruned)++;
		/* The walk restarts: the deleted key cannot lead on. */
		first = true;
	}
	return 0;
}

/*
 * Whether the program at ctaccel's tc slot is one of ctaccel's (by name):
 * the only way to know once the pins are gone. A live upgrade may swap the
 * filter between the query and the open, and the program the query named
 * is then gone: the slot is asked again (a swap takes seconds to prepare,
 * so a few tries always see the new one).
 */
static bool tc_slot_is_ours(unsigned int ifindex, bool ingress)
{
	struct bpf_prog_info info = {};
	__u32 id, len = sizeof(info);
	int fd = -ENOENT, tries;
	bool ours;

	for (tries = 0; tries < 8 && fd == -ENOENT; tries++) {
		id = tc_prog_id(ifindex, ingress);
		if (!id)
			return false;
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       (!strcmp(info.name, "ctaccel_ingress") || !strcmp(info.name, "ctaccel_egress"));
	close(fd);
	return ours;
}

unsigned int ctaccel_device_named_hooks(unsigned int ifindex)
{
	return (tc_slot_is_ours(ifindex, true) ? CTACCEL_HOOK_INGRESS : 0) |
	       (tc_slot_is_ours(ifindex, false) ? CTACCEL_HOOK_EGRESS : 0);
}

int ctaccel_orphans(struct ctaccel_name **names, size_t *n)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	struct ctaccel_name *out;
	size_t count = 0;

	*names = NULL;
	*n = 0;
	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++)
		count++;
	out = calloc(count + 1, sizeof(*out));
	if (!out) {
		if_freenameindex(ifs);
		return -ENOMEM;
	}
	for (i = ifs; i->if_index; i++)
		if (tc_slot_is_ours(i->if_index, true) || tc_slot_is_ours(i->if_index, false))
			snprintf(out[(*n)++].name, IF_NAMESIZE, "%s", i->if_name);
	if_freenameindex(ifs);
	*names = out;
	return 0;
}

int ctaccel_detach_orphan(struct ctaccel *h, unsigned int ifindex)
{
	int err = 0;

	if (tc_slot_is_ours(ifindex, true))
		err = tc_detach_prog(ifindex, true);
	if (!err && tc_slot_is_ours(ifindex, false))
		err = tc_detach_prog(ifindex, false);
	return err ? lib_fail(h, err, "detach ifindex %u", ifindex) : 0;
}

/* The clsact qdisc, with whatever filters are still on it. */
static void clsact_destroy(unsigned int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	bpf_tc_hook_destroy(&hook);
}

static const char *dev_name(unsigned int ifindex, char *buf)
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "ifindex %u", ifindex);
	return buf;
}

/* Take a device off: filters, its clsact if ctaccel made it, its record. */
int ctaccel_detach(struct ctaccel *h, unsigned int ifindex)
{
	struct ctaccel_iface rec = {};
	char name[IF_NAMESIZE];
	int err;

	bpf_map_lookup_elem(h->fd[CTACCEL_FD_IFACES], &ifindex, &rec);
	err = tc_detach_prog(ifindex, true);
	err = err ?: tc_detach_prog(ifindex, false);
	if (err)
		return lib_fail(h, err, "detach %s", dev_name(ifindex, name));
	if (rec.flags & CTACCEL_IFACE_OWN_CLSACT)
		clsact_destroy(ifindex);
	if (bpf_map_delete_elem(h->fd[CTACCEL_FD_IFACES], &ifindex) && errno != ENOENT)
		return lib_fail(h, -errno, "detach %s", dev_name(ifindex, name));
	return 0;
}

int ctaccel_attach(struct ctaccel *h, unsigned int ifindex)
{
	int ifaces = h->fd[CTACCEL_FD_IFACES];
	struct ctaccel_iface rec = {};
	bool had = bpf_map_lookup_elem(ifaces, &ifindex, &rec) == 0;
	char name[IF_NAMESIZE];
	bool created = false;
	int err;

	/* Record ingress first: from then on egress skips forwarded packets
	 * that this device's ingress counts. */
	rec.flags |= CTACCEL_IFACE_INGRESS;
	if (bpf_map_update_elem(ifaces, &ifindex, &rec, BPF_ANY))
		return lib_fail(h, -errno, "attach %s", dev_name(ifindex, name));
	err = tc_attach_prog(ifindex, true, h->fd[CTACCEL_FD_INGRESS], &created);
	if (!err && created && !had)
		rec.flags |= CTACCEL_IFACE_OWN_CLSACT;
	/* A gateway's forwarded packets are all counted at ingress. */
	if (!err && ctaccel_wanted_hooks(h) & CTACCEL_HOOK_EGRESS)
		err = tc_attach_prog(ifindex, false, h->fd[CTACCEL_FD_EGRESS], NULL);
	if (!err && bpf_map_update_elem(ifaces, &ifindex, &rec, BPF_ANY))
		err = -errno;
	if (err && !had) {
		tc_detach_prog(ifindex, true);
		tc_detach_prog(ifindex, false);
		if (rec.flags & CTACCEL_IFACE_OWN_CLSACT || created)
			clsact_destroy(ifindex);
		bpf_map_delete_elem(ifaces, &ifindex);
	}
	return err ? lib_fail(h, err, "attach %s", dev_name(ifindex, name)) : 0;
}
