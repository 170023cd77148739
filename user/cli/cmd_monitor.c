// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * ctaccel monitor [count N] [state STATE] [addr ADDR] [port PORT] [proto P]: flow
 * events as they happen, like conntrack -E. Events the ring had no room for
 * are reported as they are found (a LOST line with the total since start).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "ctjson.h"

struct mon {
	struct cli *c;
	struct flow_filter filter;
	long count, seen; /* count 0: until a signal */
};

static volatile sig_atomic_t mon_stop;

static void on_signal(int sig)
{
	(void)sig;
	mon_stop = 1;
}

static int print_event(const struct ctaccel_event_view *ev, void *ctx)
{
	struct mon *m = ctx;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	double t = ev->time;

	/* the rest of a batch after count: read, not shown */
	if ((m->count && m->seen >= m->count) ||
	    !cli_filter_match(&m->filter, &ev->tuple, ev->state))
		return 0;
	if (m->c->json) {
		cli_json(m->c, ctjson_event(ev, t));
	} else {
		inet_ntop(ev->tuple.family, ev->tuple.src, src, sizeof(src));
		inet_ntop(ev->tuple.family, ev->tuple.dst, dst, sizeof(dst));
		printf("%.3f [%s] %s %s src=%s dst=%s sport=%u dport=%u packets=%llu bytes=%llu "
		       "packets=%llu bytes=%llu%s%s\n",
		       t, ctaccel_event_names[ev->type] ? ctaccel_event_names[ev->type] : "?",
		       ctaccel_proto_name(ev->tuple.proto), ctaccel_state_names[ev->state], src,
		       dst, ev->tuple.sport, ev->tuple.dport, (unsigned long long)ev->orig_packets,
		       (unsigned long long)ev->orig_bytes, (unsigned long long)ev->reply_packets,
		       (unsigned long long)ev->reply_bytes,
		       ev->type == CTACCEL_EV_DESTROY ? " reason=" : "",
		       ev->type == CTACCEL_EV_DESTROY && ctaccel_destroy_reason_names[ev->reason]
			       ? ctaccel_destroy_reason_names[ev->reason]
			       : "");
	}
	fflush(stdout);
	m->seen++;
	return 0;
}

static int lost_since(struct cli *c, uint64_t base, uint64_t *lost)
{
	struct ctaccel_stats st;
	int err = ctaccel_stats(c->h, &st);

	if (!err)
		*lost = st.events_lost - base;
	return err;
}

static void report_lost(struct cli *c, uint64_t lost)
{
	if (c->json)
		cli_json(c, ctjson_events_lost(lost));
	else
		printf("[LOST] %llu events since the monitor started (the ring was full)\n",
		       (unsigned long long)lost);
	fflush(stdout);
}

static int mon_args(struct cli *c, int argc, char **argv, struct mon *m)
{
	char *end;

	if (argc >= 2 && is_prefix(argv[0], "count")) {
		m->count = strtol(argv[1], &end, 10);
		if (*end || m->count < 1 || m->count > 100000000) {
			cli_err(c, "monitor: count '%s' is not a number from 1 to 100000000",
				argv[1]);
			return EXIT_USAGE;
		}
		argc -= 2;
		argv += 2;
	}
	return cli_flow_filter(c, "monitor", argc, argv, &m->filter) ? EXIT_USAGE : 0;
}

static int mon_loop(struct cli *c, struct mon *m, struct ctaccel_monitor_h *mh, uint64_t base)
{
	uint64_t lost = 0, reported = 0;
	int n = 0;

	while (!mon_stop && n >= 0 && !(m->count && m->seen >= m->count)) {
		n = ctaccel_monitor_poll(mh, 200);
		if (!lost_since(c, base, &lost) && lost > reported) {
			report_lost(c, lost);
			reported = lost;
		}
	}
	return n < 0 ? EXIT_RUNTIME : 0;
}

int do_monitor(struct cli *c, int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct ctaccel_monitor_h *mh = NULL;
	struct mon m = {.c = c};
	struct ctaccel_stats st;
	int rc;

	rc = mon_args(c, argc, argv, &m);
	if (rc)
		return rc;
	if (cli_open(c, false) || ctaccel_stats(c->h, &st))
		return EXIT_RUNTIME;
	/* No SA_RESTART: a signal ends the wait at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (ctaccel_monitor_new(c->h, print_event, &m, &mh))
		return EXIT_RUNTIME;
	rc = mon_loop(c, &m, mh, st.events_lost);
	ctaccel_monitor_free(mh);
	return rc;
}
