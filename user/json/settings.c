// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Settings as JSON (the daemon's GET /v1/config): the schema's keys, typed. */
#include <stdlib.h>
#include <string.h>
#include "ctjson.h"

/* A value as its row's JSON type: a number, a boolean, a string, null. */
static json_t *typed(const struct ctaccel_setting *s, const char *text)
{
	if (!text[0])
		return json_null();
	switch (s->type) {
	case CTACCEL_SETTING_COUNT:
		if (s->zero_is_auto && !strcmp(text, "auto"))
			return json_string(text);
		return json_integer(strtoll(text, NULL, 10));
	case CTACCEL_SETTING_SECONDS:
		return json_real(strtod(text, NULL));
	case CTACCEL_SETTING_BOOL:
		return json_boolean(!strcmp(text, "on"));
	default:
		return json_string(text);
	}
}

struct settings_walk {
	const void *base;
	json_t *values, *live;
};

static int one(const struct ctaccel_setting_ref *ref, void *ctx)
{
	struct settings_walk *w = ctx;
	char text[512];
	json_t *v;
	size_t n;

	if (ref->s->repeat) {
		v = json_array();
		for (n = 0; !ctaccel_setting_format(ref, w->base, n, text, sizeof(text)); n++)
			json_array_append_new(v, json_string(text));
	} else if (ctaccel_setting_format(ref, w->base, 0, text, sizeof(text))) {
		v = json_null();
	} else {
		v = typed(ref->s, text);
	}
	json_object_set_new(w->values, ref->key, v);
	if (ref->s->live)
		json_array_append_new(w->live, json_string(ref->key));
	return 0;
}

json_t *ctjson_settings(const struct ctaccel_setting *const *tables, const void *const *bases,
			size_t n)
{
	struct settings_walk w = {.values = json_object(), .live = json_array()};
	size_t i;

	for (i = 0; i < n; i++) {
		w.base = bases[i];
		ctaccel_settings_each(tables[i], one, &w);
	}
	return json_pack("{s:o,s:o}", "settings", w.values, "live", w.live);
}

json_t *ctjson_setting_change(const struct ctaccel_setting_change *c)
{
	json_t *o =
		json_pack("{s:s,s:o,s:o,s:b}", "key", c->ref->key, "was", typed(c->ref->s, c->was),
			  "asked", typed(c->ref->s, c->asked), "applied", !c->kept);

	if (c->kept)
		json_object_set_new(o, "why", json_string(c->kept));
	return o;
}
