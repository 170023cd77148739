// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <stdio.h>
#include "flowtab.h"
#include "invariants.h"

int inv_gauges_match_table(int flows_fd, int stats_fd, size_t *entries, char *why, size_t len)
{
	__s64 count[CTACCEL_ST__MAX] = {};
	struct ctaccel_flow_list l;
	struct ctaccel_stats s;
	int i, ret = 0;
	size_t k;

	if (ctaccel_flows_read(flows_fd, &l) || ctaccel_stats_read(stats_fd, &s)) {
		snprintf(why, len, "cannot read the table or the stats");
		return -1;
	}
	for (k = 0; k < l.n; k++) {
		unsigned int st = ctaccel_ct_state(l.e[k].val.ct);

		if (st <= CTACCEL_ST_NONE || st >= CTACCEL_ST__MAX) {
			snprintf(why, len, "entry %zu in state %u", k, st);
			ret = -1;
			goto out;
		}
		count[st]++;
	}
	for (i = 0; i < CTACCEL_ST__MAX; i++)
		if (s.flows_in_state[i] != count[i]) {
			snprintf(why, len, "gauge %s = %lld, table holds %lld",
				 ctaccel_state_names[i], (long long)s.flows_in_state[i],
				 (long long)count[i]);
			ret = -1;
			goto out;
		}
	if (entries)
		*entries = l.n;
out:
	ctaccel_flow_list_free(&l);
	return ret;
}

int inv_conservation(int flows_fd, int stats_fd, char *why, size_t len)
{
	__u64 pk = 0, by = 0, removed;
	struct ctaccel_flow_list l;
	struct ctaccel_stats s;
	int ret = 0;
	size_t i;

	if (ctaccel_flows_read(flows_fd, &l) || ctaccel_stats_read(stats_fd, &s)) {
		snprintf(why, len, "cannot read the table or the stats");
		return -1;
	}
	for (i = 0; i < l.n; i++) {
		pk += l.e[i].val.leg[0].packets + l.e[i].val.leg[1].packets;
		by += l.e[i].val.leg[0].bytes + l.e[i].val.leg[1].bytes;
	}
	removed = s.flows_expired + s.flows_reopened + s.flows_killed + s.flows_deleted +
		  s.unreplied_evicted;
	if (s.flows_created - removed != l.n) {
		snprintf(why, len, "created %llu - removed %llu != %zu in the table",
			 (unsigned long long)s.flows_created, (unsigned long long)removed, l.n);
		ret = -1;
	} else if (pk + s.deleted_packets != s.tracked_packets) {
		snprintf(why, len, "packets in table %llu + deleted %llu != tracked %llu",
			 (unsigned long long)pk, (unsigned long long)s.deleted_packets,
			 (unsigned long long)s.tracked_packets);
		ret = -1;
	} else if (by + s.deleted_bytes != s.tracked_bytes) {
		snprintf(why, len, "bytes in table %llu + deleted %llu != tracked %llu",
			 (unsigned long long)by, (unsigned long long)s.deleted_bytes,
			 (unsigned long long)s.tracked_bytes);
		ret = -1;
	}
	ctaccel_flow_list_free(&l);
	return ret;
}

int inv_counters_monotonic(const struct ctaccel_stats *before, const struct ctaccel_stats *now,
			   char *why, size_t len)
{
	int i;

	for (i = 0; i < CTACCEL_CTR__MAX; i++)
		if (ctaccel_counter(now, i) < ctaccel_counter(before, i)) {
			snprintf(why, len, "counter %s went from %llu to %llu",
				 ctaccel_counter_names[i],
				 (unsigned long long)ctaccel_counter(before, i),
				 (unsigned long long)ctaccel_counter(now, i));
			return -1;
		}
	return 0;
}
