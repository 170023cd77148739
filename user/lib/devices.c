// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Devices: ctaccel's programs on a device's tc hooks, the record of each
 * device in ctaccel_ifaces. A hook is a tcx link (Linux 6.6+: no qdisc, no
 * filter chain to walk per packet), pinned per device and hook; on a kernel
 * without tcx, or where an older ctaccel left its filter, a tc filter on the
 * clsact qdisc (which ctaccel removes again if it made it).
 */
#include <errno.h>
#include <limits.h>
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

/* tcx's attach types, newer than this libbpf's headers (uapi numbers). */
#define TCX_INGRESS ((enum bpf_attach_type)46)
#define TCX_EGRESS  ((enum bpf_attach_type)47)

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
static int tc_attach_prog(unsigned int ifindex, bool ingress, int prog_fd, bool *created)
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

static int tc_detach_prog(unsigned int ifindex, bool ingress)
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

static void tcx_pin_name(char *buf, size_t len, unsigned int ifindex, bool ingress)
{
	snprintf(buf, len, PIN_TCX_PREFIX "%u_%s", ifindex, ingress ? "ingress" : "egress");
}

/* struct bpf_link_info as a tcx link fills it, newer than this libbpf's headers. */
struct tcx_link_info {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 __pad;   /* the union that follows is 8-byte aligned */
	__u32 ifindex; /* 0 once detached, or its device gone */
	__u32 attach_type;
};

/* The program of a device's hook: its live tcx link's, else ctaccel's tc
 * slot's (0: none, or a link that no longer holds the device). */
static __u32 hook_prog_id(const struct ctaccel *h, unsigned int ifindex, bool ingress)
{
	struct tcx_link_info info = {};
	__u32 len = sizeof(info);
	char name[64];
	int fd;

	tcx_pin_name(name, sizeof(name), ifindex, ingress);
	fd = pin_get_file(h, name);
	if (fd < 0)
		return tc_prog_id(ifindex, ingress);
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.ifindex != ifindex)
		info.prog_id = 0;
	close(fd);
	return info.prog_id;
}

/* Whether a device's hook is (or was) a tcx link of this state. */
static bool device_hook_is_tcx(const struct ctaccel *h, unsigned int ifindex, bool ingress)
{
	char name[64];

	tcx_pin_name(name, sizeof(name), ifindex, ingress);
	return pin_exists(h, name);
}

bool device_has_tcx(const struct ctaccel *h, unsigned int ifindex)
{
	return device_hook_is_tcx(h, ifindex, true);
}

bool ctaccel_env_tc_filters(void)
{
	const char *v = getenv("CTACCEL_HOOK");

	/* and a kernel without tcx (or CTACCEL_WITHOUT=tc_attach): no trial */
	return (v && !strcmp(v, "clsact")) ||
	       !(ctaccel_kernel_features() & 1U << CTACCEL_FEAT_HOOKS);
}

/*
 * Put a program on a device's hook, or in place of the one there: the
 * device's tcx link takes the new program (one pointer swap, no packet
 * missed); a tc filter an older ctaccel left stays one, replaced in place (a
 * tcx link beside it would count every packet twice); else a new tcx link,
 * and only on a kernel without tcx a new tc filter (with `created`, the
 * clsact qdisc is made first if missing).
 */
int hook_attach(struct ctaccel *h, unsigned int ifindex, bool ingress, int prog_fd, bool *created)
{
	char name[64];
	int fd, err;

	tcx_pin_name(name, sizeof(name), ifindex, ingress);
	fd = pin_get_file(h, name);
	if (fd >= 0) {
		err = bpf_link_update(fd, prog_fd, NULL) ? -errno : 0;
		close(fd);
		/* A live link takes the program; a dead one (detached by
		 * hand) gives its pin to a new link. */
		if (err != -ENOLINK)
			return err;
		hook_detach(h, ifindex, ingress);
	}
	if (tc_prog_id(ifindex, ingress))
		return tc_attach_prog(ifindex, ingress, prog_fd, NULL);
	if (h->tc_filters)
		return tc_attach_prog(ifindex, ingress, prog_fd, created);
	fd = bpf_link_create(prog_fd, ifindex, ingress ? TCX_INGRESS : TCX_EGRESS, NULL);
	if (fd < 0) {
		err = -errno;
		/* No tcx in this kernel: the attach type is unknown to it. */
		if (err == -EINVAL || err == -EOPNOTSUPP)
			return tc_attach_prog(ifindex, ingress, prog_fd, created);
		return err;
	}
	err = pin_fd(h, fd, name);
	if (err)
		bpf_link_detach(fd);
	close(fd);
	return err;
}

