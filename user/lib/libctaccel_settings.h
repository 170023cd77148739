/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * libctaccel: the settings schema (settings.c). Included by
 * libctaccel.h, the one header its clients include.
 */
#ifndef LIBCTACCEL_PUBLIC_SETTINGS_H
#define LIBCTACCEL_PUBLIC_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ctaccel.h"

struct ctaccel;

/* ---- settings (settings.c): one schema for every way a setting is given ---- */
/*
 * A setting has one spelling, its key, wherever it is given: a word of the
 * CLI (`ctaccel load max-flows 1024`), a daemon flag (`--max-flows 1024`), a
 * key of the daemon's file (`max-flows = 1024`) and of its API's JSON
 * (GET /v1/config). A row of a table of struct ctaccel_setting says how the
 * value is written, its range and unit, where it is kept in the caller's
 * struct, and whether it changes on a running instance (live). The library's
 * rows are the load settings (ctaccel_load_settings, into struct
 * ctaccel_load_opts); a client keeps tables of its own the same way (the
 * daemon's). Older spellings (underscores, `gc_interval`, `timeout STATE
 * SECONDS`) are still read; ctaccel_setting_find() says when one was given,
 * for the caller's deprecation line.
 */
enum ctaccel_setting_type {
	CTACCEL_SETTING_COUNT,	 /* decimal digits, uint32_t in [min, max] */
	CTACCEL_SETTING_SECONDS, /* decimal seconds, uint32_t of 1/scale s in [min, max] */
	CTACCEL_SETTING_BOOL,	 /* on|off|yes|no|true|false|1|0, a bool */
	CTACCEL_SETTING_MARK,	 /* VALUE/MASK: uint32_t at off and off2 */
	CTACCEL_SETTING_PATH,	 /* an absolute path, char[size] */
	CTACCEL_SETTING_TEXT,	 /* the row's own parse and format */
};

struct ctaccel_setting;
typedef int (*ctaccel_setting_parse_fn)(const struct ctaccel_setting *s, void *base,
					const char *value, char *err, size_t errlen);
/* The nth value (0 for one that is not repeated), or -ENOENT past the last. */
typedef int (*ctaccel_setting_format_fn)(const struct ctaccel_setting *s, const void *base,
					 size_t nth, char *buf, size_t len);

struct ctaccel_setting {
	const char *key;    /* the one spelling; NULL ends a table */
	const char *syntax; /* how a value is written, for help (NULL: the type's) */
	enum ctaccel_setting_type type;
	uint32_t min, max; /* COUNT, SECONDS: in the kept unit */
	uint32_t scale;	   /* SECONDS: kept units per second */
	bool zero_is_auto; /* COUNT: 0, written "auto", means the default rule */
	const char *unit;
	bool live;	  /* takes effect on a running instance */
	bool repeat;	  /* may be given more than once; each adds */
	bool per_state;	  /* key "STEM-STATE": a value per state and unack */
	size_t off, off2; /* in the caller's struct (off2: a mark's mask, unack) */
	size_t size;	  /* PATH: the buffer */
	const char *old;  /* older spellings, '|'-separated ('_' for '-' is always read) */
	const char *help;
	ctaccel_setting_parse_fn parse;	  /* TEXT */
	ctaccel_setting_format_fn format; /* TEXT */
};

/* A per-state row's slot for nf_conntrack's "unacknowledged" timeout. */
#define CTACCEL_TIMEOUT_UNACK CTACCEL_ST__MAX

/* What a given key names: the row, the state of a per-state key (-1: the
 * value names it, "STATE SECONDS" of an older spelling), the one spelling,
 * and whether the given one was older. */
struct ctaccel_setting_ref {
	const struct ctaccel_setting *s;
	int state;
	bool old;
	char key[48];
};

/* 0, -ENOENT (no such key) or -ENOTUNIQ (with `prefix`, the CLI's unique
 * prefixes: more than one key begins so). */
int ctaccel_setting_find(const struct ctaccel_setting *table, const char *given, bool prefix,
			 struct ctaccel_setting_ref *ref);
/* Check and keep a value: 0, or -EINVAL with the reason (naming the key). */
int ctaccel_setting_set(const struct ctaccel_setting_ref *ref, void *base, const char *value,
			char *err, size_t errlen);
/* A kept value as it would be written; -ENOENT past the last (nth). */
int ctaccel_setting_format(const struct ctaccel_setting_ref *ref, const void *base, size_t nth,
			   char *buf, size_t len);
/* "N", "SECONDS", "on|off": how a row's value is written. */
const char *ctaccel_setting_syntax(const struct ctaccel_setting *s);
/* Every key of a table, one per state of a per-state row; fn's non-zero
 * return stops the walk and is returned. */
typedef int (*ctaccel_setting_fn)(const struct ctaccel_setting_ref *ref, void *ctx);
int ctaccel_settings_each(const struct ctaccel_setting *table, ctaccel_setting_fn fn, void *ctx);

/* What a load sets up: counts and seconds (jiffies stay inside). */
struct ctaccel_load_opts {
	uint32_t max_flows;
	uint32_t unreplied_max; /* 0: max_flows / 4, at least CTACCEL_UNREPLIED_MIN */
	uint32_t mark, mark_mask;
	bool local;		     /* the host's own sockets are tracked */
	char cgroup[256];	     /* sock_ops' cgroup v2 root; empty: the first mounted */
	uint32_t expiry_interval_ms; /* kernel expiry: least pause between checks */
	uint32_t timeout_s[CTACCEL_ST__MAX]; /* [CTACCEL_ST_NONE] unused */
	uint32_t timeout_unack_s;
};
extern const struct ctaccel_setting ctaccel_load_settings[];

/* nf_conntrack's timeouts, the default size, mark and expiry pause. */
void ctaccel_load_opts_default(struct ctaccel_load_opts *o);
/* Every value to its row's range, as its text would be (a caller that fills
 * the struct itself); 0, or -EINVAL with the reason. ctaccel_load checks. */
int ctaccel_load_opts_check(const struct ctaccel_load_opts *o, char *err, size_t errlen);
/* The number of slots a load with these options gives. */
uint32_t ctaccel_unreplied_slots(const struct ctaccel_load_opts *o);
/* The tc hooks a device needs under this state's configuration. */
unsigned int ctaccel_wanted_hooks(const struct ctaccel *h);

#endif /* LIBCTACCEL_PUBLIC_SETTINGS_H */
