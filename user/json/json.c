// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* libctaccel's typed results as the JSON both the CLI and the daemon serve. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "ctjson.h"

#define API_RULES_MAX 4096

json_t *ctjson_status(const struct ctaccel_status *s, const char *pin_root)
{
	json_t *o, *progs = json_object(), *to = json_object(), *devs = json_array(),
		   *problems = json_array();
	char mark[32];
	size_t i;

	o = json_pack("{s:s,s:b,s:s,s:i,s:I,s:I,s:I,s:f,s:i}", "version", CTACCEL_VERSION, "loaded",
		      1, "pin_path", pin_root, "abi", CTACCEL_ABI_VERSION, "max_flows",
		      (json_int_t)s->max_flows, "unreplied_max", (json_int_t)s->unreplied_max,
		      "flows", (json_int_t)s->flows, "fill", s->fill, "hz", (int)s->hz);
	for (i = 0; i < CTACCEL_PROG__MAX; i++)
		if (s->prog_id[i])
			json_object_set_new(progs, ctaccel_prog_names[i],
					    json_integer(s->prog_id[i]));
	json_object_set_new(o, "programs", progs);
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		json_object_set_new(to, ctaccel_state_names[i], json_integer(s->timeout_s[i]));
	json_object_set_new(to, "UNACK", json_integer(s->timeout_unack_s));
	json_object_set_new(o, "timeouts", to);
	for (i = 0; i < s->ndevices; i++) {
		const struct ctaccel_device_status *d = &s->devices[i];

		json_array_append_new(devs,
				      json_pack("{s:s,s:i,s:b,s:b,s:s}", "name", d->name, "ifindex",
						(int)d->ifindex, "ingress",
						(d->hooks & CTACCEL_HOOK_INGRESS) != 0, "egress",
						(d->hooks & CTACCEL_HOOK_EGRESS) != 0, "hook",
						d->tcx ? "tcx" : "clsact"));
	}
	json_object_set_new(o, "devices", devs);
	for (i = 0; i < s->nproblems; i++)
		json_array_append_new(problems, json_string(s->problems[i]));
	json_object_set_new(o, "problems", problems);
	snprintf(mark, sizeof(mark), "0x%08x/0x%08x", s->mark, s->mark_mask);
	json_object_set_new(o, "mark", json_string(mark));
	json_object_set_new(o, "policy_rules", json_integer(s->policy_rules));
	json_object_set_new(o, "nft_table", json_boolean(s->nft_table));
	json_object_set_new(o, "sockops", json_boolean(s->sockops));
	json_object_set_new(o, "udp_hooks", json_boolean(s->udp_hooks));
	json_object_set_new(o, "local", json_boolean(s->local));
	json_object_set_new(o, "expiry", ctjson_expiry(&s->expiry));
	json_object_set_new(o, "kernel", ctjson_kernel(s->kernel, s->features));
	return o;
}

json_t *ctjson_kernel(const char *release, uint32_t features)
{
	json_t *f = json_object();
	int i;

	for (i = 0; i < CTACCEL_FEAT__MAX; i++)
		json_object_set_new(f, ctaccel_features[i].name,
				    json_pack("{s:s,s:s,s:s}", "path",
					      ctaccel_feature_path(features, i), "needs",
					      ctaccel_features[i].needs, "since",
					      ctaccel_features[i].since));
	return json_pack("{s:s,s:o}", "release", release, "features", f);
}

json_t *ctjson_expiry(const struct ctaccel_expiry_status *x)
{
	return json_pack("{s:b,s:b,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:f,s:f,s:I,s:I,s:f,s:f}", "running",
			 x->running, "stopped", x->stopped, "checks", (json_int_t)x->checks,
			 "checks_without_walk", (json_int_t)x->checks_without_walk,
			 "since_last_check_seconds", x->since_check_s, "cut_passes",
			 (json_int_t)x->cut_passes, "passes", (json_int_t)x->passes, "removed",
			 (json_int_t)x->removed, "interval_ms", (json_int_t)x->interval_ms,
			 "busy_seconds", x->busy_s, "last_pass_seconds", x->last_pass_s,
			 "last_pass_examined", (json_int_t)x->last_pass_examined,
			 "last_pass_removed", (json_int_t)x->last_pass_removed,
			 "since_last_pass_seconds", x->since_pass_s, "pause_seconds", x->pause_s);
}

