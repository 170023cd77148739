// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* `ctaccel -j top`: one object per refresh. */
#include <arpa/inet.h>
#include "ctjson.h"

static double per_s(double delta, double secs)
{
	return secs > 0 ? delta / secs : 0;
}

static json_t *busiest(const struct ctjson_top_frame *f)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < f->res->nbusiest; i++) {
		const struct ctaccel_flow_rate *r = &f->busiest[i];

		inet_ntop(r->tuple.family, r->tuple.src, src, sizeof(src));
		inet_ntop(r->tuple.family, r->tuple.dst, dst, sizeof(dst));
		json_array_append_new(
			arr,
			json_pack("{s:s,s:s,s:i,s:s,s:i,s:s,s:b,s:f,s:f}", "family",
				  r->tuple.family == AF_INET ? "ipv4" : "ipv6", "src", src, "sport",
				  r->tuple.sport, "dst", dst, "dport", r->tuple.dport, "state",
				  ctaccel_state_names[r->state % CTACCEL_ST__MAX], "bypass",
				  r->bypass, "packets_per_s", per_s(r->packets, f->interval_s),
				  "bytes_per_s", per_s(r->bytes, f->interval_s)));
	}
	return arr;
}

static json_t *tw_peers(const struct ctjson_top_frame *f)
{
	json_t *arr = json_array();
	char addr[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; f->tw && i < f->tw->npeers && i < f->tw_top; i++) {
		const struct ctaccel_tw_peer *p = &f->tw->peers[i];

		inet_ntop(p->key.family, p->key.addr, addr, sizeof(addr));
		json_array_append_new(arr, json_pack("{s:s,s:i,s:I,s:f}", "addr", addr, "port",
						     p->key.port, "count", (json_int_t)p->count,
						     "port_range_share", p->share));
	}
	return arr;
}

json_t *ctjson_top(const struct ctjson_top_frame *f)
{
	json_t *states = json_object(), *changes = json_object(), *rates = json_object();
	int64_t flows = ctaccel_stats_flows(f->cur);
	int i;

	for (i = 1; i < CTACCEL_ST__MAX; i++) {
		json_object_set_new(states, ctaccel_state_names[i],
				    json_integer(f->cur->flows_in_state[i]));
		json_object_set_new(changes, ctaccel_state_names[i],
				    json_real(per_s((double)(f->cur->flows_in_state[i] -
							     f->prev->flows_in_state[i]),
						    f->interval_s)));
	}
	for (i = 0; i < CTACCEL_CTR__MAX; i++)
		json_object_set_new(rates, ctaccel_counter_names[i],
				    json_real(per_s((double)(ctaccel_counter(f->cur, i) -
							     ctaccel_counter(f->prev, i)),
						    f->interval_s)));
	return json_pack("{s:f,s:o,s:o,s:o,s:I,s:I,s:f,s:f,s:s,s:o,s:o}", "interval_s",
			 f->interval_s, "states", states, "state_changes_per_s", changes, "rates",
			 rates, "flows", (json_int_t)flows, "max_flows", (json_int_t)f->max_flows,
			 "fill", f->max_flows ? (double)flows / f->max_flows : 0.0,
			 "bypassed_share",
			 f->res->flows ? (double)f->res->bypassed / f->res->flows : 0.0, "sort",
			 f->by_bytes ? "bytes" : "packets", "busiest", busiest(f),
			 "time_wait_peers", tw_peers(f));
}
