// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * /metrics: Prometheus text format 0.0.4. Names are ctaccel_<what>_<unit>,
 * counters end in _total, and no label carries a flow (cardinality).
 */
#include <errno.h>
#include <stdio.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include "daemon.h"
#include "http.h"
#include "metrics.h"

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void datapath(FILE *f, struct daemon *d)
{
	struct ctaccel_stats st;
	uint32_t max = ctaccel_max_flows(d->h);
	char name[128];
	int i;

	if (ctaccel_stats(d->h, &st))
		return;
	head(f, "ctaccel_flows", "gauge", "Tracked flows by TCP state");
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		fprintf(f, "ctaccel_flows{state=\"%s\"} %lld\n", ctaccel_state_names[i],
			(long long)st.flows_in_state[i]);
	head(f, "ctaccel_table_capacity_flows", "gauge", "Flow table capacity");
	fprintf(f, "ctaccel_table_capacity_flows %u\n", max);
	head(f, "ctaccel_table_fill_ratio", "gauge", "Flow table fill, 0 to 1");
	fprintf(f, "ctaccel_table_fill_ratio %g\n",
		max ? (double)ctaccel_stats_flows(&st) / max : 0.0);
	for (i = 0; i < CTACCEL_CTR__MAX; i++) {
		/* migrations by outcome, below */
		if (i == CTACCEL_CTR_migrations || i == CTACCEL_CTR_migrations_started ||
		    i == CTACCEL_CTR_migrate_ns)
			continue;
		snprintf(name, sizeof(name), "ctaccel_%s_total", ctaccel_counter_names[i]);
		head(f, name, "counter", ctaccel_counter_help[i]);
		fprintf(f, "%s %llu\n", name, (unsigned long long)ctaccel_counter(&st, i));
	}
	/* Begun and not completed: failed, or running at this moment. */
	head(f, "ctaccel_migrations_total", "counter",
	     "Migrations of the flow table (max-flows, unreplied-max) by outcome: completed, or "
	     "begun and not completed (failed, or running now)");
	fprintf(f, "ctaccel_migrations_total{outcome=\"completed\"} %llu\n",
		(unsigned long long)st.migrations);
	fprintf(f, "ctaccel_migrations_total{outcome=\"not_completed\"} %llu\n",
		(unsigned long long)(st.migrations_started > st.migrations
					     ? st.migrations_started - st.migrations
					     : 0));
	head(f, "ctaccel_migration_seconds_total", "counter",
	     "Time completed migrations took, from their start to their last pass");
	fprintf(f, "ctaccel_migration_seconds_total %.3f\n", st.migrate_ns / 1e9);
}

static void host_sockets(FILE *f, struct daemon *d)
{
	uint64_t host[CTACCEL_TCP_STATE_SLOTS] = {};
	int i, err = -ENOENT;

	if (d->sockiter) /* walks one at a time: its own lock */
		err = ctaccel_sockiter_states(d->sockiter, host);
	if (err)
		return;
	head(f, "ctaccel_host_sockets", "gauge",
	     "Host TCP sockets of the daemon's namespace by state");
	for (i = 1; i < CTACCEL_TCP_STATE_SLOTS; i++)
		if (ctaccel_tcp_state_names[i])
			fprintf(f, "ctaccel_host_sockets{state=\"%s\"} %llu\n",
				ctaccel_tcp_state_names[i], (unsigned long long)host[i]);
	head(f, "ctaccel_host_time_wait_sockets", "gauge", "Host TCP sockets in TIME_WAIT");
	fprintf(f, "ctaccel_host_time_wait_sockets %llu\n",
		(unsigned long long)host[TCP_TIME_WAIT]);
}

/* Handshake latency of all endpoints as Prometheus histograms (the
 * per-endpoint ones stay with `ctaccel latency`: no per-peer labels here). */
