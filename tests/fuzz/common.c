// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "common.h"

int fuzz_words(const uint8_t *data, size_t size, char *buf, char **argv)
{
	int argc = 0;
	size_t i;
	char *w = buf;

	memcpy(buf, data, size);
	buf[size] = 0;
	for (i = 0; i <= size && argc < FUZZ_WORDS; i++) {
		if (i < size && buf[i] && buf[i] != '\n')
			continue;
		buf[i] = 0;
		argv[argc++] = w;
		w = buf + i + 1;
	}
	return argc;
}

char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

void fuzz_fail(const char *target, const char *why)
{
	fprintf(stderr, "%s: %s\n", target, why);
	abort();
}

void fuzz_check_rule(const struct rule_set *r)
{
	int i, b;

	if (r->n < 1 || r->n > 2)
		fuzz_fail("rule", "not 1 or 2 keys");
	for (i = 0; i < r->n; i++) {
		const struct ctaccel_policy_key *k = &r->k[i];
		unsigned int bits = k->family == AF_INET ? 32 : 128;
		const uint8_t *a = (const uint8_t *)k->addr;

		if (k->family != AF_INET && k->family != AF_INET6)
			fuzz_fail("rule", "unknown family");
		if (k->prefixlen < CTACCEL_POLICY_KEY_BITS ||
		    k->prefixlen > CTACCEL_POLICY_KEY_BITS + bits)
			fuzz_fail("rule", "prefix length out of range");
		for (b = k->prefixlen - CTACCEL_POLICY_KEY_BITS; b < 128; b++)
			if (a[b / 8] & (0x80 >> (b % 8)))
				fuzz_fail("rule", "host bit set past the prefix");
	}
}
