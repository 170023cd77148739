// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * What the daemon does to the pinned state, from its loop and from its API:
 * attach, GC, repairs, readiness, policy. Changes take the daemon's mutex,
 * then the state's lock (the CLI's writers take it too).
 */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "daemon.h"

const char *const daemon_repair_names[REPAIR__MAX] = {
	[REPAIR_POLICY] = "policy",	  [REPAIR_NFT] = "nft_table", [REPAIR_DEVICE] = "device",
	[REPAIR_IFACE] = "device_record", [REPAIR_EXPIRY] = "expiry",
};

int daemon_attach_devices(struct daemon *d, const struct dconf *c)
{
	unsigned int ifindex;
	int i, err;

	for (i = 0; i < c->ndev; i++) {
		err = ctaccel_ifindex(d->h, "attach", c->devices[i], &ifindex);
		err = err ?: ctaccel_attach(d->h, ifindex);
		if (err)
			return err;
	}
	return 0;
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

/* One more of a figure /metrics reads without the mutex. */
#define COUNT(d, field, n) __atomic_fetch_add(&(d)->field, (n), __ATOMIC_RELAXED)

/* The daemon's mutex for an API request: at most API_LOCK_MS (a reload
 * holds it while it waits for the state lock), else -EWOULDBLOCK. */
static int api_lock(struct daemon *d)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += API_LOCK_MS / 1000;
	return pthread_mutex_timedlock(&d->lock, &until) ? -EWOULDBLOCK : 0;
}

