// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Values every client takes from its input (argv, the daemon's file, the
 * HTTP API): checked here once, with the reason in the caller's buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

int ctaccel_parse_u32(const char *s, uint32_t *v)
{
	unsigned long long x;
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end || x > UINT32_MAX)
		return -EINVAL;
	*v = x;
	return 0;
}

int ctaccel_parse_mark(const char *s, uint32_t *mark, uint32_t *mask)
{
	char buf[64], *slash;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	if (ctaccel_parse_u32(buf, mark) || ctaccel_parse_u32(slash + 1, mask))
		return -EINVAL;
	return 0;
}

int ctaccel_load_opts_default(struct ctaccel_load_opts *o)
{
	unsigned int hz = ctaccel_kernel_hz();

	memset(o, 0, sizeof(*o));
	if (!hz)
		return -EINVAL; /* CLOCK_MONOTONIC_COARSE does not tell the tick */
	o->max_flows = CTACCEL_DEFAULT_MAX_FLOWS;
	o->expiry_interval_ms = CTACCEL_EXPIRY_INTERVAL_MS;
	ctaccel_config_default(&o->cfg, hz);
	return 0;
}

int ctaccel_set_expiry_interval(struct ctaccel_load_opts *o, double seconds, char *err,
				size_t errlen)
{
	if (!(seconds >= 0.01 && seconds <= CTACCEL_EXPIRY_INTERVAL_MS_MAX / 1000)) {
		snprintf(err, errlen, "expiry-interval %g: not a number of seconds from 0.01 to %u",
			 seconds, CTACCEL_EXPIRY_INTERVAL_MS_MAX / 1000);
		return -EINVAL;
	}
	o->expiry_interval_ms = (uint32_t)(seconds * 1000 + 0.5);
	return 0;
}

int ctaccel_set_max_flows(struct ctaccel_load_opts *o, uint32_t n, char *err, size_t errlen)
{
	if (n < 1 || n > CTACCEL_MAX_FLOWS_LIMIT) {
		snprintf(err, errlen, "max-flows %u: not a number from 1 to %u", n,
			 CTACCEL_MAX_FLOWS_LIMIT);
		return -EINVAL;
	}
	o->max_flows = n;
	return 0;
}

int ctaccel_set_unreplied_max(struct ctaccel_load_opts *o, uint32_t n, char *err, size_t errlen)
{
	if (n < 1 || n > CTACCEL_MAX_FLOWS_LIMIT) {
		snprintf(err, errlen, "unreplied-max %u: not a number from 1 to %u", n,
			 CTACCEL_MAX_FLOWS_LIMIT);
		return -EINVAL;
	}
	o->unreplied_max = n;
	return 0;
}

uint32_t ctaccel_unreplied_slots(const struct ctaccel_load_opts *o)
{
	uint32_t n = o->unreplied_max;

	if (!n) {
		n = o->max_flows / 4;
		if (n < CTACCEL_UNREPLIED_MIN)
			n = CTACCEL_UNREPLIED_MIN;
	}
	return n < o->max_flows ? n : o->max_flows;
}

int ctaccel_set_mark(struct ctaccel_load_opts *o, uint32_t mark, uint32_t mask, char *err,
		     size_t errlen)
{
	if (!mask || !mark || (mark & ~mask)) {
		snprintf(err, errlen,
			 "mark 0x%x/0x%x: expected VALUE/MASK, VALUE non-zero and within MASK",
			 mark, mask);
		return -EINVAL;
	}
	o->cfg.mark = mark;
	o->cfg.mark_mask = mask;
	return 0;
}

int ctaccel_set_cgroup(struct ctaccel_load_opts *o, const char *path, char *err, size_t errlen)
{
	if (path[0] != '/' || strlen(path) >= sizeof(o->cgroup)) {
		snprintf(err, errlen,
			 "cgroup '%.64s': expected an absolute path of at most %zu bytes", path,
			 sizeof(o->cgroup) - 1);
		return -EINVAL;
	}
	snprintf(o->cgroup, sizeof(o->cgroup), "%s", path);
	return 0;
}

void ctaccel_set_local(struct ctaccel_load_opts *o, bool on)
{
	if (on)
		o->cfg.flags &= ~CTACCEL_CFG_NO_LOCAL;
	else
		o->cfg.flags |= CTACCEL_CFG_NO_LOCAL;
}

int ctaccel_set_timeout(struct ctaccel_load_opts *o, const char *state, uint32_t seconds, char *err,
			size_t errlen)
{
	int st;

	if (seconds < 1 || seconds > CTACCEL_MAX_TIMEOUT_S) {
		snprintf(err, errlen, "timeout %s %u: not a number of seconds from 1 to %u", state,
			 seconds, CTACCEL_MAX_TIMEOUT_S);
		return -EINVAL;
	}
	if (!strcasecmp(state, "unack")) {
		o->cfg.timeout_unack = (__u64)seconds * o->cfg.hz;
		return 0;
	}
	st = ctaccel_state_parse(state);
	if (st < 0) {
		snprintf(err, errlen, "timeout: unknown state '%s'", state);
		return -EINVAL;
	}
	o->cfg.timeout[st] = (__u64)seconds * o->cfg.hz;
	return 0;
}
