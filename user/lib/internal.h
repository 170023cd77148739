/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* libctaccel's insides: the handle, pins and the report helpers. */
#ifndef LIBCTACCEL_INTERNAL_H
#define LIBCTACCEL_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include "libctaccel.h"
#include "pins.h"
#include "flowtab.h"

struct ctaccel {
	char root[PATH_MAX];
	ctaccel_print_fn print;
	void *print_ctx;
	bool tc_filters;
	int lock_fd;
	bool open;
	int fd[PIN__COUNT]; /* the rows pin_opened() names (pins.h), else -1 */
	struct ctaccel_config cfg;
	uint32_t max_flows;
	/* the iterator mark walks use, lent by a caller that keeps it loaded
	 * (ctaccel_sockiter_lend); NULL: each loads its own */
	struct ctaccel_sockiter *walker;
};

void lib_print(const struct ctaccel *h, enum ctaccel_print_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define pr_warn(h, ...)	 lib_print(h, CTACCEL_PRINT_WARN, __VA_ARGS__)
#define pr_info(h, ...)	 lib_print(h, CTACCEL_PRINT_INFO, __VA_ARGS__)
#define pr_debug(h, ...) lib_print(h, CTACCEL_PRINT_DEBUG, __VA_ARGS__)

/* The message of lib_fail(). */
void lib_warn_err(const struct ctaccel *h, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Report a failure once and evaluate to `err` (a negative errno, read once:
 * logging may change errno): `return lib_fail(h, err, "attach %s", n)` gives
 * "attach NAME: strerror". A macro so that static analysis sees the failure
 * code returned, not an opaque call's result.
 */
#define lib_fail(h, err, ...)                                                                      \
	({                                                                                         \
		int lib_fail_err__ = (err);                                                        \
		lib_warn_err((h), lib_fail_err__, __VA_ARGS__);                                    \
		lib_fail_err__;                                                                    \
	})

/* Run ctaccel_expiry_ctl: start (or take over) the timer, or stop it. */
int expiry_ctl(int ctl_prog_fd, uint32_t interval_ms, uint32_t flags);

/* Pin fd under the root as `name`, mode 0600. */
int pin_fd(struct ctaccel *h, int fd, const char *name);
/* Remove the pin `name` below the root, if there. */
void unpin(struct ctaccel *h, const char *name);
/* Pin again under the same name (bpffs refuses rename over a pin). */
int repin_fd(struct ctaccel *h, int fd, const char *name);
/* An fd of the registry's pin `id`, or -errno. */
int pin_get(const struct ctaccel *h, enum pin_id id);
/* An fd of the pin `name` (a name made at run time: tcx links), or -errno. */
int pin_get_file(const struct ctaccel *h, const char *name);
/* A program's id, 0 when fd is not one. */
__u32 prog_id_of(int fd);
bool pin_exists(const struct ctaccel *h, const char *name);
/* A migration's record (migrate_record.c): left by one a process did not
 * finish. Made from fd[] by row; read back into fd[] (fds the caller
 * closes). */
bool migration_recorded(const struct ctaccel *h);
void migration_record_remove(struct ctaccel *h);
int record_make(struct ctaccel *h, const int *fd);
int record_read(struct ctaccel *h, int *fd);
int journal_read(struct ctaccel *h, int fd, struct ctaccel_migrate_journal *j);
uint64_t migration_now_ns(void);
/* The pinned programs' counters (abi.c): from[j], the old slot of this
 * build's slot j; 1 for this build's layout, 0 another, or -errno. Then
 * the old map's totals in this build's slots. */
int stats_layout(struct ctaccel *h, int *from);
int stats_carried(struct ctaccel *h, const int *from, __s64 *out);
/* Every pin of a state, and the root directory if then empty. */
void unpin_all(struct ctaccel *h);

/* A device's hooks (devices.c): its tcx link, or a tc filter on clsact. */
int hook_attach(struct ctaccel *h, unsigned int ifindex, bool ingress, int prog_fd, bool *created);
int hook_detach(struct ctaccel *h, unsigned int ifindex, bool ingress);
/* Whether the device's ingress hook is a tcx link of this state. */
bool device_has_tcx(const struct ctaccel *h, unsigned int ifindex);

/* Move ctaccel_policy_gen's `devices` (true) or `gen` on, under the writers'
 * lock (policy.c). */
int policy_gen_bump(struct ctaccel *h, bool devices);
/* The trie in use (policy.c): an fd, or -errno. */
int policy_inner_fd(struct ctaccel *h);
/* The rules in use, as ctaccel_policy_read(), reporting nothing. */
int policy_rules_read(struct ctaccel *h, struct ctaccel_rule **rules, size_t *n);

/* A live upgrade (load.c) whose programs take `settings`: ctaccel_replace()
 * with the state's own, live.c with changed timeouts. */
int state_replace(struct ctaccel *h, const struct ctaccel_config *settings, bool force,
		  bool *replaced);

/* The pieces of a live upgrade (replace.c) a migration (migrate.c) uses too. */
struct tracker;
/* A row's program, or its map or program, in an open skeleton of its object
 * (load.c). */
int pin_prog_fd(const void *skel, enum pin_id id);
int pin_row_fd(const void *skel, enum pin_id id);
/* This library's programs with `settings` over the open state's maps, but
 * where `instead` (by row; -1 elsewhere, or NULL) names another map, or
 * `entries` (by row; 0 elsewhere, or NULL) asks for a new one of that size
 * (ENTRIES_AS_BUILT: of the object's). A made timeouts map takes the state's
 * (an older ABI's from its configuration). NULL and *err set when that
 * fails. */
#define ENTRIES_AS_BUILT UINT32_MAX
struct tracker *load_over(struct ctaccel *h, const struct ctaccel_config *settings,
			  const int *instead, const uint32_t *entries, int *err);
/* The expiry timer, every device's hooks and the cgroup links take the
 * skeleton's programs (a stopped timer stays stopped). */
int swap_programs(struct ctaccel *h, struct tracker *skel, uint32_t interval_ms);
/* Every device's hooks, then the cgroup links, take the programs `prog`
 * (by row): a rollback's swap to the old ones. */
int swap_filters(struct ctaccel *h, const int *prog);
int swap_sockops(struct ctaccel *h, const int *prog);
/* A skeleton's programs and settings under the pinned names (SWAP rows). */
int repin_swapped(struct ctaccel *h, struct tracker *skel);

/* State of ABI `abi` has a declared chain of steps to this one (abi.c). */
bool abi_migratable(uint32_t abi);
/* What the step from `from` to from + 1 changed (abi.c). */
const char *abi_step_change(uint32_t from);
/* The open state carried to this build's layout by a migration where it has
 * another (an older ABI's, opened by ctaccel_open_upgrade(); counters laid
 * out otherwise): 1, done; 0, the same layout; -errno (reported), left as
 * it was. */
int layout_migrate(struct ctaccel *h, struct ctaccel_migration *m);

/* The timeouts, seconds in `o`, jiffies at cfg->hz in `cfg`: the one
 * conversion each way (load.c). */
/* The one conversion of the timeouts: seconds of the settings to jiffies at
 * `hz`, and back (load.c). */
void timeouts_in(struct ctaccel_live *t, unsigned int hz, const struct ctaccel_load_opts *o);
void timeouts_out(const struct ctaccel_live *t, unsigned int hz, struct ctaccel_load_opts *o);
/* The open state's live settings: its map, or an older ABI's configuration
 * (live.c). */
int state_live(struct ctaccel *h, struct ctaccel_live *t);
/* Table inet ctaccel with a notrack rule per mark word, in one transaction
 * (nft.c): two while the mark changes. */
int nft_install_marks(struct ctaccel *h, const __u64 *marks, size_t n);
/* The marks of table inet ctaccel other than `live`, into others (at most
 * max): their number; -ENOENT: no table; -EINVAL: not a table as
 * nft_install_marks() makes it, or one without `live`. */
int nft_table_marks(struct ctaccel *h, __u64 live, __u64 *others, int max);
/* Wait until no program that ran before this call still runs: an RCU grace
 * period (migrate.c). */
int programs_settle(void);

/* The datapath's clock, jiffies (flows.c). */
int clock_now(struct ctaccel *h, uint64_t *jiffies);

/* Remove every flow through compare-and-delete (flows.c). */
int flows_flush(struct ctaccel *h, size_t *deleted);

#endif /* LIBCTACCEL_INTERNAL_H */
