/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* State the daemon's main loop shares with its HTTP thread. */
#ifndef CTACCEL_DAEMON_H
#define CTACCEL_DAEMON_H

#include <pthread.h>
#include <sys/socket.h>
#include "cli.h"
#include "flowtab.h"

enum daemon_repair {
	REPAIR_POLICY,
	REPAIR_NFT,
	REPAIR_DEVICE,
	REPAIR_IFACE,
	REPAIR__MAX,
};

struct daemon_state {
	struct pinned pins;   /* opened once; reads need no lock */
	pthread_mutex_t lock; /* changes: GC, policy, reload */
	char **devices;	      /* configured devices (for /readyz) */
	int ndev;
	uint64_t gc_runs;
	uint64_t gc_deleted;
	uint64_t gc_errors;
	double gc_last_seconds;
	double gc_seconds_total;
	uint64_t repairs[REPAIR__MAX];
	uint64_t repair_errors;
};

extern struct daemon_state d;

int daemon_gc(struct ctaccel_gc_result *res);

/* 0 when a configuration's text is good, else its first bad line (> 0). */
int daemon_conf_check(const char *text, char *err, size_t errlen);

/* ADDR:PORT, [ADDR6]:PORT or unix:PATH (a 0600 socket). */
int http_listen_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len);
/* `control`, when set, is the only listener that serves the endpoints that
 * change state (PUT /v1/policy, POST /v1/gc); `listen` then answers 403. */
int http_start(const char *listen, const char *control, unsigned int rate);

/* Requests by outcome; added to atomically by the HTTP thread. */
struct http_counters {
	uint64_t served;
	uint64_t rate_limited;
	uint64_t too_large; /* also counted as served: the reply is a 413 */
	uint64_t not_found;
	uint64_t forbidden; /* a change asked of the listener without control */
};
extern struct http_counters http_counters;
void http_stop(void);

/* {"rules": [{"prefix": "all"|PREFIX, "port": PORT}, ...]}: the body of
 * PUT /v1/policy, into *out (free()d by the caller). */
int http_policy_parse(const char *text, struct rule_set **out, size_t *n, char *err, size_t errlen);

/* The handler for a path and method; else NULL with the HTTP status for the
 * error reply (404 or 405) in *status. */
struct http_endpoint;
const struct http_endpoint *http_endpoint_find(const char *url, const char *method,
					       unsigned int *status);

#endif
