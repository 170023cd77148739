/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The registry of what ctaccel pins below its root: one row per map, program
 * or link of its two BPF objects. Loading (what is pinned), opening (the
 * handle's descriptors), a live upgrade (what is kept, pinned again or
 * relinked) and unloading (what is removed) all walk it, so a new map is one
 * row here and nothing else in user/lib. tests/unit/test_lib.c walks it too,
 * and checks that every map and program of both objects has its row.
 *
 * X(ID, FILE, KIND, OBJECT, MEMBER, LIFE):
 *   ID      PIN_ID, the row's index (and the handle's descriptor slot)
 *   FILE    the pin's name below the root (bpffs refuses dots); NULL: never
 *           pinned
 *   KIND    MAP, PROG, or LINK (a link attaching the program MEMBER)
 *   OBJECT  tracker (bpf/tracker.bpf.c) or sockets (bpf/sockets.bpf.c)
 *   MEMBER  the map's or program's name in that object's skeleton
 *   LIFE    KEEP   a map the state keeps: pinned at load, opened, reused by
 *                  a live upgrade
 *           SWAP   pinned at load, opened, pinned again by a live upgrade
 *                  (the programs, and the settings they were loaded with);
 *                  ingress last, so that whoever sees the new ingress
 *                  program finds every other new pin in place
 *           ONCE   pinned at load, then another part's to replace (the
 *                  policy trie, which policy.c swaps)
 *           TEMP   a name another part pins for a moment: policy.c's next
 *                  trie, before its rename; a migration's old table and
 *                  journal, in its record (migrate_record.c), where the new maps
 *                  wait under their own rows' names: removed with the rest
 *           CGROUP a link on the cgroup v2 root (local on, where one is
 *                  mounted): attached at load, its program swapped by a
 *                  live upgrade
 *           LOCAL  the host-socket object's (local on): pinned at load,
 *                  left as it is by a live upgrade
 *           NONE   not pinned: private to one program version (a cache,
 *                  scratch space) or to one run (the socket iterator's)
 */
#ifndef LIBCTACCEL_PINS_H
#define LIBCTACCEL_PINS_H

#include <stdbool.h>
#include <stddef.h>

/* clang-format off */
#define CTACCEL_PINS(X)                                                                            \
	X(FLOWS,          "ctaccel_flows",            MAP,  tracker, ctaccel_flows,          KEEP)   \
	X(STATS,          "ctaccel_stats",            MAP,  tracker, ctaccel_stats,          KEEP)   \
	X(IFACES,         "ctaccel_ifaces",           MAP,  tracker, ctaccel_ifaces,         KEEP)   \
	X(POLICY,         "ctaccel_policy",           MAP,  tracker, ctaccel_policy,         KEEP)   \
	X(POLICY_GEN,     "ctaccel_policy_gen",       MAP,  tracker, ctaccel_policy_gen,     KEEP)   \
	X(UNREPLIED,      "ctaccel_unreplied",        MAP,  tracker, ctaccel_unreplied,      KEEP)   \
	X(UNREPLIED_HEAD, "ctaccel_unreplied_head",   MAP,  tracker, ctaccel_unreplied_head, KEEP)   \
	X(EVENTS,         "ctaccel_events",           MAP,  tracker, ctaccel_events,         KEEP)   \
	X(MONITOR,        "ctaccel_monitor",          MAP,  tracker, ctaccel_monitor,        KEEP)   \
	X(EXPIRY,         "ctaccel_expiry",           MAP,  tracker, ctaccel_expiry,         KEEP)   \
	X(LATENCY,        "ctaccel_latency",          MAP,  tracker, ctaccel_latency,        KEEP)   \
	X(LIVE,           "ctaccel_live",             MAP,  tracker, data_live,              KEEP)   \
	X(CONFIG,         "ctaccel_config",           MAP,  tracker, rodata,                 SWAP)   \
	X(EGRESS,         "prog_egress",              PROG, tracker, ctaccel_egress,         SWAP)   \
	X(DELETE,         "prog_delete",              PROG, tracker, ctaccel_delete,         SWAP)   \
	X(CLOCK,          "prog_clock",               PROG, tracker, ctaccel_clock,          SWAP)   \
	X(EXPIRY_CTL,     "prog_expiry_ctl",          PROG, tracker, ctaccel_expiry_ctl,     SWAP)   \
	X(EXPIRE,         "prog_expire",              PROG, tracker, ctaccel_expire,         SWAP)   \
	X(INGRESS,        "prog_ingress",             PROG, tracker, ctaccel_ingress,        SWAP)   \
	X(POLICY_RULES,   "ctaccel_policy_rules",     MAP,  tracker, ctaccel_policy_initial, ONCE)   \
	X(POLICY_NEXT,    "ctaccel_policy_rules_new", MAP,  tracker, ctaccel_policy_initial, TEMP)   \
	X(FLOWS_PREV,     "ctaccel_flows_prev",       MAP,  tracker, ctaccel_flows_prev,     TEMP)   \
	X(JOURNAL,        "ctaccel_migrate_journal",  MAP,  tracker, data_migrate,           TEMP)   \
	X(SOCKOPS,        "link_sockops",             LINK, tracker, ctaccel_sockops,        CGROUP) \
	X(UDP_BIND4,      "link_udp_bind4",           LINK, tracker, ctaccel_udp_bind4,      CGROUP) \
	X(UDP_BIND6,      "link_udp_bind6",           LINK, tracker, ctaccel_udp_bind6,      CGROUP) \
	X(UDP_CONNECT4,   "link_udp_connect4",        LINK, tracker, ctaccel_udp_connect4,   CGROUP) \
	X(UDP_CONNECT6,   "link_udp_connect6",        LINK, tracker, ctaccel_udp_connect6,   CGROUP) \
	X(SK_TRANSITIONS, "ctaccel_sk_transitions",   MAP,  sockets, ctaccel_sk_transitions, LOCAL)  \
	X(SK_LINK,        "link_sockstate",           LINK, sockets, ctaccel_sock_state,     LOCAL)  \
	X(CSUM_SCRATCH,   NULL,                       MAP,  tracker, csum_scratch,           NONE)   \
	X(FP_ROUTES,      NULL,                       MAP,  tracker, ctaccel_fp_routes,      NONE)   \
	X(BSS,            NULL,                       MAP,  tracker, bss,                    NONE)   \
	X(MIGRATE,        NULL,                       PROG, tracker, ctaccel_migrate,        NONE)   \
	X(TW_REMOTE,      NULL,                       MAP,  sockets, tw_remote,              NONE)   \
	X(SK_BSS,         NULL,                       MAP,  sockets, bss,                    NONE)   \
	X(SK_RODATA,      NULL,                       MAP,  sockets, rodata,                 NONE)   \
	X(TCP_ITER,       NULL,                       PROG, sockets, ctaccel_tcp_iter,       NONE)   \
	X(UDP_ITER,       NULL,                       PROG, sockets, ctaccel_udp_iter,       NONE)

/*
 * A program row's stand-in for kernels without what its program needs: the
 * loader loads one of the two (user/lib/kernel.c) and the row is the one
 * loaded, under the same pin. X(ID, MEMBER, FEATURE): MEMBER of the tracker
 * object, loaded where the kernel lacks FEATURE (CTACCEL_FEAT_*).
 */
#define CTACCEL_PIN_VARIANTS(X) X(EXPIRY_CTL, ctaccel_expiry_ctl_timer, EXPIRY)

enum pin_id {
#define X(id, file, kind, obj, member, life) PIN_##id,
	CTACCEL_PINS(X)
#undef X
	PIN__COUNT,
};
/* clang-format on */

/* Pins of links: unpinning detaches them first. */
#define PIN_LINK_PREFIX "link_"
/* The one family named at run time: a device's tcx link,
 * PIN_TCX_PREFIX "<ifindex>_ingress" (or _egress), made by devices.c. */
#define PIN_TCX_PREFIX PIN_LINK_PREFIX "tcx_"

enum pin_kind { PIN_KIND_MAP, PIN_KIND_PROG, PIN_KIND_LINK };
enum pin_object { PIN_OBJ_tracker, PIN_OBJ_sockets };
enum pin_life {
	PIN_LIFE_KEEP,
	PIN_LIFE_SWAP,
	PIN_LIFE_ONCE,
	PIN_LIFE_TEMP,
	PIN_LIFE_CGROUP,
	PIN_LIFE_LOCAL,
	PIN_LIFE_NONE,
};

struct pin_def {
	const char *file;
	enum pin_kind kind;
	enum pin_object obj;
	const char *member;
	size_t off; /* of the member's struct bpf_map * or bpf_program * in the skeleton */
	enum pin_life life;
};

extern const struct pin_def pin_defs[PIN__COUNT];

static inline const char *pin_name(enum pin_id id)
{
	return pin_defs[id].file;
}

/* The handle holds a descriptor of it while open (h->fd[id]). */
static inline bool pin_opened(enum pin_id id)
{
	return pin_defs[id].life == PIN_LIFE_KEEP || pin_defs[id].life == PIN_LIFE_SWAP;
}

struct bpf_map;
struct bpf_program;
/* The row's map or program in an open skeleton of its object (struct tracker
 * or struct sockets); NULL when the row is of the other kind. */
struct bpf_map *pin_map(const void *skel, enum pin_id id);
struct bpf_program *pin_prog(const void *skel, enum pin_id id);
/* The row's stand-in (CTACCEL_PIN_VARIANTS), or NULL; pin_prog() answers it
 * where the row's own program is not to be loaded. */
struct bpf_program *pin_prog_variant(const void *skel, enum pin_id id);
/* The CTACCEL_FEAT_* bit whose absence loads the row's stand-in; 0: none. */
unsigned int pin_variant_feature(enum pin_id id);

#endif /* LIBCTACCEL_PINS_H */
