// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libctaccel driven directly, as its clients drive it: a private pin root
 * under /sys/fs/bpf and a private network namespace (unshared by this
 * process, so its devices and nft table vanish with it) with one veth pair.
 * Every failure must be reported once through the print callback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "libctaccel.h"
#include "internal.h" /* the pin registry and the handle's descriptors */
#include "tracker.skel.h"
#include "sockets.skel.h"

struct printed {
	int warnings;
	char last[1024];
};

static void record(enum ctaccel_print_level level, const char *msg, void *ctx)
{
	struct printed *p = ctx;

	if (level != CTACCEL_PRINT_WARN)
		return;
	p->warnings++;
	snprintf(p->last, sizeof(p->last), "%s", msg);
}

static char root[64];
static struct printed out;

static int sh(const char *cmd)
{
	return system(cmd);
}

static struct ctaccel *handle(const char *pin_root)
{
	struct ctaccel_opts o = {.pin_path = pin_root, .print = record, .print_ctx = &out};
	struct ctaccel *h;

	assert_int_equal(ctaccel_new(&o, &h), 0);
	return h;
}

/* A handle on a freshly loaded private state (max-flows 1024). */
static struct ctaccel *loaded(void)
{
	struct ctaccel_load_opts lo;
	struct ctaccel *h = handle(root);

	ctaccel_load_opts_default(&lo);
	lo.max_flows = 1024;
	assert_int_equal(ctaccel_lock(h), 0);
	assert_int_equal(ctaccel_load(h, &lo), 0);
	ctaccel_unlock(h);
	assert_int_equal(ctaccel_open(h), 0);
	return h;
}

static void unloaded(struct ctaccel *h)
{
	assert_int_equal(ctaccel_lock(h), 0);
	assert_int_equal(ctaccel_unload(h, false), 0);
	ctaccel_unlock(h);
	assert_false(ctaccel_is_loaded(h));
	assert_int_equal(access(root, F_OK), -1);
	ctaccel_free(h);
	assert_int_equal(out.warnings, 0);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/sys/fs/bpf/ctaccel-test-lib-%d", (int)getpid());
	if (unshare(CLONE_NEWNET))
		return -1;
	return sh("ip link set lo up && ip link add ctl0 type veth peer name ctl1 && "
		  "ip link set ctl0 up && ip link set ctl1 up");
}

static int group_teardown(void **state)
{
	struct ctaccel *h = handle(root);

	(void)state;
	ctaccel_lock(h);
	ctaccel_unload(h, true);
	ctaccel_free(h);
	return 0;
}

static int test_setup(void **state)
{
	(void)state;
	memset(&out, 0, sizeof(out));
	return 0;
}

