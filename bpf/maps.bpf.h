/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The tc tracker object's maps and load-time settings, all in one place (the
 * host-socket object, bpf/sockets.bpf.c, is one file with its own). Which of
 * them are pinned, and what a live upgrade keeps, is user/lib/pins.h; keys
 * and values shared with userspace are include/ctaccel.h's, the value types
 * only the datapath reads are here.
 */
#ifndef CTACCEL_MAPS_BPF_H
#define CTACCEL_MAPS_BPF_H

#include "common.bpf.h"

/* Set by the loader (the load settings, in jiffies of cfg.hz). First: its
 * place in .rodata is where a loader reads the settings of pinned state. */
const volatile struct ctaccel_config ctaccel_cfg;

/* The timeouts and the mark (struct ctaccel_live), live: a section of its
 * own is a map of its own (pinned, kept by a live upgrade, mmapable), which
 * the programs read like a constant, with no lookup; userspace is its one
 * writer. */
struct ctaccel_live ctaccel_live SEC(".data.live");

/* A migration's journal (include/ctaccel.h): the move program's once-only
 * passes mark themselves done in it, in the run that does them. A section
 * of its own: a map the migration's record pins alone. */
struct ctaccel_migrate_journal ctaccel_journal SEC(".data.migrate");

/* The bypass mark now: value and mask from one load of one word. */
static __always_inline __u64 live_mark(void)
{
	return *(volatile __u64 *)&ctaccel_live.mark;
}

/* The timeouts' generation the last expiry walk started under; this program
 * version's own (0 after a live upgrade: its first check walks). */
__u64 expiry_walk_gen;

/* Set only by the unit tests, before load: BPF_PROG_TEST_RUN frames are all
 * linear, and this makes them take the copying path (parse.bpf.h). The
 * verifier drops the test when it is false. */
const volatile bool parse_copy_always;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CTACCEL_DEFAULT_MAX_FLOWS); /* the loader's max-flows */
	/* Memory follows the live flows, not the configured maximum. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ctaccel_flow_key);
	__type(value, struct ctaccel_flow);
} ctaccel_flows SEC(".maps");

/*
 * The table a migration leaves (CTACCEL_CFG_MIGRATING, docs/upgrading.md):
 * the loader gives a migration's programs the pinned table here and the new
 * one as ctaccel_flows. Other programs get this one-entry stand-in and never
 * touch it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ctaccel_flow_key);
	__type(value, struct ctaccel_flow);
} ctaccel_flows_prev SEC(".maps");

/* A constant of the load: false drops every path that reads the old table. */
static __always_inline bool migrating(void)
{
	return ctaccel_cfg.flags & CTACCEL_CFG_MIGRATING;
}

/* The table an entry was found in: the one being left (prev) only while
 * migrating. */
static __always_inline void *flows_of(bool prev)
{
	if (migrating() && prev)
		return &ctaccel_flows_prev;
	return &ctaccel_flows;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctaccel_stats);
} ctaccel_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32); /* ifindex */
	__type(value, struct ctaccel_iface);
} ctaccel_ifaces SEC(".maps");

/* Sizes, not BTF types: the tries userspace swaps in (policy.c) have no BTF,
 * and Linux 6.1 refuses an inner map whose BTF-derived fields differ from
 * its template's. */
struct policy_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CTACCEL_POLICY_KEYS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct ctaccel_policy_key));
	__uint(value_size, sizeof(struct ctaccel_policy_val));
} ctaccel_policy_initial SEC(".maps");

/* One slot: userspace swaps in a whole new trie to replace the policy. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct policy_trie);
} ctaccel_policy SEC(".maps") = {
	.values = {[0] = &ctaccel_policy_initial},
};

/* Written by userspace only (its one writer), after each policy change. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctaccel_policy_gen);
} ctaccel_policy_gen SEC(".maps");

/* Keys of recent new flows; sized by the loader (ctaccel_cfg.unreplied_max). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CTACCEL_DEFAULT_MAX_FLOWS / 4);
	__type(key, __u32);
	__type(value, struct ctaccel_unreplied_slot);
} ctaccel_unreplied SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctaccel_unreplied_head);
} ctaccel_unreplied_head SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CTACCEL_EVENTS_BYTES);
} ctaccel_events SEC(".maps");

/* Written by monitors only: the datapath reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctaccel_monitor);
} ctaccel_monitor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, CTACCEL_LAT_ENDPOINTS + 1);
	__type(key, struct ctaccel_latency_key);
	__type(value, struct ctaccel_latency);
} ctaccel_latency SEC(".maps");

/* Kernel expiry's timer, its worker, and what the passes report (expiry.bpf.h). */
struct expiry_slot {
	struct bpf_timer timer;
	struct bpf_wq wq;
	struct ctaccel_expiry e;
};

_Static_assert(sizeof(struct bpf_timer) + sizeof(struct bpf_wq) == CTACCEL_EXPIRY_HANDLES_SIZE,
	       "expiry handles size");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct expiry_slot);
} ctaccel_expiry SEC(".maps");

/* Room to checksum a segment (discard.bpf.h): the pseudo-header, up to
 * CSUM_L4_MAX bytes of TCP or UDP, padding. Scratch space of one packet at a
 * time per CPU; not pinned. */
#define CSUM_BUF 2048

struct csum_buf {
	__u8 b[CSUM_BUF];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct csum_buf);
} csum_scratch SEC(".maps");

/*
 * The fast path's memo of IPv4 route lookups (fastpath.bpf.h says what an
 * answer holds and how long it stands), per CPU and direct-mapped. Not
 * pinned: a cache private to one program version (a live upgrade starts the
 * next one empty); bpftool reads it by name.
 */
#define FP_ROUTES 1024

struct fp_route {
	/* The question: the flow's key, its ports and protocol zeroed where
	 * the answer does not depend on them. */
	struct ctaccel_flow_key q;
	__u32 in_ifindex;
	__u32 gen;
	__u32 out_ifindex;
	/* The next hop, the gateway or the destination itself, as the redirect
	 * takes it (from here: not copied to the stack). */
	struct bpf_redir_neigh nh;
	__u16 fits_len; /* the longest packet the lookup let through: longer ones ask again */
	__u8 src_is_hi;
	__u8 tos;
	__u8 egress_ok; /* the egress device was attached at the devices generation below */
	__u8 __pad[3];
	__u32 devices; /* struct ctaccel_policy_gen.devices when egress_ok was set */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_ROUTES);
	__type(key, __u32);
	__type(value, struct fp_route);
} ctaccel_fp_routes SEC(".maps");

#endif /* CTACCEL_MAPS_BPF_H */
