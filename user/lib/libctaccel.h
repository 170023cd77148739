/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * libctaccel: everything the CLI and the daemon do to ctaccel's pinned state,
 * as one library. It works on a handle (struct ctaccel: the pin root, the open
 * pins, the loaded configuration) that the caller passes explicitly; it keeps
 * no process-wide state (but for kernel.c's cache of the kernel's features),
 * never prints and never formats JSON. Calls return 0 or a negative errno; a
 * failing operation on a handle reports why, once, through the print callback
 * at CTACCEL_PRINT_WARN (so a client prints nothing more for it). Parsers,
 * which need no handle, write their reason into a caller's buffer instead.
 */
#ifndef LIBCTACCEL_H
#define LIBCTACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include "ctaccel.h"

#define CTACCEL_PIN_DEFAULT "/sys/fs/bpf/ctaccel"

/* ---- names (flows.c): states, counters, protocols as ctaccel shows them ---- */
extern const char *const ctaccel_state_names[CTACCEL_ST__MAX];
extern const char *const ctaccel_counter_names[CTACCEL_CTR__MAX];
extern const char *const ctaccel_counter_help[CTACCEL_CTR__MAX];

/* "tcp" or "udp", as conntrack names a flow's protocol. */
const char *ctaccel_proto_name(int proto);

/* State index for a conntrack-style name ("TIME_WAIT"), or -EINVAL. */
int ctaccel_state_parse(const char *name);

/* Counter CTACCEL_CTR_* of a summed stats block. */
static inline uint64_t ctaccel_counter(const struct ctaccel_stats *s, unsigned int i)
{
	return ((const __u64 *)s)[i];
}

enum ctaccel_print_level {
	CTACCEL_PRINT_WARN,
	CTACCEL_PRINT_INFO,
	CTACCEL_PRINT_DEBUG,
};

typedef void (*ctaccel_print_fn)(enum ctaccel_print_level level, const char *msg, void *ctx);

struct ctaccel_opts {
	const char *pin_path; /* NULL: CTACCEL_PIN_DEFAULT */
	ctaccel_print_fn print;
	void *print_ctx;
	/* New hooks as tc filters on clsact even where tcx exists (README,
	 * "Attaching to devices"). Devices already attached keep their kind. */
	bool tc_filters;
};

/* Whether the environment asks for tc filters (CTACCEL_HOOK=clsact), for the
 * callers that offer that choice: the library reads the environment nowhere
 * else, and never on its own. */
bool ctaccel_env_tc_filters(void);

struct ctaccel;

/* ---- handle, pins and lock (state.c) ---- */
int ctaccel_new(const struct ctaccel_opts *opts, struct ctaccel **out);
void ctaccel_free(struct ctaccel *h);
const char *ctaccel_pin_root(const struct ctaccel *h);
/* The path of one pin below the root: the only place pin paths are built. */
int ctaccel_pin_file(const struct ctaccel *h, const char *name, char *buf, size_t len);
/* Whether a flow table is pinned under the root (loaded, maybe by another). */
bool ctaccel_is_loaded(const struct ctaccel *h);
/* Mount bpffs on /sys/fs/bpf when the root's parent needs it and lacks it. */
int ctaccel_bpffs_ensure(struct ctaccel *h);
/*
 * Serialise changes to one pinned state: an exclusive flock on the pin
 * directory itself (made when missing), so instances on other pin roots never
 * wait for each other. Unlock removes the directory again if it is empty.
 */
int ctaccel_lock(struct ctaccel *h);
/* The same, waiting at most timeout_ms: -EWOULDBLOCK while another writer
 * holds it (not a failure of the handle: reported at DEBUG only). */
int ctaccel_lock_wait(struct ctaccel *h, int timeout_ms);
void ctaccel_unlock(struct ctaccel *h);
/* A directory below the root that a daemon holds an flock on for its life:
 * one daemon per pinned state. */
#define CTACCEL_PIN_DAEMON "daemon"
/* ... and one a monitor holds: the event ring has one reader. */
#define CTACCEL_PIN_MONITOR_LOCK "monitor"
/* ... and one a migration of the table keeps its record in while it runs
 * (user/lib/migrate_record.c): left by a process killed mid-way, it is what the
 * next migration, 'ctaccel replace' or a daemon's start, finishes. */