static void test_load_open_unload(void **state)
{
	struct ctaccel *h;
	struct ctaccel_status s;
	struct stat st;

	(void)state;
	h = handle(root);
	assert_false(ctaccel_is_loaded(h));
	assert_int_equal(ctaccel_open(h), -ENOENT);
	assert_int_equal(out.warnings, 1);
	assert_non_null(strstr(out.last, "not loaded"));
	out.warnings = 0;
	ctaccel_free(h);

	h = loaded();
	assert_int_equal(stat(root, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(ctaccel_max_flows(h), 1024);
	assert_int_equal(h->cfg.abi, CTACCEL_ABI_VERSION);
	assert_int_equal(ctaccel_status_read(h, &s), 0);
	assert_int_equal(s.ndevices, 0);
	assert_int_equal(s.nproblems, 0);
	assert_int_equal(s.max_flows, 1024);
	assert_true(s.prog_id[CTACCEL_PROG_INGRESS] > 0);
	ctaccel_status_free(&s);
	unloaded(h);
}

static void test_attach_detach(void **state)
{
	struct ctaccel_status s;
	struct ctaccel *h;
	unsigned int ifx;
	char cmd[256];

	(void)state;
	h = loaded();
	assert_int_equal(ctaccel_ifindex(h, "attach", "ctl0", &ifx), 0);
	assert_int_equal(ctaccel_attach(h, ifx), 0);
	assert_int_equal(ctaccel_attach(h, ifx), 0); /* idempotent */
	assert_int_equal(ctaccel_device_hooks(h, ifx), CTACCEL_HOOK_BOTH);
	assert_int_equal(ctaccel_status_read(h, &s), 0);
	assert_int_equal(s.ndevices, 1);
	assert_string_equal(s.devices[0].name, "ctl0");
	assert_int_equal(s.devices[0].hooks, CTACCEL_HOOK_BOTH);
	assert_int_equal(s.nproblems, 0);
	ctaccel_status_free(&s);
	/* On tcx: a pinned link per hook, and no qdisc made. */
	snprintf(cmd, sizeof(cmd), "test -e %s/link_tcx_%u_ingress -a -e %s/link_tcx_%u_egress",
		 root, ifx, root, ifx);
	assert_int_equal(sh(cmd), 0);
	assert_int_equal(sh("tc qdisc show dev ctl0 | grep -q clsact"), 256);
	assert_int_equal(ctaccel_detach(h, ifx), 0);
	assert_int_equal(ctaccel_device_hooks(h, ifx), 0);
	/* The links went with it, pins and all. */
	snprintf(cmd, sizeof(cmd), "ls %s | grep -q link_tcx_", root);
	assert_int_equal(sh(cmd), 256);
	unloaded(h);
}

/*
 * The caller's choice of tc filters, through the handle's options: a filter on
 * clsact, no link. The library itself ignores CTACCEL_HOOK; the CLI and the
 * daemon pass it on.
 */
static void test_attach_tc_filters(void **state)
{
	struct ctaccel_opts o = {.pin_path = root, .print = record, .print_ctx = &out};
	struct ctaccel *h, *tc;
	unsigned int ifx;
	char cmd[256];

	(void)state;
	assert_int_equal(setenv("CTACCEL_HOOK", "clsact", 1), 0);
	assert_true(ctaccel_env_tc_filters());
	h = loaded();
	assert_int_equal(ctaccel_ifindex(h, "attach", "ctl0", &ifx), 0);
	/* the environment reaches no handle that was not given it */
	assert_int_equal(ctaccel_attach(h, ifx), 0);
	snprintf(cmd, sizeof(cmd), "test -e %s/link_tcx_%u_ingress", root, ifx);
	assert_int_equal(sh(cmd), 0);
	assert_int_equal(ctaccel_detach(h, ifx), 0);
	assert_int_equal(unsetenv("CTACCEL_HOOK"), 0);
	assert_false(ctaccel_env_tc_filters());

	o.tc_filters = true;
	assert_int_equal(ctaccel_new(&o, &tc), 0);
	assert_int_equal(ctaccel_open(tc), 0);
	assert_int_equal(ctaccel_attach(tc, ifx), 0);
	assert_int_equal(ctaccel_device_hooks(tc, ifx), CTACCEL_HOOK_BOTH);
	assert_int_equal(sh("tc filter show dev ctl0 ingress | grep -q ctaccel"), 0);
	snprintf(cmd, sizeof(cmd), "ls %s | grep -q link_tcx_", root);
	assert_int_equal(sh(cmd), 256);
	assert_int_equal(ctaccel_detach(tc, ifx), 0);
	assert_int_equal(sh("tc filter show dev ctl0 ingress | grep -q ctaccel"), 256);
	/* and the qdisc ctaccel made for them */
	assert_int_equal(sh("tc qdisc show dev ctl0 | grep -q clsact"), 256);
	ctaccel_free(tc);
	unloaded(h);
}

struct attach_job {
	struct ctaccel *h;
	unsigned int ifindex;
	int err;
	volatile bool done;
};

static void *attach_thread(void *arg)
{
	struct attach_job *j = arg;

	j->err = ctaccel_attach(j->h, j->ifindex);
	j->done = true;
	return NULL;
}

static struct ctaccel_policy_gen policy_gen_read(void)
{
	struct ctaccel_policy_gen g;
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, pin_name(PIN_POLICY_GEN));
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &g), 0);
	close(fd);
	return g;
}

