// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libFuzzer: libctaccel's value parsers, as every client feeds them. The
 * first byte picks the parser (policy rules, load options, numbers); the rest
 * splits into words at NUL and newline. A parse that succeeds must give a
 * well-formed result, a refusal must say why, and no parser may change its
 * words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

static void check_load(const struct ctaccel_load_opts *o)
{
	int i;

	if (o->max_flows < 1 || o->max_flows > CTACCEL_MAX_FLOWS_LIMIT)
		fuzz_fail("load", "max-flows out of range");
	if (!o->cfg.mark || !o->cfg.mark_mask || (o->cfg.mark & ~o->cfg.mark_mask))
		fuzz_fail("load", "mark zero or outside its mask");
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		if (o->cfg.timeout[i] < o->cfg.hz)
			fuzz_fail("load", "a timeout under one second");
	if (o->cfg.timeout_unack < o->cfg.hz)
		fuzz_fail("load", "unack timeout under one second");
}

/* all|PREFIX [port PORT] */
static void rule(int argc, char **argv)
{
	struct ctaccel_rule r;
	char err[256] = "";
	uint32_t port;

	if (argc < 1)
		return;
	if (ctaccel_rule_parse(argv[0], &r, err, sizeof(err))) {
		if (!err[0])
			fuzz_fail("rule", "refused without a reason");
		return;
	}
	if (argc >= 3 && !ctaccel_parse_u32(argv[2], &port)) {
		err[0] = 0;
		if (ctaccel_rule_set_port(&r, port, err, sizeof(err))) {
			if (!err[0] || r.port)
				fuzz_fail("rule", "a bad port refused without a reason, or kept");
			return;
		}
	}
	fuzz_check_rule(&r);
}

/* max-flows N, mark V/M, timeout STATE SECONDS, or STATE SECONDS. */
static void load(int argc, char **argv)
{
	struct ctaccel_load_opts o;
	char err[256];
	uint32_t a, b;
	int i, rc;

	if (ctaccel_load_opts_default(&o))
		fuzz_fail("load", "no defaults");
	for (i = 0; i + 1 < argc; i += 2) {
		const char *key = argv[i], *val = argv[i + 1];

		/* the CLI's grammar: timeout STATE SECONDS */
		if (!strcmp(key, "timeout") && i + 2 < argc) {
			key = argv[++i];
			val = argv[i + 1];
		}
		err[0] = 0;
		if (!strcmp(key, "max-flows")) {
			if (ctaccel_parse_u32(val, &a))
				continue;
			rc = ctaccel_set_max_flows(&o, a, err, sizeof(err));
		} else if (!strcmp(key, "mark")) {
			if (ctaccel_parse_mark(val, &a, &b))
				continue;
			rc = ctaccel_set_mark(&o, a, b, err, sizeof(err));
		} else {
			if (ctaccel_parse_u32(val, &a))
				continue;
			rc = ctaccel_set_timeout(&o, key, a, err, sizeof(err));
		}
		if (rc && !err[0])
			fuzz_fail("load", "a setter refused without a reason");
	}
	check_load(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *copy, *argv[FUZZ_WORDS], *orig[FUZZ_WORDS];
	uint32_t v, again;
	char num[16];
	int argc, i;

	if (size < 1 || size > 4096)
		return -1;
	buf = malloc(size);
	copy = malloc(size);
	argc = fuzz_words(data + 1, size - 1, buf, argv);
	memcpy(copy, buf, size);
	for (i = 0; i < argc; i++)
		orig[i] = copy + (argv[i] - buf);
	switch (data[0] % 3) {
	case 0:
		rule(argc, argv);
		break;
	case 1:
		load(argc, argv);
		break;
	default:
		if (argc && ctaccel_parse_u32(argv[0], &v) == 0) {
			snprintf(num, sizeof(num), "%u", v);
			if (ctaccel_parse_u32(num, &again) || again != v)
				fuzz_fail("parse_u32", "does not read back its own value");
		}
		break;
	}
	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], orig[i]))
			fuzz_fail("args", "a parser changed its words");
	free(buf);
	free(copy);
	return 0;
}
