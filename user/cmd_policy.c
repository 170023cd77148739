// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * ctaccel policy add|del|show all|PREFIX [port PORT]: which flows skip
 * nf_conntrack. A rule matches a flow when either endpoint lies in the prefix
 * (and uses the port, if one is given). The decision is taken when a flow is
 * created and kept for its whole life.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"

int policy_rule_parse(int argc, char **argv, struct rule_set *r)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	uint32_t port = 0, plen;
	int fam, i;

	memset(r, 0, sizeof(*r));
	if (argc < 1) {
		pr_err("policy: expected all or PREFIX [port PORT]");
		return -EINVAL;
	}
	for (i = 1; i < argc; i++) {
		if (is_prefix(argv[i], "port") && i + 1 < argc) {
			if (parse_u32(argv[++i], &port) || port < 1 || port > 65535) {
				pr_err("policy: port '%s' is not a number from 1 to 65535",
				       argv[i]);
				return -EINVAL;
			}
		} else {
			pr_err("policy: unexpected '%s'", argv[i]);
			return -EINVAL;
		}
	}
	if (!strcmp(argv[0], "all")) {
		r->k[0] = (struct ctaccel_policy_key){.prefixlen = CTACCEL_POLICY_KEY_BITS,
						      .family = AF_INET,
						      .port = htons(port)};
		r->k[1] = r->k[0];
		r->k[1].family = AF_INET6;
		r->n = 2;
		return 0;
	}
	if (strlen(argv[0]) >= sizeof(buf)) {
		pr_err("policy: '%s' is not a prefix", argv[0]);
		return -EINVAL;
	}
	strcpy(buf, argv[0]);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	if (inet_pton(AF_INET, buf, r->k[0].addr) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, buf, r->k[0].addr) == 1)
		fam = AF_INET6;
	else {
		pr_err("policy: '%s' is not an IPv4 or IPv6 prefix", argv[0]);
		return -EINVAL;
	}
	plen = fam == AF_INET ? 32 : 128;
	if (slash && (parse_u32(slash, &plen) || plen > (fam == AF_INET ? 32U : 128U))) {
		pr_err("policy: '%s': prefix length must be 0 to %d", argv[0],
		       fam == AF_INET ? 32 : 128);
		return -EINVAL;
	}
	/* Host bits past the prefix would never match a lookup: clear them. */
	for (i = 0; i < 128; i++) {
		uint8_t *b = (uint8_t *)r->k[0].addr;

		if ((uint32_t)i >= plen)
			b[i / 8] &= ~(0x80 >> (i % 8));
	}
	r->k[0].prefixlen = CTACCEL_POLICY_KEY_BITS + plen;
	r->k[0].family = fam;
	r->k[0].port = htons(port);
	r->n = 1;
	return 0;
}

/*
 * The trie in the policy slot, through its pin: opening a map by id takes
 * CAP_SYS_ADMIN, which the daemon does not keep. State pinned before that pin
 * existed is opened by id.
 */
static int pinned_rules(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, PIN_POLICY_RULES);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static int slot_and_pin(const struct pinned *p, __u32 *slot_id, int *pin_fd, __u32 *pin_id)
{
	struct bpf_map_info info = {};
	__u32 zero = 0, len = sizeof(info);

	*slot_id = 0;
	if (bpf_map_lookup_elem(p->policy_fd, &zero, slot_id))
		return errno == ENOENT ? -EIO : -errno;
	*pin_fd = pinned_rules();
	if (*pin_fd < 0)
		return *pin_fd;
	if (bpf_obj_get_info_by_fd(*pin_fd, &info, &len)) {
		int err = -errno;

		close(*pin_fd);
		return err;
	}
	*pin_id = info.id;
	return 0;
}

int policy_inner_fd(const struct pinned *p)
{
	__u32 slot_id, pin_id;
	int fd, err;

	err = slot_and_pin(p, &slot_id, &fd, &pin_id);
	if (!err && slot_id == pin_id)
		return fd;
	if (!err)
		close(fd);
	else if (err != -ENOENT)
		return err;
	/* No pin (older state), or out of step: what the datapath uses. */
	fd = bpf_map_get_fd_by_id(slot_id);
	return fd < 0 ? -errno : fd;
}

