// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * What the daemon does to the pinned state, from its loop and from its API:
 * attach, GC, repairs, readiness, policy. Changes take the daemon's mutex,
 * then the state's lock (the CLI's writers take it too).
 */
#include <errno.h>
#include <malloc.h>
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

int daemon_gc(struct daemon *d, struct ctaccel_gc_result *res)
{
	struct timespec a, b;
	int err;

	pthread_mutex_lock(&d->lock);
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* No state lock: compare-and-delete is safe against any writer. */
	err = ctaccel_gc(d->h, res);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (!err) {
		d->gc_runs++;
		d->gc_deleted += res->deleted;
		d->gc_last_seconds = elapsed(&a, &b);
		d->gc_seconds_total += d->gc_last_seconds;
	} else {
		d->gc_errors++;
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

int daemon_policy_replace(struct daemon *d, const struct ctaccel_rule *rules, size_t n)
{
	int err;

	pthread_mutex_lock(&d->lock);
	err = ctaccel_lock(d->h);
	err = err ?: ctaccel_policy_replace(d->h, rules, n);
	ctaccel_unlock(d->h);
	pthread_mutex_unlock(&d->lock);
	return err;
}

static void repair_nft(struct daemon *d)
{
	struct ctaccel_rule *rules;
	size_t n = 0;
	int rc;

	if (ctaccel_policy_read(d->h, &rules, &n))
		return;
	free(rules);
	if (!n || ctaccel_nft_present(d->h))
		return;
	rc = ctaccel_nft_install(d->h);
	if (!rc) {
		d->repairs[REPAIR_NFT]++;
		daemon_log("nft table inet ctaccel was missing: restored");
	} else {
		d->repair_errors++;
		daemon_log("nft table inet ctaccel is missing: %s", strerror(-rc));
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
			d->repairs[REPAIR_DEVICE]++;
			daemon_log("device %s: programs re-attached", d->conf.devices[i]);
		} else {
			d->repair_errors++;
			daemon_log("device %s: re-attach: %s", d->conf.devices[i], strerror(-rc));
		}
	}
	if (ctaccel_devices_prune(d->h, &pruned) == 0 && pruned) {
		d->repairs[REPAIR_IFACE] += pruned;
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
	d->expiry_stalls++;
	daemon_log("kernel expiry %s: no check for %.0f s; starting it again",
		   x.stopped ? "was stopped ('ctaccel expiry stop')" : "stalled", x.since_check_s);
	if (ctaccel_expiry_restart(d->h)) {
		d->repair_errors++;
		return;
	}
	d->repairs[REPAIR_EXPIRY]++;
}

void daemon_repair(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	/* Unloaded behind the daemon (unload force): attaching programs with
	 * no pins behind them would leave orphans nobody can see. */
	if (!ctaccel_is_loaded(d->h)) {
		if (!d->state_gone)
			daemon_log("pinned state in %s is gone: not ready, nothing re-attached "
				   "(restart the daemon to load it again)",
				   ctaccel_pin_root(d->h));
		d->state_gone = true;
		goto out;
	}
	if (ctaccel_lock(d->h))
		goto out;
	/* A live upgrade by another process: its programs, not the ones this
	 * handle opened, are the ones to check and to put back. */
	if (ctaccel_refresh(d->h) > 0)
		daemon_log("programs replaced by another ctaccel: using the new ones");
	if (ctaccel_policy_sync(d->h) > 0) {
		d->repairs[REPAIR_POLICY]++;
		daemon_log("policy: finished an update that was interrupted");
	}
	repair_nft(d);
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
	 * ctaccel's programs by name, not these very programs: a live upgrade
	 * by the CLI repins, then swaps the filters, and this handle may still
	 * hold the programs from before the previous upgrade (the repair pass
	 * that refreshes it waits for the state lock). Between the repin and
	 * the swap the attached program is then neither this handle's nor the
	 * pinned one, though tracking never stopped. Which programs they are is
	 * the repair pass's business, under the lock.
	 */
	for (i = 0; ok && i < d->conf.ndev; i++) {
		ifx = if_nametoindex(d->conf.devices[i]);
		ok = ifx && ctaccel_device_named_hooks(ifx) == ctaccel_wanted_hooks(d->h);
	}
	pthread_mutex_unlock(&d->conf_lock);
	return ok;
}
