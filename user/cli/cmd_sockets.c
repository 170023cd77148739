// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Host TCP sockets of the namespace the command runs in: `ctaccel sockets`
 * (counts per state, transitions since load) and `ctaccel tw` (TIME_WAIT by
 * local port and by remote endpoint).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include "cli.h"
#include "ctjson.h"

int do_sockets(struct cli *c, int argc, char **argv)
{
	struct ctaccel_sk_transitions t;
	struct ctaccel_sk_summary s;
	struct ctaccel_host_sockets hs;
	bool have_t;
	int i;

	if (argc) {
		cli_err(c, "sockets: unexpected '%s'", argv[0]);
		return EXIT_USAGE;
	}
	if (ctaccel_host_sockets(c->h, &hs))
		return EXIT_RUNTIME;
	have_t = ctaccel_sk_transitions(c->h, &t) == 0;
	if (c->json) {
		cli_json(c, ctjson_sockets(&hs, have_t ? &t : NULL));
		return 0;
	}
	printf("%-15s %10s\n", "STATE", "SOCKETS");
	for (i = 1; i < CTACCEL_TCP_STATE_SLOTS; i++)
		if (ctaccel_tcp_state_names[i])
			printf("%-15s %10llu\n", ctaccel_tcp_state_names[i],
			       (unsigned long long)hs.states[i]);
	if (have_t) {
		ctaccel_sk_summarise(&t, &s);
		printf("\nsince load: opened %llu active, %llu passive; closed by FIN %llu; reset "
		       "or aborted %llu; entered TIME_WAIT %llu\n",
		       (unsigned long long)s.opened_active, (unsigned long long)s.opened_passive,
		       (unsigned long long)s.closed_by_fin, (unsigned long long)s.reset_or_aborted,
		       (unsigned long long)s.time_wait_entered);
	}
	return 0;
}

static void tw_text(const struct ctaccel_tw_report *r, unsigned int top, uint32_t threshold)
{
	char addr[INET6_ADDRSTRLEN];
	size_t i;

	printf("TIME_WAIT %llu (ephemeral ports %u-%u)\n\n%-10s %10s\n",
	       (unsigned long long)r->time_wait, r->port_lo, r->port_hi, "LOCAL_PORT", "TIME_WAIT");
	for (i = 0; i < r->nports && i < top; i++)
		printf("%-10u %10u\n", r->ports[i].port, r->ports[i].count);
	printf("\n%-39s %5s %10s %7s\n", "REMOTE", "PORT", "TIME_WAIT", "RANGE");
	for (i = 0; i < r->npeers && i < top; i++) {
		const struct ctaccel_tw_peer *p = &r->peers[i];

		inet_ntop(p->key.family, p->key.addr, addr, sizeof(addr));
		printf("%-39s %5u %10u %6.1f%%%s\n", addr, p->key.port, p->count, p->share * 100,
		       p->share * 100 > threshold ? "  near port exhaustion" : "");
	}
}

int do_tw(struct cli *c, int argc, char **argv)
{
	struct ctaccel_tw_report r;
	uint32_t v, top = 10, threshold = 50;
	int i;

	for (i = 0; i < argc; i++) {
		if (is_prefix(argv[i], "top") && i + 1 < argc) {
			if (ctaccel_parse_u32(argv[++i], &v) || v < 1 || v > 65536) {
				cli_err(c, "tw: top '%s' is not a number from 1 to 65536", argv[i]);
				return EXIT_USAGE;
			}
			top = v;
		} else if (is_prefix(argv[i], "threshold") && i + 1 < argc) {
			if (ctaccel_parse_u32(argv[++i], &threshold) || threshold > 100) {
				cli_err(c, "tw: threshold '%s' is not a percentage", argv[i]);
				return EXIT_USAGE;
			}
		} else {
			cli_err(c, "tw: unexpected '%s'", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (ctaccel_tw_read(c->h, &r))
		return EXIT_RUNTIME;
	if (c->json)
		cli_json(c, ctjson_tw(&r, top, threshold));
	else
		tw_text(&r, top, threshold);
	ctaccel_tw_free(&r);
	return 0;
}