/*
 * The policy generation and the devices generation share one map value, and
 * each write puts back both: an attach by a caller without the writers' lock
 * waits for it, so that it cannot undo a policy change made meanwhile.
 */
static void test_generations_under_the_lock(void **state)
{
	struct ctaccel_policy_gen before, after;
	struct attach_job j = {};
	struct ctaccel_rule r;
	struct ctaccel *h;
	bool done_early;
	pthread_t t;
	char err[128];
	int added;

	(void)state;
	h = loaded();
	before = policy_gen_read();
	j.h = handle(root);
	assert_int_equal(ctaccel_open(j.h), 0);
	assert_int_equal(ctaccel_ifindex(j.h, "attach", "ctl0", &j.ifindex), 0);
	assert_int_equal(ctaccel_lock(h), 0);
	assert_int_equal(pthread_create(&t, NULL, attach_thread, &j), 0);
	usleep(300 * 1000);
	done_early = j.done;
	added = ctaccel_rule_parse("all", &r, err, sizeof(err)) ?: ctaccel_policy_add(h, &r);
	/* unlocked and joined before any assertion: a failure must not hang
	 * the suite on a lock this test holds */
	ctaccel_unlock(h);
	pthread_join(t, NULL);
	assert_false(done_early);
	assert_int_equal(added, 0);
	assert_int_equal(j.err, 0);
	after = policy_gen_read();
	assert_int_equal(after.gen, before.gen + 1);
	assert_int_equal(after.devices, before.devices + 1);
	assert_int_equal(ctaccel_lock(h), 0);
	assert_int_equal(ctaccel_detach(h, j.ifindex), 0);
	assert_int_equal(ctaccel_policy_replace(h, NULL, 0), 0);
	ctaccel_unlock(h);
	ctaccel_free(j.h);
	unloaded(h);
}

static void test_errors_name_the_verb(void **state)
{
	struct ctaccel *h = handle(root);
	unsigned int ifx;

	(void)state;
	assert_int_equal(ctaccel_ifindex(h, "detach", "nosuchdev", &ifx), -ENODEV);
	assert_int_equal(out.warnings, 1);
	assert_string_equal(out.last, "detach nosuchdev: No such device");
	ctaccel_free(h);
}

static void test_policy_swap(void **state)
{
	struct ctaccel_rule rules[2], *got;
	struct ctaccel *h;
	char err[256];
	size_t n;

	(void)state;
	h = loaded();
	assert_int_equal(ctaccel_rule_parse("198.18.1.0/24", &rules[0], err, sizeof(err)), 0);
	assert_int_equal(ctaccel_rule_set_port(&rules[0], 80, err, sizeof(err)), 0);
	assert_int_equal(ctaccel_rule_parse("all", &rules[1], err, sizeof(err)), 0);
	assert_int_equal(ctaccel_lock(h), 0);
	assert_int_equal(ctaccel_policy_replace(h, rules, 2), 0);
	assert_int_equal(ctaccel_policy_read(h, &got, &n), 0);
	assert_int_equal(n, 3); /* "all" is one rule per family */
	free(got);
	assert_true(ctaccel_nft_present(h));
	assert_int_equal(ctaccel_policy_in_step(h), 1);
	assert_int_equal(ctaccel_policy_del(h, &rules[1]), 0);
	assert_int_equal(ctaccel_policy_del(h, &rules[1]), -ENOENT);
	assert_int_equal(ctaccel_policy_read(h, &got, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].port, 80);
	free(got);
	assert_int_equal(ctaccel_policy_replace(h, NULL, 0), 0);
	assert_int_equal(ctaccel_policy_read(h, &got, &n), 0);
	assert_int_equal(n, 0);
	free(got);
	ctaccel_unlock(h);
	unloaded(h);
}

