// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Lifecycle commands: load, unload, attach, detach, replace, gc. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "ctjson.h"

int cli_load_args(struct cli *c, int argc, char **argv, struct ctaccel_load_opts *o, bool *any)
{
	char why[256];
	uint32_t a, b;
	int i;

	*any = false;
	for (i = 0; i < argc; i++) {
		*any = true;
		if (is_prefix(argv[i], "max-flows") && i + 1 < argc) {
			if (ctaccel_parse_u32(argv[++i], &a)) {
				cli_err(c, "max-flows '%s': not a number from 1 to %u", argv[i],
					CTACCEL_MAX_FLOWS_LIMIT);
				return EXIT_USAGE;
			}
			if (ctaccel_set_max_flows(o, a, why, sizeof(why)))
				goto bad;
		} else if (is_prefix(argv[i], "unreplied-max") && i + 1 < argc) {
			if (ctaccel_parse_u32(argv[++i], &a)) {
				cli_err(c, "unreplied-max '%s': not a number from 1 to %u", argv[i],
					CTACCEL_MAX_FLOWS_LIMIT);
				return EXIT_USAGE;
			}
			if (ctaccel_set_unreplied_max(o, a, why, sizeof(why)))
				goto bad;
		} else if (is_prefix(argv[i], "mark") && i + 1 < argc) {
			if (ctaccel_parse_mark(argv[++i], &a, &b)) {
				cli_err(c, "mark '%s': expected VALUE/MASK", argv[i]);
				return EXIT_USAGE;
			}
			if (ctaccel_set_mark(o, a, b, why, sizeof(why)))
				goto bad;
		} else if (is_prefix(argv[i], "timeout") && i + 2 < argc) {
			if (ctaccel_parse_u32(argv[i + 2], &a)) {
				cli_err(c, "timeout %s '%s': not a number of seconds", argv[i + 1],
					argv[i + 2]);
				return EXIT_USAGE;
			}
			if (ctaccel_set_timeout(o, argv[i + 1], a, why, sizeof(why)))
				goto bad;
			i += 2;
		} else if (is_prefix(argv[i], "expiry-interval") && i + 1 < argc) {
			char *end;
			double s = strtod(argv[++i], &end);

			if (*end || ctaccel_set_expiry_interval(o, s, why, sizeof(why)))
				goto bad_interval;
			continue;
		bad_interval:
			cli_err(c, "expiry-interval '%s': not a number of seconds from 0.01 to %u",
				argv[i], CTACCEL_EXPIRY_INTERVAL_MS_MAX / 1000);
			return EXIT_USAGE;
		} else if (is_prefix(argv[i], "cgroup") && i + 1 < argc) {
			if (ctaccel_set_cgroup(o, argv[++i], why, sizeof(why)))
				goto bad;
		} else if (is_prefix(argv[i], "local") && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "on") && strcmp(argv[i], "off")) {
				cli_err(c, "local '%s': expected on or off", argv[i]);
				return EXIT_USAGE;
			}
			ctaccel_set_local(o, !strcmp(argv[i], "on"));
		} else {
			cli_err(c, "load: unexpected '%s'; usage: " CLI_LOAD_USAGE, argv[i]);
			return EXIT_USAGE;
		}
	}
	return 0;
bad:
	cli_err(c, "%s", why);
	return EXIT_USAGE;
}

int do_load(struct cli *c, int argc, char **argv)
{
	struct ctaccel_load_opts o;
	bool any;
	int rc, ret = EXIT_RUNTIME;

	if (ctaccel_load_opts_default(&o))
		return cli_fail(c, EXIT_RUNTIME,
				"cannot tell the kernel's HZ from CLOCK_MONOTONIC_COARSE");
	rc = cli_load_args(c, argc, argv, &o, &any);
	if (rc)
		return rc;
	if (ctaccel_bpffs_ensure(c->h) || ctaccel_lock(c->h))
		return EXIT_RUNTIME;
	if (ctaccel_is_loaded(c->h)) {
		if (any) {
			cli_err(c,
				"already loaded in %s; 'ctaccel unload' first to change settings",
				ctaccel_pin_root(c->h));
			goto out;
		}
		cli_info(c, "already loaded in %s\n", ctaccel_pin_root(c->h));
	} else if (ctaccel_load(c->h, &o)) {
		goto out;
	} else {
		cli_info(c, "loaded, pinned in %s (max-flows %u)\n", ctaccel_pin_root(c->h),
			 o.max_flows);
	}
	ret = 0;
out:
	ctaccel_unlock(c->h);
	return ret;
}

