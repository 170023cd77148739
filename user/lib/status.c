// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * What the pinned state is and what is wrong with it, as one typed value:
 * the CLI's text and JSON, the daemon's /v1/status and /readyz all read this.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "kernel.h"

const char *const ctaccel_prog_names[CTACCEL_PROG__MAX] = {
	[CTACCEL_PROG_INGRESS] = "ingress",
	[CTACCEL_PROG_EGRESS] = "egress",
	[CTACCEL_PROG_DELETE] = "delete",
	[CTACCEL_PROG_CLOCK] = "clock",
};

int64_t ctaccel_stats_flows(const struct ctaccel_stats *s)
{
	int64_t flows = 0;
	int i;

	for (i = 1; i < CTACCEL_ST__MAX; i++)
		flows += s->flows_in_state[i];
	return flows;
}

int ctaccel_stats(struct ctaccel *h, struct ctaccel_stats *sum)
{
	int err;

	if (!h->open)
		return lib_fail(h, -EBADF, "stats: read %s", h->root);
	err = ctaccel_stats_read(h->fd[PIN_STATS], sum);
	return err ? lib_fail(h, err, "stats: read %s/%s", h->root, pin_name(PIN_STATS)) : 0;
}

int ctaccel_status_problem(struct ctaccel_status *s, const char *fmt, ...)
{
	char(*p)[CTACCEL_PROBLEM_LEN] = realloc(s->problems, (s->nproblems + 1) * sizeof(*p));
	va_list ap;

	if (!p)
		return -ENOMEM;
	s->problems = p;
	va_start(ap, fmt);
	vsnprintf(p[s->nproblems++], CTACCEL_PROBLEM_LEN, fmt, ap);
	va_end(ap);
	return 0;
}

static int devices_read(struct ctaccel *h, struct ctaccel_status *s)
{
	struct ctaccel_device_status *d;
	__u32 key, next;
	bool first = true;
	int err = 0;

	while (!err && bpf_map_get_next_key(h->fd[PIN_IFACES], first ? NULL : &key, &next) == 0) {
		d = realloc(s->devices, (s->ndevices + 1) * sizeof(*d));
		if (!d)
			return -ENOMEM;
		s->devices = d;
		d = &s->devices[s->ndevices++];
		memset(d, 0, sizeof(*d));
		d->ifindex = next;
		d->hooks = ctaccel_device_hooks(h, next);
		d->tcx = device_has_tcx(h, next);
		if (!if_indextoname(next, d->name)) {
			d->name[0] = 0;
			err = ctaccel_status_problem(s, "device ifindex %u is gone", next);
		} else if ((d->hooks & ctaccel_wanted_hooks(h)) != ctaccel_wanted_hooks(h)) {
			err = ctaccel_status_problem(
				s, "device %s lacks ctaccel's %s program", d->name,
				d->hooks & CTACCEL_HOOK_INGRESS ? "egress" : "ingress");
		}
		key = next;
		first = false;
	}
	return err;
}

static int policy_count(struct ctaccel *h, unsigned int *rules)
{
	struct ctaccel_rule *r;
	size_t n;
	int err = policy_rules_read(h, &r, &n);

	*rules = err ? 0 : n;
	free(r);
	return err;
}

static void progs_read(struct ctaccel *h, struct ctaccel_status *s)
{
	static const enum pin_id fds[CTACCEL_PROG__MAX] = {PIN_INGRESS, PIN_EGRESS, PIN_DELETE,
							   PIN_CLOCK};
	struct bpf_prog_info info;
	__u32 len;
	int i;

	for (i = 0; i < CTACCEL_PROG__MAX; i++) {
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(h->fd[fds[i]], &info, &len))
			s->prog_id[i] = info.id;
	}
}

