// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Values every client takes from its input (argv, the daemon's file, the
 * HTTP API): checked here once. The settings (settings.c) read theirs with
 * these.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

/* A mark's word: decimal digits, or 0x and at most eight hex digits. */
static int mark_word(const char *s, uint32_t *v)
{
	const char *hex = s + 2;

	if (strncmp(s, "0x", 2) && strncmp(s, "0X", 2))
		return ctaccel_parse_u32(s, v);
	if (!*hex || strlen(hex) > 8 || strspn(hex, "0123456789abcdefABCDEF") != strlen(hex))
		return -EINVAL;
	*v = strtoul(hex, NULL, 16);
	return 0;
}

int ctaccel_parse_mark(const char *s, uint32_t *mark, uint32_t *mask)
{
	char buf[64], *slash;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	if (mark_word(buf, mark) || mark_word(slash + 1, mask))
		return -EINVAL;
	return 0;
}

int ctaccel_parse_u32(const char *s, uint32_t *v)
{
	uint64_t x = 0;
	size_t i;

	/* decimal digits only: no sign, no space, no base prefix (010 is ten) */
	if (!*s || strlen(s) > 10)
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		x = x * 10 + (s[i] - '0');
	}
	if (x > UINT32_MAX)
		return -EINVAL;
	*v = x;
	return 0;
}

int ctaccel_parse_bool(const char *s, bool *v)
{
	static const char *const on[] = {"on", "yes", "true", "1"};
	static const char *const off[] = {"off", "no", "false", "0"};
	size_t i;

	for (i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		if (!strcmp(s, on[i])) {
			*v = true;
			return 0;
		}
		if (!strcmp(s, off[i])) {
			*v = false;
			return 0;
		}
	}
	return -EINVAL;
}