int policy_in_step(const struct pinned *p)
{
	__u32 slot_id, pin_id;
	int fd, err;

	err = slot_and_pin(p, &slot_id, &fd, &pin_id);
	if (err)
		return err;
	close(fd);
	return slot_id == pin_id;
}

/*
 * A writer pins the new trie, then swaps it into the slot. One that died in
 * between left the pin ahead of the datapath: the pinned trie is complete
 * (built before it was pinned), so the update is finished, not undone.
 */
int policy_sync(const struct pinned *p)
{
	__u32 slot_id, pin_id, zero = 0;
	int fd, err;

	err = slot_and_pin(p, &slot_id, &fd, &pin_id);
	if (err)
		return err == -ENOENT ? 0 : err;
	if (slot_id != pin_id)
		err = bpf_map_update_elem(p->policy_fd, &zero, &fd, BPF_ANY) ? -errno : 1;
	close(fd);
	return err;
}

/* Pin a new trie over the old one's name in one rename. */
static int policy_pin(int fd)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, PIN_POLICY_RULES);
	snprintf(tmp, sizeof(tmp), "%s/%s", cli.pin_path, PIN_POLICY_NEXT);
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) || chmod(tmp, 0600) || rename(tmp, path)) {
		int err = -errno;

		unlink(tmp);
		return err;
	}
	return 0;
}

static json_t *rule_json(const struct ctaccel_policy_key *k)
{
	char addr[INET6_ADDRSTRLEN], prefix[INET6_ADDRSTRLEN + 5];
	unsigned int plen = k->prefixlen - CTACCEL_POLICY_KEY_BITS;

	inet_ntop(k->family, k->addr, addr, sizeof(addr));
	snprintf(prefix, sizeof(prefix), "%s/%u", addr, plen);
	return json_pack("{s:s,s:s,s:o}", "family", k->family == AF_INET ? "ipv4" : "ipv6",
			 "prefix", prefix, "port",
			 k->port ? json_integer(ntohs(k->port)) : json_null());
}

json_t *policy_json(const struct pinned *p)
{
	struct ctaccel_policy_key key, next;
	bool first = true;
	json_t *arr;
	int fd = policy_inner_fd(p);

	if (fd < 0)
		return NULL;
	arr = json_array();
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		json_array_append_new(arr, rule_json(&next));
		key = next;
		first = false;
	}
	close(fd);
	return arr;
}