static void latency(FILE *f, struct daemon *d)
{
	static const char *const legs[CTACCEL_LEG__MAX] = {"server", "client"};
	struct ctaccel_latency l;
	uint64_t cum;
	int i, b;

	if (ctaccel_latency_total(d->h, &l))
		return;
	head(f, "ctaccel_handshake_seconds", "histogram",
	     "Handshake gaps at this node: leg server = SYN to SYN-ACK, client = SYN-ACK to the "
	     "client's ACK");
	for (i = 0; i < CTACCEL_LEG__MAX; i++) {
		cum = 0;
		for (b = 0; b < CTACCEL_LAT_BUCKETS - 1; b++) {
			cum += l.leg[i].bucket[b];
			fprintf(f, "ctaccel_handshake_seconds_bucket{leg=\"%s\",le=\"%g\"} %llu\n",
				legs[i], ctaccel_latency_bucket_hi_ms(b) / 1000,
				(unsigned long long)cum);
		}
		fprintf(f, "ctaccel_handshake_seconds_bucket{leg=\"%s\",le=\"+Inf\"} %llu\n",
			legs[i], (unsigned long long)l.leg[i].count);
		fprintf(f, "ctaccel_handshake_seconds_sum{leg=\"%s\"} %.9f\n", legs[i],
			l.leg[i].sum_ns / 1e9);
		fprintf(f, "ctaccel_handshake_seconds_count{leg=\"%s\"} %llu\n", legs[i],
			(unsigned long long)l.leg[i].count);
	}
	head(f, "ctaccel_handshake_syn_retransmits_total", "counter",
	     "SYNs sent again before an answer, all endpoints");
	fprintf(f, "ctaccel_handshake_syn_retransmits_total %llu\n",
		(unsigned long long)l.syn_retransmits);
}

/* The kernel's expiry, as its last pass left it (no lock: one map read). */
static void kernel_features(FILE *f, struct daemon *d)
{
	uint32_t in_use = ctaccel_features_in_use(d->h);
	int i;

	head(f, "ctaccel_kernel_feature", "gauge",
	     "The path each kernel feature took: 1 for the path in use (docs/kernels.md)");
	for (i = 0; i < CTACCEL_FEAT__MAX; i++)
		fprintf(f, "ctaccel_kernel_feature{feature=\"%s\",path=\"%s\"} 1\n",
			ctaccel_features[i].name, ctaccel_feature_path(in_use, i));
}

static void expiry(FILE *f, struct daemon *d)
{
	struct ctaccel_expiry_status x;
	if (ctaccel_expiry_status(d->h, &x))
		return;
	head(f, "ctaccel_expiry_running", "gauge",
	     "1 while kernel expiry checks come on time (within the pause the last one set)");
	fprintf(f, "ctaccel_expiry_running %d\n", x.running);
	head(f, "ctaccel_expiry_checks_total", "counter",
	     "Kernel expiry checks (a walk over the table only when an entry may be due)");
	fprintf(f, "ctaccel_expiry_checks_total %llu\n", (unsigned long long)x.checks);
	head(f, "ctaccel_expiry_since_last_check_seconds", "gauge", "Since the last check");
	fprintf(f, "ctaccel_expiry_since_last_check_seconds %.3f\n", x.since_check_s);
	head(f, "ctaccel_expiry_passes_total", "counter", "Kernel expiry walks over the table");
	fprintf(f, "ctaccel_expiry_passes_total %llu\n", (unsigned long long)x.passes);
	head(f, "ctaccel_expiry_removed_flows_total", "counter",
	     "Expired flows removed by kernel expiry passes");
	fprintf(f, "ctaccel_expiry_removed_flows_total %llu\n", (unsigned long long)x.removed);
	head(f, "ctaccel_expiry_busy_seconds_total", "counter", "Time kernel expiry passes took");
	fprintf(f, "ctaccel_expiry_busy_seconds_total %.9f\n", x.busy_s);
	head(f, "ctaccel_expiry_last_pass_seconds", "gauge", "Time the last pass took");
	fprintf(f, "ctaccel_expiry_last_pass_seconds %.9f\n", x.last_pass_s);
	head(f, "ctaccel_expiry_last_pass_flows", "gauge", "Flows the last pass examined");
	fprintf(f, "ctaccel_expiry_last_pass_flows %llu\n",
		(unsigned long long)x.last_pass_examined);
	head(f, "ctaccel_expiry_since_last_pass_seconds", "gauge", "Since the last walk ended");
	fprintf(f, "ctaccel_expiry_since_last_pass_seconds %.3f\n", x.since_pass_s);
	head(f, "ctaccel_expiry_pause_seconds", "gauge",
	     "Pause the last pass set before the next (longer for a larger table)");
	fprintf(f, "ctaccel_expiry_pause_seconds %.3f\n", x.pause_s);
}

