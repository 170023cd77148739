// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* ctaccel -j latency: the JSON contract of issue 17's handshake latency. */
#include <arpa/inet.h>
#include <sys/socket.h>
#include "ctjson.h"

static json_t *leg_json(const struct ctaccel_latency_hist *h)
{
	json_t *buckets = json_array();
	int b;

	for (b = 0; b < CTACCEL_LAT_BUCKETS; b++)
		if (h->bucket[b])
			json_array_append_new(buckets,
					      json_pack("{s:f,s:f,s:I}", "lo_ms",
							ctaccel_latency_bucket_lo_ms(b), "hi_ms",
							ctaccel_latency_bucket_hi_ms(b), "count",
							(json_int_t)h->bucket[b]));
	return json_pack("{s:I,s:f,s:f,s:f,s:f,s:o}", "count", (json_int_t)h->count, "p50_ms",
			 ctaccel_latency_quantile_ms(h, 0.5), "p90_ms",
			 ctaccel_latency_quantile_ms(h, 0.9), "p99_ms",
			 ctaccel_latency_quantile_ms(h, 0.99), "mean_ms",
			 h->count ? h->sum_ns / 1e6 / h->count : 0.0, "buckets", buckets);
}

json_t *ctjson_latency_endpoint(const struct ctaccel_latency_endpoint *e)
{
	char addr[INET6_ADDRSTRLEN] = "";

	inet_ntop(e->family == AF_INET6 ? AF_INET6 : AF_INET, e->addr, addr, sizeof(addr));
	return json_pack("{s:s,s:i,s:o,s:o,s:I}", "addr", addr, "port", (int)e->port, "server",
			 leg_json(&e->lat.leg[CTACCEL_LEG_SERVER]), "client",
			 leg_json(&e->lat.leg[CTACCEL_LEG_CLIENT]), "syn_retransmits",
			 (json_int_t)e->lat.syn_retransmits);
}

json_t *ctjson_latency(const struct ctaccel_latency_report *r,
		       const struct ctaccel_latency_endpoint *const *shown, size_t nshown)
{
	json_t *eps = json_array();
	size_t i;

	for (i = 0; i < nshown; i++)
		json_array_append_new(eps, ctjson_latency_endpoint(shown[i]));
	return json_pack("{s:o,s:o,s:I,s:o}", "server",
			 leg_json(&r->all.lat.leg[CTACCEL_LEG_SERVER]), "client",
			 leg_json(&r->all.lat.leg[CTACCEL_LEG_CLIENT]), "syn_retransmits",
			 (json_int_t)r->all.lat.syn_retransmits, "endpoints", eps);
}
