// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Bypass policy: which flows skip nf_conntrack. A rule matches a flow when
 * either endpoint lies in the prefix (and uses the port, if one is given, and
 * the protocol, if one is given: else it covers TCP and UDP).
 * The decision is taken when a flow is created and kept for its whole life.
 * The fast-path verdict follows the policy: every change moves the policy
 * generation on, and flows re-read it at their next packet.
 * The trie sits in a one-slot map-in-map, so a new policy swaps in at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

int ctaccel_rule_parse(const char *prefix, struct ctaccel_rule *r, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	uint32_t plen, max;
	int i;

	memset(r, 0, sizeof(*r));
	if (!strcmp(prefix, "all"))
		return 0;
	if (strlen(prefix) >= sizeof(buf)) {
		snprintf(err, errlen, "policy: '%.64s...' is not a prefix", prefix);
		return -EINVAL;
	}
	strcpy(buf, prefix);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	if (inet_pton(AF_INET, buf, r->addr) == 1) {
		r->family = AF_INET;
	} else if (inet_pton(AF_INET6, buf, r->addr) == 1) {
		r->family = AF_INET6;
	} else {
		snprintf(err, errlen, "policy: '%s' is not an IPv4 or IPv6 prefix", prefix);
		return -EINVAL;
	}
	max = r->family == AF_INET ? 32 : 128;
	plen = max;
	if (slash && (ctaccel_parse_u32(slash, &plen) || plen > max)) {
		snprintf(err, errlen, "policy: '%s': prefix length must be 0 to %u", prefix, max);
		memset(r, 0, sizeof(*r));
		return -EINVAL;
	}
	/* Host bits past the prefix would never match a lookup: the rule is
	 * the network, and is shown as such. */
	for (i = plen; i < 128; i++)
		r->addr[i / 8] &= ~(0x80 >> (i % 8));
	r->plen = plen;
	return 0;
}

int ctaccel_rule_set_port(struct ctaccel_rule *r, uint32_t port, char *err, size_t errlen)
{
	if (port < 1 || port > 65535) {
		snprintf(err, errlen, "policy: port %u is not a number from 1 to 65535", port);
		return -EINVAL;
	}
	r->port = port;
	return 0;
}

int ctaccel_rule_set_proto(struct ctaccel_rule *r, const char *proto, char *err, size_t errlen)
{
	if (!strcmp(proto, "tcp")) {
		r->proto = IPPROTO_TCP;
	} else if (!strcmp(proto, "udp")) {
		r->proto = IPPROTO_UDP;
	} else {
		snprintf(err, errlen, "policy: protocol '%.32s' is not tcp or udp", proto);
		return -EINVAL;
	}
	return 0;
}

int ctaccel_rule_words(int n, char *const *words, struct ctaccel_rule *r, char *err, size_t errlen)
{
	uint32_t port;
	int i, ret;

	if (n < 1) {
		snprintf(err, errlen, "policy: expected %s", CTACCEL_RULE_SYNTAX);
		return -EINVAL;
	}
	ret = ctaccel_rule_parse(words[0], r, err, errlen);
	for (i = 1; i < n && !ret; i++) {
		if (!strcmp(words[i], "fastpath") && !r->fastpath) {
			r->fastpath = true;
		} else if (!strcmp(words[i], "proto") && i + 1 < n && !r->proto) {
			ret = ctaccel_rule_set_proto(r, words[++i], err, errlen);
		} else if (!strcmp(words[i], "port") && i + 1 < n && !r->port) {
			if (ctaccel_parse_u32(words[++i], &port)) {
				snprintf(err, errlen,
					 "policy: port '%s' is not a number from 1 to 65535",
					 words[i]);
				ret = -EINVAL;
			} else {
				ret = ctaccel_rule_set_port(r, port, err, errlen);
			}
		} else {
			snprintf(err, errlen, "policy: unexpected '%s' (expected %s)", words[i],
				 CTACCEL_RULE_SYNTAX);
			ret = -EINVAL;
		}
	}
	return ret;
}

void ctaccel_rule_format(const struct ctaccel_rule *r, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "all";
	int n;

	if (r->family)
		inet_ntop(r->family, r->addr, addr, sizeof(addr));
	n = r->family ? snprintf(buf, len, "%s/%u", addr, r->plen) : snprintf(buf, len, "all");
	if (r->port && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, " port %u", r->port);
	if (r->proto && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, " proto %s", ctaccel_proto_name(r->proto));
	if (r->fastpath && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " fastpath");
}