/* Every device must exist before anything changes. */
static int resolve_devices(struct cli *c, const char *verb, int argc, char **argv,
			   unsigned int *ifindex)
{
	int i;

	if (argc < 1) {
		cli_err(c, "%s: no device given", verb);
		return EXIT_USAGE;
	}
	for (i = 0; i < argc; i++)
		if (ctaccel_ifindex(c->h, verb, argv[i], &ifindex[i]))
			return EXIT_RUNTIME;
	return 0;
}

/* Load with defaults: attach needs a state. */
static int load_default(struct cli *c)
{
	struct ctaccel_load_opts o;

	if (ctaccel_load_opts_default(&o))
		return cli_fail(c, -EINVAL,
				"cannot tell the kernel's HZ from CLOCK_MONOTONIC_COARSE");
	return ctaccel_load(c->h, &o);
}

int do_attach(struct cli *c, int argc, char **argv)
{
	unsigned int ifindex[argc ? argc : 1];
	bool loaded_here = false;
	int i, ret;

	ret = resolve_devices(c, "attach", argc, argv, ifindex);
	if (ret)
		return ret;
	if (ctaccel_bpffs_ensure(c->h) || ctaccel_lock(c->h))
		return EXIT_RUNTIME;
	ret = EXIT_RUNTIME;
	if (!ctaccel_is_loaded(c->h)) {
		if (load_default(c))
			goto unlock;
		loaded_here = true;
	}
	if (ctaccel_open(c->h))
		goto unload;
	for (i = 0; i < argc; i++) {
		if (ctaccel_attach(c->h, ifindex[i])) {
			while (--i >= 0)
				ctaccel_detach(c->h, ifindex[i]);
			goto unload;
		}
	}
	for (i = 0; i < argc; i++)
		cli_info(c, "attached %s (%s)\n", argv[i],
			 ctaccel_wanted_hooks(c->h) & CTACCEL_HOOK_EGRESS ? "ingress, egress"
									  : "ingress");
	ret = 0;
	goto unlock;
unload:
	if (loaded_here)
		ctaccel_discard(c->h);
unlock:
	ctaccel_unlock(c->h);
	return ret;
}

int do_detach(struct cli *c, int argc, char **argv)
{
	unsigned int ifindex[argc ? argc : 1];
	bool orphans;
	int i, ret;

	ret = resolve_devices(c, "detach", argc, argv, ifindex);
	if (ret)
		return ret;
	if (ctaccel_lock(c->h))
		return EXIT_RUNTIME;
	/* No pinned state: programs left attached by a state whose pins are gone. */
	orphans = !ctaccel_is_loaded(c->h);
	if (!orphans && ctaccel_open(c->h)) {
		ctaccel_unlock(c->h);
		return EXIT_RUNTIME;
	}
	for (i = 0; i < argc; i++) {
		if (orphans ? ctaccel_detach_orphan(c->h, ifindex[i])
			    : ctaccel_detach(c->h, ifindex[i])) {
			ret = EXIT_RUNTIME;
			continue;
		}
		cli_info(c, "detached %s%s\n", argv[i], orphans ? " (no pinned state)" : "");
	}
	ctaccel_unlock(c->h);
	return ret;
}

/* [force]: 0, or EXIT_USAGE (reported) for anything else. */
static int force_arg(struct cli *c, const char *verb, int argc, char **argv, bool *force)
{
	*force = argc == 1 && !strcmp(argv[0], "force");
	if (argc && !*force) {
		cli_err(c, "%s: unexpected '%s'", verb, argv[0]);
		return EXIT_USAGE;
	}
	return 0;
}

int do_unload(struct cli *c, int argc, char **argv)
{
	bool loaded, force;
	int err;

	if (force_arg(c, "unload", argc, argv, &force))
		return EXIT_USAGE;
	if (ctaccel_lock(c->h))
		return EXIT_RUNTIME;
	loaded = ctaccel_is_loaded(c->h);
	err = ctaccel_unload(c->h, force);
	ctaccel_unlock(c->h);
	if (err)
		return EXIT_RUNTIME;
	cli_info(c, "%s\n", loaded ? "unloaded" : "not loaded");
	return 0;
}

int do_replace(struct cli *c, int argc, char **argv)
{
	bool force, replaced = false;
	int err;

	if (force_arg(c, "replace", argc, argv, &force))
		return EXIT_USAGE;
	if (ctaccel_lock(c->h))
		return EXIT_RUNTIME;
	err = ctaccel_open(c->h);
	err = err ?: ctaccel_replace(c->h, force, &replaced);
	ctaccel_unlock(c->h);
	if (err)
		return EXIT_RUNTIME;
	cli_info(c, "%s\n",
		 replaced ? "programs replaced; flows and counters kept"
			  : "programs unchanged (same build)");
	return 0;
}

