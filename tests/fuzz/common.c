// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <netinet/in.h>
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

static void check_round_trip(const struct ctaccel_rule *r)
{
	struct ctaccel_rule back;
	char text[96], err[256], *sp;

	ctaccel_rule_format(r, text, sizeof(text));
	sp = strchr(text, ' ');
	if (sp)
		*sp = 0;
	if (ctaccel_rule_parse(text, &back, err, sizeof(err)))
		fuzz_fail("rule", "its text form does not parse");
	back.port = r->port;
	if (memcmp(&back, r, sizeof(back)))
		fuzz_fail("rule", "its text form parses to another rule");
}

void fuzz_check_rule(const struct ctaccel_rule *r)
{
	struct ctaccel_policy_key keys[CTACCEL_RULE_KEYS_MAX];
	int i, b, n = ctaccel_rule_keys(r, keys);

	if (n != (r->family ? 1 : 2) * (r->proto ? 1 : 2))
		fuzz_fail("rule", "not one key per family and protocol");
	check_round_trip(r);
	for (i = 0; i < n; i++) {
		const struct ctaccel_policy_key *k = &keys[i];
		unsigned int bits = k->family == AF_INET ? 32 : 128;
		const uint8_t *a = (const uint8_t *)k->addr;

		if (k->family != AF_INET && k->family != AF_INET6)
			fuzz_fail("rule", "unknown family");
		if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP)
			fuzz_fail("rule", "unknown protocol");
		if (k->prefixlen < CTACCEL_POLICY_KEY_BITS ||
		    k->prefixlen > CTACCEL_POLICY_KEY_BITS + bits)
			fuzz_fail("rule", "prefix length out of range");
		for (b = k->prefixlen - CTACCEL_POLICY_KEY_BITS; b < 128; b++)
			if (a[b / 8] & (0x80 >> (b % 8)))
				fuzz_fail("rule", "host bit set past the prefix");
	}
}
