// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libFuzzer: the CLI's argument parsers. The first byte picks the parser
 * (policy rules, load options, numbers); the rest splits into words at NUL
 * and newline. A parse that succeeds must give a well-formed result, and no
 * parser may change its words.
 */
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "flowtab.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	cli.silent = true;
	return 0;
}

static void check_load(const struct load_args *a)
{
	int i;

	if (a->max_flows < 1 || a->max_flows > (1U << 28))
		fuzz_fail("load", "max-flows out of range");
	if (!a->cfg.mark || !a->cfg.mark_mask || (a->cfg.mark & ~a->cfg.mark_mask))
		fuzz_fail("load", "mark zero or outside its mask");
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		if (a->cfg.timeout[i] < a->cfg.hz)
			fuzz_fail("load", "a timeout under one second");
	if (a->cfg.timeout_unack < a->cfg.hz)
		fuzz_fail("load", "unack timeout under one second");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *copy, *argv[FUZZ_WORDS], *orig[FUZZ_WORDS];
	struct load_args la;
	struct rule_set r;
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
		if (policy_rule_parse(argc, argv, &r) == 0)
			fuzz_check_rule(&r);
		break;
	case 1:
		if (load_args_default(&la))
			fuzz_fail("load", "no defaults");
		if (load_args_parse(argc, argv, &la) == 0)
			check_load(&la);
		break;
	default:
		if (argc && parse_u32(argv[0], &v) == 0) {
			snprintf(num, sizeof(num), "%u", v);
			if (parse_u32(num, &again) || again != v)
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
