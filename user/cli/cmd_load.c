// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Lifecycle commands: load, unload, attach, detach, replace, set, gc. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "ctjson.h"

int cli_load_args(struct cli *c, int argc, char **argv, struct ctaccel_load_opts *o, bool *any)
{
	int i, used;

	*any = argc > 0;
	for (i = 0; i < argc; i += used) {
		used = cli_setting_words(c, "load", ctaccel_load_settings, o, argc - i, argv + i);
		if (used < 0)
			return -used;
	}
	return 0;
}

int do_load(struct cli *c, int argc, char **argv)
{
	struct ctaccel_load_opts o;
	bool any;
	int rc, ret = EXIT_RUNTIME;

	ctaccel_load_opts_default(&o);
	rc = cli_load_args(c, argc, argv, &o, &any);
	if (rc)
		return rc;
	if (ctaccel_bpffs_ensure(c->h) || ctaccel_lock(c->h))
		return EXIT_RUNTIME;
	if (ctaccel_is_loaded(c->h)) {
		if (any) {
			cli_err(c,
				"already loaded in %s: 'ctaccel set KEY VALUE' changes a live "
				"setting; the others take 'ctaccel unload' first",
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

	ctaccel_load_opts_default(&o);
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
	/* state of an older ABI too: replace migrates it */
	err = ctaccel_open_upgrade(c->h);
	err = err ?: ctaccel_replace(c->h, force, &replaced);
	ctaccel_unlock(c->h);
	if (err)
		return EXIT_RUNTIME;
	cli_info(c, "%s\n",
		 replaced ? "programs replaced; flows and counters kept"
			  : "programs unchanged (same build)");
	return 0;
}

struct set_walk {
	struct cli *c;
	json_t *changes; /* -j */
	unsigned int n;
};

static void set_report(const struct ctaccel_setting_change *ch, void *ctx)
{
	const char *unit = ch->ref->s->unit;
	struct set_walk *w = ctx;

	w->n++;
	if (w->changes)
		json_array_append_new(w->changes, ctjson_setting_change(ch));
	else
		cli_info(w->c, "%s %s -> %s%s%s%s%s%s\n", ch->ref->key, ch->was, ch->asked,
			 unit ? " " : "", unit ? unit : "", ch->kept ? " (not applied: " : "",
			 ch->kept ? ch->kept : "", ch->kept ? ")" : "");
}

/*
 * set KEY VALUE...: live settings of the loaded state, all at once (one swap
 * of the programs for any number of timeouts). A setting that is not live
 * is refused before anything changes.
 */
int do_set(struct cli *c, int argc, char **argv)
{
	struct set_walk w = {.c = c};
	struct ctaccel_setting_ref ref;
	struct ctaccel_load_opts o;
	unsigned int kept;
	int i, used, ret = EXIT_RUNTIME;

	if (!argc) {
		cli_err(c, "set: no setting given ('ctaccel set help' lists them)");
		return EXIT_USAGE;
	}
	for (i = 0; i < argc; i += 2) {
		if (ctaccel_setting_find(ctaccel_load_settings, argv[i], true, &ref))
			break; /* cli_setting_words says what is wrong */
		if (ref.s->per_state && ref.state < 0)
			i++; /* an older spelling's three words: timeout STATE SECONDS */
		if (!ref.s->live) {
			cli_err(c, "set: %s is not live: %s", ref.key,
				ctaccel_setting_not_live(ref.s));
			return EXIT_USAGE;
		}
	}
	if (ctaccel_lock(c->h))
		return EXIT_RUNTIME;
	if (ctaccel_open(c->h) || ctaccel_state_opts(c->h, &o))
		goto out;
	for (i = 0; i < argc; i += used) {
		used = cli_setting_words(c, "set", ctaccel_load_settings, &o, argc - i, argv + i);
		if (used < 0) {
			ret = -used;
			goto out;
		}
	}
	if (c->json)
		w.changes = json_array();
	if (ctaccel_apply(c->h, &o, NULL, set_report, &w, &kept))
		goto out;
	if (c->json)
		cli_json(c, json_pack("{s:O}", "changes", w.changes));
	else if (!w.n)
		cli_info(c, "unchanged: the state has these settings\n");
	else if (!kept)
		cli_info(c, "set; flows and counters kept\n");
	ret = kept ? EXIT_RUNTIME : 0;
out:
	ctaccel_unlock(c->h);
	json_decref(w.changes);
	return ret;
}

static void expiry_text(const struct ctaccel_expiry_status *x)
{
	printf("kernel expiry %s\n", x->running	  ? "running"
				     : x->stopped ? "STOPPED ('ctaccel expiry start' starts it)"
						  : "NOT running (stalled)");
	printf("checks        every %.2f s at least (after a walk, 200 times the walk if "
	       "longer: at most 1/%d of a CPU); a walk only when an entry may be due\n",
	       x->interval_ms / 1e3, CTACCEL_EXPIRY_DUTY);
	printf("last check    %.1f s ago; %llu checks, %llu without a walk\n", x->since_check_s,
	       (unsigned long long)x->checks, (unsigned long long)x->checks_without_walk);
	if (!x->passes) {
		printf("no walk yet\n");
		return;
	}
	printf("last walk     %.1f s ago, %.2f ms over %llu flows, removed %llu\n", x->since_pass_s,
	       x->last_pass_s * 1e3, (unsigned long long)x->last_pass_examined,
	       (unsigned long long)x->last_pass_removed);
	printf("since start   %llu walks, %llu removed, %.3f s busy\n",
	       (unsigned long long)x->passes, (unsigned long long)x->removed, x->busy_s);
}

/* expiry start [expiry-interval SECONDS]: the load setting, live. */
static int expiry_start(struct cli *c, int argc, char **argv)
{
	struct ctaccel_load_opts o = {};
	char *words[2];
	int err;

	o.expiry_interval_ms = 0; /* 0: keep the current setting */
	if (argc == 2) {
		words[0] = argv[0];
		words[1] = argv[1];
		if (!strcmp(argv[0], "interval")) {
			/* an older spelling, of this command only */
			cli_warn(c, "expiry start: 'interval' is an older spelling of "
				    "'expiry-interval'");
			words[0] = "expiry-interval";
		}
		if (strcmp(words[0], "expiry-interval")) {
			cli_err(c, "expiry start: unexpected '%s' (expiry-interval SECONDS)",
				argv[0]);
			return EXIT_USAGE;
		}
		if (cli_setting_words(c, "expiry start", ctaccel_load_settings, &o, 2, words) < 0)
			return EXIT_USAGE;
	} else if (argc) {
		cli_err(c, "expiry start: unexpected '%s'", argv[0]);
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

/* expiry [show] | expiry start [expiry-interval SECONDS] | expiry stop */
int do_expiry(struct cli *c, int argc, char **argv)
{
	struct ctaccel_expiry_status x;
	int err;

	if (argc && is_prefix(argv[0], "start"))
		return expiry_start(c, argc - 1, argv + 1);
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
