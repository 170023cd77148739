// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* ctaccel flow: the flow table, read batch by batch and written as it comes. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "cli.h"

static const char *family_name(int family)
{
	return family == AF_INET ? "ipv4" : "ipv6";
}

/*
 * Output for a million flows: a buffer filled by hand and written in large
 * pieces. fprintf cost more than the batch read itself; the values are
 * addresses, numbers and state names, none of which needs JSON escaping.
 */
struct outbuf {
	size_t len;
	char buf[1 << 16];
};

static void ob_flush(struct outbuf *o)
{
	fwrite(o->buf, 1, o->len, stdout);
	o->len = 0;
}

/* Room for one flow's line or object, whatever its values. */
#define OB_FLOW_MAX 1024

static void ob_str(struct outbuf *o, const char *s)
{
	size_t n = strlen(s);

	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void ob_u64(struct outbuf *o, unsigned long long v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = '0' + v % 10;
	while (v /= 10);
	while (n)
		o->buf[o->len++] = tmp[--n];
}

static void ob_addr(struct outbuf *o, int family, const __u32 *addr)
{
	if (family == AF_INET) {
		const __u8 *b = (const __u8 *)addr;
		int i;

		for (i = 0; i < 4; i++) {
			if (i)
				o->buf[o->len++] = '.';
			ob_u64(o, b[i]);
		}
		return;
	}
	inet_ntop(family, addr, o->buf + o->len, INET6_ADDRSTRLEN);
	o->len += strlen(o->buf + o->len);
}

/* A field's name, after the separator unless it is the object's first. */
static void ob_key(struct outbuf *o, const char *sep, const char *name)
{
	ob_str(o, sep);
	ob_str(o, "\"");
	ob_str(o, name);
	ob_str(o, "\":");
}

static void ob_quoted(struct outbuf *o, const char *s)
{
	ob_str(o, "\"");
	ob_str(o, s);
	ob_str(o, "\"");
}

static void ob_quoted_addr(struct outbuf *o, int family, const __u32 *addr)
{
	ob_str(o, "\"");
	ob_addr(o, family, addr);
	ob_str(o, "\"");
}

static void ob_bool(struct outbuf *o, bool v)
{
	ob_str(o, v ? "true" : "false");
}

/* One flow as a JSON object. */
static void flow_json_write(struct outbuf *o, bool pretty, const struct ctaccel_flow_view *v,
			    bool first)
{
	const struct ctaccel_tuple *t = &v->tuple;
	const char *sep = pretty ? ",\n    " : ",";
	const struct {
		const char *name;
		unsigned long long value;
	} legs[] = {
		{"orig_packets", v->orig_packets},
		{"orig_bytes", v->orig_bytes},
		{"reply_packets", v->reply_packets},
		{"reply_bytes", v->reply_bytes},
	};
	size_t i;

	ob_str(o, first ? "" : ",");
	ob_str(o, pretty ? "\n  {\n    " : "{");
	ob_key(o, "", "family");
	ob_quoted(o, family_name(t->family));
	ob_key(o, sep, "proto");
	ob_quoted(o, ctaccel_proto_name(t->proto));
	ob_key(o, sep, "src");
	ob_quoted_addr(o, t->family, t->src);
	ob_key(o, sep, "sport");
	ob_u64(o, t->sport);
	ob_key(o, sep, "dst");
	ob_quoted_addr(o, t->family, t->dst);
	ob_key(o, sep, "dport");
	ob_u64(o, t->dport);
	ob_key(o, sep, "state");
	ob_quoted(o, ctaccel_state_names[v->state % CTACCEL_ST__MAX]);
	for (i = 0; i < sizeof(legs) / sizeof(legs[0]); i++) {
		ob_key(o, sep, legs[i].name);
		ob_u64(o, legs[i].value);
	}
	ob_key(o, sep, "bypass");
	ob_bool(o, v->bypass);
	ob_key(o, sep, "expires_s");
	ob_u64(o, v->expires_s);
	ob_key(o, sep, "assured");
	ob_bool(o, v->assured);
	ob_key(o, sep, "seen_reply");
	ob_bool(o, v->seen_reply);
	ob_key(o, sep, "icmp_errors");
	ob_u64(o, v->icmp_errors);
	ob_str(o, pretty ? "\n  }" : "}");
}

static void flow_text_write(struct outbuf *o, const struct ctaccel_flow_view *v)
{
	const struct ctaccel_tuple *t = &v->tuple;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	inet_ntop(t->family, t->src, src, sizeof(src));
	inet_ntop(t->family, t->dst, dst, sizeof(dst));
	o->len += snprintf(o->buf + o->len, OB_FLOW_MAX,
			   "%-4s %-11s %-39s %5u %-39s %5u %10llu %12llu %10llu %12llu %7llds %s\n",
			   family_name(t->family), ctaccel_state_names[v->state % CTACCEL_ST__MAX],
			   src, t->sport, dst, t->dport, (unsigned long long)v->orig_packets,
			   (unsigned long long)v->orig_bytes, (unsigned long long)v->reply_packets,
			   (unsigned long long)v->reply_bytes, (long long)v->expires_s,
			   ctaccel_proto_name(t->proto));
}

struct flow_walk {
	const struct cli *c;
	const struct flow_filter *filter;
	bool count;
	size_t n;
	struct outbuf *out;
};

/* One batch of the table: counted, or written as it comes. */
static int flow_batch(const struct ctaccel_flow_view *views, size_t n, void *ctx)
{
	struct flow_walk *w = ctx;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct ctaccel_flow_view *v = &views[i];

		if (!cli_filter_match(w->filter, &v->tuple, v->state))
			continue;
		w->n++;
		if (w->count)
			continue;
		if (w->out->len + OB_FLOW_MAX > sizeof(w->out->buf))
			ob_flush(w->out);
		if (w->c->json)
			flow_json_write(w->out, w->c->pretty, v, w->n == 1);
		else
			flow_text_write(w->out, v);
	}
	return 0;
}

