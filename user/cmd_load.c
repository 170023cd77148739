// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Lifecycle commands: load (and pin), attach, detach, unload, status, gc.
 * Every command that changes the system undoes what it did when it fails.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "flowtab.h"
#include "tracker.skel.h"
#include "sockets.skel.h"

/* Where ctaccel's filters sit on a clsact hook. */
#define TC_HANDLE   0xc7ac
#define TC_PRIORITY 1

#define MAX_TIMEOUT_S (10 * 365 * 24 * 3600U)

int load_args_default(struct load_args *a)
{
	unsigned int hz = ctaccel_kernel_hz();

	memset(a, 0, sizeof(*a));
	if (!hz) {
		pr_err("cannot tell the kernel's HZ from CLOCK_MONOTONIC_COARSE");
		return -EINVAL;
	}
	a->max_flows = CTACCEL_DEFAULT_MAX_FLOWS;
	ctaccel_config_default(&a->cfg, hz);
	return 0;
}

int load_args_parse(int argc, char **argv, struct load_args *a)
{
	unsigned int hz = a->cfg.hz;
	uint32_t secs;
	int i;

	for (i = 0; i < argc; i++) {
		if (is_prefix(argv[i], "max-flows") && i + 1 < argc) {
			if (parse_u32(argv[++i], &a->max_flows) || a->max_flows < 1 ||
			    a->max_flows > (1U << 28)) {
				pr_err("max-flows '%s': not a number from 1 to %u", argv[i],
				       1U << 28);
				return -EINVAL;
			}
		} else if (is_prefix(argv[i], "mark") && i + 1 < argc) {
			char *slash = strchr(argv[++i], '/');
			uint32_t mark, mask;

			if (slash)
				*slash = 0;
			if (!slash || parse_u32(argv[i], &mark) || parse_u32(slash + 1, &mask) ||
			    !mask || (mark & ~mask) || !mark) {
				if (slash)
					*slash = '/';
				pr_err("mark '%s': expected VALUE/MASK, VALUE non-zero and within "
				       "MASK",
				       argv[i]);
				return -EINVAL;
			}
			*slash = '/';
			a->cfg.mark = mark;
			a->cfg.mark_mask = mask;
		} else if (is_prefix(argv[i], "timeout") && i + 2 < argc) {
			const char *name = argv[++i];
			int st;

			if (parse_u32(argv[++i], &secs) || secs < 1 || secs > MAX_TIMEOUT_S) {
				pr_err("timeout %s '%s': not a number of seconds from 1 to %u",
				       name, argv[i], MAX_TIMEOUT_S);
				return -EINVAL;
			}
			if (!strcasecmp(name, "unack")) {
				a->cfg.timeout_unack = (__u64)secs * hz;
				a->any = true;
				continue;
			}
			st = ctaccel_state_parse(name);
			if (st < 0) {
				pr_err("timeout: unknown state '%s'", name);
				return -EINVAL;
			}
			a->cfg.timeout[st] = (__u64)secs * hz;
		} else {
			pr_err("load: unexpected '%s'; usage: load [max-flows N] [mark VALUE/MASK] "
			       "[timeout STATE SECONDS]...",
			       argv[i]);
			return -EINVAL;
		}
		a->any = true;
	}
	return 0;
}

static const char *const pin_names[] = {
	PIN_SOCKOPS, PIN_SK_LINK, PIN_SK_TRANSITIONS, PIN_FLOWS,       PIN_STATS,
	PIN_IFACES,  PIN_CONFIG,  PIN_INGRESS,	      PIN_EGRESS,      PIN_DELETE,
	PIN_CLOCK,   PIN_POLICY,  PIN_POLICY_RULES,   PIN_POLICY_NEXT,
};

static void unpin_all(void)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(pin_names) / sizeof(pin_names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", cli.pin_path, pin_names[i]);
		unlink(path);
	}
	rmdir(cli.pin_path);
}

static int pin_one(int fd, const char *name)
{
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, name);
	if (bpf_obj_pin(fd, path) || chmod(path, 0600)) {
		err = -errno;
		pr_err("pin %s: %s", path, strerror(-err));
		return err;
	}
	return 0;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* The cookie of the network namespace this command runs in. */
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

