// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The CLI's output: one error message per failure, text or JSON. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

static void err_out(struct cli *c, const char *msg)
{
	c->reported = true;
	if (c->json) {
		json_t *o = json_pack("{s:s}", "error", msg);

		cli_json(c, o);
		return;
	}
	fprintf(stderr, "ctaccel: %s\n", msg);
}

void cli_err(struct cli *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_out(c, msg);
}

int cli_fail(struct cli *c, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->reported)
		return code;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_out(c, msg);
	return code;
}

void cli_warn(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	(void)c;
	fputs("ctaccel: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_info(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	if (c->json)
		return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}

void cli_json(struct cli *c, json_t *v)
{
	json_dumpf(v, stdout, c->pretty ? JSON_INDENT(2) : JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(v);
}

void cli_lib_print(enum ctaccel_print_level level, const char *msg, void *ctx)
{
	struct cli *c = ctx;

	if (level == CTACCEL_PRINT_WARN)
		err_out(c, msg);
	else if (level == CTACCEL_PRINT_INFO || c->debug)
		fprintf(stderr, "ctaccel: %s\n", msg);
}

bool is_prefix(const char *arg, const char *word)
{
	size_t n = strlen(arg);

	return n && n <= strlen(word) && !strncmp(arg, word, n);
}

int cli_open(struct cli *c, bool readonly)
{
	int err = ctaccel_open(c->h);

	if (err || !readonly)
		return err;
	/* Reading and formatting what the kernel holds needs no privilege
	 * once the pins are open. */
	err = ctaccel_caps_keep_only(0);
	if (err) {
		cli_err(c, "drop capabilities: %s", strerror(-err));
		ctaccel_close(c->h);
	}
	return err;
}
