// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Helpers shared by every command (output, numbers, capabilities); apart
 * from main.c so the fuzz targets link the same parsers the binary runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "cli.h"

struct cli cli = {.pin_path = CTACCEL_PIN_DEFAULT};

void pr_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (cli.silent)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cli.json) {
		json_t *o = json_pack("{s:s}", "error", msg);

		json_out(o);
		json_decref(o);
		return;
	}
	fprintf(stderr, "ctaccel: %s\n", msg);
}

void pr_info(const char *fmt, ...)
{
	va_list ap;

	if (cli.json)
		return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}

void json_out(json_t *v)
{
	json_dumpf(v, stdout, cli.pretty ? JSON_INDENT(2) : JSON_COMPACT);
	fputc('\n', stdout);
}

bool is_prefix(const char *arg, const char *word)
{
	size_t n = strlen(arg);

	return n && n <= strlen(word) && !strncmp(arg, word, n);
}

int parse_u32(const char *s, uint32_t *v)
{
	unsigned long long x;
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end || x > UINT32_MAX)
		return -EINVAL;
	*v = x;
	return 0;
}

/*
 * Keep only the capabilities in `keep` (a mask of CAP_* bits), for good: they
 * leave the bounding set too, and exec can grant no more. Run once the
 * privileged part (loading, pinning, attaching) is over.
 */
int caps_keep_only(uint64_t keep)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};
	int cap;

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	/* Dropping from the bounding set takes CAP_SETPCAP, which a unit may
	 * not grant; no_new_privs below closes the same door (exec). */
	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EPERM)
			return -errno;
	data[0].effective &= (uint32_t)keep;
	data[0].permitted &= (uint32_t)keep;
	data[0].inheritable = 0;
	data[1].effective &= (uint32_t)(keep >> 32);
	data[1].permitted &= (uint32_t)(keep >> 32);
	data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
