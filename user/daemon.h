/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* State the daemon's main loop shares with its HTTP thread. */
#ifndef CTACCEL_DAEMON_H
#define CTACCEL_DAEMON_H

#include <pthread.h>
#include "cli.h"
#include "flowtab.h"

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
};

extern struct daemon_state d;

int daemon_gc(struct ctaccel_gc_result *res);

/* ADDR:PORT, [ADDR6]:PORT or unix:PATH (a 0600 socket). */
int http_start(const char *listen);
void http_stop(void);

#endif
