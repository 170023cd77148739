// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Settings on the command line: KEY VALUE words through the library's schema
 * (libctaccel.h, "settings"), and the help that lists a table's rows.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

int cli_setting_words(struct cli *c, const char *verb, const struct ctaccel_setting *table,
		      void *base, int argc, char **argv)
{
	struct ctaccel_setting_ref ref;
	char why[256], value[160];
	const char *v;
	int err, used = 2;

	err = ctaccel_setting_find(table, argv[0], true, &ref);
	if (err) {
		cli_err(c, "%s: %s '%s' ('ctaccel %s help' lists them)", verb,
			err == -ENOTUNIQ ? "ambiguous setting" : "unknown setting", argv[0], verb);
		return -EXIT_USAGE;
	}
	if (ref.s->per_state && ref.state < 0) {
		/* an older spelling's two words: timeout STATE SECONDS */
		if (argc < 3) {
			cli_err(c, "%s: %s needs STATE SECONDS", verb, argv[0]);
			return -EXIT_USAGE;
		}
		snprintf(value, sizeof(value), "%.64s %.64s", argv[1], argv[2]);
		v = value;
		used = 3;
	} else if (argc < 2) {
		cli_err(c, "%s: %s needs a value (%s)", verb, ref.key,
			ctaccel_setting_syntax(ref.s));
		return -EXIT_USAGE;
	} else {
		v = argv[1];
	}
	if (ref.old)
		cli_warn(c, "%s: '%s' is an older spelling of '%s'", verb, argv[0], ref.key);
	if (ctaccel_setting_set(&ref, base, v, why, sizeof(why))) {
		cli_err(c, "%s", why);
		return -EXIT_USAGE;
	}
	return used;
}

struct help_walk {
	const void *defaults;
};

static int help_row(const struct ctaccel_setting_ref *ref, void *ctx)
{
	const struct ctaccel_setting *s = ref->s;
	struct help_walk *w = ctx;
	char range[64] = "", def[96] = "";

	if (s->type == CTACCEL_SETTING_COUNT)
		snprintf(range, sizeof(range), "%u..%u %s", s->min, s->max, s->unit ? s->unit : "");
	else if (s->type == CTACCEL_SETTING_SECONDS)
		snprintf(range, sizeof(range), "%.10g..%.10g s", (double)s->min / s->scale,
			 (double)s->max / s->scale);
	if (ctaccel_setting_format(ref, w->defaults, 0, def, sizeof(def)) || !def[0])
		snprintf(def, sizeof(def), "none");
	printf("  %-22s %-20s %-22s %-4s %s\n", ref->key, ctaccel_setting_syntax(s), range,
	       s->live ? "live" : "", def);
	return 0;
}

void cli_settings_help(const struct ctaccel_setting *table, const void *defaults)
{
	struct help_walk w = {.defaults = defaults};
	const struct ctaccel_setting *s;

	printf("  %-22s %-20s %-22s %-4s %s\n", "KEY", "VALUE", "RANGE", "LIVE", "DEFAULT");
	ctaccel_settings_each(table, help_row, &w);
	for (s = table; s->key; s++)
		if (s->help)
			printf("  %s: %s\n", s->key, s->help);
}
