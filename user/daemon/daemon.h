/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * ctaccel daemon: a client of libctaccel that adopts (or loads) the pinned
 * state, attaches, applies the configured policy, runs GC and repairs, and
 * serves metrics, health and the control API. Everything it shares between
 * its main loop and its HTTP thread is in struct daemon, handed to each part.
 */
#ifndef CTACCEL_DAEMON_H
#define CTACCEL_DAEMON_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "libctaccel.h"

#define DAEMON_USAGE                                                                               \
	"daemon [--config FILE] [--SETTING VALUE]... [--migrate] [--check-config]\n"               \
	"       ('ctaccel daemon help': the settings; SIGHUP re-reads them, SIGTERM exits)"

#define DCONF_MAX_DEVICES 64
#define DCONF_MAX_RULES	  256
#define DCONF_MAX_NOTES	  8

/* The daemon's own rows of the settings schema (dconf.c). */
enum daemon_setting {
	DSET_DEVICES,
	DSET_LISTEN,
	DSET_CONTROL_LISTEN,
	DSET_PIN_PATH,
	DSET_HTTP_RATE,
	DSET_REPAIR_INTERVAL,
	DSET_POLICY,
	DSET_DETACH_ON_EXIT,
	DSET_UNIX_GROUP_ACCESS,
	DSET__MAX,
};
extern const struct ctaccel_setting daemon_settings[DSET__MAX + 1];

/* The daemon's settings: the file, then the flags over it. */
struct dconf {
	char *devices[DCONF_MAX_DEVICES];
	int ndev;
	char listen[256];
	char control_listen[256]; /* empty: the control API is on `listen` */
	char pin_path[PATH_MAX];
	struct ctaccel_load_opts load; /* and expiry-interval, live */
	uint32_t http_rate;
	uint32_t repair_interval; /* seconds; 0: off */
	struct ctaccel_rule rules[DCONF_MAX_RULES];
	size_t nrules;
	bool policy_given;
	bool detach_on_exit;
	bool unix_group_access; /* unix sockets 0660, not 0600 */
	bool migrate;
	bool check_only;
	bool help;
	char err[256];
	/* older spellings read, for the caller to log */
	char notes[DCONF_MAX_NOTES][160];
	int nnotes;
};

/* Defaults, with `pin_path` (ctaccel --pin-path) as the pin root. */
void dconf_defaults(struct dconf *c, const char *pin_path);
/* One KEY = VALUE, from the file: 0, or -errno with c->err set. */
int dconf_set(struct dconf *c, const char *key, const char *value);
/* A key of either table (the daemon's, then the load settings). */
int dconf_find(const char *key, struct ctaccel_setting_ref *ref);
/* The struct a row's values are kept in: c, or c->load. */
void *dconf_base(struct dconf *c, const struct ctaccel_setting_ref *ref);
/* The file named by --config (if any), then the flags; messages in c->err. */
int dconf_read(struct dconf *c, const char *pin_path, int argc, char **argv);
void dconf_free(struct dconf *c);
/* 0 when a configuration's text is good, else its first bad line (> 0). */
int daemon_conf_check(const char *text, char *err, size_t errlen);

enum daemon_repair {
	REPAIR_POLICY,
	REPAIR_NFT,
	REPAIR_DEVICE,
	REPAIR_IFACE,
	REPAIR_EXPIRY,
	REPAIR__MAX,
};

struct http_server;

/* At most one per load setting that is not live. */
#define DAEMON_MAX_UNAPPLIED 8

struct daemon {
	struct ctaccel *h;    /* the open state; reads need no lock */
	pthread_mutex_t lock; /* changes: GC, policy, reload, repairs */
	/* conf for readers that must not wait behind a change: readiness (a
	 * repair may wait seconds on the state lock while the CLI upgrades). */
	pthread_mutex_t conf_lock;
	struct dconf conf; /* the configuration in force */
	struct http_server *http;
	/* host sockets, one walk per scrape, and the mark walks (lent to h) */
	struct ctaccel_sockiter *sockiter;
	int instance_fd; /* one daemon per pinned state */
	bool state_gone; /* its pins were removed behind it: not ready, no repairs */
	/* Counted with atomics: /metrics reads them without the mutex, which a
	 * reload holds while it waits for the state lock. */
	uint64_t gc_runs;
	uint64_t gc_deleted;
	uint64_t gc_errors;
	double gc_last_seconds;
	double gc_seconds_total;
	uint64_t repairs[REPAIR__MAX];
	uint64_t repair_errors;
	uint64_t expiry_stalls; /* kernel expiry found not running */
	/* Load settings the configuration asks for and the state keeps (not
	 * live): /v1/status's problems, under conf_lock. */
	char unapplied[DAEMON_MAX_UNAPPLIED][CTACCEL_PROBLEM_LEN];
	size_t nunapplied;
};

extern const char *const daemon_repair_names[REPAIR__MAX];

/* `ctaccel daemon ARGS`; pin_path is ctaccel's --pin-path. An exit code. */
int daemon_main(const char *pin_path, bool tc_filters, int argc, char **argv);

/* One line per event on stderr, with its syslog priority (<3> error, <4>
 * warning, <6> information) under journald. */
void daemon_logp(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define daemon_err(...)	 daemon_logp(3, __VA_ARGS__)
#define daemon_warn(...) daemon_logp(4, __VA_ARGS__)
#define daemon_log(...)	 daemon_logp(6, __VA_ARGS__)

/* runtime.c: what the loop and the API do to the state. */
int daemon_attach_devices(struct daemon *d, const struct dconf *c);
int daemon_gc(struct daemon *d, struct ctaccel_gc_result *res);
void daemon_repair(struct daemon *d);
/* Every configured device runs both programs, and the maps answer. */
bool daemon_ready(struct daemon *d);
/* How long an API request waits for the daemon's mutex and the state lock:
 * then it fails with -EWOULDBLOCK (503). */
#define API_LOCK_MS 5000

/* Replace the policy under the state's lock (the CLI edits it too). */
int daemon_policy_replace(struct daemon *d, const struct ctaccel_rule *rules, size_t n);

/* Why a started daemon keeps a size it is asked for (max-flows,
 * unreplied-max): what ctaccel_apply() is told. */
#define DAEMON_STARTED_NO_LOAD                                                                     \
	"a migration of the table loads programs, which the daemon may not once started "          \
	"(CAP_PERFMON, given up): a restart of the daemon migrates it (flows kept)"

/* PUT /v1/config: load settings by key, each value as its text. */
#define CONFIG_PUT_MAX 64
struct config_put {
	size_t n;
	struct {
		char key[48];
		char value[256];
	} kv[CONFIG_PUT_MAX];
};
/* Apply `p` to the state where it changes live (fn hears of each change):
 * all of it, or nothing. 0; -EINVAL (a key or value is wrong), -EPERM (a
 * setting differs that cannot change now), with the reason in `why`;
 * -EWOULDBLOCK (busy); else -errno. */
int daemon_config_put(struct daemon *d, const struct config_put *p, ctaccel_change_fn fn, void *ctx,
		      char *why, size_t whylen);

#endif
