/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Invariants of a flow table and its stats, shared by the unit tests and the
 * packet fuzzer. Each returns 0, or -1 with the reason in `why`.
 */
#ifndef CTACCEL_TEST_INVARIANTS_H
#define CTACCEL_TEST_INVARIANTS_H

#include <stddef.h>
#include "ctaccel.h"

/* The summed per-state gauges equal a count of the table by state. */
int inv_gauges_match_table(int flows_fd, int stats_fd, size_t *entries, char *why, size_t len);

/* Present + removed = created, and the legs of present and removed flows add
 * up to the packets and bytes ever accounted. */
int inv_conservation(int flows_fd, int stats_fd, char *why, size_t len);

/* No counter of `now` is below the same counter of `before` (gauges aside). */
int inv_counters_monotonic(const struct ctaccel_stats *before, const struct ctaccel_stats *now,
			   char *why, size_t len);

#endif