static void test_status_problems(void **state)
{
	struct ctaccel_rule r;
	struct ctaccel_status s;
	struct ctaccel *h;
	unsigned int ifx;
	char err[256], want[64];

	(void)state;
	h = loaded();
	assert_int_equal(sh("ip link add ctl2 type veth peer name ctl3 && ip link set ctl2 up"), 0);
	assert_int_equal(ctaccel_ifindex(h, "attach", "ctl2", &ifx), 0);
	assert_int_equal(ctaccel_attach(h, ifx), 0);
	assert_int_equal(ctaccel_rule_parse("2001:db8::/32", &r, err, sizeof(err)), 0);
	assert_int_equal(ctaccel_lock(h), 0);
	assert_int_equal(ctaccel_policy_add(h, &r), 0);
	ctaccel_unlock(h);
	assert_int_equal(sh("ip link del ctl2 && nft delete table inet ctaccel"), 0);
	assert_int_equal(ctaccel_status_read(h, &s), 0);
	assert_int_equal(s.nproblems, 2);
	snprintf(want, sizeof(want), "device ifindex %u is gone", ifx);
	assert_string_equal(s.problems[0], want);
	assert_non_null(strstr(s.problems[1], "nft table inet ctaccel is missing"));
	assert_false(s.nft_table);
	assert_int_equal(s.policy_rules, 1);
	ctaccel_status_free(&s);
	unloaded(h);
}

/* State pinned by a loader of another ABI, with the same sizes: refused. */
static void test_abi_mismatch_refused(void **state)
{
	struct ctaccel_config cfg;
	struct tracker *skel;
	struct ctaccel *h;
	char path[PATH_MAX];

	(void)state;
	h = loaded();
	cfg = h->cfg;
	ctaccel_close(h);
	skel = tracker__open();
	assert_non_null(skel);
	cfg.abi = CTACCEL_ABI_VERSION + 1;
	memcpy((void *)&skel->rodata->ctaccel_cfg, &cfg, sizeof(cfg));
	bpf_map__set_max_entries(skel->maps.ctaccel_flows, 16);
	assert_int_equal(tracker__load(skel), 0);
	assert_int_equal(ctaccel_pin_file(h, pin_name(PIN_CONFIG), path, sizeof(path)), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(bpf_obj_pin(bpf_map__fd(skel->maps.rodata), path), 0);
	tracker__destroy(skel);
	assert_int_equal(ctaccel_open(h), -EPROTO);
	assert_int_equal(out.warnings, 1);
	assert_non_null(strstr(out.last, "incompatible layout (abi"));
	assert_false(ctaccel_is_open(h));
	/* Discarded, it loads afresh. */
	out.warnings = 0;
	assert_int_equal(ctaccel_lock(h), 0);
	assert_int_equal(ctaccel_discard(h), 0);
	ctaccel_unlock(h);
	assert_false(ctaccel_is_loaded(h));
	ctaccel_free(h);
	h = loaded();
	unloaded(h);
}

static void test_replace_keeps_maps(void **state)
{
	struct bpf_map_info before = {}, after = {};
	__u32 len = sizeof(before);
	struct ctaccel *h;
	bool replaced;

	(void)state;
	h = loaded();
	assert_int_equal(bpf_obj_get_info_by_fd(h->fd[PIN_FLOWS], &before, &len), 0);
	assert_int_equal(ctaccel_replace(h, false, &replaced), 0);
	assert_false(replaced); /* same build */
	assert_int_equal(ctaccel_replace(h, true, &replaced), 0);
	assert_true(replaced);
	len = sizeof(after);
	assert_int_equal(bpf_obj_get_info_by_fd(h->fd[PIN_FLOWS], &after, &len), 0);
	assert_int_equal(before.id, after.id);
	unloaded(h);
}

/* Whether a cgroup v2 hierarchy is mounted: load attaches the CGROUP rows there. */
static bool cgroup2_mounted(void)
{
	char line[1024], type[64];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "r");

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %63s", type) == 1 && !strcmp(type, "cgroup2");
	fclose(f);
	return found;
}

