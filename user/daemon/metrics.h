/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* The daemon's /metrics page. */
#ifndef CTACCEL_METRICS_H
#define CTACCEL_METRICS_H

struct daemon;

/* Prometheus text format 0.0.4; NULL when out of memory. */
char *metrics_text(struct daemon *d);

#endif
