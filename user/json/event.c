// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* `ctaccel -j monitor`: one object per event. */
#include <arpa/inet.h>
#include "ctjson.h"

json_t *ctjson_event(const struct ctaccel_event_view *ev, double time_s)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	json_t *o;

	inet_ntop(ev->tuple.family, ev->tuple.src, src, sizeof(src));
	inet_ntop(ev->tuple.family, ev->tuple.dst, dst, sizeof(dst));
	o = json_pack("{s:s,s:f,s:s,s:s,s:i,s:s,s:i,s:s,s:I,s:I,s:I,s:I}", "event",
		      ctaccel_event_names[ev->type] ? ctaccel_event_names[ev->type] : "?", "time",
		      time_s, "family", ev->tuple.family == AF_INET ? "ipv4" : "ipv6", "src", src,
		      "sport", ev->tuple.sport, "dst", dst, "dport", ev->tuple.dport, "state",
		      ctaccel_state_names[ev->state], "orig_packets", (json_int_t)ev->orig_packets,
		      "orig_bytes", (json_int_t)ev->orig_bytes, "reply_packets",
		      (json_int_t)ev->reply_packets, "reply_bytes", (json_int_t)ev->reply_bytes);
	json_object_set_new(o, "proto", json_string(ctaccel_proto_name(ev->tuple.proto)));
	if (ev->type == CTACCEL_EV_DESTROY)
		json_object_set_new(o, "reason",
				    json_string(ctaccel_destroy_reason_names[ev->reason]
							? ctaccel_destroy_reason_names[ev->reason]
							: "?"));
	return o;
}

json_t *ctjson_events_lost(uint64_t lost)
{
	return json_pack("{s:s,s:I}", "event", "LOST", "lost", (json_int_t)lost);
}