#define CTACCEL_PIN_MIGRATION "migration"

/*
 * Open the pinned state: -ENOENT when nothing is loaded, -EPROTO when it has
 * another layout or ABI word (refused before anything else is read).
 */
int ctaccel_open(struct ctaccel *h);
/* Open as ctaccel_open() does, state of an older ABI with a declared
 * migration included (docs/upgrading.md): then only ctaccel_replace(), which
 * migrates it, and ctaccel_close() may follow. */
int ctaccel_open_upgrade(struct ctaccel *h);
void ctaccel_close(struct ctaccel *h);
/* Reopen when another process replaced the programs (ctaccel_replace) since
 * the handle was opened: 1 when it did, 0 when nothing changed. Under the
 * lock, for a consistent view; other threads may keep reading through the
 * handle meanwhile (each descriptor is replaced in one step). */
int ctaccel_refresh(struct ctaccel *h);
bool ctaccel_is_open(const struct ctaccel *h);
uint32_t ctaccel_max_flows(const struct ctaccel *h);

/*
 * `ip netns exec` runs a command in a private mount namespace whose /sys is
 * remounted for the network namespace, hiding the host's bpffs and cgroup2.
 * When the pin root's bpffs is hidden here but PID 1's mount namespace has
 * it, move this process there (its network namespace stays), so that it uses
 * the same pins and cgroup as `nsenter --net=`. Changes the whole process:
 * call it first, single-threaded. 1 when it moved, 0 when not needed.
 */
int ctaccel_host_mounts(const char *pin_root);

/* Drop every capability but `keep` (a mask of CAP_* bits), for good. */
int ctaccel_caps_keep_only(uint64_t keep);

/* ---- values (parse.c): each input is checked here once ---- */
#define CTACCEL_MAX_FLOWS_LIMIT (1U << 28)
#define CTACCEL_MAX_TIMEOUT_S	(10 * 365 * 24 * 3600U)

/* A number: decimal digits only, up to UINT32_MAX (no sign, space or base
 * prefix: 010 is ten), as every number ctaccel reads is written. */
int ctaccel_parse_u32(const char *s, uint32_t *v);
/* on|off|yes|no|true|false|1|0, and nothing else. */
int ctaccel_parse_bool(const char *s, bool *v);
/* "VALUE/MASK", each decimal or 0x and hex digits (a mark only). */
int ctaccel_parse_mark(const char *s, uint32_t *mark, uint32_t *mask);

/* The settings schema (settings.c). */
#include "libctaccel_settings.h"

/* ---- lifecycle (load.c) ---- */
/* A whole expiry pass (ctaccel_gc): entries seen, expired, removed. */
struct ctaccel_gc_result {
	size_t scanned;
	size_t expired;
	size_t deleted;
};

/* Load the programs and pin everything; on failure nothing stays pinned.
 * The caller holds the lock. */
int ctaccel_load(struct ctaccel *h, const struct ctaccel_load_opts *o);
/* Devices off, nft table gone, flows removed through compare-and-delete,
 * every pin removed. The caller holds the lock. Refused (-EBUSY, reported
 * with the daemon's pid) while a daemon runs on the state, unless forced. */
int ctaccel_unload(struct ctaccel *h, bool force);
/* The pid of the daemon running on this state, 0 when none, or -errno. */
int ctaccel_daemon_pid(const struct ctaccel *h);
/* Remove pins that cannot be opened (another layout, an interrupted load). */
int ctaccel_discard(struct ctaccel *h);
/* Live upgrade: this library's programs over the open maps, swapped in; on
 * state of an older ABI (ctaccel_open_upgrade()), a migration to new maps. */
int ctaccel_replace(struct ctaccel *h, bool force, bool *replaced);

/* What a migration of the flow table did (ctaccel_resize). */
struct ctaccel_migration {
	uint32_t moved;	      /* entries carried into the new table */
	uint32_t conflicts;   /* entries ended instead (migrate_conflicts) */
	uint32_t passes;      /* runs of the move program */
	uint64_t started_ns;  /* CLOCK_MONOTONIC at its start */
	uint64_t duration_ns; /* from the first check to the last pass */
};

