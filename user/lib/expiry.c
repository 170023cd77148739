// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Kernel expiry (bpf/expiry.bpf.h): start, stop and read the timer that
 * walks the flow table, and force a whole pass. Nothing here removes a flow
 * itself: the programs do, through compare-and-delete.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "internal.h"

/* A check comes within the pause the last one set, and a walk's time; this
 * much more and expiry counts as not running. */
#define EXPIRY_GRACE_NS 2000000000ULL

int expiry_ctl(int ctl_prog_fd, uint32_t interval_ms, uint32_t flags)
{
	struct ctaccel_expiry_args args = {
		.interval_ms = interval_ms,
		.flags = flags,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));

	if (bpf_prog_test_run_opts(ctl_prog_fd, &opts))
		return -errno;
	if ((int)opts.retval < 0)
		return (int)opts.retval;
	return args.err < 0 ? args.err : 0;
}

int ctaccel_expire_pass(int expire_prog_fd, struct ctaccel_gc_result *res)
{
	struct ctaccel_expiry_args args = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));

	memset(res, 0, sizeof(*res));
	if (bpf_prog_test_run_opts(expire_prog_fd, &opts))
		return -errno;
	if ((int)opts.retval < 0)
		return (int)opts.retval;
	res->scanned = args.examined;
	res->expired = args.removed;
	res->deleted = args.removed;
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int ctaccel_expiry_status(struct ctaccel *h, struct ctaccel_expiry_status *s)
{
	unsigned char buf[CTACCEL_EXPIRY_HANDLES_SIZE + sizeof(struct ctaccel_expiry)];
	struct ctaccel_expiry e;
	uint64_t now, wait;
	__u32 zero = 0;

	memset(s, 0, sizeof(*s));
	if (!h->open)
		return lib_fail(h, -EBADF, "expiry: read %s", h->root);
	if (bpf_map_lookup_elem(h->fd[PIN_EXPIRY], &zero, buf))
		return lib_fail(h, -errno, "expiry: read %s/%s", h->root, pin_name(PIN_EXPIRY));
	memcpy(&e, buf + CTACCEL_EXPIRY_HANDLES_SIZE, sizeof(e));
	now = mono_ns();
	/* a check comes within the pause the last one set (a walk's, after a
	 * walk), plus twice the walk, plus a margin */
	wait = e.pause_ns + 2 * e.last_pass_busy_ns + EXPIRY_GRACE_NS;
	if (e.last_check_ns && now >= e.last_check_ns)
		s->running = now - e.last_check_ns <= wait;
	if (e.last_pass_end_ns && now >= e.last_pass_end_ns)
		s->since_pass_s = (now - e.last_pass_end_ns) / 1e9;
	if (e.last_check_ns && now >= e.last_check_ns)
		s->since_check_s = (now - e.last_check_ns) / 1e9;
	s->stopped = e.stopped;
	s->interval_ms = e.interval_ms;
	s->checks = e.checks;
	s->checks_without_walk = e.skipped;
	s->passes = e.passes;
	s->cut_passes = e.cut_passes;
	s->removed = e.removed;
	s->last_pass_examined = e.last_pass_examined;
	s->last_pass_removed = e.last_pass_removed;
	s->busy_s = e.busy_ns / 1e9;
	s->last_pass_s = e.last_pass_busy_ns / 1e9;
	s->pause_s = e.pause_ns / 1e9;
	return 0;
}

int ctaccel_expiry_restart(struct ctaccel *h)
{
	struct ctaccel_expiry_status s;
	int err;

	err = ctaccel_expiry_status(h, &s);
	if (err)
		return err;
	err = expiry_ctl(h->fd[PIN_EXPIRY_CTL], s.interval_ms, 0);
	return err ? lib_fail(h, err, "expiry: start the timer") : 0;
}

int ctaccel_expiry_stop(struct ctaccel *h)
{
	int err;

	if (!h->open)
		return lib_fail(h, -EBADF, "expiry: stop in %s", h->root);
	err = expiry_ctl(h->fd[PIN_EXPIRY_CTL], 0, CTACCEL_EXPIRY_STOP);
	return err ? lib_fail(h, err, "expiry: stop the timer") : 0;
}

int ctaccel_expiry_set(struct ctaccel *h, uint32_t interval_ms)
{
	int err;

	if (!h->open)
		return lib_fail(h, -EBADF, "expiry: set in %s", h->root);
	err = expiry_ctl(h->fd[PIN_EXPIRY_CTL], interval_ms, 0);
	return err ? lib_fail(h, err, "expiry: start the timer") : 0;
}
