// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The settings schema (libctaccel.h, "settings"): one row per setting, read
 * the same way from the CLI's words, the daemon's flags and file and its
 * API; range, unit and message written once, here. The library's own rows
 * are the load settings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

#define ROW_OFF(field) offsetof(struct ctaccel_load_opts, field)

const struct ctaccel_setting ctaccel_load_settings[] = {
	{
		.key = "max-flows",
		.type = CTACCEL_SETTING_COUNT,
		.min = 1,
		.max = CTACCEL_MAX_FLOWS_LIMIT,
		.unit = "flows",
		.off = ROW_OFF(max_flows),
		.live = true, /* by a migration of the table (ctaccel_resize) */
		.help = "entries of the flow table (memory follows the live flows)",
	},
	{
		.key = "unreplied-max",
		.type = CTACCEL_SETTING_COUNT,
		.min = 1,
		.max = CTACCEL_MAX_FLOWS_LIMIT,
		.unit = "flows",
		.syntax = "N|auto",
		.zero_is_auto = true,
		.off = ROW_OFF(unreplied_max),
		.live = true, /* by a migration of the table (ctaccel_resize) */
		.help = "entries flows without a reply may hold, the oldest go first "
			"(auto: max-flows / 4, at least 64)",
	},
	{
		.key = "mark",
		.type = CTACCEL_SETTING_MARK,
		.off = ROW_OFF(mark),
		.off2 = ROW_OFF(mark_mask),
		.live = true, /* with local off only (live.c) */
		.help = "the bypass mark: VALUE/MASK, VALUE non-zero and within MASK (live with "
			"local off)",
	},
	{
		.key = "local",
		.type = CTACCEL_SETTING_BOOL,
		.off = ROW_OFF(local),
		.help = "track the host's own sockets (tc egress, sock_ops, the socket "
			"tracepoint); off: a forwarding gateway's ingress only",
	},
	{
		.key = "cgroup",
		.type = CTACCEL_SETTING_PATH,
		.off = ROW_OFF(cgroup),
		.size = sizeof(((struct ctaccel_load_opts *)0)->cgroup),
		.help = "the cgroup v2 root sock_ops attaches to (default: the first mounted)",
	},
	{
		.key = "timeout-STATE",
		.type = CTACCEL_SETTING_SECONDS,
		.per_state = true,
		.min = 1,
		.max = CTACCEL_MAX_TIMEOUT_S,
		.scale = 1,
		.unit = "s",
		.live = true,
		.off = ROW_OFF(timeout_s),
		.off2 = ROW_OFF(timeout_unack_s),
		.old = "timeout",
		.help = "a state's timeout, STATE as conntrack prints it in lower case with '-' "
			"(timeout-time-wait), or unack: ESTABLISHED before any reply",
	},
	{
		.key = "expiry-interval",
		.type = CTACCEL_SETTING_SECONDS,
		.min = 10,
		.max = CTACCEL_EXPIRY_INTERVAL_MS_MAX,
		.scale = 1000,
		.unit = "s",
		.live = true,
		.off = ROW_OFF(expiry_interval_ms),
		.old = "gc-interval",
		.help = "kernel expiry's least pause between checks of the table",
	},
	{},
};

static const char *const type_syntax[] = {
	[CTACCEL_SETTING_COUNT] = "N",	   [CTACCEL_SETTING_SECONDS] = "SECONDS",
	[CTACCEL_SETTING_BOOL] = "on|off", [CTACCEL_SETTING_MARK] = "VALUE/MASK",
	[CTACCEL_SETTING_PATH] = "PATH",   [CTACCEL_SETTING_TEXT] = "TEXT",
};

const char *ctaccel_setting_syntax(const struct ctaccel_setting *s)
{
	return s->syntax ? s->syntax : type_syntax[s->type];
}

/* "TIME_WAIT" as a key's part: "time-wait". */
static void state_word(int state, char *buf, size_t len)
{
	const char *name = state == CTACCEL_TIMEOUT_UNACK ? "unack" : ctaccel_state_names[state];
	size_t i;

	for (i = 0; name[i] && i + 1 < len; i++)
		buf[i] = name[i] == '_' ? '-' : (char)(name[i] | 0x20);
	buf[i] = 0;
}

/* The states a per-state row has keys for: every one but NONE, and unack. */
static bool state_keyed(int state)
{
	return (state > CTACCEL_ST_NONE && state < CTACCEL_ST__MAX) ||
	       state == CTACCEL_TIMEOUT_UNACK;
}