/*
 * Migrate the open state's flow table to one of `max_flows` entries and an
 * unreplied ring of `unreplied_max` slots, under traffic, keeping every flow
 * and counter (docs/upgrading.md). Refused (-ENOSPC, with the numbers) below
 * the flows tracked now. A failure before the first entry moved puts the old
 * programs back; after it, the migration's programs stay and count every
 * packet, and running it again finishes it. The caller holds the lock.
 */
int ctaccel_resize(struct ctaccel *h, uint32_t max_flows, uint32_t unreplied_max,
		   struct ctaccel_migration *m);

/* A whole kernel expiry pass now, in the caller's time (the timer goes on). */
int ctaccel_gc(struct ctaccel *h, struct ctaccel_gc_result *res);

/* ---- live settings (live.c) ---- */
/*
 * The load settings of the open state, read back from it (the cgroup is not
 * kept: ""). A row of ctaccel_load_settings marked live changes on a running
 * instance: the timeouts (written into their map, no program loaded; a flow
 * takes its new timeout at its next packet, as nf_conntrack's do after a
 * sysctl change), the expiry pause, the sizes (a migration of the table,
 * which loads programs) and the mark (a word of the same map; nft matches
 * both marks for an RCU grace period and, with local on, while a host socket
 * holds the old one: a walk of them, which loads a program). The others take
 * a new load.
 */
int ctaccel_state_opts(struct ctaccel *h, struct ctaccel_load_opts *o);

/* Why a load setting cannot change on a running instance; NULL: it can. */
const char *ctaccel_setting_not_live(const struct ctaccel_setting *s);
/* Why it cannot change on this one now (a live setting too: a size while a
 * daemon holds the table, or for a caller that may not load programs, named
 * by `no_load` as for ctaccel_apply; for it, the mark with local on too,
 * unless an iterator is lent: ctaccel_sockiter_lend); NULL: it can. */
const char *ctaccel_setting_kept(struct ctaccel *h, const struct ctaccel_setting *s,
				 const char *no_load);

/* A setting whose asked value differs from the state's. */
struct ctaccel_setting_change {
	const struct ctaccel_setting_ref *ref;
	const char *was, *asked; /* as the settings are written */
	const char *kept;	 /* NULL: applied; else why it was not */
};
typedef void (*ctaccel_change_fn)(const struct ctaccel_setting_change *c, void *ctx);

/* Bring the open state to `asked` where it can change live; fn hears of
 * every setting that differs, applied or kept (*kept counts those). With
 * `no_load` (why this caller may not load programs: the daemon once it has
 * dropped CAP_PERFMON), the settings that take new programs (the sizes) are
 * kept, for that reason. The caller holds the lock. 0, or -errno when
 * applying failed (reported; nothing changed, fn not called). */
int ctaccel_apply(struct ctaccel *h, const struct ctaccel_load_opts *asked, const char *no_load,
		  ctaccel_change_fn fn, void *ctx, unsigned int *kept);

/* ---- devices (devices.c) ---- */
#define CTACCEL_HOOK_INGRESS (1U << 0)
#define CTACCEL_HOOK_EGRESS  (1U << 1)
#define CTACCEL_HOOK_BOTH    (CTACCEL_HOOK_INGRESS | CTACCEL_HOOK_EGRESS)

/* A device's ifindex by name; -ENODEV reported as "VERB NAME: No such device". */
int ctaccel_ifindex(struct ctaccel *h, const char *verb, const char *name, unsigned int *ifindex);
int ctaccel_attach(struct ctaccel *h, unsigned int ifindex);
int ctaccel_detach(struct ctaccel *h, unsigned int ifindex);
/* With no pinned state: take ctaccel's programs (by name) off a device. */
int ctaccel_detach_orphan(struct ctaccel *h, unsigned int ifindex);
/* Which of a device's tc hooks run this state's programs (CTACCEL_HOOK_*). */
unsigned int ctaccel_device_hooks(const struct ctaccel *h, unsigned int ifindex);
/* Which of them run a program of this state's, whichever version: its live
 * tcx link, or a tc filter with the handle's or the pinned program (what
 * readiness asks; needs CAP_NET_ADMIN only). */
