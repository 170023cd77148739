// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Read-only views: flows (batch reads of the table) and counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "cli.h"
#include "flowtab.h"

struct flow_filter {
	int state;  /* -1: any */
	int family; /* 0: any */
	__u8 addr[16];
	int port; /* -1: any */
};

static int parse_filter(int argc, char **argv, struct flow_filter *f)
{
	uint32_t port;
	int i;

	f->state = -1;
	f->port = -1;
	f->family = 0;
	for (i = 0; i < argc; i++) {
		if (i + 1 >= argc) {
			pr_err("flow: '%s' needs a value", argv[i]);
			return -EINVAL;
		}
		if (is_prefix(argv[i], "state")) {
			f->state = ctaccel_state_parse(argv[++i]);
			if (f->state < 0) {
				pr_err("flow: unknown state '%s'", argv[i]);
				return -EINVAL;
			}
		} else if (is_prefix(argv[i], "addr")) {
			i++;
			if (inet_pton(AF_INET, argv[i], f->addr) == 1) {
				f->family = AF_INET;
			} else if (inet_pton(AF_INET6, argv[i], f->addr) == 1) {
				f->family = AF_INET6;
			} else {
				pr_err("flow: '%s' is not an IPv4 or IPv6 address", argv[i]);
				return -EINVAL;
			}
		} else if (is_prefix(argv[i], "port")) {
			if (parse_u32(argv[++i], &port) || port > 65535) {
				pr_err("flow: port '%s' is not a number from 0 to 65535", argv[i]);
				return -EINVAL;
			}
			f->port = port;
		} else {
			pr_err("flow: unexpected '%s'", argv[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static bool filter_match(const struct flow_filter *f, const struct ctaccel_tuple *t,
			 const struct ctaccel_flow *v)
{
	size_t alen = t->family == AF_INET ? 4 : 16;

	if (f->state >= 0 && (int)ctaccel_ct_state(v->ct) != f->state)
		return false;
	if (f->port >= 0 && t->sport != f->port && t->dport != f->port)
		return false;
	if (f->family && (t->family != f->family ||
			  (memcmp(t->src, f->addr, alen) && memcmp(t->dst, f->addr, alen))))
		return false;
	return true;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "ipv4" : "ipv6";
}

/*
 * One flow as a JSON object, written straight out: building a jansson tree
 * for a million flows cost ten times the batch read itself. The values are
 * addresses, numbers and state names, none of which needs escaping.
 */
static void flow_json_write(FILE *f, const struct ctaccel_tuple *t, const struct ctaccel_flow *v,
			    __s64 expires, bool first)
{
	const char *sep = cli.pretty ? ",\n    " : ",";
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	inet_ntop(t->family, t->src, src, sizeof(src));
	inet_ntop(t->family, t->dst, dst, sizeof(dst));
	fprintf(f, "%s%s{%s", first ? "" : ",", cli.pretty ? "\n  " : "",
		cli.pretty ? "\n    " : "");
	fprintf(f,
		"\"family\":\"%s\"%s\"src\":\"%s\"%s\"sport\":%u%s\"dst\":\"%s\"%s"
		"\"dport\":%u%s\"state\":\"%s\"%s",
		family_name(t->family), sep, src, sep, t->sport, sep, dst, sep, t->dport, sep,
		ctaccel_state_names[ctaccel_ct_state(v->ct)], sep);
	fprintf(f,
		"\"orig_packets\":%llu%s\"orig_bytes\":%llu%s\"reply_packets\":%llu%s"
		"\"reply_bytes\":%llu%s",
		(unsigned long long)v->leg[CTACCEL_DIR_ORIG].packets, sep,
		(unsigned long long)v->leg[CTACCEL_DIR_ORIG].bytes, sep,
		(unsigned long long)v->leg[CTACCEL_DIR_REPLY].packets, sep,
		(unsigned long long)v->leg[CTACCEL_DIR_REPLY].bytes, sep);
	fprintf(f, "\"bypass\":%s%s\"expires_s\":%lld%s\"assured\":%s%s\"seen_reply\":%s%s}",
		v->bypass ? "true" : "false", sep, (long long)expires, sep,
		(v->ct & CTACCEL_CT_ASSURED) ? "true" : "false", sep,
		(v->ct & CTACCEL_CT_SEEN_REPLY) ? "true" : "false", cli.pretty ? "\n  " : "");
}

int do_flow(int argc, char **argv)
{
	struct ctaccel_flow_list l = {};
	struct flow_filter f;
	struct pinned p;
	bool count = false;
	uint64_t now = 0;
	size_t i, n = 0;
	int err, ret = EXIT_RUNTIME;

	if (argc && is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel flow [show] [state STATE] [addr ADDR] [port PORT]\n"
		       "       ctaccel flow count [state STATE] [addr ADDR] [port PORT]\n");
		return 0;
	}
	if (argc && is_prefix(argv[0], "count")) {
		count = true;
		argc--;
		argv++;
	} else if (argc && is_prefix(argv[0], "show")) {
		argc--;
		argv++;
	}
	if (parse_filter(argc, argv, &f))
		return EXIT_USAGE;
	if (pinned_open(&p))
		return EXIT_RUNTIME;
	/* Reading and formatting what the kernel holds needs no privilege once
	 * the pins are open. */
	if (caps_keep_only(0)) {
		pr_err("flow: drop capabilities: %s", strerror(errno));
		pinned_close(&p);
		return EXIT_RUNTIME;
	}
	err = ctaccel_flows_read(p.flows_fd, &l);
	err = err ?: ctaccel_clock_now(p.clock_fd, &now);
	if (err) {
		pr_err("flow: read %s/%s: %s", cli.pin_path, PIN_FLOWS, strerror(-err));
		goto cleanup;
	}
	if (!count && cli.json)
		fputc('[', stdout);
	else if (!count)
		printf("%-4s %-11s %-39s %5s %-39s %5s %10s %12s %10s %12s %8s\n", "FAM", "STATE",
		       "SRC", "SPORT", "DST", "DPORT", "ORIG_PKTS", "ORIG_BYTES", "REPL_PKTS",
		       "REPL_BYTES", "EXPIRES");
	for (i = 0; i < l.n; i++) {
		const struct ctaccel_flow *v = &l.e[i].val;
		struct ctaccel_tuple t;
		__s64 expires;

		ctaccel_flow_tuple(&l.e[i].key, v, &t);
		if (!filter_match(&f, &t, v))
			continue;
		n++;
		if (count)
			continue;
		expires = p.cfg.hz ? ((__s64)ctaccel_ct_expires(v->ct) - (__s64)now) / p.cfg.hz : 0;
		if (expires < 0)
			expires = 0;
		if (cli.json) {
			flow_json_write(stdout, &t, v, expires, n == 1);
		} else {
			char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

			inet_ntop(t.family, t.src, src, sizeof(src));
			inet_ntop(t.family, t.dst, dst, sizeof(dst));
			printf("%-4s %-11s %-39s %5u %-39s %5u %10llu %12llu %10llu %12llu "
			       "%7llds\n",
			       family_name(t.family), ctaccel_state_names[ctaccel_ct_state(v->ct)],
			       src, t.sport, dst, t.dport,
			       (unsigned long long)v->leg[CTACCEL_DIR_ORIG].packets,
			       (unsigned long long)v->leg[CTACCEL_DIR_ORIG].bytes,
			       (unsigned long long)v->leg[CTACCEL_DIR_REPLY].packets,
			       (unsigned long long)v->leg[CTACCEL_DIR_REPLY].bytes,
			       (long long)expires);
		}
	}
	if (count) {
		if (cli.json) {
			json_t *o = json_pack("{s:I}", "flows", (json_int_t)n);

			json_out(o);
			json_decref(o);
		} else {
			printf("%zu\n", n);
		}
	} else if (cli.json) {
		fputs(n && cli.pretty ? "\n]\n" : "]\n", stdout);
	}
	ret = 0;
cleanup:
	ctaccel_flow_list_free(&l);
	pinned_close(&p);
	return ret;
}

json_t *stats_json(const struct pinned *p)
{
	struct ctaccel_stats st;
	json_t *states, *counters;
	__s64 flows = 0;
	int i;

	if (ctaccel_stats_read(p->stats_fd, &st))
		return NULL;
	states = json_object();
	for (i = 1; i < CTACCEL_ST__MAX; i++) {
		flows += st.flows_in_state[i];
		json_object_set_new(states, ctaccel_state_names[i],
				    json_integer(st.flows_in_state[i]));
	}
	counters = json_object();
	for (i = 0; i < CTACCEL_CTR__MAX; i++)
		json_object_set_new(counters, ctaccel_counter_names[i],
				    json_integer((json_int_t)ctaccel_counter(&st, i)));
	return json_pack("{s:I,s:I,s:o,s:o}", "flows", (json_int_t)flows, "max_flows",
			 (json_int_t)p->max_flows, "states", states, "counters", counters);
}

int do_stats(int argc, char **argv)
{
	struct pinned p;
	json_t *o, *states, *counters;
	int i;

	if (argc && is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel stats\n");
		return 0;
	}
	if (argc) {
		pr_err("stats: unexpected '%s'", argv[0]);
		return EXIT_USAGE;
	}
	if (pinned_open(&p))
		return EXIT_RUNTIME;
	if (caps_keep_only(0)) {
		pr_err("stats: drop capabilities: %s", strerror(errno));
		pinned_close(&p);
		return EXIT_RUNTIME;
	}
	o = stats_json(&p);
	pinned_close(&p);
	if (!o) {
		pr_err("stats: read %s/%s: %s", cli.pin_path, PIN_STATS, strerror(errno));
		return EXIT_RUNTIME;
	}
	if (cli.json) {
		json_out(o);
		json_decref(o);
		return 0;
	}
	states = json_object_get(o, "states");
	counters = json_object_get(o, "counters");
	printf("flows %lld of %lld\n\n%-12s %12s\n",
	       (long long)json_integer_value(json_object_get(o, "flows")),
	       (long long)json_integer_value(json_object_get(o, "max_flows")), "STATE", "FLOWS");
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		printf("%-12s %12lld\n", ctaccel_state_names[i],
		       (long long)json_integer_value(
			       json_object_get(states, ctaccel_state_names[i])));
	printf("\n%-18s %16s\n", "COUNTER", "VALUE");
	for (i = 0; i < CTACCEL_CTR__MAX; i++)
		printf("%-18s %16llu\n", ctaccel_counter_names[i],
		       (unsigned long long)json_integer_value(
			       json_object_get(counters, ctaccel_counter_names[i])));
	json_decref(o);
	return 0;
}
