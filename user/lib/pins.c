// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The pin registry's table (pins.h), with each row's place in its skeleton. */
#include <stddef.h>
#include <bpf/libbpf.h>
#include "ctaccel.h"
#include "libctaccel.h"
#include "pins.h"
#include "tracker.skel.h"
#include "sockets.skel.h"

#define PIN_FIELD_MAP  maps
#define PIN_FIELD_PROG progs
#define PIN_FIELD_LINK progs /* a link's row names the program it attaches */

const struct pin_def pin_defs[PIN__COUNT] = {
#define X(id, file, kind, obj, member, life)                                                       \
	[PIN_##id] = {file,                                                                        \
		      PIN_KIND_##kind,                                                             \
		      PIN_OBJ_##obj,                                                               \
		      #member,                                                                     \
		      offsetof(struct obj, PIN_FIELD_##kind.member),                               \
		      PIN_LIFE_##life},
	CTACCEL_PINS(X)
#undef X
};

struct bpf_map *pin_map(const void *skel, enum pin_id id)
{
	if (pin_defs[id].kind != PIN_KIND_MAP)
		return NULL;
	return *(struct bpf_map *const *)((const char *)skel + pin_defs[id].off);
}

static const size_t pin_variant_off[PIN__COUNT] = {
#define X(id, member, feature) [PIN_##id] = offsetof(struct tracker, progs.member),
	CTACCEL_PIN_VARIANTS(X)
#undef X
};

static const unsigned int pin_variant_feat[PIN__COUNT] = {
#define X(id, member, feature) [PIN_##id] = 1U << CTACCEL_FEAT_##feature,
	CTACCEL_PIN_VARIANTS(X)
#undef X
};

unsigned int pin_variant_feature(enum pin_id id)
{
	return pin_variant_feat[id];
}

struct bpf_program *pin_prog_variant(const void *skel, enum pin_id id)
{
	if (!pin_variant_off[id])
		return NULL;
	return *(struct bpf_program *const *)((const char *)skel + pin_variant_off[id]);
}

struct bpf_program *pin_prog(const void *skel, enum pin_id id)
{
	struct bpf_program *p, *v;

	if (pin_defs[id].kind == PIN_KIND_MAP)
		return NULL;
	p = *(struct bpf_program *const *)((const char *)skel + pin_defs[id].off);
	v = pin_prog_variant(skel, id);
	return v && !bpf_program__autoload(p) ? v : p;
}