unsigned int ctaccel_device_serving(const struct ctaccel *h, unsigned int ifindex);
/* Forget records of devices that are gone (their ifindex may be reused). */
int ctaccel_devices_prune(struct ctaccel *h, unsigned int *pruned);

struct ctaccel_name {
	char name[IF_NAMESIZE];
};
/* Devices of this namespace running ctaccel's programs with no state known. */
int ctaccel_orphans(struct ctaccel_name **names, size_t *n);

/* ---- policy (policy.c) ---- */
/* A bypass rule: family 0 is "all" (both families). */
struct ctaccel_rule {
	int family;	  /* 0, AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order, host bits cleared */
	uint8_t plen;
	uint16_t port; /* host byte order; 0: any */
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP; 0: both */
	bool fastpath; /* established flows are forwarded from tc ingress */
};

#define CTACCEL_RULE_SYNTAX "all|PREFIX [port PORT] [proto tcp|udp] [fastpath]"
/* Trie keys of one rule, at most: a family and a protocol each. */
#define CTACCEL_RULE_KEYS_MAX 4

/* "all" or ADDR[/LEN]; host bits past the prefix are cleared (the rule is
 * stored, and shown, as the network). */
int ctaccel_rule_parse(const char *prefix, struct ctaccel_rule *r, char *err, size_t errlen);
int ctaccel_rule_set_port(struct ctaccel_rule *r, uint32_t port, char *err, size_t errlen);
/* "tcp" or "udp". */
int ctaccel_rule_set_proto(struct ctaccel_rule *r, const char *proto, char *err, size_t errlen);
/* A rule in words, CTACCEL_RULE_SYNTAX: the CLI's arguments, a config line. */
int ctaccel_rule_words(int n, char *const *words, struct ctaccel_rule *r, char *err, size_t errlen);
/* "all", "198.18.1.0/24", with " port N", " proto P" and " fastpath" when it
 * has them. */
void ctaccel_rule_format(const struct ctaccel_rule *r, char *buf, size_t len);
/* The trie keys of a rule ("all" is one per family, a rule without a
 * protocol one per protocol): the count. */
int ctaccel_rule_keys(const struct ctaccel_rule *r,
		      struct ctaccel_policy_key k[CTACCEL_RULE_KEYS_MAX]);

/* The rules in use, one per trie key, except that the TCP and UDP keys of
 * one rule are read back as that rule; free() *rules. */
int ctaccel_policy_read(struct ctaccel *h, struct ctaccel_rule **rules, size_t *n);
/* The caller holds the lock for these. Each moves the policy generation on,
 * so existing flows take a new fast-path verdict at their next packet. */
int ctaccel_policy_add(struct ctaccel *h, const struct ctaccel_rule *r);
/* -ENOENT (not reported) when no such rule exists. */
int ctaccel_policy_del(struct ctaccel *h, const struct ctaccel_rule *r);
/* Build a new trie aside and swap it in at once. */
int ctaccel_policy_replace(struct ctaccel *h, const struct ctaccel_rule *rules, size_t n);
/* 1 when the pinned trie is the one in use, 0 when not. */
int ctaccel_policy_in_step(struct ctaccel *h);
/* Finish an update a dead writer left half done; 1 when it did. */
int ctaccel_policy_sync(struct ctaccel *h);

/* ---- nftables (nft.c) ---- */
bool ctaccel_nft_present(struct ctaccel *h);
/* Table inet ctaccel: absent; as ctaccel_nft_install() makes it for the mark
 * in force (with older marks a change keeps, ctaccel_nft_retiring()); or
 * other (a rule changed behind ctaccel's back, a mark change that did not
 * finish). */
enum ctaccel_nft_table { CTACCEL_NFT_ABSENT, CTACCEL_NFT_CURRENT, CTACCEL_NFT_OTHER };
enum ctaccel_nft_table ctaccel_nft_table(struct ctaccel *h);
/* Marks table inet ctaccel matches besides the mark in force, at most: a
 * change keeps each while a host socket holds it (live.c). */
#define CTACCEL_NFT_MAX_MARKS 8
/* The older marks a current table still matches (a mark change keeps each
 * while a host socket holds it), into marks (at most max): their number. */