static int attach_sockops(struct tracker *skel)
{
	char cg[512], path[PATH_MAX];
	struct bpf_link *link;
	int fd, err;

	err = cgroup2_root(cg, sizeof(cg));
	if (err) {
		pr_err("no cgroup v2 hierarchy mounted: local flows cannot be bypassed");
		return err;
	}
	fd = open(cg, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		err = -errno;
		pr_err("open %s: %s", cg, strerror(-err));
		return err;
	}
	link = bpf_program__attach_cgroup(skel->progs.ctaccel_sockops, fd);
	close(fd);
	if (!link) {
		err = -errno;
		pr_err("attach sock_ops to %s: %s", cg, strerror(-err));
		return err;
	}
	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, PIN_SOCKOPS);
	if (bpf_link__pin(link, path) || chmod(path, 0600))
		err = -errno;
	if (err)
		pr_err("pin %s: %s", path, strerror(-err));
	bpf_link__destroy(link); /* the pin keeps it attached */
	return err;
}

/* Host socket transitions: the tracepoint program, counting from load on. */
static int attach_sockstate(__u64 cookie)
{
	char path[PATH_MAX];
	struct bpf_link *link = NULL;
	struct sockets *skel;
	int err;

	skel = sockets__open();
	if (!skel)
		return -errno;
	skel->rodata->netns_cookie = cookie;
	err = sockets__load(skel);
	if (err) {
		pr_err("load the host socket programs: %s", strerror(-err));
		goto out;
	}
	err = pin_one(bpf_map__fd(skel->maps.ctaccel_sk_transitions), PIN_SK_TRANSITIONS);
	if (err)
		goto out;
	link = bpf_program__attach(skel->progs.ctaccel_sock_state);
	if (!link) {
		err = -errno;
		pr_err("attach tp_btf/inet_sock_set_state: %s", strerror(-err));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, PIN_SK_LINK);
	if (bpf_link__pin(link, path) || chmod(path, 0600)) {
		err = -errno;
		pr_err("pin %s: %s", path, strerror(-err));
	}
out:
	bpf_link__destroy(link);
	sockets__destroy(skel);
	return err;
}

/* Load the programs and pin everything; on failure nothing stays pinned. */
int load_and_pin(const struct load_args *a)
{
	struct ctaccel_config cfg;
	struct tracker *skel;
	int err;

	skel = tracker__open();
	if (!skel) {
		err = -errno;
		pr_err("open BPF object: %s", strerror(-err));
		return err;
	}
	cfg = a->cfg;
	err = netns_cookie(&cfg.netns_cookie);
	if (err) {
		pr_err("network namespace cookie: %s", strerror(-err));
		goto cleanup;
	}
	memcpy((void *)&skel->rodata->ctaccel_cfg, &cfg, sizeof(cfg));
	err = bpf_map__set_max_entries(skel->maps.ctaccel_flows, a->max_flows);
	if (!err)
		err = tracker__load(skel);
	if (err) {
		pr_err("load BPF programs: %s%s", strerror(-err),
		       err == -EPERM ? " (needs root: CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)" : "");
		goto cleanup;
	}
	if (mkdir(cli.pin_path, 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("mkdir %s: %s", cli.pin_path, strerror(-err));
		goto cleanup;
	}
	chmod(cli.pin_path, 0700);
	err = pin_one(bpf_map__fd(skel->maps.ctaccel_flows), PIN_FLOWS);
	err = err ?: pin_one(bpf_map__fd(skel->maps.ctaccel_stats), PIN_STATS);
	err = err ?: pin_one(bpf_map__fd(skel->maps.ctaccel_ifaces), PIN_IFACES);
	err = err ?: pin_one(bpf_map__fd(skel->maps.rodata), PIN_CONFIG);
	err = err ?: pin_one(bpf_program__fd(skel->progs.ctaccel_ingress), PIN_INGRESS);
	err = err ?: pin_one(bpf_program__fd(skel->progs.ctaccel_egress), PIN_EGRESS);
	err = err ?: pin_one(bpf_program__fd(skel->progs.ctaccel_delete), PIN_DELETE);
	err = err ?: pin_one(bpf_program__fd(skel->progs.ctaccel_clock), PIN_CLOCK);
	err = err ?: pin_one(bpf_map__fd(skel->maps.ctaccel_policy), PIN_POLICY);
	err = err ?: pin_one(bpf_map__fd(skel->maps.ctaccel_policy_initial), PIN_POLICY_RULES);
	err = err ?: attach_sockops(skel);
	err = err ?: attach_sockstate(cfg.netns_cookie);
	if (err)
		unpin_all();
cleanup:
	tracker__destroy(skel);
	return err;
}

int do_load(int argc, char **argv)
{
	struct load_args a = {};
	int lock, err;

	if (argc && is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel load [max-flows N] [timeout STATE SECONDS]...\n");
		return 0;
	}
	if (load_args_default(&a))
		return EXIT_RUNTIME;
	if (load_args_parse(argc, argv, &a))
		return EXIT_USAGE;
	if (bpffs_ensure())
		return EXIT_RUNTIME;
	lock = cli_lock();
	if (lock < 0)
		return EXIT_RUNTIME;
	if (pinned_exists()) {
		cli_unlock(lock);
		if (a.any) {
			pr_err("already loaded in %s; 'ctaccel unload' first to change settings",
			       cli.pin_path);
			return EXIT_RUNTIME;
		}
		pr_info("already loaded in %s\n", cli.pin_path);
		return 0;
	}
	err = load_and_pin(&a);
	cli_unlock(lock);
	if (err)
		return EXIT_RUNTIME;
	pr_info("loaded, pinned in %s (max-flows %u)\n", cli.pin_path, a.max_flows);
	return 0;
}

int load_default_if_needed(void)
{
	struct load_args a = {};

	if (pinned_exists())
		return 0;
	if (load_args_default(&a))
		return -EINVAL;
	return load_and_pin(&a);
}

/* ---- tc attach/detach ---- */

/* With `created`, make sure the clsact qdisc exists first (one for both hooks). */
static int tc_attach_one(int ifindex, enum bpf_tc_attach_point ap, int prog_fd, bool *created)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = ap);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	if (created) {
		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST)
			return err;
		*created = !err;
	}
	return bpf_tc_attach(&hook, &opts);
}