static struct ctaccel_policy_val rule_val(const struct ctaccel_rule *r)
{
	struct ctaccel_policy_val v = {.action = CTACCEL_POLICY_BYPASS};

	if (r->fastpath)
		v.action |= CTACCEL_POLICY_FASTPATH;
	return v;
}

int ctaccel_rule_keys(const struct ctaccel_rule *r,
		      struct ctaccel_policy_key k[CTACCEL_RULE_KEYS_MAX])
{
	static const __u8 both[] = {IPPROTO_TCP, IPPROTO_UDP};
	int f, p, n = 0;

	memset(k, 0, CTACCEL_RULE_KEYS_MAX * sizeof(*k));
	for (f = AF_INET; f; f = f == AF_INET ? AF_INET6 : 0) {
		if (r->family && r->family != f)
			continue;
		for (p = 0; p < 2; p++) {
			if (r->proto && r->proto != both[p])
				continue;
			k[n].family = f;
			k[n].proto = both[p];
			k[n].prefixlen = CTACCEL_POLICY_KEY_BITS + r->plen;
			k[n].port = htons(r->port);
			memcpy(k[n].addr, r->addr, sizeof(k[n].addr));
			n++;
		}
	}
	return n;
}

static void rule_of_key(const struct ctaccel_policy_key *k, const struct ctaccel_policy_val *v,
			struct ctaccel_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->family = k->family;
	r->plen = k->prefixlen - CTACCEL_POLICY_KEY_BITS;
	r->port = ntohs(k->port);
	r->proto = k->proto;
	r->fastpath = !!(v->action & CTACCEL_POLICY_FASTPATH);
	memcpy(r->addr, k->addr, sizeof(r->addr));
}

/*
 * Move one of ctaccel_policy_gen's generations on: `gen` after a policy
 * change (flows re-read their fast-path verdict at their next packet),
 * `devices` after a change of ctaccel_ifaces (the fast path checks its egress
 * device again). Userspace is the value's only writer, and its two fields
 * share one map value: each write-back carries both, so every one happens
 * under the writers' lock, taken here when this handle does not hold it.
 * Otherwise a write of one field could put back an old value of the other.
 */
int policy_gen_bump(struct ctaccel *h, bool devices)
{
	struct ctaccel_policy_gen g = {};
	bool held = h->lock_fd >= 0;
	int fd = h->fd[PIN_POLICY_GEN], err;
	__u32 zero = 0;

	err = held ? 0 : ctaccel_lock(h);
	if (err)
		return err;
	if (bpf_map_lookup_elem(fd, &zero, &g)) {
		err = -errno;
	} else {
		if (devices)
			g.devices++;
		else
			g.gen++;
		err = bpf_map_update_elem(fd, &zero, &g, BPF_ANY) ? -errno : 0;
	}
	if (!held)
		ctaccel_unlock(h);
	return err;
}

/*
 * The slot's trie id and the pinned trie. Opening a map by id takes
 * CAP_SYS_ADMIN, which the daemon does not keep: the pin is the way in.
 */
static int slot_and_pin(struct ctaccel *h, __u32 *slot_id, int *pin, __u32 *pin_id)
{
	struct bpf_map_info info = {};
	__u32 zero = 0, len = sizeof(info);

	*slot_id = 0;
	*pin = -1;
	*pin_id = 0;
	if (bpf_map_lookup_elem(h->fd[PIN_POLICY], &zero, slot_id))
		return errno == ENOENT ? -EIO : -errno;
	*pin = pin_get(h, PIN_POLICY_RULES);
	if (*pin < 0)
		return *pin;
	if (bpf_obj_get_info_by_fd(*pin, &info, &len)) {
		int err = -errno;

		close(*pin);
		return err;
	}
	*pin_id = info.id;
	return 0;
}