/* Take ctaccel's program off a device's hook, whichever kind it is. */
int hook_detach(struct ctaccel *h, unsigned int ifindex, bool ingress)
{
	char name[64], path[PATH_MAX];
	int fd;

	tcx_pin_name(name, sizeof(name), ifindex, ingress);
	fd = pin_get_file(h, name);
	if (fd >= 0) {
		/* A gone device's link is defunct already: nothing to undo. */
		bpf_link_detach(fd);
		close(fd);
		if (!ctaccel_pin_file(h, name, path, sizeof(path)) && unlink(path) &&
		    errno != ENOENT)
			return -errno;
	}
	/* Asked first: without a clsact qdisc libbpf would print the kernel's
	 * complaint about it. */
	return tc_prog_id(ifindex, ingress) ? tc_detach_prog(ifindex, ingress) : 0;
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
	__u32 id = hook_prog_id(h, ifindex, ingress);
	int fd;
	bool ours;

	if (!id)
		return false;
	if (id == prog_id_of(h->fd[ingress ? PIN_INGRESS : PIN_EGRESS]))
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
	int err;

	*pruned = 0;
	while (bpf_map_get_next_key(h->fd[PIN_IFACES], first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (if_indextoname(next, name) || errno != ENXIO)
			continue;
		/* its tcx links went with it; their pins go now */
		hook_detach(h, next, true);
		hook_detach(h, next, false);
		err = bpf_map_delete_elem(h->fd[PIN_IFACES], &next) ? -errno : 0;
		err = err ?: policy_gen_bump(h, true);
		if (err)
			return lib_fail(h, err, "forget device ifindex %u", next);
		(*pruned)++;
		/* The walk restarts: the deleted key cannot lead on. */
		first = true;
	}
	return 0;
}

/* Whether a program is one of ctaccel's tc programs, by name. -ENOENT: it is gone. */
static int prog_is_ours(__u32 id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), ours;

	if (fd < 0)
		return -errno;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       (!strcmp(info.name, "ctaccel_ingress") || !strcmp(info.name, "ctaccel_egress"));
	close(fd);
	return ours;
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
	int ours = -ENOENT, tries;
	__u32 id;

	for (tries = 0; tries < 8 && ours == -ENOENT; tries++) {
		id = tc_prog_id(ifindex, ingress);
		if (!id)
			return false;
		ours = prog_is_ours(id);
	}
	return ours > 0;
}

/*
 * Whether a program of this state's runs at a device's hook, as readiness
 * asks it: the state's own tcx link, live on the device, whichever version
 * of the programs it holds (only ctaccel updates its links: a live upgrade
 * by another process swaps them in place), else a tc filter whose program is
 * the handle's or the pinned one. Nothing here needs CAP_SYS_ADMIN, which
 * asking a program's name by its id would.
 */
static bool hook_serving(const struct ctaccel *h, unsigned int ifindex, bool ingress)
{
	if (device_hook_is_tcx(h, ifindex, ingress))
		return hook_prog_id(h, ifindex, ingress) != 0;
	return hook_is_ours(h, ifindex, ingress);
}

unsigned int ctaccel_device_serving(const struct ctaccel *h, unsigned int ifindex)
{
	return (hook_serving(h, ifindex, true) ? CTACCEL_HOOK_INGRESS : 0) |
	       (hook_serving(h, ifindex, false) ? CTACCEL_HOOK_EGRESS : 0);
}

/* Only tc filters can be orphans: a tcx link goes with its last pin. */
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

	bpf_map_lookup_elem(h->fd[PIN_IFACES], &ifindex, &rec);
	err = hook_detach(h, ifindex, true);
	err = err ?: hook_detach(h, ifindex, false);
	if (err)
		return lib_fail(h, err, "detach %s", dev_name(ifindex, name));
	if (rec.flags & CTACCEL_IFACE_OWN_CLSACT)
		clsact_destroy(ifindex);
	err = bpf_map_delete_elem(h->fd[PIN_IFACES], &ifindex) ? -errno : 0;
	if (err == -ENOENT)
		err = 0;
	err = err ?: policy_gen_bump(h, true);
	return err ? lib_fail(h, err, "detach %s", dev_name(ifindex, name)) : 0;
}

int ctaccel_attach(struct ctaccel *h, unsigned int ifindex)
{
	int ifaces = h->fd[PIN_IFACES];
	struct ctaccel_iface rec = {};
	bool had = bpf_map_lookup_elem(ifaces, &ifindex, &rec) == 0;
	char name[IF_NAMESIZE];
	bool created = false;
	int err, gen_err;

	/* Record ingress first: from then on egress skips forwarded packets
	 * that this device's ingress counts. */
	rec.flags |= CTACCEL_IFACE_INGRESS;
	if (bpf_map_update_elem(ifaces, &ifindex, &rec, BPF_ANY))
		return lib_fail(h, -errno, "attach %s", dev_name(ifindex, name));
	err = hook_attach(h, ifindex, true, h->fd[PIN_INGRESS], &created);
	if (!err && created && !had)
		rec.flags |= CTACCEL_IFACE_OWN_CLSACT;
	/* A gateway's forwarded packets are all counted at ingress. */
	if (!err && ctaccel_wanted_hooks(h) & CTACCEL_HOOK_EGRESS)
		err = hook_attach(h, ifindex, false, h->fd[PIN_EGRESS], NULL);
	if (!err && bpf_map_update_elem(ifaces, &ifindex, &rec, BPF_ANY))
		err = -errno;
	if (err && !had) {
		hook_detach(h, ifindex, true);
		hook_detach(h, ifindex, false);
		if (rec.flags & CTACCEL_IFACE_OWN_CLSACT || created)
			clsact_destroy(ifindex);
		bpf_map_delete_elem(ifaces, &ifindex);
	}
	/* Also after a failure: the record may have been there for a while. */
	gen_err = policy_gen_bump(h, true);
	err = err ?: gen_err;
	return err ? lib_fail(h, err, "attach %s", dev_name(ifindex, name)) : 0;
}