static int policy_show(const struct pinned *p)
{
	json_t *arr = policy_json(p), *r;
	size_t i;

	if (!arr) {
		pr_err("policy: open the current policy: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (cli.json) {
		json_out(arr);
	} else {
		if (!json_array_size(arr))
			printf("no policy: ctaccel only tracks\n");
		json_array_foreach(arr, i, r)
		{
			json_t *port = json_object_get(r, "port");

			printf("bypass %s", json_string_value(json_object_get(r, "prefix")));
			if (json_is_integer(port))
				printf(" port %lld", (long long)json_integer_value(port));
			printf("\n");
		}
	}
	json_decref(arr);
	return 0;
}

static int policy_change(const struct pinned *p, const struct rule_set *r, bool add)
{
	struct ctaccel_policy_val v = {.action = CTACCEL_POLICY_BYPASS}, old;
	bool existed[2] = {}, nft_here = false;
	int fd, i, err = 0, missing = 0;

	fd = policy_inner_fd(p);
	if (fd < 0) {
		pr_err("policy: open the current policy: %s", strerror(-fd));
		return fd;
	}
	if (add && !nft_table_present()) {
		/* The notrack rule first: no packet is marked before it exists. */
		err = nft_table_install(p->cfg.mark, p->cfg.mark_mask);
		if (err)
			goto out;
		nft_here = true;
	}
	for (i = 0; i < r->n; i++) {
		existed[i] = bpf_map_lookup_elem(fd, &r->k[i], &old) == 0;
		if (add) {
			if (bpf_map_update_elem(fd, &r->k[i], &v, BPF_ANY)) {
				err = -errno;
				break;
			}
		} else if (!existed[i]) {
			missing++;
		} else if (bpf_map_delete_elem(fd, &r->k[i])) {
			err = -errno;
			break;
		}
	}
	if (err && add) {
		/* Undo this call's rules, and its nft table. */
		while (--i >= 0)
			if (!existed[i])
				bpf_map_delete_elem(fd, &r->k[i]);
		if (nft_here)
			nft_table_remove();
	}
	if (!err && !add && missing == r->n)
		err = -ENOENT;
out:
	close(fd);
	return err;
}

int policy_replace(const struct pinned *p, const struct rule_set *rules, size_t n)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	struct ctaccel_policy_val v = {.action = CTACCEL_POLICY_BYPASS};
	__u32 zero = 0;
	size_t i;
	int fd, j, err = 0;

	/* Built aside, swapped in with one update: no reader sees half of it. */
	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "ctaccel_policy",
			    sizeof(struct ctaccel_policy_key), sizeof(struct ctaccel_policy_val),
			    CTACCEL_POLICY_MAX, &opts);
	if (fd < 0)
		return -errno;
	for (i = 0; i < n && !err; i++)
		for (j = 0; j < rules[i].n && !err; j++)
			if (bpf_map_update_elem(fd, &rules[i].k[j], &v, BPF_ANY))
				err = -errno;
	if (!err && n && !nft_table_present())
		err = nft_table_install(p->cfg.mark, p->cfg.mark_mask);
	/* The pin first: under the CLI lock, the next edit finds the trie the
	 * datapath is about to use. */
	err = err ?: policy_pin(fd);
	if (!err && bpf_map_update_elem(p->policy_fd, &zero, &fd, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

/* Swap in an empty trie: the whole policy goes at once. */
static int policy_flush(const struct pinned *p)
{
	return policy_replace(p, NULL, 0);
}

struct policy_op {
	const struct rule_set *r;
	bool add;
	bool flush;
};

static int policy_apply(const struct pinned *p, void *arg)
{
	const struct policy_op *op = arg;
	int err = policy_sync(p);

	if (err < 0)
		return err;
	return op->flush ? policy_flush(p) : policy_change(p, op->r, op->add);
}

int do_policy(int argc, char **argv)
{
	struct rule_set r = {};
	struct policy_op op = {.r = &r};
	struct pinned p;
	int err;

	if (!argc || is_prefix(argv[0], "show")) {
		if (argc > 1) {
			pr_err("policy show: unexpected '%s'", argv[1]);
			return EXIT_USAGE;
		}
		if (pinned_open(&p))
			return EXIT_RUNTIME;
		err = policy_show(&p);
		pinned_close(&p);
		return err;
	}
	if (is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel policy add|del all|PREFIX [port PORT]\n"
		       "       ctaccel policy show\n"
		       "       ctaccel policy flush\n");
		return 0;
	}
	if (is_prefix(argv[0], "flush")) {
		if (argc > 1) {
			pr_err("policy flush: unexpected '%s'", argv[1]);
			return EXIT_USAGE;
		}
		op.flush = true;
	} else if (is_prefix(argv[0], "add")) {
		op.add = true;
	} else if (!is_prefix(argv[0], "delete")) {
		pr_err("policy: unknown command '%s'", argv[0]);
		return EXIT_USAGE;
	}
	if (!op.flush && policy_rule_parse(argc - 1, argv + 1, &r))
		return EXIT_USAGE;
	err = with_pinned_locked(policy_apply, &op);
	if (err == PINNED_UNAVAILABLE)
		return EXIT_RUNTIME;
	if (op.flush) {
		if (err) {
			pr_err("policy flush: %s", strerror(-err));
			return EXIT_RUNTIME;
		}
		pr_info("policy flushed: ctaccel only tracks new flows\n");
		return 0;
	}
	if (err == -ENOENT) {
		pr_err("policy del %s: no such rule", argv[1]);
		return EXIT_RUNTIME;
	}
	if (err) {
		pr_err("policy %s %s: %s", op.add ? "add" : "del", argv[1], strerror(-err));
		return EXIT_RUNTIME;
	}
	pr_info("policy %s %s%s%s\n", op.add ? "added" : "deleted", argv[1],
		argc > 2 ? " port " : "", argc > 3 ? argv[3] : "");
	return 0;
}
