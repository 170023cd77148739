/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The ctaccel command line: argv in, text or JSON out, on libctaccel. Each
 * command gets the invocation's context (options, the library handle) and
 * returns an exit code.
 */
#ifndef CTACCEL_CLI_H
#define CTACCEL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "libctaccel.h"

#define CLI_LOAD_USAGE "load [SETTING VALUE]...   ('ctaccel load help': the settings)"

/* Exit codes: bpftool's and iproute2's habits. */
#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

struct cli {
	bool json;
	bool pretty;
	bool debug;
	bool reported; /* an error was printed: no second message for it */
	const char *pin_path;
	struct ctaccel *h;
};

/* One error message: on stderr, or {"error": ...} on stdout under -j. */
void cli_err(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_err unless the library already reported this failure; returns code. */
int cli_fail(struct cli *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A warning on stderr, under -j too: the command goes on. */
void cli_warn(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text output only: nothing under -j. */
void cli_info(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a JSON value as the command's output, compact or pretty; frees it. */
void cli_json(struct cli *c, json_t *v);
/* The library's messages: warnings become the command's error message. */
void cli_lib_print(enum ctaccel_print_level level, const char *msg, void *ctx);

bool is_prefix(const char *arg, const char *word);
/* Open the pinned state; readers then drop every capability. */
int cli_open(struct cli *c, bool readonly);

int do_load(struct cli *c, int argc, char **argv);
int do_unload(struct cli *c, int argc, char **argv);
int do_attach(struct cli *c, int argc, char **argv);
int do_detach(struct cli *c, int argc, char **argv);
int do_replace(struct cli *c, int argc, char **argv);
int do_set(struct cli *c, int argc, char **argv);
int do_gc(struct cli *c, int argc, char **argv);
int do_expiry(struct cli *c, int argc, char **argv);
int do_latency(struct cli *c, int argc, char **argv);
int do_status(struct cli *c, int argc, char **argv);
int do_stats(struct cli *c, int argc, char **argv);
int do_flow(struct cli *c, int argc, char **argv);
int do_policy(struct cli *c, int argc, char **argv);
int do_sockets(struct cli *c, int argc, char **argv);
int do_tw(struct cli *c, int argc, char **argv);
int do_top(struct cli *c, int argc, char **argv);

int do_monitor(struct cli *c, int argc, char **argv);

/* Which flows `flow` and `monitor` show: [state STATE] [addr ADDR] [port PORT] [proto P]. */
struct flow_filter {
	int state;  /* -1: any */
	int family; /* 0: any */
	__u8 addr[16];
	int port;  /* -1: any */
	int proto; /* 0: any */
};
int cli_flow_filter(struct cli *c, const char *verb, int argc, char **argv, struct flow_filter *f);
bool cli_filter_match(const struct flow_filter *f, const struct ctaccel_tuple *t, uint32_t state);

#define CLI_MONITOR_USAGE "monitor [count N] [state STATE] [addr ADDR] [port PORT] [proto tcp|udp]"
#define CLI_TOP_USAGE	  "top [interval S] [count N] [sort packets|bytes] [flows N]"

/* argv of `load` (and nothing else) into *o: EXIT_USAGE on a bad word. */
int cli_load_args(struct cli *c, int argc, char **argv, struct ctaccel_load_opts *o, bool *any);
/* One setting's words, KEY VALUE (a table's key, or a unique prefix of one),
 * into base: the words it took (2, or 3 for an older `timeout STATE
 * SECONDS`), or -EXIT_USAGE (reported). An older spelling is warned of. */
int cli_setting_words(struct cli *c, const char *verb, const struct ctaccel_setting *table,
		      void *base, int argc, char **argv);
/* A table's settings, a line each (key, value, range, live, default), then
 * what each means. */
void cli_settings_help(const struct ctaccel_setting *table, const void *defaults);

#endif /* CTACCEL_CLI_H */