static int tc_detach_one(int ifindex, enum bpf_tc_attach_point ap)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = ap);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);
	int err = bpf_tc_detach(&hook, &opts);

	return err == -ENOENT || err == -ENODEV || err == -EINVAL ? 0 : err;
}

static int print_nothing(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static __u32 tc_prog_id(int ifindex, enum bpf_tc_attach_point ap)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = ap);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);
	libbpf_print_fn_t prev;
	int err;

	/* No qdisc or no filter is an answer here, not an error to print. */
	prev = libbpf_set_print(print_nothing);
	err = bpf_tc_query(&hook, &opts);
	libbpf_set_print(prev);
	return err ? 0 : opts.prog_id;
}

static __u32 prog_id_of(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

unsigned int iface_hooks(const struct pinned *p, __u32 ifindex)
{
	unsigned int hooks = 0;

	if (tc_prog_id(ifindex, BPF_TC_INGRESS) == prog_id_of(p->ingress_fd))
		hooks |= IFACE_HOOK_INGRESS;
	if (tc_prog_id(ifindex, BPF_TC_EGRESS) == prog_id_of(p->egress_fd))
		hooks |= IFACE_HOOK_EGRESS;
	return hooks;
}

int ifaces_prune(const struct pinned *p, unsigned int *pruned)
{
	__u32 key, next;
	bool first = true;
	char name[IF_NAMESIZE];

	*pruned = 0;
	while (bpf_map_get_next_key(p->ifaces_fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (if_indextoname(next, name) || errno != ENXIO)
			continue;
		if (bpf_map_delete_elem(p->ifaces_fd, &next))
			return -errno;
		(*pruned)++;
		/* The walk restarts: the deleted key cannot lead on. */
		first = true;
	}
	return 0;
}

/* Whether the program at ctaccel's tc slot is one of ctaccel's (by name):
 * the only way to know once the pins are gone. */
static bool tc_slot_is_ours(int ifindex, enum bpf_tc_attach_point ap)
{
	struct bpf_prog_info info = {};
	__u32 id = tc_prog_id(ifindex, ap), len = sizeof(info);
	int fd;
	bool ours;

	if (!id)
		return false;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       (!strcmp(info.name, "ctaccel_ingress") || !strcmp(info.name, "ctaccel_egress"));
	close(fd);
	return ours;
}

/* Devices of this namespace still running ctaccel's programs that no pinned
 * state knows of (its bpffs was unmounted, or its pins removed). */
static json_t *orphaned_devices(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	json_t *arr = json_array();

	for (i = ifs; i && i->if_index; i++)
		if (tc_slot_is_ours(i->if_index, BPF_TC_INGRESS) ||
		    tc_slot_is_ours(i->if_index, BPF_TC_EGRESS))
			json_array_append_new(arr, json_string(i->if_name));
	if (ifs)
		if_freenameindex(ifs);
	return arr;
}

/* Detach with no pinned state: only filters that run ctaccel's programs. */
static int detach_orphan(__u32 ifindex)
{
	int err = 0;

	if (tc_slot_is_ours(ifindex, BPF_TC_INGRESS))
		err = tc_detach_one(ifindex, BPF_TC_INGRESS);
	if (!err && tc_slot_is_ours(ifindex, BPF_TC_EGRESS))
		err = tc_detach_one(ifindex, BPF_TC_EGRESS);
	return err;
}

/* The clsact qdisc, with whatever filters are still on it. */
static void clsact_destroy(__u32 ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	bpf_tc_hook_destroy(&hook);
}

/* Take a device off: filters, its clsact if ctaccel made it, its record. */
int detach_ifindex(const struct pinned *p, __u32 ifindex)
{
	struct ctaccel_iface rec = {};
	int err;

	bpf_map_lookup_elem(p->ifaces_fd, &ifindex, &rec);
	err = tc_detach_one(ifindex, BPF_TC_INGRESS);
	err = err ?: tc_detach_one(ifindex, BPF_TC_EGRESS);
	if (err)
		return err;
	if (rec.flags & CTACCEL_IFACE_OWN_CLSACT)
		clsact_destroy(ifindex);
	if (bpf_map_delete_elem(p->ifaces_fd, &ifindex) && errno != ENOENT)
		return -errno;
	return 0;
}

int attach_ifindex(const struct pinned *p, __u32 ifindex)
{
	struct ctaccel_iface rec = {};
	bool had = bpf_map_lookup_elem(p->ifaces_fd, &ifindex, &rec) == 0;
	bool created = false;
	int err;

	/* Record ingress first: from then on egress skips forwarded packets
	 * that this device's ingress counts. */
	rec.flags |= CTACCEL_IFACE_INGRESS;
	if (bpf_map_update_elem(p->ifaces_fd, &ifindex, &rec, BPF_ANY))
		return -errno;
	err = tc_attach_one(ifindex, BPF_TC_INGRESS, p->ingress_fd, &created);
	if (!err && created && !had)
		rec.flags |= CTACCEL_IFACE_OWN_CLSACT;
	err = err ?: tc_attach_one(ifindex, BPF_TC_EGRESS, p->egress_fd, NULL);
	if (!err && bpf_map_update_elem(p->ifaces_fd, &ifindex, &rec, BPF_ANY))
		err = -errno;
	if (err && !had) {
		tc_detach_one(ifindex, BPF_TC_INGRESS);
		tc_detach_one(ifindex, BPF_TC_EGRESS);
		if (rec.flags & CTACCEL_IFACE_OWN_CLSACT || created)
			clsact_destroy(ifindex);
		bpf_map_delete_elem(p->ifaces_fd, &ifindex);
	}
	return err;
}

static int resolve_devices(int argc, char **argv, __u32 *ifindex)
{
	int i;

	if (argc < 1) {
		pr_err("no device given");
		return -EINVAL;
	}
	for (i = 0; i < argc; i++) {
		ifindex[i] = if_nametoindex(argv[i]);
		if (!ifindex[i]) {
			pr_err("attach %s: %s", argv[i], strerror(ENODEV));
			return -ENODEV;
		}
	}
	return 0;
}

int do_attach(int argc, char **argv)
{
	__u32 ifindex[argc ? argc : 1];
	bool loaded_here = false;
	struct pinned p;
	int lock, i, err, ret = EXIT_RUNTIME;

	if (argc && is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel attach DEV...\n");
		return 0;
	}
	/* Every device must exist before anything changes. */
	if (resolve_devices(argc, argv, ifindex))
		return argc ? EXIT_RUNTIME : EXIT_USAGE;
	if (bpffs_ensure())
		return EXIT_RUNTIME;
	lock = cli_lock();
	if (lock < 0)
		return EXIT_RUNTIME;
	if (!pinned_exists()) {
		if (load_default_if_needed())
			goto unlock;
		loaded_here = true;
	}
	if (pinned_open(&p))
		goto unload;
	for (i = 0; i < argc; i++) {
		err = attach_ifindex(&p, ifindex[i]);
		if (err) {
			pr_err("attach %s: %s", argv[i], strerror(-err));
			while (--i >= 0)
				detach_ifindex(&p, ifindex[i]);
			pinned_close(&p);
			goto unload;
		}
	}
	pinned_close(&p);
	for (i = 0; i < argc; i++)
		pr_info("attached %s (ingress, egress)\n", argv[i]);
	ret = 0;
	goto unlock;
unload:
	if (loaded_here)
		unpin_all();
unlock:
	cli_unlock(lock);
	return ret;
}

int do_detach(int argc, char **argv)
{
	__u32 ifindex[argc ? argc : 1];
	struct pinned p;
	int lock, i, err, ret = 0;

	if (argc && is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel detach DEV...\n");
		return 0;
	}
	if (resolve_devices(argc, argv, ifindex))
		return argc ? EXIT_RUNTIME : EXIT_USAGE;
	lock = cli_lock();
	if (lock < 0)
		return EXIT_RUNTIME;
	if (!pinned_exists()) {
		/* Programs left attached by a state whose pins are gone. */
		for (i = 0; i < argc; i++) {
			err = detach_orphan(ifindex[i]);
			if (err) {
				pr_err("detach %s: %s", argv[i], strerror(-err));
				ret = EXIT_RUNTIME;
				continue;
			}
			pr_info("detached %s (no pinned state)\n", argv[i]);
		}
		cli_unlock(lock);
		return ret;
	}
	if (pinned_open(&p)) {
		cli_unlock(lock);
		return EXIT_RUNTIME;
	}
	for (i = 0; i < argc; i++) {
		err = detach_ifindex(&p, ifindex[i]);
		if (err) {
			pr_err("detach %s: %s", argv[i], strerror(-err));
			ret = EXIT_RUNTIME;
			continue;
		}
		pr_info("detached %s\n", argv[i]);
	}
	pinned_close(&p);
	cli_unlock(lock);
	return ret;
}

/* Remove every flow through compare-and-delete, so that counters stay exact. */
static int flush_flows(const struct pinned *p, size_t *deleted)
{
	struct ctaccel_flow_list l;
	struct ctaccel_del_req *reqs;
	size_t i;
	int err;

	err = ctaccel_flows_read(p->flows_fd, &l);
	if (err)
		return err;
	reqs = calloc(l.n ? l.n : 1, sizeof(*reqs));
	if (!reqs) {
		ctaccel_flow_list_free(&l);
		return -ENOMEM;
	}
	for (i = 0; i < l.n; i++)
		reqs[i].key = l.e[i].key;
	err = ctaccel_delete_flows(p->delete_fd, reqs, l.n, CTACCEL_DEL_FORCE, deleted, NULL);
	free(reqs);
	ctaccel_flow_list_free(&l);
	return err;
}

int do_unload(int argc, char **argv)
{
	struct pinned p;
	__u32 key, next;
	bool first = true;
	int lock, err, ret = 0;

	if (argc && is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel unload\n");
		return 0;
	}
	if (argc) {
		pr_err("unload: unexpected '%s'", argv[0]);
		return EXIT_USAGE;
	}
	lock = cli_lock();
	if (lock < 0)
		return EXIT_RUNTIME;
	if (!pinned_exists()) {
		unpin_all(); /* leftovers of an interrupted load, if any */
		cli_unlock(lock);
		pr_info("not loaded\n");
		return 0;
	}
	if (pinned_open(&p)) {
		/* Incomplete state: remove what is there. */
		unpin_all();
		cli_unlock(lock);
		return 0;
	}
	while (bpf_map_get_next_key(p.ifaces_fd, first ? NULL : &key, &next) == 0) {
		err = detach_ifindex(&p, next);
		if (err) {
			char name[IF_NAMESIZE] = "?";

			if_indextoname(next, name);
			pr_err("detach %s (ifindex %u): %s", name, next, strerror(-err));
			ret = EXIT_RUNTIME;
			key = next;
			first = false;
		}
	}
	if (!ret && nft_table_remove())
		ret = EXIT_RUNTIME;
	if (!ret) {
		size_t deleted = 0;

		flush_flows(&p, &deleted);
		unpin_all(); /* the sock_ops link goes with its pin */
	}
	pinned_close(&p);
	cli_unlock(lock);
	if (!ret)
		pr_info("unloaded\n");
	return ret;
}

int do_gc(int argc, char **argv)
{
	struct ctaccel_gc_result res;
	struct pinned p;
	int err;

	if (argc && is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel gc\n");
		return 0;
	}
	if (argc) {
		pr_err("gc: unexpected '%s'", argv[0]);
		return EXIT_USAGE;
	}
	if (pinned_open(&p))
		return EXIT_RUNTIME;
	err = ctaccel_gc_pass(p.flows_fd, p.delete_fd, p.clock_fd, &res);
	pinned_close(&p);
	if (err) {
		pr_err("gc: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	if (cli.json) {
		json_t *o =
			json_pack("{s:I,s:I,s:I}", "scanned", (json_int_t)res.scanned, "expired",
				  (json_int_t)res.expired, "deleted", (json_int_t)res.deleted);

		json_out(o);
		json_decref(o);
	} else {
		printf("scanned %zu, expired %zu, deleted %zu\n", res.scanned, res.expired,
		       res.deleted);
	}
	return 0;
}

json_t *status_json(const struct pinned *p)
{
	struct bpf_prog_info info;
	struct ctaccel_stats st;
	__u32 key, next, len;
	bool first = true;
	json_t *o, *devs, *progs, *to, *problems = json_array();
	__s64 flows = 0;
	int i;

	if (ctaccel_stats_read(p->stats_fd, &st) == 0)
		for (i = 1; i < CTACCEL_ST__MAX; i++)
			flows += st.flows_in_state[i];

	o = json_pack("{s:s,s:b,s:s,s:i,s:I,s:I,s:f,s:i}", "version", CTACCEL_VERSION, "loaded", 1,
		      "pin_path", cli.pin_path, "abi", CTACCEL_ABI_VERSION, "max_flows",
		      (json_int_t)p->max_flows, "flows", (json_int_t)flows, "fill",
		      p->max_flows ? (double)flows / p->max_flows : 0.0, "hz", (int)p->cfg.hz);
	progs = json_object();
	{
		static const char *const names[] = {"ingress", "egress", "delete", "clock"};
		int fds[] = {p->ingress_fd, p->egress_fd, p->delete_fd, p->clock_fd};

		for (i = 0; i < 4; i++) {
			memset(&info, 0, sizeof(info));
			len = sizeof(info);
			if (!bpf_obj_get_info_by_fd(fds[i], &info, &len))
				json_object_set_new(progs, names[i], json_integer(info.id));
		}
	}
	json_object_set_new(o, "programs", progs);
	to = json_object();
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		json_object_set_new(to, ctaccel_state_names[i],
				    json_integer(p->cfg.hz ? p->cfg.timeout[i] / p->cfg.hz : 0));
	json_object_set_new(to, "UNACK",
			    json_integer(p->cfg.hz ? p->cfg.timeout_unack / p->cfg.hz : 0));
	json_object_set_new(o, "timeouts", to);
	devs = json_array();
	while (bpf_map_get_next_key(p->ifaces_fd, first ? NULL : &key, &next) == 0) {
		char name[IF_NAMESIZE] = "";

		unsigned int hooks = iface_hooks(p, next);

		if (!if_indextoname(next, name)) {
			json_array_append_new(problems,
					      json_sprintf("device ifindex %u is gone", next));
		} else if (hooks != (IFACE_HOOK_INGRESS | IFACE_HOOK_EGRESS)) {
			json_array_append_new(
				problems,
				json_sprintf("device %s lacks ctaccel's %s program", name,
					     hooks & IFACE_HOOK_INGRESS ? "egress" : "ingress"));
		}
		json_array_append_new(devs, json_pack("{s:s,s:i,s:b,s:b}", "name", name, "ifindex",
						      (int)next, "ingress",
						      (hooks & IFACE_HOOK_INGRESS) != 0, "egress",
						      (hooks & IFACE_HOOK_EGRESS) != 0));
		key = next;
		first = false;
	}
	json_object_set_new(o, "devices", devs);
	json_object_set_new(o, "problems", problems);
	{
		char mark[32], path[PATH_MAX];
		int inner, rules = 0;
		struct ctaccel_policy_key k, nk;
		bool kfirst = true;

		snprintf(mark, sizeof(mark), "0x%08x/0x%08x", p->cfg.mark, p->cfg.mark_mask);
		json_object_set_new(o, "mark", json_string(mark));
		if ((inner = policy_inner_fd(p)) >= 0) {
			while (bpf_map_get_next_key(inner, kfirst ? NULL : &k, &nk) == 0) {
				rules++;
				k = nk;
				kfirst = false;
			}
			close(inner);
		}
		json_object_set_new(o, "policy_rules", json_integer(rules));
		json_object_set_new(o, "nft_table", json_boolean(nft_table_present()));
		if (rules && !json_is_true(json_object_get(o, "nft_table")))
			json_array_append_new(
				problems,
				json_sprintf("policy has %d rules but nft table inet ctaccel is "
					     "missing: nf_conntrack tracks the bypassed flows",
					     rules));
		if (policy_in_step(p) == 0)
			json_array_append_new(problems,
					      json_string("the pinned policy is not the one in use "
							  "(an update was interrupted)"));
		snprintf(path, sizeof(path), "%s/%s", cli.pin_path, PIN_SOCKOPS);
		json_object_set_new(o, "sockops", json_boolean(access(path, F_OK) == 0));
	}
	return o;
}

int do_status(int argc, char **argv)
{
	struct pinned p;
	json_t *o, *progs, *devs, *to, *d;
	size_t k;
	int i;

	if (argc && is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel status\n");
		return 0;
	}
	if (!pinned_exists()) {
		json_t *orphans = orphaned_devices();

		if (cli.json) {
			o = json_pack("{s:s,s:b,s:s,s:O}", "version", CTACCEL_VERSION, "loaded", 0,
				      "pin_path", cli.pin_path, "orphaned_devices", orphans);
			json_out(o);
			json_decref(o);
		} else {
			printf("ctaccel %s: not loaded (%s)\n", CTACCEL_VERSION, cli.pin_path);
			json_array_foreach(orphans, k, d)
			{
				printf("device %s still runs ctaccel's programs, with no pinned "
				       "state: 'ctaccel detach %s' removes them\n",
				       json_string_value(d), json_string_value(d));
			}
		}
		json_decref(orphans);
		return 0;
	}
	if (pinned_open(&p))
		return EXIT_RUNTIME;
	o = status_json(&p);
	pinned_close(&p);
	if (cli.json) {
		json_out(o);
		json_decref(o);
		return 0;
	}
	progs = json_object_get(o, "programs");
	devs = json_object_get(o, "devices");
	to = json_object_get(o, "timeouts");
	printf("ctaccel %s, pinned in %s\n", CTACCEL_VERSION, cli.pin_path);
	printf("flows       %lld of %lld (%.1f%%)\n",
	       (long long)json_integer_value(json_object_get(o, "flows")),
	       (long long)json_integer_value(json_object_get(o, "max_flows")),
	       100.0 * json_real_value(json_object_get(o, "fill")));
	printf("programs    ingress %lld, egress %lld, delete %lld, clock %lld\n",
	       (long long)json_integer_value(json_object_get(progs, "ingress")),
	       (long long)json_integer_value(json_object_get(progs, "egress")),
	       (long long)json_integer_value(json_object_get(progs, "delete")),
	       (long long)json_integer_value(json_object_get(progs, "clock")));
	printf("devices    ");
	if (!json_array_size(devs))
		printf(" none");
	json_array_foreach(devs, k, d)
	{
		printf(" %s(%s%s)", json_string_value(json_object_get(d, "name")),
		       json_is_true(json_object_get(d, "ingress")) ? "in" : "-",
		       json_is_true(json_object_get(d, "egress")) ? ",eg" : ",-");
	}
	printf("\nbypass      mark %s, %lld policy rules, nft table inet ctaccel %s, sock_ops %s",
	       json_string_value(json_object_get(o, "mark")),
	       (long long)json_integer_value(json_object_get(o, "policy_rules")),
	       json_is_true(json_object_get(o, "nft_table")) ? "present" : "absent",
	       json_is_true(json_object_get(o, "sockops")) ? "attached" : "absent");
	printf("\ntimeouts   ");
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		printf(" %s %llds", ctaccel_state_names[i],
		       (long long)json_integer_value(json_object_get(to, ctaccel_state_names[i])));
	printf("\n");
	json_decref(o);
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

/*
 * bpffs refuses rename, so the old pin goes first; ctaccel's own readers hold
 * the lock meanwhile, and the attached programs do not depend on pins.
 */
static int repin(int fd, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, name);
	unlink(path);
	if (bpf_obj_pin(fd, path) || chmod(path, 0600)) {
		int err = -errno;

		pr_err("pin %s: %s", path, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Live upgrade: load this binary's programs over the pinned maps (flows,
 * counters, devices, policy stay) and swap them in: tc filters are replaced in
 * place (same handle and priority, one RCU pointer swap, so no packet goes
 * untracked), the sock_ops link is updated, the pins are replaced. Nothing
 * happens when the programs are the same (same tags) unless forced.
 */
int programs_replace(struct pinned *p, bool force, bool *replaced)
{
	__u8 old_tag[BPF_TAG_SIZE], new_tag[BPF_TAG_SIZE];
	char path[PATH_MAX];
	struct tracker *skel;
	__u32 key, next;
	bool first = true;
	int err, link_fd;

	*replaced = false;
	skel = tracker__open();
	if (!skel)
		return -errno;
	memcpy((void *)&skel->rodata->ctaccel_cfg, &p->cfg, sizeof(p->cfg));
	err = bpf_map__set_max_entries(skel->maps.ctaccel_flows, p->max_flows);
	err = err ?: bpf_map__reuse_fd(skel->maps.ctaccel_flows, p->flows_fd);
	err = err ?: bpf_map__reuse_fd(skel->maps.ctaccel_stats, p->stats_fd);
	err = err ?: bpf_map__reuse_fd(skel->maps.ctaccel_ifaces, p->ifaces_fd);
	err = err ?: bpf_map__reuse_fd(skel->maps.ctaccel_policy, p->policy_fd);
	err = err ?: tracker__load(skel);
	if (err) {
		pr_err("load this ctaccel's programs over the pinned maps: %s", strerror(-err));
		goto out;
	}
	err = prog_tag(p->ingress_fd, old_tag);
	err = err ?: prog_tag(bpf_program__fd(skel->progs.ctaccel_ingress), new_tag);
	if (err)
		goto out;
	if (!force && !memcmp(old_tag, new_tag, sizeof(old_tag)))
		goto out; /* same programs: keep them */

	/* Egress first: it reads the ifaces map the same way in both versions. */
	while (bpf_map_get_next_key(p->ifaces_fd, first ? NULL : &key, &next) == 0) {
		err = tc_attach_one(next, BPF_TC_EGRESS,
				    bpf_program__fd(skel->progs.ctaccel_egress), NULL);
		err = err
			      ?: tc_attach_one(next, BPF_TC_INGRESS,
					       bpf_program__fd(skel->progs.ctaccel_ingress), NULL);
		if (err && err != -ENODEV) {
			pr_err("replace on ifindex %u: %s", next, strerror(-err));
			goto out;
		}
		key = next;
		first = false;
	}
	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, PIN_SOCKOPS);
	link_fd = bpf_obj_get(path);
	if (link_fd >= 0) {
		if (bpf_link_update(link_fd, bpf_program__fd(skel->progs.ctaccel_sockops), NULL))
			err = -errno;
		close(link_fd);
		if (err) {
			pr_err("update the sock_ops link: %s", strerror(-err));
			goto out;
		}
	}
	err = repin(bpf_program__fd(skel->progs.ctaccel_ingress), PIN_INGRESS);
	err = err ?: repin(bpf_program__fd(skel->progs.ctaccel_egress), PIN_EGRESS);
	err = err ?: repin(bpf_program__fd(skel->progs.ctaccel_delete), PIN_DELETE);
	err = err ?: repin(bpf_program__fd(skel->progs.ctaccel_clock), PIN_CLOCK);
	err = err ?: repin(bpf_map__fd(skel->maps.rodata), PIN_CONFIG);
	if (!err)
		*replaced = true;
out:
	tracker__destroy(skel);
	return err;
}

int do_replace(int argc, char **argv)
{
	struct pinned p;
	bool force = false, replaced = false;
	int lock, err;

	if (argc && is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel replace [force]\n"
		       "Swap this binary's programs in over the pinned maps (a live upgrade).\n");
		return 0;
	}
	if (argc == 1 && !strcmp(argv[0], "force"))
		force = true;
	else if (argc) {
		pr_err("replace: unexpected '%s'", argv[0]);
		return EXIT_USAGE;
	}
	lock = cli_lock();
	if (lock < 0)
		return EXIT_RUNTIME;
	if (pinned_open(&p)) {
		cli_unlock(lock);
		return EXIT_RUNTIME;
	}
	err = programs_replace(&p, force, &replaced);
	pinned_close(&p);
	cli_unlock(lock);
	if (err)
		return EXIT_RUNTIME;
	pr_info("%s\n", replaced ? "programs replaced; flows and counters kept"
				 : "programs unchanged (same build)");
	return 0;
}

/*
 * Remove pinned state that this binary cannot read (another layout): take
 * ctaccel's filters off the devices it lists, remove the nft table and every
 * pin. The flows of the old table are lost with it; only --migrate asks for this.
 */
int discard_pinned_state(void)
{
	char path[PATH_MAX];
	__u32 key, next;
	bool first = true;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, PIN_IFACES);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
			tc_detach_one(next, BPF_TC_INGRESS);
			tc_detach_one(next, BPF_TC_EGRESS);
			key = next;
			first = false;
		}
		close(fd);
	}
	nft_table_remove();
	unpin_all();
	return pinned_exists() ? -EBUSY : 0;
}