/* The id of what is pinned as `file`, 0 when nothing is; a link's program
 * id in *prog. */
static __u32 pinned_id(const char *file, enum pin_kind kind, __u32 *prog)
{
	char path[PATH_MAX];
	union {
		struct bpf_map_info map;
		struct bpf_prog_info prog;
		struct bpf_link_info link;
	} info;
	__u32 len = sizeof(info), id;
	int fd;

	*prog = 0;
	snprintf(path, sizeof(path), "%s/%s", root, file);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	close(fd);
	id = kind == PIN_KIND_MAP    ? info.map.id
	     : kind == PIN_KIND_PROG ? info.prog.id
				     : info.link.id;
	if (kind == PIN_KIND_LINK)
		*prog = info.link.prog_id;
	return id;
}

/* The id behind one of the handle's descriptors. */
static __u32 fd_id(int fd, enum pin_kind kind)
{
	struct bpf_map_info map = {};
	struct bpf_prog_info prog = {};
	__u32 len;

	if (kind == PIN_KIND_MAP) {
		len = sizeof(map);
		assert_int_equal(bpf_obj_get_info_by_fd(fd, &map, &len), 0);
		return map.id;
	}
	len = sizeof(prog);
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &prog, &len), 0);
	return prog.id;
}

/* Every map and program of an object has its row in the registry. */
static void registry_covers(const void *skel, struct bpf_object *obj, enum pin_object which)
{
	struct bpf_program *p;
	struct bpf_map *m;
	int i, rows;

	bpf_object__for_each_map (m, obj) {
		for (i = 0, rows = 0; i < PIN__COUNT; i++)
			rows += pin_defs[i].obj == which && pin_map(skel, i) == m;
		if (!rows)
			fail_msg("map %s has no row in pins.h", bpf_map__name(m));
	}
	bpf_object__for_each_program (p, obj) {
		for (i = 0, rows = 0; i < PIN__COUNT; i++)
			rows += pin_defs[i].obj == which &&
				(pin_prog(skel, i) == p || pin_prog_variant(skel, i) == p);
		if (!rows)
			fail_msg("program %s has no row in pins.h", bpf_program__name(p));
	}
}

/*
 * The pin registry (pins.h) drives load, open, a live upgrade and unload:
 * walked here row by row, nothing listed by hand. Load pins every row its
 * life says (CGROUP rows where a cgroup v2 hierarchy is mounted), open holds
 * a descriptor of every KEEP and SWAP row, replace keeps the KEEP, ONCE and
 * LOCAL rows' objects, pins new SWAP objects, and gives the CGROUP links new
 * programs; unload removes every pin.
 */