int policy_inner_fd(struct ctaccel *h)
{
	__u32 slot_id, pin_id;
	int fd, err;

	err = slot_and_pin(h, &slot_id, &fd, &pin_id);
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

int ctaccel_policy_in_step(struct ctaccel *h)
{
	__u32 slot_id, pin_id;
	int fd, err;

	err = slot_and_pin(h, &slot_id, &fd, &pin_id);
	if (err == -ENOENT)
		return err; /* no pinned trie: nothing to be out of step with */
	if (err)
		return lib_fail(h, err, "read the policy in %s", h->root);
	close(fd);
	return slot_id == pin_id;
}

/*
 * A writer pins the new trie, then swaps it into the slot. One that died in
 * between left the pin ahead of the datapath: the pinned trie is complete
 * (built before it was pinned), so the update is finished, not undone.
 */
int ctaccel_policy_sync(struct ctaccel *h)
{
	__u32 slot_id, pin_id, zero = 0;
	int fd, err;

	err = slot_and_pin(h, &slot_id, &fd, &pin_id);
	if (err == -ENOENT)
		return 0;
	if (err)
		return lib_fail(h, err, "read the policy in %s", h->root);
	if (slot_id != pin_id)
		err = bpf_map_update_elem(h->fd[PIN_POLICY], &zero, &fd, BPF_ANY) ? -errno : 1;
	if (err == 1)
		err = policy_gen_bump(h, false) ?: 1;
	close(fd);
	return err < 0 ? lib_fail(h, err, "finish the interrupted policy update") : err;
}

/* Rules in order of everything but the protocol, then the protocol: a TCP
 * rule and its UDP twin end up side by side. */
static int rule_cmp(const void *a, const void *b)
{
	const struct ctaccel_rule *x = a, *y = b;
	int c = x->family - y->family;

	c = c ?: memcmp(x->addr, y->addr, sizeof(x->addr));
	c = c ?: (int)x->plen - (int)y->plen;
	c = c ?: (int)x->port - (int)y->port;
	c = c ?: (int)x->fastpath - (int)y->fastpath;
	return c ?: (int)x->proto - (int)y->proto;
}

static bool same_but_proto(const struct ctaccel_rule *a, const struct ctaccel_rule *b)
{
	struct ctaccel_rule x = *a;

	x.proto = b->proto;
	return rule_cmp(&x, b) == 0;
}

/* Fold each TCP rule whose UDP twin is there too into one rule for both
 * (sorted first: a policy may hold thousands of keys). */
static size_t rules_fold(struct ctaccel_rule *r, size_t n)
{
	size_t i, out = 0;

	if (n > 1)
		qsort(r, n, sizeof(*r), rule_cmp);
	for (i = 0; i < n; i++) {
		r[out] = r[i];
		if (i + 1 < n && r[i].proto == IPPROTO_TCP && r[i + 1].proto == IPPROTO_UDP &&
		    same_but_proto(&r[i], &r[i + 1])) {
			r[out].proto = 0;
			i++;
		}
		out++;
	}
	return out;
}

int policy_rules_read(struct ctaccel *h, struct ctaccel_rule **rules, size_t *n)
{
	struct ctaccel_policy_key key, next;
	struct ctaccel_policy_val val;
	struct ctaccel_rule *out = NULL, *grown;
	size_t cap = 0;
	bool first = true;
	int fd = policy_inner_fd(h), err = 0;

	*rules = NULL;
	*n = 0;
	if (fd < 0)
		return fd;
	while (!err && bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		key = next;
		first = false;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(out, cap * sizeof(*out));
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			out = grown;
		}
		if (!bpf_map_lookup_elem(fd, &next, &val))
			rule_of_key(&next, &val, &out[(*n)++]);
		else if (errno != ENOENT) /* ENOENT: deleted meanwhile */
			err = -errno;
	}
	close(fd);
	if (err) {
		free(out);
		*n = 0;
		return err;
	}
	*n = rules_fold(out, *n);
	*rules = out;
	return 0;
}

int ctaccel_policy_read(struct ctaccel *h, struct ctaccel_rule **rules, size_t *n)
{
	int err = policy_rules_read(h, rules, n);

	return err ? lib_fail(h, err, "policy: read") : 0;
}

/* Pin a new trie over the old one's name in one rename. */
static int policy_pin(struct ctaccel *h, int fd)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int err;

	err = ctaccel_pin_file(h, pin_name(PIN_POLICY_RULES), path, sizeof(path));
	err = err ?: ctaccel_pin_file(h, pin_name(PIN_POLICY_NEXT), tmp, sizeof(tmp));
	if (err)
		return err;
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) || chmod(tmp, 0600) || rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
	return err;
}