int daemon_gc(struct daemon *d, struct ctaccel_gc_result *res)
{
	struct timespec a, b;
	double took;
	int err;

	err = api_lock(d);
	if (err)
		return err;
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* No state lock: compare-and-delete is safe against any writer. */
	err = ctaccel_gc(d->h, res);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (!err) {
		took = elapsed(&a, &b);
		COUNT(d, gc_runs, 1);
		COUNT(d, gc_deleted, res->deleted);
		__atomic_store(&d->gc_last_seconds, &took, __ATOMIC_RELAXED);
		took += d->gc_seconds_total; /* one writer: this, under the mutex */
		__atomic_store(&d->gc_seconds_total, &took, __ATOMIC_RELAXED);
	} else {
		COUNT(d, gc_errors, 1);
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

int daemon_policy_replace(struct daemon *d, const struct ctaccel_rule *rules, size_t n)
{
	int err;

	err = api_lock(d);
	if (err)
		return err;
	err = ctaccel_lock_wait(d->h, API_LOCK_MS);
	err = err ?: ctaccel_policy_replace(d->h, rules, n);
	ctaccel_unlock(d->h);
	pthread_mutex_unlock(&d->lock);
	return err;
}

static void repair_nft(struct daemon *d)
{
	struct ctaccel_rule *rules;
	enum ctaccel_nft_table t;
	const char *what;
	size_t n = 0;
	int rc;

	if (ctaccel_policy_read(d->h, &rules, &n))
		return;
	free(rules);
	t = n ? ctaccel_nft_table(d->h) : CTACCEL_NFT_CURRENT;
	if (t == CTACCEL_NFT_CURRENT)
		return;
	what = t == CTACCEL_NFT_ABSENT ? "missing" : "changed behind ctaccel's back";
	rc = ctaccel_nft_install(d->h);
	if (!rc) {
		COUNT(d, repairs[REPAIR_NFT], 1);
		daemon_warn("nft table inet ctaccel was %s: restored", what);
	} else {
		COUNT(d, repair_errors, 1);
		daemon_err("nft table inet ctaccel is %s: %s", what, strerror(-rc));
	}
}

/*
 * Older marks a mark change left in the table for the sockets that held
 * them: each retired once none does (the daemon's own socket iterator, kept
 * loaded: the walk needs no capability then).
 */
static void repair_marks(struct daemon *d)
{
	uint64_t held[CTACCEL_MH__MAX];
	uint64_t older[CTACCEL_NFT_MAX_MARKS];
	int before, rc;

	before = ctaccel_nft_retiring(d->h, older, CTACCEL_NFT_MAX_MARKS);
	if (before <= 0 || !d->sockiter)
		return;
	rc = ctaccel_mark_retire(d->h, d->sockiter, held);
	if (rc < 0) {
		COUNT(d, repair_errors, 1);
		daemon_err("nft table inet ctaccel: older marks not retired: %s", strerror(-rc));
	} else if (rc < before) {
		COUNT(d, repairs[REPAIR_NFT], before - rc);
		daemon_log("nft table inet ctaccel: %d older marks retired, no socket holds them; "
			   "%d kept",
			   before - rc, rc);
	}
}

static void repair_devices(struct daemon *d)
{
	unsigned int ifx, pruned = 0;
	int i, rc;

	for (i = 0; i < d->conf.ndev; i++) {
		ifx = if_nametoindex(d->conf.devices[i]);
		if (!ifx || ctaccel_device_hooks(d->h, ifx) == ctaccel_wanted_hooks(d->h))
			continue;
		rc = ctaccel_attach(d->h, ifx);
		if (!rc) {
			COUNT(d, repairs[REPAIR_DEVICE], 1);
			daemon_warn("device %s: programs re-attached", d->conf.devices[i]);
		} else {
			COUNT(d, repair_errors, 1);
			daemon_err("device %s: re-attach: %s", d->conf.devices[i], strerror(-rc));
		}
	}
	if (ctaccel_devices_prune(d->h, &pruned) == 0 && pruned) {
		COUNT(d, repairs[REPAIR_IFACE], pruned);
		daemon_log("forgot %u device record(s) whose device is gone", pruned);
	}
}

/*
 * Put right what changed behind the daemon's back, each repair logged and
 * counted: a policy update a dead writer left half done, the nft table, a
 * configured device that lost its programs, records of devices that are gone.
 */
/*
 * Kernel expiry needs no daemon, but one that stalled (or was stopped) would
 * let expired flows fill the table: say so, count it, start it again. While
 * a daemon runs it keeps expiry on (repair_interval = 0 leaves it alone).
 */
static void repair_expiry(struct daemon *d)
{
	struct ctaccel_expiry_status x;

	if (ctaccel_expiry_status(d->h, &x) || x.running)
		return;
	COUNT(d, expiry_stalls, 1);
	daemon_warn("kernel expiry %s: no check for %.0f s; starting it again",
		    x.stopped ? "was stopped ('ctaccel expiry stop')" : "stalled", x.since_check_s);
	if (ctaccel_expiry_restart(d->h)) {
		COUNT(d, repair_errors, 1);
		return;
	}
	COUNT(d, repairs[REPAIR_EXPIRY], 1);
}

void daemon_repair(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	/* Unloaded behind the daemon (unload force): attaching programs with
	 * no pins behind them would leave orphans nobody can see. */
	if (!ctaccel_is_loaded(d->h)) {
		if (!d->state_gone)
			daemon_err("pinned state in %s is gone: not ready, nothing re-attached "
				   "(restart the daemon to load it again)",
				   ctaccel_pin_root(d->h));
		d->state_gone = true;
		goto out;
	}
	/* Another ctaccel changing the state (a live upgrade holds it for
	 * seconds): this pass is skipped, not waited for, so that the daemon's
	 * mutex is never held behind it. The next pass comes soon. */
	if (ctaccel_lock_wait(d->h, 0))
		goto out;
	/* A live upgrade by another process: its programs, not the ones this
	 * handle opened, are the ones to check and to put back. */
	if (ctaccel_refresh(d->h) > 0)
		daemon_log("programs replaced by another ctaccel: using the new ones");
	if (ctaccel_policy_sync(d->h) > 0) {
		COUNT(d, repairs[REPAIR_POLICY], 1);
		daemon_warn("policy: finished an update that was interrupted");
	}
	repair_nft(d);
	repair_marks(d);
	repair_devices(d);
	repair_expiry(d);
	ctaccel_unlock(d->h);
out:
	pthread_mutex_unlock(&d->lock);
}

bool daemon_ready(struct daemon *d)
{
	struct ctaccel_stats st;
	unsigned int ifx;
	bool ok = true;
	int i;

	if (!ctaccel_is_loaded(d->h) || ctaccel_stats(d->h, &st))
		return false;
	/* Not the daemon's mutex: a repair holds it while it waits for the
	 * state lock, which a live upgrade by the CLI keeps for seconds. */
	pthread_mutex_lock(&d->conf_lock);
	/*
	 * The state's live links, not these very programs: a live upgrade by
	 * the CLI swaps the programs in the links, and this handle may still
	 * hold the ones from before (the repair pass that refreshes it skips
	 * while another ctaccel holds the state lock). Which programs they are
	 * is the repair pass's business, under the lock.
	 */
	for (i = 0; ok && i < d->conf.ndev; i++) {
		ifx = if_nametoindex(d->conf.devices[i]);
		ok = ifx && ctaccel_device_serving(d->h, ifx) == ctaccel_wanted_hooks(d->h);
	}
	pthread_mutex_unlock(&d->conf_lock);
	return ok;
}

/* The load settings a PUT /v1/config asks to change that cannot change now
 * (fixed until a new load; a size, which a started daemon cannot migrate;
 * the mark with local on, without the socket iterator it keeps loaded): the
 * first, in why. */
struct put_walk {
	struct ctaccel *h;
	const struct ctaccel_load_opts *was, *asked;
	char *why;
	size_t whylen;
};

static int put_fixed(const struct ctaccel_setting_ref *ref, void *ctx)
{
	struct put_walk *w = ctx;
	const char *reason;
	char a[256], b[256];

	if (ctaccel_setting_format(ref, w->was, 0, a, sizeof(a)) ||
	    ctaccel_setting_format(ref, w->asked, 0, b, sizeof(b)) || !strcmp(a, b))
		return 0;
	reason = ctaccel_setting_kept(w->h, ref->s, DAEMON_STARTED_NO_LOAD);
	if (!reason)
		return 0;
	snprintf(w->why, w->whylen, "%s %s -> %s cannot change now: %s", ref->key, a, b, reason);
	return -EPERM;
}

struct put_report {
	ctaccel_change_fn fn;
	void *ctx;
};

static void put_applied(const struct ctaccel_setting_change *c, void *ctx)
{
	struct put_report *r = ctx;

	daemon_log("api: %s %s -> %s, applied live (flows kept)", c->ref->key, c->was, c->asked);
	r->fn(c, r->ctx);
}

int daemon_config_put(struct daemon *d, const struct config_put *p, ctaccel_change_fn fn, void *ctx,
		      char *why, size_t whylen)
{
	struct put_report report = {.fn = fn, .ctx = ctx};
	struct ctaccel_load_opts was, o;
	struct ctaccel_setting_ref ref;
	struct put_walk w = {.h = d->h, .was = &was, .asked = &o, .why = why, .whylen = whylen};
	unsigned int kept;
	size_t i;
	int err;

	err = api_lock(d);
	if (err)
		return err;
	err = ctaccel_lock_wait(d->h, API_LOCK_MS);
	err = err ?: ctaccel_state_opts(d->h, &was);
	if (err)
		goto out;
	o = was;
	for (i = 0; i < p->n && !err; i++) {
		if (!ctaccel_setting_find(daemon_settings, p->kv[i].key, false, &ref)) {
			snprintf(why, whylen,
				 "%s is the daemon's own setting: its configuration file changes "
				 "it, "
				 "at a reload (SIGHUP)%s",
				 ref.key,
				 !strcmp(ref.key, "policy") ? "; the policy also PUT /v1/policy"
							    : "");
			err = -EPERM;
		} else if (ctaccel_setting_find(ctaccel_load_settings, p->kv[i].key, false, &ref)) {
			snprintf(why, whylen, "no setting %s", p->kv[i].key);
			err = -EINVAL;
		} else if (ctaccel_setting_set(&ref, &o, p->kv[i].value, why, whylen)) {
			err = -EINVAL;
		}
	}
	/* all of it changes live, or nothing changes */
	err = err ?: ctaccel_settings_each(ctaccel_load_settings, put_fixed, &w);
	err = err ?: ctaccel_apply(d->h, &o, DAEMON_STARTED_NO_LOAD, put_applied, &report, &kept);
	if (!err) {
		/* GET /v1/config shows what is in force (a reload applies the
		 * configuration file again) */
		pthread_mutex_lock(&d->conf_lock);
		memcpy(d->conf.load.timeout_s, o.timeout_s, sizeof(o.timeout_s));
		d->conf.load.timeout_unack_s = o.timeout_unack_s;
		d->conf.load.expiry_interval_ms = o.expiry_interval_ms;
		d->conf.load.mark = o.mark;
		d->conf.load.mark_mask = o.mark_mask;
		pthread_mutex_unlock(&d->conf_lock);
	} else if (!why[0]) {
		/* refused by the state as it is now (a UDP socket that holds the
		 * mark): the library said why, in the log */
		snprintf(why, whylen, "not applied: %s (the daemon's log says why)",
			 strerror(-err));
	}
out:
	ctaccel_unlock(d->h);
	pthread_mutex_unlock(&d->lock);
	return err;
}
