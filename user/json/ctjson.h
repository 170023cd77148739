/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The JSON contract of `ctaccel -j` and of the daemon's API: every key name is
 * written here once, from libctaccel's typed results, so the CLI and the
 * daemon cannot drift apart. (The flow table's JSON, written by hand for
 * speed, lives with `ctaccel flow`.)
 */
#ifndef CTACCEL_CTJSON_H
#define CTACCEL_CTJSON_H

#include <jansson.h>
#include "libctaccel.h"

json_t *ctjson_status(const struct ctaccel_status *s, const char *pin_root);
json_t *ctjson_not_loaded(const char *pin_root, const struct ctaccel_name *orphans, size_t n);
json_t *ctjson_stats(const struct ctaccel_stats *st, uint32_t max_flows);
json_t *ctjson_rule(const struct ctaccel_rule *r);
json_t *ctjson_rules(const struct ctaccel_rule *rules, size_t n);
json_t *ctjson_gc(const struct ctaccel_gc_result *r);
json_t *ctjson_expiry(const struct ctaccel_expiry_status *x);
/* The running kernel and the path each feature took (CTACCEL_FEATURES). */
json_t *ctjson_kernel(const char *release, uint32_t features);
json_t *ctjson_latency_endpoint(const struct ctaccel_latency_endpoint *e);
/* The sums of all endpoints, and the endpoints shown. */
json_t *ctjson_latency(const struct ctaccel_latency_report *r,
		       const struct ctaccel_latency_endpoint *const *shown, size_t nshown);
/* t may be NULL (no transition counters pinned). */
json_t *ctjson_sockets(const struct ctaccel_host_sockets *hs,
		       const struct ctaccel_sk_transitions *t);
json_t *ctjson_tw(const struct ctaccel_tw_report *r, unsigned int top, uint32_t threshold_pct);
/* {"settings": {KEY: VALUE, ...}, "live": [KEY, ...]}: each table's values
 * in its struct, keyed by their one spelling; a repeated setting is a list. */
json_t *ctjson_settings(const struct ctaccel_setting *const *tables, const void *const *bases,
			size_t n);

/* {"key": KEY, "was": VALUE, "asked": VALUE, "applied": BOOL[, "why": TEXT]}:
 * a live setting's change (ctaccel_apply), values typed as in settings. */
json_t *ctjson_setting_change(const struct ctaccel_setting_change *c);

/* {"rules": [{"prefix": "all"|PREFIX, "port": PORT, "proto": "tcp"|"udp", "fastpath": BOOL}, ...]}
 * (at most CTACCEL_POLICY_MAX rules) into *out, free()d by the caller. */
int ctjson_rules_parse(const char *text, struct ctaccel_rule **out, size_t *n, char *err,
		       size_t errlen);

/* One refresh of `top`: `ctaccel -j top`'s line. */
struct ctjson_top_frame {
	double interval_s;
	const struct ctaccel_stats *prev, *cur; /* counters at both ends */
	uint32_t max_flows;
	const struct ctaccel_top_result *res;
	const struct ctaccel_flow_rate *busiest;
	bool by_bytes;
	const struct ctaccel_tw_report *tw; /* NULL when host sockets cannot be read */
	unsigned int tw_top;
};
json_t *ctjson_top(const struct ctjson_top_frame *f);

/* One flow event of `monitor` (time: seconds since the epoch); and the
 * events a monitor missed since it started. */
json_t *ctjson_event(const struct ctaccel_event_view *ev, double time_s);
json_t *ctjson_events_lost(uint64_t lost);

#endif