/* Add or delete one rule in the trie in use (under the lock). */
static int policy_change(struct ctaccel *h, const struct ctaccel_rule *r, bool add)
{
	struct ctaccel_policy_val v = rule_val(r), old;
	struct ctaccel_policy_key k[CTACCEL_RULE_KEYS_MAX];
	bool existed[CTACCEL_RULE_KEYS_MAX] = {}, nft_here = false;
	enum ctaccel_nft_table nft;
	int fd, i, n, err, missing = 0;

	err = ctaccel_policy_sync(h);
	if (err < 0)
		return err;
	err = 0;
	fd = policy_inner_fd(h);
	if (fd < 0)
		return lib_fail(h, fd, "policy: open the current policy");
	nft = add ? ctaccel_nft_table(h) : CTACCEL_NFT_CURRENT;
	if (nft != CTACCEL_NFT_CURRENT) {
		/* The notrack rule first: no packet is marked before it exists
		 * (a table changed behind ctaccel's back is made again). */
		err = ctaccel_nft_install(h);
		if (err)
			goto out;
		nft_here = nft == CTACCEL_NFT_ABSENT;
	}
	n = ctaccel_rule_keys(r, k);
	for (i = 0; i < n; i++) {
		existed[i] = bpf_map_lookup_elem(fd, &k[i], &old) == 0;
		if (add && bpf_map_update_elem(fd, &k[i], &v, BPF_ANY))
			err = -errno;
		else if (!add && !existed[i])
			missing++;
		else if (!add && bpf_map_delete_elem(fd, &k[i]))
			err = -errno;
		if (err)
			break;
	}
	if (err && add) {
		/* Undo this call's rules, and its nft table. */
		while (--i >= 0)
			if (!existed[i])
				bpf_map_delete_elem(fd, &k[i]);
		if (nft_here)
			ctaccel_nft_remove(h);
	}
	if (err) {
		char what[80];

		ctaccel_rule_format(r, what, sizeof(what));
		lib_fail(h, err, "policy %s %s", add ? "add" : "del", what);
	} else if (!add && missing == n) {
		err = -ENOENT;
	}
	if (!err && (err = policy_gen_bump(h, false)))
		lib_fail(h, err, "policy: move the policy generation on");
out:
	close(fd);
	return err;
}

int ctaccel_policy_add(struct ctaccel *h, const struct ctaccel_rule *r)
{
	return policy_change(h, r, true);
}

int ctaccel_policy_del(struct ctaccel *h, const struct ctaccel_rule *r)
{
	return policy_change(h, r, false);
}

int ctaccel_policy_replace(struct ctaccel *h, const struct ctaccel_rule *rules, size_t n)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	struct ctaccel_policy_val v;
	struct ctaccel_policy_key k[CTACCEL_RULE_KEYS_MAX];
	__u32 zero = 0;
	size_t i;
	int fd, j, nk, err;

	err = ctaccel_policy_sync(h);
	if (err < 0)
		return err;
	err = 0;
	/* Built aside, swapped in with one update: no reader sees half of it. */
	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "ctaccel_policy",
			    sizeof(struct ctaccel_policy_key), sizeof(struct ctaccel_policy_val),
			    CTACCEL_POLICY_KEYS, &opts);
	if (fd < 0)
		return lib_fail(h, -errno, "policy: create a trie");
	for (i = 0; i < n && !err; i++) {
		nk = ctaccel_rule_keys(&rules[i], k);
		v = rule_val(&rules[i]);
		for (j = 0; j < nk && !err; j++)
			if (bpf_map_update_elem(fd, &k[j], &v, BPF_ANY))
				err = lib_fail(h, -errno, "policy: rule %zu", i);
	}
	if (!err && n && ctaccel_nft_table(h) != CTACCEL_NFT_CURRENT)
		err = ctaccel_nft_install(h);
	/* The pin first: under the lock, the next edit finds the trie the
	 * datapath is about to use. */
	if (!err && (err = policy_pin(h, fd)))
		lib_fail(h, err, "policy: pin the new policy");
	if (!err && bpf_map_update_elem(h->fd[PIN_POLICY], &zero, &fd, BPF_ANY))
		err = lib_fail(h, -errno, "policy: swap the new policy in");
	if (!err && (err = policy_gen_bump(h, false)))
		lib_fail(h, err, "policy: move the policy generation on");
	close(fd);
	/* An empty policy marks no new flow: its notrack table goes too. Flows
	 * bypassed before keep their mark, and nf_conntrack picks them up
	 * mid-stream, as it would flows it had never seen. */
	if (!err && !n)
		err = ctaccel_nft_remove(h);
	return err;
}
