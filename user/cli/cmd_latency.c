// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * ctaccel latency [server ADDR [port PORT]]: handshake latency per server
 * endpoint as the node sees it (SYN to SYN-ACK, SYN-ACK to the client's ACK).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "cli.h"
#include "ctjson.h"

struct latency_filter {
	int family; /* 0: any server */
	uint32_t addr[4];
	int port; /* -1: any port */
};

static bool shown(const struct latency_filter *f, const struct ctaccel_latency_endpoint *e)
{
	size_t len = f->family == AF_INET ? 4 : 16;

	if (f->family && (e->family != f->family || memcmp(e->addr, f->addr, len)))
		return false;
	return f->port < 0 || e->port == f->port;
}

static void leg_text(const char *name, const struct ctaccel_latency_hist *h)
{
	printf("  %-7s %8llu  p50 %8.3f  p90 %8.3f  p99 %8.3f ms", name,
	       (unsigned long long)h->count, ctaccel_latency_quantile_ms(h, 0.5),
	       ctaccel_latency_quantile_ms(h, 0.9), ctaccel_latency_quantile_ms(h, 0.99));
	if (h->count)
		printf("  mean %.3f ms", h->sum_ns / 1e6 / h->count);
	printf("\n");
}

static void buckets_text(const struct ctaccel_latency_hist *h)
{
	int b;

	for (b = 0; b < CTACCEL_LAT_BUCKETS; b++)
		if (h->bucket[b])
			printf("    [%9.3f, %9.3f) ms %8llu\n", ctaccel_latency_bucket_lo_ms(b),
			       ctaccel_latency_bucket_hi_ms(b), (unsigned long long)h->bucket[b]);
}

static void endpoint_text(const struct ctaccel_latency_endpoint *e, bool buckets)
{
	char addr[INET6_ADDRSTRLEN] = "";

	inet_ntop(e->family, e->addr, addr, sizeof(addr));
	printf(e->family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr, e->port);
	printf("  (SYN retransmits %llu)\n", (unsigned long long)e->lat.syn_retransmits);
	leg_text("server", &e->lat.leg[CTACCEL_LEG_SERVER]);
	if (buckets)
		buckets_text(&e->lat.leg[CTACCEL_LEG_SERVER]);
	leg_text("client", &e->lat.leg[CTACCEL_LEG_CLIENT]);
	if (buckets)
		buckets_text(&e->lat.leg[CTACCEL_LEG_CLIENT]);
}

static int parse(struct cli *c, int argc, char **argv, struct latency_filter *f)
{
	uint32_t port;
	int i;

	memset(f, 0, sizeof(*f));
	f->port = -1;
	for (i = 0; i < argc; i++) {
		if (is_prefix(argv[i], "server") && i + 1 < argc && !f->family) {
			i++;
			if (inet_pton(AF_INET, argv[i], f->addr) == 1) {
				f->family = AF_INET;
			} else if (inet_pton(AF_INET6, argv[i], f->addr) == 1) {
				f->family = AF_INET6;
			} else {
				cli_err(c, "latency: '%s' is not an IPv4 or IPv6 address", argv[i]);
				return EXIT_USAGE;
			}
		} else if (is_prefix(argv[i], "port") && i + 1 < argc && f->port < 0) {
			if (ctaccel_parse_u32(argv[++i], &port) || port > 65535) {
				cli_err(c, "latency: port '%s' is not a number from 0 to 65535",
					argv[i]);
				return EXIT_USAGE;
			}
			f->port = port;
		} else {
			cli_err(c, "latency: unexpected '%s' (server ADDR, port PORT)", argv[i]);
			return EXIT_USAGE;
		}
	}
	return 0;
}

int do_latency(struct cli *c, int argc, char **argv)
{
	const struct ctaccel_latency_endpoint **pick;
	struct ctaccel_latency_report r;
	struct latency_filter f;
	size_t i, n = 0;
	int rc;

	rc = parse(c, argc, argv, &f);
	if (rc)
		return rc;
	if (ctaccel_open(c->h) || ctaccel_latency_read(c->h, &r))
		return EXIT_RUNTIME;
	pick = calloc(r.n ? r.n : 1, sizeof(*pick));
	if (!pick) {
		ctaccel_latency_free(&r);
		cli_err(c, "latency: out of memory");
		return EXIT_RUNTIME;
	}
	for (i = 0; i < r.n; i++)
		if (shown(&f, &r.endpoints[i]))
			pick[n++] = &r.endpoints[i];
	if (c->json) {
		cli_json(c, ctjson_latency(&r, pick, n));
	} else {
		printf("handshake latency at this node: server = SYN to SYN-ACK, client = SYN-ACK "
		       "to the client's ACK\n");
		printf("all endpoints  (SYN retransmits %llu)\n",
		       (unsigned long long)r.all.lat.syn_retransmits);
		leg_text("server", &r.all.lat.leg[CTACCEL_LEG_SERVER]);
		leg_text("client", &r.all.lat.leg[CTACCEL_LEG_CLIENT]);
		for (i = 0; i < n; i++)
			endpoint_text(pick[i], f.family != 0);
		if (!n && (f.family || f.port >= 0))
			printf("no handshake to that server seen\n");
	}
	free(pick);
	ctaccel_latency_free(&r);
	return 0;
}