static void ref_fill(struct ctaccel_setting_ref *ref, const struct ctaccel_setting *s, int state)
{
	char word[32];
	size_t stem;

	ref->s = s;
	ref->state = state;
	if (!s->per_state) {
		snprintf(ref->key, sizeof(ref->key), "%s", s->key);
		return;
	}
	stem = strcspn(s->key, "-");
	if (state < 0) {
		snprintf(ref->key, sizeof(ref->key), "%s", s->key);
		return;
	}
	state_word(state, word, sizeof(word));
	snprintf(ref->key, sizeof(ref->key), "%.*s-%s", (int)stem, s->key, word);
}

/* The key as its one spelling would be: lower case, '-' for '_'. */
static void normalise(const char *given, char *buf, size_t len)
{
	size_t i;

	for (i = 0; given[i] && i + 1 < len; i++)
		buf[i] = given[i] == '_'			? '-'
			 : (given[i] >= 'A' && given[i] <= 'Z') ? given[i] | 0x20
								: given[i];
	buf[i] = 0;
}

/* Whether `word` is one of the '|'-separated names in `list`. */
static bool in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	while (list && *list) {
		size_t len = strcspn(list, "|");

		if (len == n && !strncmp(list, word, n))
			return true;
		list += len + (list[len] == '|');
	}
	return false;
}

/* An exact key, of its one spelling or an older one. */
static int find_exact(const struct ctaccel_setting *table, const char *norm,
		      struct ctaccel_setting_ref *ref)
{
	const struct ctaccel_setting *s;
	size_t stem;
	int st;

	for (s = table; s->key; s++) {
		if (!s->per_state) {
			if (!strcmp(norm, s->key) || in_list(s->old, norm)) {
				ref_fill(ref, s, -1);
				return 0;
			}
			continue;
		}
		if (in_list(s->old, norm)) {
			ref_fill(ref, s, -1); /* the state comes with the value */
			return 0;
		}
		stem = strcspn(s->key, "-");
		if (strncmp(norm, s->key, stem + 1))
			continue;
		for (st = 0; st <= CTACCEL_TIMEOUT_UNACK; st++) {
			char word[32];

			if (!state_keyed(st))
				continue;
			state_word(st, word, sizeof(word));
			if (!strcmp(norm + stem + 1, word)) {
				ref_fill(ref, s, st);
				return 0;
			}
		}
	}
	return -ENOENT;
}

struct prefix_walk {
	const char *norm;
	struct ctaccel_setting_ref found;
	int matches;
};

static int prefix_match(const struct ctaccel_setting_ref *ref, void *ctx)
{
	struct prefix_walk *w = ctx;

	if (strncmp(ref->key, w->norm, strlen(w->norm)))
		return 0;
	if (!w->matches++)
		w->found = *ref;
	return 0;
}

int ctaccel_setting_find(const struct ctaccel_setting *table, const char *given, bool prefix,
			 struct ctaccel_setting_ref *ref)
{
	char norm[64];
	struct prefix_walk w = {.norm = norm};

	memset(ref, 0, sizeof(*ref));
	if (strlen(given) >= sizeof(norm))
		return -ENOENT;
	normalise(given, norm, sizeof(norm));
	if (!find_exact(table, norm, ref)) {
		ref->old = strcmp(given, ref->key) != 0;
		return 0;
	}
	if (!prefix || !norm[0])
		return -ENOENT;
	ctaccel_settings_each(table, prefix_match, &w);
	if (w.matches > 1)
		return -ENOTUNIQ;
	if (!w.matches)
		return -ENOENT;
	*ref = w.found;
	return 0;
}