static void test_pin_registry(void **state)
{
	__u32 id[PIN__COUNT], prog[PIN__COUNT], now, now_prog;
	bool cgroup = cgroup2_mounted(), want, replaced;
	struct tracker *tskel = tracker__open();
	struct sockets *sskel = sockets__open();
	struct ctaccel *h;
	char path[PATH_MAX];
	int i;

	(void)state;
	assert_non_null(tskel);
	assert_non_null(sskel);
	registry_covers(tskel, tskel->obj, PIN_OBJ_tracker);
	registry_covers(sskel, sskel->obj, PIN_OBJ_sockets);
	tracker__destroy(tskel);
	sockets__destroy(sskel);

	h = loaded();
	for (i = 0; i < PIN__COUNT; i++) {
		enum pin_life life = pin_defs[i].life;

		want = life == PIN_LIFE_KEEP || life == PIN_LIFE_SWAP || life == PIN_LIFE_ONCE ||
		       life == PIN_LIFE_LOCAL || (life == PIN_LIFE_CGROUP && cgroup);
		id[i] = pin_name(i) ? pinned_id(pin_name(i), pin_defs[i].kind, &prog[i]) : 0;
		if (want != (id[i] != 0))
			fail_msg("row %s: pinned %d after load, expected %d", pin_defs[i].member,
				 id[i] != 0, want);
		if (pin_opened(i) != (h->fd[i] >= 0))
			fail_msg("row %s: descriptor %d after open", pin_defs[i].member, h->fd[i]);
		if (pin_opened(i))
			assert_int_equal(fd_id(h->fd[i], pin_defs[i].kind), id[i]);
	}

	assert_int_equal(ctaccel_replace(h, true, &replaced), 0);
	assert_true(replaced);
	for (i = 0; i < PIN__COUNT; i++) {
		if (!id[i])
			continue;
		now = pinned_id(pin_name(i), pin_defs[i].kind, &now_prog);
		assert_true(now != 0);
		if ((pin_defs[i].life == PIN_LIFE_SWAP) == (now == id[i]))
			fail_msg("row %s: id %u before replace, %u after", pin_defs[i].member,
				 id[i], now);
		if (pin_defs[i].life == PIN_LIFE_CGROUP && now_prog == prog[i])
			fail_msg("row %s: the link kept program %u", pin_defs[i].member, now_prog);
		if (pin_opened(i))
			assert_int_equal(fd_id(h->fd[i], pin_defs[i].kind), now);
	}

	unloaded(h);
	for (i = 0; i < PIN__COUNT; i++) {
		if (!pin_name(i))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, pin_name(i));
		if (access(path, F_OK) == 0)
			fail_msg("row %s: still pinned after unload", pin_defs[i].member);
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "lock of another pin root blocked\n");
	_exit(1);
}

/* Two roots, two locks: holding one never waits for the other. */
static void test_lock_per_root(void **state)
{
	char other[80];
	struct ctaccel *a, *b;

	(void)state;
	snprintf(other, sizeof(other), "%s-other", root);
	a = handle(root);
	b = handle(other);
	signal(SIGALRM, on_alarm);
	alarm(5);
	assert_int_equal(ctaccel_lock(a), 0);
	assert_int_equal(ctaccel_lock(b), 0);
	alarm(0);
	ctaccel_unlock(b);
	ctaccel_unlock(a);
	/* The directories the locks made are gone again. */
	assert_int_equal(access(root, F_OK), -1);
	assert_int_equal(access(other, F_OK), -1);
	ctaccel_free(a);
	ctaccel_free(b);
}

static void test_rule_text(void **state)
{
	struct ctaccel_rule r;
	char err[256], text[96];

	(void)state;
	assert_int_equal(ctaccel_rule_parse("198.18.1.5/24", &r, err, sizeof(err)), 0);
	ctaccel_rule_format(&r, text, sizeof(text));
	assert_string_equal(text, "198.18.1.0/24");
	assert_int_equal(ctaccel_rule_parse("all", &r, err, sizeof(err)), 0);
	assert_int_equal(ctaccel_rule_set_port(&r, 443, err, sizeof(err)), 0);
	ctaccel_rule_format(&r, text, sizeof(text));
	assert_string_equal(text, "all port 443");
	assert_int_equal(ctaccel_rule_parse("198.18.1.0/33", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/33"));
	assert_int_equal(ctaccel_rule_set_port(&r, 70000, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "70000"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_load_open_unload, test_setup),
		cmocka_unit_test_setup(test_attach_detach, test_setup),
		cmocka_unit_test_setup(test_attach_tc_filters, test_setup),
		cmocka_unit_test_setup(test_generations_under_the_lock, test_setup),
		cmocka_unit_test_setup(test_errors_name_the_verb, test_setup),
		cmocka_unit_test_setup(test_policy_swap, test_setup),
		cmocka_unit_test_setup(test_status_problems, test_setup),
		cmocka_unit_test_setup(test_abi_mismatch_refused, test_setup),
		cmocka_unit_test_setup(test_replace_keeps_maps, test_setup),
		cmocka_unit_test_setup(test_pin_registry, test_setup),
		cmocka_unit_test_setup(test_lock_per_root, test_setup),
		cmocka_unit_test_setup(test_rule_text, test_setup),
	};

	return cmocka_run_group_tests_name("libctaccel", tests, group_setup, group_teardown);
}
