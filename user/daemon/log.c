// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The daemon's log: one line per event on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "daemon.h"

void daemon_log(const char *fmt, ...)
{
	va_list ap;

	/* journald reads syslog priorities from a <N> prefix. */
	if (getenv("JOURNAL_STREAM"))
		fputs("<6>", stderr);
	fputs("ctaccel: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