static void expiry_text(const struct ctaccel_expiry_status *x)
{
	const struct ctaccel_expiry *e = &x->e;

	printf("kernel expiry %s\n", x->running	  ? "running"
				     : e->stopped ? "STOPPED ('ctaccel expiry start' starts it)"
						  : "NOT running (stalled)");
	printf("checks        every %.2f s at least (after a walk, 200 times the walk if "
	       "longer: at most 1/%d of a CPU); a walk only when an entry may be due\n",
	       e->interval_ms / 1e3, CTACCEL_EXPIRY_DUTY);
	printf("last check    %.1f s ago; %llu checks, %llu without a walk\n", x->since_check_s,
	       (unsigned long long)e->checks, (unsigned long long)e->skipped);
	if (!e->passes) {
		printf("no walk yet\n");
		return;
	}
	printf("last walk     %.1f s ago, %.2f ms over %llu flows, removed %llu\n", x->since_pass_s,
	       e->last_pass_busy_ns / 1e6, (unsigned long long)e->last_pass_examined,
	       (unsigned long long)e->last_pass_removed);
	printf("since start   %llu walks, %llu removed, %.3f s busy\n",
	       (unsigned long long)e->passes, (unsigned long long)e->removed, e->busy_ns / 1e9);
}

/* expiry [show] | expiry start [interval SECONDS] | expiry stop */
int do_expiry(struct cli *c, int argc, char **argv)
{
	struct ctaccel_expiry_status x;
	struct ctaccel_load_opts o = {};
	int err;

	if (argc && is_prefix(argv[0], "start")) {
		char why[256], *end;

		o.expiry_interval_ms = 0; /* 0: keep the current setting */
		if (argc == 3 && is_prefix(argv[1], "interval")) {
			double s = strtod(argv[2], &end);

			if (*end || ctaccel_set_expiry_interval(&o, s, why, sizeof(why))) {
				cli_err(c,
					"expiry: interval '%s': not a number of seconds from "
					"0.01 to %u",
					argv[2], CTACCEL_EXPIRY_INTERVAL_MS_MAX / 1000);
				return EXIT_USAGE;
			}
		} else if (argc != 1) {
			cli_err(c, "expiry start: unexpected '%s'", argv[1]);
			return EXIT_USAGE;
		}
		if (ctaccel_open(c->h) || ctaccel_lock(c->h))
			return EXIT_RUNTIME;
		err = o.expiry_interval_ms ? ctaccel_expiry_set(c->h, o.expiry_interval_ms)
					   : ctaccel_expiry_restart(c->h);
		ctaccel_unlock(c->h);
		if (err)
			return EXIT_RUNTIME;
		cli_info(c, "kernel expiry started\n");
		return 0;
	}
	if (argc && is_prefix(argv[0], "stop")) {
		if (argc != 1) {
			cli_err(c, "expiry stop: unexpected '%s'", argv[1]);
			return EXIT_USAGE;
		}
		if (ctaccel_open(c->h) || ctaccel_lock(c->h))
			return EXIT_RUNTIME;
		err = ctaccel_expiry_stop(c->h);
		ctaccel_unlock(c->h);
		if (err)
			return EXIT_RUNTIME;
		cli_info(c,
			 "kernel expiry stopped: expired flows stay until 'ctaccel expiry start' "
			 "or 'ctaccel gc'\n");
		return 0;
	}
	if (argc && !is_prefix(argv[0], "show")) {
		cli_err(c, "expiry: unknown '%s' (show, start, stop)", argv[0]);
		return EXIT_USAGE;
	}
	if (ctaccel_open(c->h) || ctaccel_expiry_status(c->h, &x))
		return EXIT_RUNTIME;
	if (c->json)
		cli_json(c, ctjson_expiry(&x));
	else
		expiry_text(&x);
	return 0;
}

int do_gc(struct cli *c, int argc, char **argv)
{
	struct ctaccel_gc_result res;

	if (argc) {
		cli_err(c, "gc: unexpected '%s'", argv[0]);
		return EXIT_USAGE;
	}
	if (ctaccel_open(c->h) || ctaccel_gc(c->h, &res))
		return EXIT_RUNTIME;
	if (c->json)
		cli_json(c, ctjson_gc(&res));
	else
		printf("scanned %zu, expired %zu, deleted %zu\n", res.scanned, res.expired,
		       res.deleted);
	return 0;
}
