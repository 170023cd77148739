/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* The ctaccel command line: shared options, output and the pinned state. */
#ifndef CTACCEL_CLI_H
#define CTACCEL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "ctaccel.h"

#define CTACCEL_PIN_DEFAULT "/sys/fs/bpf/ctaccel"

/* Exit codes: bpftool's and iproute2's habits. */
#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

struct cli {
	bool json;
	bool pretty;
	bool debug;
	bool silent; /* no error messages: the fuzz targets feed junk by design */
	const char *pin_path;
};

extern struct cli cli;

/* One message on stderr (or {"error": ...} on stdout under -j). */
void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a JSON value as the command's output, compact or pretty. */
void json_out(json_t *v);

/* argv helpers in iproute2 style. */
bool is_prefix(const char *arg, const char *word);
int parse_u32(const char *s, uint32_t *v);
int caps_keep_only(uint64_t keep);

/* File names of the pins below cli.pin_path. */
#define PIN_FLOWS	   "ctaccel_flows"
#define PIN_STATS	   "ctaccel_stats"
#define PIN_IFACES	   "ctaccel_ifaces"
#define PIN_CONFIG	   "ctaccel_config"
#define PIN_INGRESS	   "prog_ingress"
#define PIN_EGRESS	   "prog_egress"
#define PIN_DELETE	   "prog_delete"
#define PIN_CLOCK	   "prog_clock"
#define PIN_POLICY	   "ctaccel_policy"
#define PIN_POLICY_RULES   "ctaccel_policy_rules"     /* the trie in ctaccel_policy's slot */
#define PIN_POLICY_NEXT	   "ctaccel_policy_rules_new" /* bpffs names have no dots */
#define PIN_SOCKOPS	   "link_sockops"
#define PIN_SK_TRANSITIONS "ctaccel_sk_transitions"
#define PIN_SK_LINK	   "link_sockstate"

/* Everything a command needs from the pinned state. */
struct pinned {
	int flows_fd;
	int stats_fd;
	int ifaces_fd;
	int config_fd;
	int ingress_fd;
	int egress_fd;
	int delete_fd;
	int clock_fd;
	int policy_fd;
	struct ctaccel_config cfg;
	uint32_t max_flows;
};

int pinned_open(struct pinned *p);
void pinned_close(struct pinned *p);
int pinned_open_readonly(struct pinned *p);
/* Whether anything is pinned under cli.pin_path. */
bool pinned_exists(void);

/*
 * Run fn on the pinned state under the lock. PINNED_UNAVAILABLE: the lock or
 * the pins could not be had (already reported); otherwise fn's result.
 */
#define PINNED_UNAVAILABLE 1
int with_pinned_locked(int (*fn)(const struct pinned *p, void *arg), void *arg);

/* Serialise ctaccel invocations: an exclusive lock next to the pins. */
int cli_lock(void);
void cli_unlock(int fd);

/* Bring up bpffs on /sys/fs/bpf when it is not mounted. */
int bpffs_ensure(void);

struct load_args {
	uint32_t max_flows;
	struct ctaccel_config cfg;
	bool any; /* an option was given */
};

/* nf_conntrack's timeouts for this kernel's HZ, the default size and mark. */
int load_args_default(struct load_args *a);
/* `load` arguments applied over *a. */
int load_args_parse(int argc, char **argv, struct load_args *a);
/* Load the programs and pin everything; on failure nothing stays pinned. */
int load_and_pin(const struct load_args *a);
int attach_ifindex(const struct pinned *p, __u32 ifindex);
int detach_ifindex(const struct pinned *p, __u32 ifindex);

#define IFACE_HOOK_INGRESS (1U << 0)
#define IFACE_HOOK_EGRESS  (1U << 1)
/* Which of a device's tc hooks run this state's programs. */
unsigned int iface_hooks(const struct pinned *p, __u32 ifindex);
/* Records of devices that no longer exist go: their ifindex may be reused. */
int ifaces_prune(const struct pinned *p, unsigned int *pruned);
json_t *status_json(const struct pinned *p);
json_t *stats_json(const struct pinned *p);

/* Bypass rules: "all" is one rule per family. */
struct rule_set {
	struct ctaccel_policy_key k[2];
	int n;
};
/* all|PREFIX [port PORT] */
int policy_rule_parse(int argc, char **argv, struct rule_set *r);
/* Build a new trie from n rule sets and swap it in at once. */
int policy_replace(const struct pinned *p, const struct rule_set *rules, size_t n);
json_t *policy_json(const struct pinned *p);
int policy_inner_fd(const struct pinned *p);
/* 1 when the pinned trie is the one in use, 0 when not, or -errno. */
int policy_in_step(const struct pinned *p);
/* Finish an update a dead writer left half done; 1 when it did. */
int policy_sync(const struct pinned *p);

/* Host TCP sockets of this namespace per state (kernel numbering). */
int host_socket_states(__u64 states[CTACCEL_TCP_STATE_SLOTS]);
int host_sockets_keep(void);

int do_load(int argc, char **argv);
int do_unload(int argc, char **argv);
int do_attach(int argc, char **argv);
int do_detach(int argc, char **argv);
int do_status(int argc, char **argv);
int do_flow(int argc, char **argv);
int do_stats(int argc, char **argv);
int do_gc(int argc, char **argv);
int do_policy(int argc, char **argv);
int do_sockets(int argc, char **argv);
int do_tw(int argc, char **argv);
int do_daemon(int argc, char **argv);
int do_replace(int argc, char **argv);
/* Live upgrade: this binary's programs over the pinned maps, swapped in. */
int programs_replace(struct pinned *p, bool force, bool *replaced);
/* Drop pinned state of another layout (daemon --migrate). */
int discard_pinned_state(void);

/* table inet ctaccel: raw-priority notrack for the bypass mark. */
bool nft_table_present(void);
int nft_table_install(uint32_t mark, uint32_t mask);
int nft_table_remove(void);

/* Load (pin) with defaults when nothing is loaded yet: for attach. */
int load_default_if_needed(void);

#endif /* CTACCEL_CLI_H */
