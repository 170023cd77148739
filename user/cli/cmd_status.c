// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* What is loaded and how it is doing: status and stats. */
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "ctjson.h"

static int status_not_loaded(struct cli *c)
{
	struct ctaccel_name *orphans;
	size_t n, i;

	if (ctaccel_orphans(&orphans, &n)) {
		orphans = NULL;
		n = 0;
	}
	if (c->json) {
		cli_json(c, ctjson_not_loaded(ctaccel_pin_root(c->h), orphans, n));
	} else {
		printf("ctaccel %s: not loaded (%s)\n", CTACCEL_VERSION, ctaccel_pin_root(c->h));
		for (i = 0; i < n; i++)
			printf("device %s still runs ctaccel's programs, with no pinned state: "
			       "'ctaccel detach %s' removes them\n",
			       orphans[i].name, orphans[i].name);
	}
	free(orphans);
	return 0;
}

static void status_text(const struct ctaccel_status *s, const char *root)
{
	size_t i;

	printf("ctaccel %s, pinned in %s\n", CTACCEL_VERSION, root);
	printf("flows       %lld of %u (%.1f%%), at most %u without a reply\n", (long long)s->flows,
	       s->max_flows, 100.0 * s->fill, s->unreplied_max);
	printf("programs   ");
	for (i = 0; i < CTACCEL_PROG__MAX; i++)
		printf("%s %s %u", i ? "," : "", ctaccel_prog_names[i], s->prog_id[i]);
	printf("\ndevices    ");
	if (!s->ndevices)
		printf(" none");
	for (i = 0; i < s->ndevices; i++)
		printf(" %s(%s%s %s)", s->devices[i].name[0] ? s->devices[i].name : "?",
		       s->devices[i].hooks & CTACCEL_HOOK_INGRESS ? "in" : "-",
		       s->devices[i].hooks & CTACCEL_HOOK_EGRESS ? ",eg" : ",-",
		       s->devices[i].tcx ? "tcx" : "clsact");
	printf("\nbypass      mark 0x%08x/0x%08x, %u policy rules, nft table inet ctaccel %s, "
	       "sock_ops %s, UDP socket hooks %s",
	       s->mark, s->mark_mask, s->policy_rules, s->nft_table ? "present" : "absent",
	       s->sockops ? "attached" : "absent", s->udp_hooks ? "attached" : "absent");
	printf("\nlocal       %s",
	       s->local ? "tracked (tc egress, sock_ops, socket tracepoint)"
			: "not tracked (load local off: a forwarding gateway, ingress only)");
	printf("\nexpiry      %s", s->expiry.running   ? "kernel, running"
				   : s->expiry.stopped ? "kernel, STOPPED"
						       : "kernel, NOT running");
	printf(": last check %.1f s ago", s->expiry.since_check_s);
	if (s->expiry.passes)
		printf("; last walk %.1f s ago took %.1f ms over %llu flows, removed %llu; %llu "
		       "walks, %llu removed",
		       s->expiry.since_pass_s, s->expiry.last_pass_s * 1e3,
		       (unsigned long long)s->expiry.last_pass_examined,
		       (unsigned long long)s->expiry.last_pass_removed,
		       (unsigned long long)s->expiry.passes, (unsigned long long)s->expiry.removed);
	printf("\nkernel      %s:", s->kernel);
	for (i = 0; i < CTACCEL_FEAT__MAX; i++)
		printf("%s %s %s%s%s%s", i ? "," : "", ctaccel_features[i].name,
		       ctaccel_feature_path(s->features, i),
		       s->features & 1U << i ? "" : " (without ",
		       s->features & 1U << i ? "" : ctaccel_features[i].needs,
		       s->features & 1U << i ? "" : ")");
	printf("\ntimeouts   ");
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		printf(" %s %llus", ctaccel_state_names[i], (unsigned long long)s->timeout_s[i]);
	printf("\n");
	for (i = 0; i < s->nproblems; i++)
		printf("problem     %s\n", s->problems[i]);
}

int do_status(struct cli *c, int argc, char **argv)
{
	struct ctaccel_status s;

	if (argc) {
		cli_err(c, "status: unexpected '%s'", argv[0]);
		return EXIT_USAGE;
	}
	if (!ctaccel_is_loaded(c->h))
		return status_not_loaded(c);
	if (ctaccel_open(c->h) || ctaccel_status_read(c->h, &s))
		return EXIT_RUNTIME;
	if (c->json)
		cli_json(c, ctjson_status(&s, ctaccel_pin_root(c->h)));
	else
		status_text(&s, ctaccel_pin_root(c->h));
	ctaccel_status_free(&s);
	return 0;
}

int do_stats(struct cli *c, int argc, char **argv)
{
	struct ctaccel_stats st;
	int i;

	if (argc) {
		cli_err(c, "stats: unexpected '%s'", argv[0]);
		return EXIT_USAGE;
	}
	if (cli_open(c, true) || ctaccel_stats(c->h, &st))
		return EXIT_RUNTIME;
	if (c->json) {
		cli_json(c, ctjson_stats(&st, ctaccel_max_flows(c->h)));
		return 0;
	}
	printf("flows %lld of %u\n\n%-12s %12s\n", (long long)ctaccel_stats_flows(&st),
	       ctaccel_max_flows(c->h), "STATE", "FLOWS");
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		printf("%-12s %12lld\n", ctaccel_state_names[i], (long long)st.flows_in_state[i]);
	printf("\n%-18s %16s\n", "COUNTER", "VALUE");
	for (i = 0; i < CTACCEL_CTR__MAX; i++)
		printf("%-18s %16llu\n", ctaccel_counter_names[i],
		       (unsigned long long)ctaccel_counter(&st, i));
	return 0;
}