/* Read without the daemon's mutex (a reload may hold it for seconds): each
 * figure is changed atomically. */
#define LOAD(x) ((unsigned long long)__atomic_load_n(&(x), __ATOMIC_RELAXED))

static void gc_and_repairs(FILE *f, struct daemon *d)
{
	double last, total;
	int i;

	__atomic_load(&d->gc_last_seconds, &last, __ATOMIC_RELAXED);
	__atomic_load(&d->gc_seconds_total, &total, __ATOMIC_RELAXED);
	head(f, "ctaccel_expiry_stalls_total", "counter",
	     "Times the daemon found kernel expiry not running (and started it again)");
	fprintf(f, "ctaccel_expiry_stalls_total %llu\n", LOAD(d->expiry_stalls));
	head(f, "ctaccel_gc_runs_total", "counter", "Passes forced through POST /v1/gc");
	fprintf(f, "ctaccel_gc_runs_total %llu\n", LOAD(d->gc_runs));
	head(f, "ctaccel_gc_deleted_flows_total", "counter", "Flows removed by forced passes");
	fprintf(f, "ctaccel_gc_deleted_flows_total %llu\n", LOAD(d->gc_deleted));
	head(f, "ctaccel_gc_errors_total", "counter", "Forced passes that failed");
	fprintf(f, "ctaccel_gc_errors_total %llu\n", LOAD(d->gc_errors));
	head(f, "ctaccel_gc_duration_seconds_total", "counter", "Time forced passes took");
	fprintf(f, "ctaccel_gc_duration_seconds_total %g\n", total);
	head(f, "ctaccel_gc_last_duration_seconds", "gauge", "Duration of the last forced pass");
	fprintf(f, "ctaccel_gc_last_duration_seconds %g\n", last);
	head(f, "ctaccel_repairs_total", "counter",
	     "Things put right that changed behind the daemon's back");
	for (i = 0; i < REPAIR__MAX; i++)
		fprintf(f, "ctaccel_repairs_total{what=\"%s\"} %llu\n", daemon_repair_names[i],
			LOAD(d->repairs[i]));
	head(f, "ctaccel_repair_errors_total", "counter", "Repairs that failed");
	fprintf(f, "ctaccel_repair_errors_total %llu\n", LOAD(d->repair_errors));
}

static void http_requests(FILE *f, struct daemon *d)
{
	struct http_counters c;
	size_t i;

	http_server_counters(d->http, &c);
	{
		const struct {
			const char *outcome;
			uint64_t n;
		} rows[] = {
			{"served", c.served},	      {"rate_limited", c.rate_limited},
			{"too_large", c.too_large},   {"not_found", c.not_found},
			{"forbidden", c.forbidden},   {"misdirected", c.misdirected},
			{"wrong_type", c.wrong_type}, {"timed_out", c.timed_out},
		};

		head(f, "ctaccel_http_requests_total", "counter",
		     "Control API and metrics requests, by outcome");
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			fprintf(f, "ctaccel_http_requests_total{outcome=\"%s\"} %llu\n",
				rows[i].outcome, (unsigned long long)rows[i].n);
	}
	head(f, "ctaccel_http_slow_connections_closed_total", "counter",
	     "Connections closed because a request took longer than its deadline");
	fprintf(f, "ctaccel_http_slow_connections_closed_total %llu\n",
		(unsigned long long)c.slow_closed);
}

char *metrics_text(struct daemon *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	head(f, "ctaccel_build_info", "gauge", "ctaccel version, always 1");
	fprintf(f, "ctaccel_build_info{version=\"%s\",abi=\"%d\"} 1\n", CTACCEL_VERSION,
		CTACCEL_ABI_VERSION);
	kernel_features(f, d);
	datapath(f, d);
	host_sockets(f, d);
	expiry(f, d);
	latency(f, d);
	gc_and_repairs(f, d);
	http_requests(f, d);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
