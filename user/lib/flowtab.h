/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * libctaccel's raw readers of the maps, on descriptors: per-CPU sums, batch
 * reads of the flow table, the compare-and-delete path, the datapath's clock
 * (jiffies) and the load-time configuration in the kernel's units. Not part
 * of the public API (libctaccel.h speaks seconds and counts through the
 * handle); the library's own files and its unit tests and benchmarks, which
 * drive the programs directly, use them.
 */
#ifndef CTACCEL_FLOWTAB_H
#define CTACCEL_FLOWTAB_H

#include <stddef.h>
#include <stdint.h>
#include "libctaccel.h"

extern const unsigned int ctaccel_state_default_timeout[CTACCEL_ST__MAX];

/* Sum the per-CPU stats over every possible CPU. */
int ctaccel_stats_read(int stats_fd, struct ctaccel_stats *sum);

struct ctaccel_flow_entry {
	struct ctaccel_flow_key key;
	struct ctaccel_flow val;
};

struct ctaccel_flow_list {
	struct ctaccel_flow_entry *e;
	size_t n;
	size_t cap;
};

/*
 * Read the whole flow table with bpf_map_lookup_batch. Each entry is read
 * atomically with respect to map updates of that entry, but the table as a
 * whole is not a snapshot: flows created or removed during the read may or
 * may not appear, and no flow appears twice.
 */
int ctaccel_flows_read(int flows_fd, struct ctaccel_flow_list *out);

/* The table batch by batch (batch lookups of CTACCEL_WALK_CHUNK entries, more
 * when one hash bucket holds more): fn sees each batch once, and a non-zero
 * return stops the walk with that value. Entries removed from a batch fn has
 * seen do not disturb the walk. */
#define CTACCEL_WALK_CHUNK 4096
typedef int (*ctaccel_flows_raw_fn)(const struct ctaccel_flow_key *keys,
				    const struct ctaccel_flow *vals, __u32 n, void *ctx);
int ctaccel_flows_walk(int flows_fd, ctaccel_flows_raw_fn fn, void *ctx);
void ctaccel_flow_list_free(struct ctaccel_flow_list *l);

/* The flow's original tuple (originator first), as conntrack prints it. */
void ctaccel_flow_tuple(const struct ctaccel_flow_key *k, const struct ctaccel_flow *f,
			struct ctaccel_tuple *t);

/*
 * Run compare-and-delete for n requests (in batches of CTACCEL_DEL_BATCH_MAX)
 * through the ctaccel_delete program. Adds to *deleted / *skipped.
 */
int ctaccel_delete_flows(int del_prog_fd, const struct ctaccel_del_req *reqs, size_t n,
			 unsigned int flags, size_t *deleted, size_t *skipped);

/* The kernel's HZ: the tick is CLOCK_MONOTONIC_COARSE's resolution. */
unsigned int ctaccel_kernel_hz(void);

/* The configuration at `hz`. */
void ctaccel_config_default(struct ctaccel_config *cfg, unsigned int hz);
/* nf_conntrack's timeouts at `hz`, the generation a load starts with, the
 * default bypass mark. */
void ctaccel_live_default(struct ctaccel_live *t, unsigned int hz);

/* The datapath's clock (jiffies), read through the ctaccel_clock program. */
int ctaccel_clock_now(int clock_prog_fd, uint64_t *jiffies);

/* A whole kernel expiry pass, run by the ctaccel_expire program. */
int ctaccel_expire_pass(int expire_prog_fd, struct ctaccel_gc_result *res);

/* One expiry pass from userspace: read the table, compare-and-delete what
 * has expired (the delete program; tests and benchmarks compare it). */
int ctaccel_gc_pass(int flows_fd, int del_prog_fd, int clock_prog_fd,
		    struct ctaccel_gc_result *res);

#endif /* CTACCEL_FLOWTAB_H */