int ctaccel_status_read(struct ctaccel *h, struct ctaccel_status *s)
{
	const struct ctaccel_config *cfg = &h->cfg;
	struct ctaccel_live t;
	struct ctaccel_load_opts o;
	struct ctaccel_stats st;
	enum ctaccel_nft_table nft;
	struct utsname u;
	int i, err;

	memset(s, 0, sizeof(*s));
	if (!h->open)
		return lib_fail(h, -EBADF, "status of %s", h->root);
	if (ctaccel_stats_read(h->fd[PIN_STATS], &st) == 0)
		s->flows = ctaccel_stats_flows(&st);
	s->max_flows = h->max_flows;
	s->unreplied_max = h->cfg.unreplied_max;
	s->fill = h->max_flows ? (double)s->flows / h->max_flows : 0.0;
	s->hz = cfg->hz;
	progs_read(h, s);
	err = state_live(h, &t);
	if (err)
		return err;
	timeouts_out(&t, cfg->hz, &o);
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		s->timeout_s[i] = o.timeout_s[i];
	s->timeout_unack_s = o.timeout_unack_s;
	s->mark = ctaccel_mark_value(t.mark);
	s->mark_mask = ctaccel_mark_mask(t.mark);
	s->local = !(cfg->flags & CTACCEL_CFG_NO_LOCAL);
	s->features = ctaccel_features_in_use(h);
	if (!uname(&u))
		snprintf(s->kernel, sizeof(s->kernel), "%s", u.release);
	err = devices_read(h, s);
	if (!err)
		policy_count(h, &s->policy_rules);
	nft = ctaccel_nft_table(h);
	s->nft_table = nft != CTACCEL_NFT_ABSENT;
	if (!err && nft == CTACCEL_NFT_OTHER)
		err = ctaccel_status_problem(
			s,
			"nft table inet ctaccel is not as ctaccel makes it for the mark in force "
			"(0x%08x/0x%08x: one notrack rule for it in each chain): changed behind "
			"ctaccel's back, or a mark change did not finish; the next policy add, or "
			"the daemon's repair, installs it again",
			s->mark, s->mark_mask);
	if (!err && nft == CTACCEL_NFT_CURRENT) {
		__u64 older[CTACCEL_NFT_MAX_MARKS];
		int n = nft_table_marks(h, t.mark, older, CTACCEL_NFT_MAX_MARKS);

		for (i = 0; !err && i < n; i++)
			err = ctaccel_status_problem(
				s,
				"nft table inet ctaccel still matches the old mark 0x%08x/0x%08x "
				"for host sockets that held it at a mark change (TIME_WAIT, "
				"SYN_RECV): packets with those bits skip nf_conntrack; 'ctaccel "
				"set mark', or the daemon's repair, retires it once none does",
				ctaccel_mark_value(older[i]), ctaccel_mark_mask(older[i]));
	}
	if (!err && s->policy_rules && !s->nft_table)
		err = ctaccel_status_problem(
			s,
			"policy has %u rules but nft table inet ctaccel is missing: "
			"nf_conntrack tracks the bypassed flows",
			s->policy_rules);
	if (!err && ctaccel_policy_in_step(h) == 0)
		err = ctaccel_status_problem(
			s, "the pinned policy is not the one in use (an update was "
			   "interrupted)");
	if (!err && migration_recorded(h))
		err = ctaccel_status_problem(
			s,
			"a migration of the table runs, or was interrupted (its record %s/%s): its "
			"programs count every packet; 'ctaccel replace', or the daemon's start, "
			"finishes it, every flow kept",
			h->root, CTACCEL_PIN_MIGRATION);
	s->sockops = pin_exists(h, pin_name(PIN_SOCKOPS));
	s->udp_hooks = true; /* the other cgroup links: UDP's bind and connect */
	for (i = 0; i < PIN__COUNT; i++)
		if (pin_defs[i].life == PIN_LIFE_CGROUP && i != PIN_SOCKOPS)
			s->udp_hooks &= pin_exists(h, pin_name(i));
	if (!err)
		err = ctaccel_expiry_status(h, &s->expiry);
	if (!err && !s->expiry.running)
		err = ctaccel_status_problem(
			s,
			"kernel expiry is %s: no check for %.0f s (expired flows stay; "
			"'ctaccel expiry start' starts it)",
			s->expiry.stopped ? "stopped" : "not running", s->expiry.since_check_s);
	if (err) {
		ctaccel_status_free(s);
		return lib_fail(h, err, "status of %s", h->root);
	}
	return 0;
}

void ctaccel_status_free(struct ctaccel_status *s)
{
	free(s->devices);
	free(s->problems);
	memset(s, 0, sizeof(*s));
}