int do_flow(struct cli *c, int argc, char **argv)
{
	struct flow_filter f;
	struct flow_walk w = {.c = c, .filter = &f};
	int err, ret = EXIT_RUNTIME;

	if (argc && is_prefix(argv[0], "count")) {
		w.count = true;
		argc--;
		argv++;
	} else if (argc && is_prefix(argv[0], "show")) {
		argc--;
		argv++;
	}
	if (cli_flow_filter(c, "flow", argc, argv, &f))
		return EXIT_USAGE;
	if (cli_open(c, true))
		return EXIT_RUNTIME;
	w.out = calloc(1, sizeof(*w.out));
	if (!w.out)
		return cli_fail(c, EXIT_RUNTIME, "flow: %s", strerror(ENOMEM));
	if (!w.count && c->json)
		ob_str(w.out, "[");
	else if (!w.count)
		w.out->len +=
			snprintf(w.out->buf, OB_FLOW_MAX,
				 "%-4s %-11s %-39s %5s %-39s %5s %10s %12s %10s %12s %8s %s\n",
				 "FAM", "STATE", "SRC", "SPORT", "DST", "DPORT", "ORIG_PKTS",
				 "ORIG_BYTES", "REPL_PKTS", "REPL_BYTES", "EXPIRES", "PROTO");
	/* Streamed: a batch is written before the next is read, so memory stays
	 * one batch whatever the table's size. */
	err = ctaccel_flows_foreach(c->h, flow_batch, &w);
	if (err) {
		/* What was written stays unterminated: a reader sees it is cut
		 * (nothing, when the walk failed before its first flow). */
		if (w.n)
			ob_flush(w.out);
		goto cleanup;
	}
	if (w.count) {
		if (c->json)
			cli_json(c, json_pack("{s:I}", "flows", (json_int_t)w.n));
		else
			printf("%zu\n", w.n);
	} else if (c->json) {
		ob_str(w.out, w.n && c->pretty ? "\n]\n" : "]\n");
	}
	ob_flush(w.out);
	ret = 0;
cleanup:
	free(w.out);
	return ret;
}
