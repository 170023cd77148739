// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libFuzzer: libctaccel's value parsers, as every client feeds them. The
 * first byte picks the parser (policy rules, load settings, numbers); the rest
 * splits into words at NUL and newline. A parse that succeeds must give a
 * well-formed result, a refusal must say why, and no parser may change its
 * words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

/* A value kept reads back as itself: what it formats to sets the same. */
static int round_trip(const struct ctaccel_setting_ref *ref, void *ctx)
{
	const struct ctaccel_load_opts *o = ctx;
	struct ctaccel_load_opts again = *o;
	char text[320], err[256];

	if (ctaccel_setting_format(ref, o, 0, text, sizeof(text)))
		return 0;
	if (ref->s->type == CTACCEL_SETTING_PATH && !text[0])
		return 0; /* never given */
	if (ref->s->zero_is_auto && !strcmp(text, "0"))
		return 0;
	if (ctaccel_setting_set(ref, &again, text, err, sizeof(err)) ||
	    memcmp(&again, o, sizeof(again)))
		fuzz_fail("load", "a kept value does not read back as itself");
	return 0;
}

static void check_load(const struct ctaccel_load_opts *o)
{
	char err[256];

	if (ctaccel_load_opts_check(o, err, sizeof(err)) && !strstr(err, "more than max-flows"))
		fuzz_fail("load", "the settings kept a value out of range");
	ctaccel_settings_each(ctaccel_load_settings, round_trip, (void *)o);
}

/* Numbers are decimal digits only: no sign, no base prefix, no space. */
static void check_decimal(const char *what, const char *text)
{
	if (!*text || strspn(text, "0123456789") != strlen(text))
		fuzz_fail(what, "a number that is not decimal digits only was accepted");
}

/* all|PREFIX [port PORT] */
static void rule(int argc, char **argv)
{
	struct ctaccel_rule r;
	const char *slash;
	char err[256] = "";
	uint32_t port;

	if (argc < 1)
		return;
	if (ctaccel_rule_parse(argv[0], &r, err, sizeof(err))) {
		if (!err[0])
			fuzz_fail("rule", "refused without a reason");
		return;
	}
	slash = strchr(argv[0], '/');
	if (slash) {
		check_decimal("rule prefix length", slash + 1);
		if ((unsigned int)atoi(slash + 1) != r.plen)
			fuzz_fail("rule", "a prefix length stored as another value");
	}
	if (argc >= 3 && !ctaccel_parse_u32(argv[2], &port)) {
		check_decimal("rule port", argv[2]);
		err[0] = 0;
		if (ctaccel_rule_set_port(&r, port, err, sizeof(err))) {
			if (!err[0] || r.port)
				fuzz_fail("rule", "a bad port refused without a reason, or kept");
			return;
		}
	}
	fuzz_check_rule(&r);
}

/* KEY VALUE words of `ctaccel load`, as the CLI feeds them to the settings
 * schema (and `timeout STATE SECONDS`, an older spelling). */
static void load(int argc, char **argv)
{
	struct ctaccel_setting_ref ref;
	struct ctaccel_load_opts o, before;
	char err[256], value[160];
	const char *v;
	int i, rc;

	ctaccel_load_opts_default(&o);
	for (i = 0; i + 1 < argc; i += 2) {
		if (ctaccel_setting_find(ctaccel_load_settings, argv[i], true, &ref))
			continue;
		v = argv[i + 1];
		if (ref.s->per_state && ref.state < 0) {
			if (i + 2 >= argc)
				break;
			snprintf(value, sizeof(value), "%.64s %.64s", argv[i + 1], argv[i + 2]);
			v = value;
			i++;
		}
		err[0] = 0;
		before = o;
		rc = ctaccel_setting_set(&ref, &o, v, err, sizeof(err));
		if (rc && !err[0])
			fuzz_fail("load", "a setting refused without a reason");
		if (rc && memcmp(&before, &o, sizeof(o)))
			fuzz_fail("load", "a refused setting changed the options");
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
			check_decimal("parse_u32", argv[0]);
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