json_t *ctjson_not_loaded(const char *pin_root, const struct ctaccel_name *orphans, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(orphans[i].name));
	return json_pack("{s:s,s:b,s:s,s:o}", "version", CTACCEL_VERSION, "loaded", 0, "pin_path",
			 pin_root, "orphaned_devices", arr);
}

json_t *ctjson_stats(const struct ctaccel_stats *st, uint32_t max_flows)
{
	json_t *states = json_object(), *counters = json_object();
	int i;

	for (i = 1; i < CTACCEL_ST__MAX; i++)
		json_object_set_new(states, ctaccel_state_names[i],
				    json_integer(st->flows_in_state[i]));
	for (i = 0; i < CTACCEL_CTR__MAX; i++)
		json_object_set_new(counters, ctaccel_counter_names[i],
				    json_integer((json_int_t)ctaccel_counter(st, i)));
	return json_pack("{s:I,s:I,s:o,s:o}", "flows", (json_int_t)ctaccel_stats_flows(st),
			 "max_flows", (json_int_t)max_flows, "states", states, "counters",
			 counters);
}

json_t *ctjson_rule(const struct ctaccel_rule *r)
{
	char addr[INET6_ADDRSTRLEN], prefix[INET6_ADDRSTRLEN + 5];

	inet_ntop(r->family, r->addr, addr, sizeof(addr));
	snprintf(prefix, sizeof(prefix), "%s/%u", addr, r->plen);
	return json_pack("{s:s,s:s,s:o,s:o,s:b}", "family", r->family == AF_INET ? "ipv4" : "ipv6",
			 "prefix", prefix, "port", r->port ? json_integer(r->port) : json_null(),
			 "proto",
			 r->proto ? json_string(ctaccel_proto_name(r->proto)) : json_null(),
			 "fastpath", r->fastpath);
}

json_t *ctjson_rules(const struct ctaccel_rule *rules, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, ctjson_rule(&rules[i]));
	return arr;
}

json_t *ctjson_gc(const struct ctaccel_gc_result *r)
{
	return json_pack("{s:I,s:I,s:I}", "scanned", (json_int_t)r->scanned, "expired",
			 (json_int_t)r->expired, "deleted", (json_int_t)r->deleted);
}

static json_t *transitions(const struct ctaccel_sk_transitions *t)
{
	struct ctaccel_sk_summary s;
	json_t *moves = json_object(), *o;
	char name[64];
	int a, b;

	for (a = 1; a < CTACCEL_TCP_STATE_SLOTS; a++)
		for (b = 1; b < CTACCEL_TCP_STATE_SLOTS; b++) {
			if (!t->moves[a][b] || !ctaccel_tcp_state_names[a] ||
			    !ctaccel_tcp_state_names[b])
				continue;
			snprintf(name, sizeof(name), "%s->%s", ctaccel_tcp_state_names[a],
				 ctaccel_tcp_state_names[b]);
			json_object_set_new(moves, name, json_integer(t->moves[a][b]));
		}
	ctaccel_sk_summarise(t, &s);
	o = json_pack("{s:I,s:I,s:I,s:I,s:I}", "opened_active", (json_int_t)s.opened_active,
		      "opened_passive", (json_int_t)s.opened_passive, "closed_by_fin",
		      (json_int_t)s.closed_by_fin, "reset_or_aborted",
		      (json_int_t)s.reset_or_aborted, "time_wait_entered",
		      (json_int_t)s.time_wait_entered);
	json_object_set_new(o, "moves", moves);
	return o;
}

json_t *ctjson_sockets(const struct ctaccel_host_sockets *hs,
		       const struct ctaccel_sk_transitions *t)
{
	json_t *states = json_object(), *o;
	int i;

	for (i = 1; i < CTACCEL_TCP_STATE_SLOTS; i++)
		if (ctaccel_tcp_state_names[i])
			json_object_set_new(states, ctaccel_tcp_state_names[i],
					    json_integer(hs->states[i]));
	o = json_pack("{s:o,s:I}", "states", states, "timewait_in_fin_wait2",
		      (json_int_t)hs->fin_wait2_tw);
	if (t)
		json_object_set_new(o, "transitions", transitions(t));
	return o;
}