int ctaccel_settings_each(const struct ctaccel_setting *table, ctaccel_setting_fn fn, void *ctx)
{
	struct ctaccel_setting_ref ref = {};
	const struct ctaccel_setting *s;
	int st, ret;

	for (s = table; s->key; s++) {
		if (!s->per_state) {
			ref_fill(&ref, s, -1);
			ret = fn(&ref, ctx);
			if (ret)
				return ret;
			continue;
		}
		for (st = 0; st <= CTACCEL_TIMEOUT_UNACK; st++) {
			if (!state_keyed(st))
				continue;
			ref_fill(&ref, s, st);
			ret = fn(&ref, ctx);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* Where a row's (first) value is kept in the caller's struct. */
static void *slot(const struct ctaccel_setting_ref *ref, void *base)
{
	const struct ctaccel_setting *s = ref->s;

	if (s->per_state && ref->state == CTACCEL_TIMEOUT_UNACK)
		return (char *)base + s->off2;
	if (s->per_state)
		return (char *)base + s->off + ref->state * sizeof(uint32_t);
	return (char *)base + s->off;
}

/* "KEY 'VALUE': not a number of seconds from 0.01 to 3600" */
static int range_error(const struct ctaccel_setting_ref *ref, const char *value, char *err,
		       size_t errlen)
{
	const struct ctaccel_setting *s = ref->s;

	if (s->type == CTACCEL_SETTING_SECONDS)
		snprintf(err, errlen, "%s '%.64s': not a number of seconds from %.10g to %.10g",
			 ref->key, value, (double)s->min / s->scale, (double)s->max / s->scale);
	else
		snprintf(err, errlen, "%s '%.64s': not a number from %u to %u", ref->key, value,
			 s->min, s->max);
	return -EINVAL;
}

/* Seconds as decimal digits, with a fraction only as fine as the row keeps
 * (then zeros): into units of 1/scale s. */
static int parse_seconds(const char *v, uint32_t scale, uint32_t *out)
{
	const char *dot = strchr(v, '.');
	uint32_t whole, frac = 0, unit = scale;
	char buf[16];
	size_t i;

	if (!dot) {
		if (ctaccel_parse_u32(v, &whole) || whole > UINT32_MAX / scale)
			return -EINVAL;
		*out = whole * scale;
		return 0;
	}
	if ((size_t)(dot - v) >= sizeof(buf) || dot == v || !dot[1])
		return -EINVAL;
	memcpy(buf, v, dot - v);
	buf[dot - v] = 0;
	if (ctaccel_parse_u32(buf, &whole) || whole >= UINT32_MAX / scale)
		return -EINVAL;
	for (i = 1; dot[i]; i++) {
		if (dot[i] < '0' || dot[i] > '9' || (unit < 10 && dot[i] != '0'))
			return -EINVAL;
		unit /= 10;
		frac += (dot[i] - '0') * unit;
	}
	*out = whole * scale + frac;
	return 0;
}

static int set_number(const struct ctaccel_setting_ref *ref, void *base, const char *value,
		      char *err, size_t errlen)
{
	const struct ctaccel_setting *s = ref->s;
	uint32_t v;
	int bad;

	if (s->zero_is_auto && !strcmp(value, "auto")) {
		v = 0;
		memcpy(slot(ref, base), &v, sizeof(v));
		return 0;
	}
	bad = s->type == CTACCEL_SETTING_SECONDS ? parse_seconds(value, s->scale, &v)
						 : ctaccel_parse_u32(value, &v);
	if (bad || v < s->min || v > s->max)
		return range_error(ref, value, err, errlen);
	memcpy(slot(ref, base), &v, sizeof(v));
	return 0;
}

static int set_mark(const struct ctaccel_setting_ref *ref, void *base, const char *value, char *err,
		    size_t errlen)
{
	uint32_t mark, mask;

	if (ctaccel_parse_mark(value, &mark, &mask) || !mark || !mask || (mark & ~mask)) {
		snprintf(err, errlen,
			 "%s '%.64s': expected VALUE/MASK, VALUE non-zero and within MASK",
			 ref->key, value);
		return -EINVAL;
	}
	memcpy((char *)base + ref->s->off, &mark, sizeof(mark));
	memcpy((char *)base + ref->s->off2, &mask, sizeof(mask));
	return 0;
}

static int set_path(const struct ctaccel_setting_ref *ref, void *base, const char *value, char *err,
		    size_t errlen)
{
	if (value[0] != '/' || strlen(value) >= ref->s->size) {
		snprintf(err, errlen, "%s '%.64s': expected an absolute path of at most %zu bytes",
			 ref->key, value, ref->s->size - 1);
		return -EINVAL;
	}
	snprintf((char *)base + ref->s->off, ref->s->size, "%s", value);
	return 0;
}

int ctaccel_setting_set(const struct ctaccel_setting_ref *ref, void *base, const char *value,
			char *err, size_t errlen)
{
	const struct ctaccel_setting *s = ref->s;
	bool b;

	if (s->per_state && ref->state < 0) {
		/* an old spelling: "STATE SECONDS" or "STATE=SECONDS" */
		struct ctaccel_setting_ref st;
		char key[64];
		size_t n = strcspn(value, " =");
		int stem = (int)strcspn(s->key, "-");

		if (!value[n] || n > 32) {
			snprintf(err, errlen, "%s '%.64s': expected STATE SECONDS", ref->key,
				 value);
			return -EINVAL;
		}
		snprintf(key, sizeof(key), "%.*s-%.*s", stem, s->key, (int)n, value);
		if (find_exact(s, key, &st) || st.s != s) {
			normalise(key, key, sizeof(key));
			if (find_exact(s, key, &st) || st.s != s) {
				snprintf(err, errlen, "%s: unknown state '%.*s'", ref->key, (int)n,
					 value);
				return -EINVAL;
			}
		}
		return ctaccel_setting_set(&st, base, value + n + 1, err, errlen);
	}
	switch (s->type) {
	case CTACCEL_SETTING_COUNT:
	case CTACCEL_SETTING_SECONDS:
		return set_number(ref, base, value, err, errlen);
	case CTACCEL_SETTING_BOOL:
		if (ctaccel_parse_bool(value, &b)) {
			snprintf(
				err, errlen,
				"%s '%.64s': expected on or off (yes or no, true or false, 1 or 0)",
				ref->key, value);
			return -EINVAL;
		}
		*(bool *)((char *)base + s->off) = b;
		return 0;
	case CTACCEL_SETTING_MARK:
		return set_mark(ref, base, value, err, errlen);
	case CTACCEL_SETTING_PATH:
		return set_path(ref, base, value, err, errlen);
	case CTACCEL_SETTING_TEXT:
		return s->parse(s, base, value, err, errlen);
	}
	return -EINVAL;
}

int ctaccel_setting_format(const struct ctaccel_setting_ref *ref, const void *base, size_t nth,
			   char *buf, size_t len)
{
	const struct ctaccel_setting *s = ref->s;
	const void *p = slot(ref, (void *)base);
	uint32_t v, mask;

	if (s->type == CTACCEL_SETTING_TEXT)
		return s->format(s, base, nth, buf, len);
	if (nth || (s->per_state && ref->state < 0))
		return -ENOENT;
	switch (s->type) {
	case CTACCEL_SETTING_COUNT:
		memcpy(&v, p, sizeof(v));
		if (!v && s->zero_is_auto)
			snprintf(buf, len, "auto");
		else
			snprintf(buf, len, "%u", v);
		break;
	case CTACCEL_SETTING_SECONDS:
		memcpy(&v, p, sizeof(v));
		snprintf(buf, len, "%.10g", (double)v / s->scale);
		break;
	case CTACCEL_SETTING_BOOL:
		snprintf(buf, len, "%s", *(const bool *)p ? "on" : "off");
		break;
	case CTACCEL_SETTING_MARK:
		memcpy(&v, p, sizeof(v));
		memcpy(&mask, (const char *)base + s->off2, sizeof(mask));
		snprintf(buf, len, "0x%x/0x%x", v, mask);
		break;
	default:
		snprintf(buf, len, "%s", (const char *)p);
		break;
	}
	return 0;
}

struct check_walk {
	const void *base;
	char *err;
	size_t errlen;
	int bad;
};

/* A value the caller stored, to the row's range and rules, as its text
 * would be. */
static int check_one(const struct ctaccel_setting_ref *ref, void *ctx)
{
	struct check_walk *w = ctx;
	char text[300];
	struct ctaccel_load_opts scratch;

	if (ref->s->type == CTACCEL_SETTING_PATH && !((const char *)w->base + ref->s->off)[0])
		return 0; /* not given */
	if (ctaccel_setting_format(ref, w->base, 0, text, sizeof(text)))
		return 0;
	memcpy(&scratch, w->base, sizeof(scratch));
	w->bad = ctaccel_setting_set(ref, &scratch, text, w->err, w->errlen);
	return w->bad;
}

int ctaccel_load_opts_check(const struct ctaccel_load_opts *o, char *err, size_t errlen)
{
	struct check_walk w = {.base = o, .err = err, .errlen = errlen};

	ctaccel_settings_each(ctaccel_load_settings, check_one, &w);
	if (w.bad)
		return w.bad;
	if (o->unreplied_max > o->max_flows) {
		snprintf(err, errlen, "unreplied-max %u is more than max-flows %u",
			 o->unreplied_max, o->max_flows);
		return -EINVAL;
	}
	return 0;
}

void ctaccel_load_opts_default(struct ctaccel_load_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->max_flows = CTACCEL_DEFAULT_MAX_FLOWS;
	o->mark = CTACCEL_MARK_DEFAULT;
	o->mark_mask = CTACCEL_MARK_DEFAULT;
	o->local = true;
	o->expiry_interval_ms = CTACCEL_EXPIRY_INTERVAL_MS;
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		o->timeout_s[i] = ctaccel_state_default_timeout[i];
	o->timeout_unack_s = CTACCEL_TIMEOUT_UNACK_DEFAULT;
}

uint32_t ctaccel_unreplied_slots(const struct ctaccel_load_opts *o)
{
	uint32_t n = o->unreplied_max;

	if (!n) {
		n = o->max_flows / 4;
		if (n < CTACCEL_UNREPLIED_MIN)
			n = CTACCEL_UNREPLIED_MIN;
	}
	return n < o->max_flows ? n : o->max_flows;
}
