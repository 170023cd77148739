/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Flow events for `ctaccel monitor`: written to the ring only while a monitor
 * holds its lease.
 */
#ifndef CTACCEL_EVENTS_BPF_H
#define CTACCEL_EVENTS_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"

/* Whether a monitor listens: it keeps pushing `until` into the future. */
static __always_inline bool monitored(__u64 now)
{
	__u32 zero = 0;
	struct ctaccel_monitor *m = bpf_map_lookup_elem(&ctaccel_monitor, &zero);

	return m && *(volatile __u64 *)&m->until > now;
}

/*
 * One event into the ring (what: type | reason << 8 | state << 16), or
 * events_lost. A global function: the verifier walks it once.
 */
__noinline int flow_event(const struct ctaccel_flow_key *key, const struct ctaccel_flow *f,
			  __u32 what, __u64 now)
{
	struct ctaccel_stats *st;
	struct ctaccel_event *e;
	__u32 zero = 0;

	if (!key || !f)
		return 0;
	e = bpf_ringbuf_reserve(&ctaccel_events, sizeof(*e), 0);
	if (!e) {
		st = bpf_map_lookup_elem(&ctaccel_stats, &zero);
		if (st)
			CTR_ATOMIC(st, events_lost, 1);
		return 0;
	}
	e->jiffies = now;
	__builtin_memcpy(&e->key, key, sizeof(e->key));
	e->leg[0] = f->leg[0];
	e->leg[1] = f->leg[1];
	e->type = what & 0xff;
	e->reason = (what >> 8) & 0xff;
	e->state = (what >> 16) & 0xff;
	e->orig_is_hi = f->orig_is_hi;
	e->__pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

#ifndef CTACCEL_NO_EVENTS
#define FLOW_EVENT(key, f, type, reason, state, now)                                               \
	do {                                                                                       \
		if (monitored(now))                                                                \
			flow_event(key, f, (type) | (reason) << 8 | (__u32)(state) << 16, now);    \
	} while (0)
#else
/* Only for make bench-datapath: what the datapath costs with no events code
 * at all, beside the same build with it and no monitor. */
#define FLOW_EVENT(key, f, type, reason, state, now)                                               \
	do {                                                                                       \
	} while (0)
#endif

#endif /* CTACCEL_EVENTS_BPF_H */
