// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The daemon's log: one line per event on stderr, with its syslog priority. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "daemon.h"

void daemon_logp(int priority, const char *fmt, ...)
{
	va_list ap;

	/* journald reads a line's syslog priority from a <N> prefix. */
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>", priority);
	fputs("ctaccel: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