json_t *ctjson_tw(const struct ctaccel_tw_report *r, unsigned int top, uint32_t threshold_pct)
{
	json_t *bylp = json_array(), *byr = json_array();
	char addr[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < r->nports && i < top; i++)
		json_array_append_new(bylp, json_pack("{s:i,s:I}", "port", r->ports[i].port,
						      "count", (json_int_t)r->ports[i].count));
	for (i = 0; i < r->npeers && i < top; i++) {
		const struct ctaccel_tw_peer *p = &r->peers[i];

		inet_ntop(p->key.family, p->key.addr, addr, sizeof(addr));
		json_array_append_new(byr, json_pack("{s:s,s:i,s:I,s:f,s:b}", "addr", addr, "port",
						     p->key.port, "count", (json_int_t)p->count,
						     "port_range_share", p->share, "flagged",
						     p->share * 100 > threshold_pct));
	}
	return json_pack("{s:I,s:o,s:o,s:{s:i,s:i},s:f,s:I,s:I}", "time_wait",
			 (json_int_t)r->time_wait, "by_local_port", bylp, "by_remote", byr,
			 "port_range", "low", r->port_lo, "high", r->port_hi, "threshold",
			 threshold_pct / 100.0, "remote_endpoints", (json_int_t)r->npeers,
			 "remote_overflow", (json_int_t)r->peer_overflow);
}

static int rule_parse(json_t *r, size_t i, struct ctaccel_rule *out, char *err, size_t errlen)
{
	json_t *prefix = json_object_get(r, "prefix"), *port = json_object_get(r, "port");
	json_t *fast = json_object_get(r, "fastpath"), *proto = json_object_get(r, "proto");
	char why[160];

	if (!json_is_string(prefix) || (port && !json_is_integer(port) && !json_is_null(port)) ||
	    (fast && !json_is_boolean(fast)) ||
	    (proto && !json_is_string(proto) && !json_is_null(proto)) ||
	    json_object_size(r) != 1U + (port != NULL) + (fast != NULL) + (proto != NULL)) {
		snprintf(err, errlen,
			 "rule %zu: expected {\"prefix\": STRING, \"port\": INT, \"proto\": "
			 "\"tcp\"|\"udp\", \"fastpath\": BOOL}",
			 i);
		return -EINVAL;
	}
	if (ctaccel_rule_parse(json_string_value(prefix), out, why, sizeof(why)))
		goto bad;
	if (json_is_integer(port) &&
	    (json_integer_value(port) < 0 || json_integer_value(port) > UINT32_MAX ||
	     ctaccel_rule_set_port(out, json_integer_value(port), why, sizeof(why))))
		goto bad;
	if (json_is_string(proto) &&
	    ctaccel_rule_set_proto(out, json_string_value(proto), why, sizeof(why)))
		goto bad;
	out->fastpath = json_is_true(fast);
	return 0;
bad:
	snprintf(err, errlen, "rule %zu: bad prefix, port or proto", i);
	return -EINVAL;
}

int ctjson_rules_parse(const char *text, struct ctaccel_rule **out, size_t *n, char *err,
		       size_t errlen)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je), *rules, *r;
	struct ctaccel_rule *set;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!root) {
		snprintf(err, errlen, "body is not JSON: %s", je.text);
		return -EINVAL;
	}
	rules = json_object_get(root, "rules");
	if (!json_is_array(rules) || json_array_size(rules) > API_RULES_MAX) {
		snprintf(err, errlen, "expected {\"rules\": [...]} with at most %d rules",
			 API_RULES_MAX);
		json_decref(root);
		return -EINVAL;
	}
	set = calloc(json_array_size(rules) + 1, sizeof(*set));
	if (!set) {
		snprintf(err, errlen, "out of memory");
		json_decref(root);
		return -ENOMEM;
	}
	json_array_foreach(rules, i, r)
	{
		if (rule_parse(r, i, &set[i], err, errlen)) {
			free(set);
			json_decref(root);
			return -EINVAL;
		}
	}
	*n = json_array_size(rules);
	*out = set;
	json_decref(root);
	return 0;
}