int ctaccel_nft_retiring(struct ctaccel *h, uint64_t *marks, int max);
/*
 * Walk the host's sockets for each older mark the table keeps (with `it`, or
 * when NULL the one lent to the handle, or a private one): a full TCP socket that holds one takes
 * the mark in force, and the table stops matching those no socket holds. The number of marks it
 * keeps; held: their holders (enum ctaccel_mark_holder). Under the state lock.
 */
struct ctaccel_sockiter;
int ctaccel_mark_retire(struct ctaccel *h, struct ctaccel_sockiter *it,
			uint64_t held[CTACCEL_MH__MAX]);
int ctaccel_nft_install(struct ctaccel *h);
int ctaccel_nft_remove(struct ctaccel *h);

/* ---- status (status.c) ---- */
#define CTACCEL_PROBLEM_LEN 192

struct ctaccel_device_status {
	char name[IF_NAMESIZE]; /* empty when the device is gone */
	unsigned int ifindex;
	unsigned int hooks; /* CTACCEL_HOOK_* */
	bool tcx;	    /* its hooks are tcx links, else tc filters on clsact */
};

enum ctaccel_prog {
	CTACCEL_PROG_INGRESS,
	CTACCEL_PROG_EGRESS,
	CTACCEL_PROG_DELETE,
	CTACCEL_PROG_CLOCK,
	CTACCEL_PROG__MAX,
};
extern const char *const ctaccel_prog_names[CTACCEL_PROG__MAX];

/* Kernel expiry as its last check left it. */
struct ctaccel_expiry_status {
	bool running;	      /* a check came within the pause the last one set (+ margin) */
	bool stopped;	      /* by 'ctaccel expiry stop': no timer is set */
	uint32_t interval_ms; /* least pause between checks */
	uint64_t checks;      /* ticks, walked or not */
	uint64_t checks_without_walk; /* nothing could be due */
	uint64_t passes;	      /* walks over the table */
	uint64_t cut_passes;	      /* walks that stopped at their removal budget */
	uint64_t removed;
	uint64_t last_pass_examined, last_pass_removed;
	double busy_s;	      /* checks and walks, since start */
	double last_pass_s;   /* the last walk's own time */
	double pause_s;	      /* before the next check */
	double since_pass_s;  /* since the last walk over the table ended */
	double since_check_s; /* since the last check (a walk, or none needed) */
};

/* The running kernel's features (kernel.c). */
#include "libctaccel_kernel.h"

struct ctaccel_status {
	uint32_t max_flows;
	uint32_t unreplied_max; /* entries flows without a reply may hold */
	int64_t flows;
	double fill;
	unsigned int hz;
	uint32_t prog_id[CTACCEL_PROG__MAX];
	uint64_t timeout_s[CTACCEL_ST__MAX];
	uint64_t timeout_unack_s;
	uint32_t mark, mark_mask;
	bool local; /* the host's own sockets are tracked (egress, sock_ops) */
	unsigned int policy_rules;
	bool nft_table;
	bool sockops;
	bool udp_hooks; /* the local UDP sockets' bind and connect programs */
	/* the path each feature took: bit set, its WITH path (CTACCEL_FEATURES);
	 * the loaded programs' for all but tc_attach, the kernel's for that */
	uint32_t features;
	char kernel[65]; /* the running kernel's release */
	struct ctaccel_expiry_status expiry;
	struct ctaccel_device_status *devices;
	size_t ndevices;
	char (*problems)[CTACCEL_PROBLEM_LEN];
	size_t nproblems;
};

/* ---- kernel expiry (expiry.c) ---- */
int ctaccel_expiry_status(struct ctaccel *h, struct ctaccel_expiry_status *s);
/* Start the timer again with its settings (a stalled or stopped one). */
int ctaccel_expiry_restart(struct ctaccel *h);
int ctaccel_expiry_stop(struct ctaccel *h);
/* New settings; starts the timer. The caller holds the lock. */
int ctaccel_expiry_set(struct ctaccel *h, uint32_t interval_ms);

int ctaccel_status_read(struct ctaccel *h, struct ctaccel_status *s);
/* One more problem, a client's own (the daemon's settings it could not
 * apply); 0 or -ENOMEM. */
int ctaccel_status_problem(struct ctaccel_status *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ctaccel_status_free(struct ctaccel_status *s);
/* Summed per-CPU counters and gauges of the open state. */
int ctaccel_stats(struct ctaccel *h, struct ctaccel_stats *sum);
int64_t ctaccel_stats_flows(const struct ctaccel_stats *s);

/* ---- flows (flows.c, through the open state) ---- */
/* The flow's original tuple (originator first), as conntrack prints it. */
struct ctaccel_tuple {
	int family;
	int proto;	       /* IPPROTO_TCP or IPPROTO_UDP */
	__u32 src[4], dst[4];  /* network byte order */
	uint16_t sport, dport; /* host byte order */
};

/* One flow as the table holds it, in counts and seconds. */
struct ctaccel_flow_view {
	struct ctaccel_tuple tuple;
	uint32_t state;
	uint64_t orig_packets, orig_bytes, reply_packets, reply_bytes;
	int64_t expires_s; /* seconds until its timeout (0: due) */
	uint32_t icmp_errors;
	bool bypass;	 /* skips nf_conntrack (the policy's decision at its start) */
	bool assured;	 /* nf_conntrack's ASSURED */
	bool seen_reply; /* a reply was seen */
};

/* A batch of the table; a non-zero return stops the walk with it. */
typedef int (*ctaccel_flow_fn)(const struct ctaccel_flow_view *v, size_t n, void *ctx);
/* The table batch by batch, as it is read (no snapshot: a flow created or
 * removed meanwhile may or may not appear, none appears twice). */
int ctaccel_flows_foreach(struct ctaccel *h, ctaccel_flow_fn fn, void *ctx);

/* ---- handshake latency per server endpoint (latency.c) ---- */
struct ctaccel_latency_endpoint {
	int family; /* AF_INET, AF_INET6; 0 for the sum of all */
	uint32_t addr[4];
	uint16_t port;		    /* host order */
	struct ctaccel_latency lat; /* summed over CPUs */
};

struct ctaccel_latency_report {
	struct ctaccel_latency_endpoint all;
	struct ctaccel_latency_endpoint *endpoints; /* most handshakes first */
	size_t n;
};

int ctaccel_latency_read(struct ctaccel *h, struct ctaccel_latency_report *r);
/* Only the sums of all endpoints (one lookup: for every scrape). */
int ctaccel_latency_total(struct ctaccel *h, struct ctaccel_latency *sum);
void ctaccel_latency_free(struct ctaccel_latency_report *r);
/* A quantile (0 to 1) in milliseconds, linear inside its log2 bucket. */
double ctaccel_latency_quantile_ms(const struct ctaccel_latency_hist *h, double q);
/* Bucket b's bounds in milliseconds: [lo, hi). */
double ctaccel_latency_bucket_lo_ms(int b);
double ctaccel_latency_bucket_hi_ms(int b);

/* ---- the busiest flows over an interval (top.c) ---- */
struct ctaccel_flow_rate {
	struct ctaccel_tuple tuple;
	uint32_t state;
	bool bypass;
	uint64_t packets, bytes; /* since the previous refresh */
};
struct ctaccel_top_result {
	uint64_t flows;	   /* entries in the table */
	uint64_t bypassed; /* of them, bypassed */
	size_t nbusiest;   /* entries filled in out[] */
	bool first;	   /* no previous refresh: no rates yet */
};
/* Snapshots kept between refreshes (two of 64 bytes a flow). */
struct ctaccel_top;
int ctaccel_top_new(struct ctaccel_top **out);
/* Read the table once; out[] gets the max busiest flows since the previous
 * refresh, by packets or by bytes, busiest first. */
int ctaccel_top_refresh(struct ctaccel *h, struct ctaccel_top *t, bool by_bytes,
			struct ctaccel_flow_rate *out, size_t max, struct ctaccel_top_result *res);
void ctaccel_top_free(struct ctaccel_top *t);

/* ---- flow events (events.c) ---- */
extern const char *const ctaccel_event_names[CTACCEL_EV__MAX];
extern const char *const ctaccel_destroy_reason_names[CTACCEL_GONE__MAX];

struct ctaccel_event_view {
	int type;   /* enum ctaccel_event_type */
	int reason; /* DESTROY: enum ctaccel_destroy_reason */
	uint32_t state;
	double time; /* when it happened: seconds since the epoch */
	struct ctaccel_tuple tuple;
	uint64_t orig_packets, orig_bytes, reply_packets, reply_bytes;
};
/* Called for every event; a non-zero return stops the poll with it. */
typedef int (*ctaccel_event_fn)(const struct ctaccel_event_view *ev, void *ctx);

/* A monitor keeps the datapath writing events while it polls (a lease
 * renewed each second: events stop within seconds after it is gone). */
struct ctaccel_monitor_h;
int ctaccel_monitor_new(struct ctaccel *h, ctaccel_event_fn fn, void *ctx,
			struct ctaccel_monitor_h **out);
/* Events handled, or -errno (or fn's non-zero return). */
int ctaccel_monitor_poll(struct ctaccel_monitor_h *m, int timeout_ms);
void ctaccel_monitor_free(struct ctaccel_monitor_h *m);

/* ---- host sockets (sockets.c) ---- */
extern const char *const ctaccel_tcp_state_names[CTACCEL_TCP_STATE_SLOTS];

struct ctaccel_host_sockets {
	uint64_t states[CTACCEL_TCP_STATE_SLOTS]; /* kernel numbering */
	uint64_t fin_wait2_tw;			  /* timewait sockets still in FIN_WAIT2 */
};

/* One walk of this namespace's TCP sockets (loads a private iterator). */
int ctaccel_host_sockets(struct ctaccel *h, struct ctaccel_host_sockets *out);

/* An iterator loaded once and walked per call (the daemon, per scrape):
 * no load, and none of the capabilities a load needs, after the first. */
struct ctaccel_sockiter;
int ctaccel_sockiter_new(struct ctaccel *h, struct ctaccel_sockiter **out);
int ctaccel_sockiter_states(struct ctaccel_sockiter *it, uint64_t states[CTACCEL_TCP_STATE_SLOTS]);
void ctaccel_sockiter_free(struct ctaccel_sockiter *it);
/*
 * A walk for a change of the bypass mark (enum ctaccel_mark_holder): the
 * sockets that hold the mark word `old`, by kind; with rewrite_to (a mark
 * word, 0: none), each full TCP socket holding `old` takes it instead, and
 * *rewritten counts them. One caller at a time per iterator.
 */
int ctaccel_sockiter_marks(struct ctaccel_sockiter *it, uint64_t old, uint64_t rewrite_to,
			   uint64_t held[CTACCEL_MH__MAX], uint64_t *rewritten);
/* The handle's mark walks (a mark change, ctaccel_mark_retire) use `it`, kept
 * loaded by the caller (the daemon's, for its scrapes), instead of loading
 * their own: a caller that may load no program changes the mark with local on
 * too. NULL: their own again. The caller frees `it` after. */
void ctaccel_sockiter_lend(struct ctaccel *h, struct ctaccel_sockiter *it);

struct ctaccel_sk_summary {
	uint64_t opened_active;
	uint64_t opened_passive;
	uint64_t closed_by_fin;
	uint64_t reset_or_aborted;
	uint64_t time_wait_entered;
};
/* Transitions since load, summed over CPUs; -ENOENT (not reported) when the
 * state has no transition counters. */
int ctaccel_sk_transitions(struct ctaccel *h, struct ctaccel_sk_transitions *t);
void ctaccel_sk_summarise(const struct ctaccel_sk_transitions *t, struct ctaccel_sk_summary *s);

struct ctaccel_tw_port {
	unsigned int port;
	uint32_t count;
};
struct ctaccel_tw_peer {
	struct ctaccel_tw_remote key;
	uint32_t count;
	double share; /* of the ephemeral port range */
};
struct ctaccel_tw_report {
	uint64_t time_wait;
	unsigned int port_lo, port_hi; /* net.ipv4.ip_local_port_range */
	struct ctaccel_tw_port *ports; /* most TIME_WAIT first */
	size_t nports;
	struct ctaccel_tw_peer *peers; /* most TIME_WAIT first */
	size_t npeers;
	uint64_t peer_overflow;
};
/* TIME_WAIT by local port and by remote endpoint, sorted. */
int ctaccel_tw_read(struct ctaccel *h, struct ctaccel_tw_report *r);
void ctaccel_tw_free(struct ctaccel_tw_report *r);

#endif /* LIBCTACCEL_H */
