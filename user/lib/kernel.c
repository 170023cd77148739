// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The running kernel's features and the programs that suit it. Each feature
 * of CTACCEL_FEATURES (libctaccel.h) is probed in the kernel's own BTF: a
 * kfunc is there as a FUNC, a flag or an attach type as its enum value. A
 * kernel without bpf_cast_to_kern_ctx gets the tracker_compat object (the
 * same source built with CTACCEL_KERN_CTX 0, bpf/common.bpf.h), one without
 * the BPF workqueue the timer's own expiry program (CTACCEL_PIN_VARIANTS,
 * pins.h), one without BPF_FIB_LOOKUP_SKIP_NEIGH the flag
 * CTACCEL_CFG_FIB_NEIGH. The loaded state records its paths in its
 * configuration's flags, which status reads back.
 */
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "kernel.h"
#include "tracker.skel.h"
#include "tracker_compat.skel.h"

const struct ctaccel_feature_info ctaccel_features[CTACCEL_FEAT__MAX] = {
#define X(id, n, s, w, wo, nd) [CTACCEL_FEAT_##id] = {n, s, w, wo, nd},
	CTACCEL_FEATURES(X)
#undef X
};

static bool btf_has_func(const struct btf *btf, const char *name)
{
	return btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
}

/* An enumerator of that name in any enum of the kernel's BTF. */
static bool btf_has_enum_value(const struct btf *btf, const char *name)
{
	__u32 i, n = btf__type_cnt(btf);
	int j;

	for (i = 1; i < n; i++) {
		const struct btf_type *t = btf__type_by_id(btf, i);
		const struct btf_enum *e;

		if (!btf_is_enum(t))
			continue;
		e = btf_enum(t);
		for (j = 0; j < btf_vlen(t); j++)
			if (!strcmp(btf__name_by_offset(btf, e[j].name_off), name))
				return true;
	}
	return false;
}

/* The features CTACCEL_WITHOUT names. */
static uint32_t features_without(void)
{
	const char *v = getenv("CTACCEL_WITHOUT");
	uint32_t off = 0;
	int i;

	if (!v)
		return 0;
	for (i = 0; i < CTACCEL_FEAT__MAX; i++) {
		size_t n = strlen(ctaccel_features[i].name);
		const char *p = v;

		while ((p = strstr(p, ctaccel_features[i].name))) {
			if ((p == v || p[-1] == ',') && (p[n] == ',' || !p[n]))
				off |= 1U << i;
			p += n;
		}
	}
	return off;
}

/* The probe, once per process: the kernel does not change under it (and a
 * scrape should not parse the kernel's BTF). */
static uint32_t probed;
static bool probed_valid;

static uint32_t kernel_probe(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	uint32_t f = 0;

	if (!btf)
		return 0; /* no BTF: nothing is assumed (the load will say more) */
	if (btf_has_func(btf, "bpf_cast_to_kern_ctx"))
		f |= 1U << CTACCEL_FEAT_CSUM | 1U << CTACCEL_FEAT_ROUTES;
	if (btf_has_enum_value(btf, "BPF_FIB_LOOKUP_SKIP_NEIGH"))
		f |= 1U << CTACCEL_FEAT_NEIGH;
	if (btf_has_func(btf, "bpf_wq_init") && btf_has_func(btf, "bpf_wq_start") &&
	    btf_has_func(btf, "bpf_wq_set_callback_impl"))
		f |= 1U << CTACCEL_FEAT_EXPIRY;
	if (btf_has_enum_value(btf, "BPF_TCX_INGRESS"))
		f |= 1U << CTACCEL_FEAT_HOOKS;
	btf__free(btf);
	return f;
}

uint32_t ctaccel_kernel_features(void)
{
	uint32_t f;

	if (__atomic_load_n(&probed_valid, __ATOMIC_ACQUIRE))
		return __atomic_load_n(&probed, __ATOMIC_RELAXED) & ~features_without();
	f = kernel_probe();
	__atomic_store_n(&probed, f, __ATOMIC_RELAXED);
	__atomic_store_n(&probed_valid, true, __ATOMIC_RELEASE);
	return f & ~features_without();
}

uint32_t ctaccel_features_in_use(const struct ctaccel *h)
{
	return kernel_features_loaded(&h->cfg, ctaccel_kernel_features());
}

static bool has(uint32_t features, enum ctaccel_feature id)
{
	return features & 1U << id;
}

/* Both tracker objects come from one source: the compat one must load
 * wherever a struct tracker is expected, map for map, program for program. */
struct tracker *kernel_tracker_open(uint32_t features)
{
	struct tracker *skel;
	struct bpf_program *p, *v;
	int i, err;

	if (has(features, CTACCEL_FEAT_CSUM) != has(features, CTACCEL_FEAT_ROUTES)) {
		errno = EINVAL; /* one object serves both (bpf/common.bpf.h) */
		return NULL;
	}
	if (has(features, CTACCEL_FEAT_CSUM)) {
		skel = tracker__open();
	} else {
		skel = calloc(1, sizeof(*skel));
		if (!skel)
			return NULL;
		err = tracker__create_skeleton(skel);
		if (!err) {
			skel->skeleton->data =
				(void *)tracker_compat__elf_bytes(&skel->skeleton->data_sz);
			err = bpf_object__open_skeleton(skel->skeleton, NULL);
		}
		if (err) {
			tracker__destroy(skel);
			errno = -err;
			return NULL;
		}
	}
	if (!skel)
		return NULL;
	/* Each row with a stand-in loads one of the two, by its feature. */
	for (i = 0; i < PIN__COUNT; i++) {
		bool with = features & pin_variant_feature(i);

		v = pin_prog_variant(skel, i);
		if (!v)
			continue;
		/* the row's own program: pin_prog() answers the stand-in once
		 * the own one is not to be loaded, so it is asked first */
		p = pin_prog(skel, i);
		bpf_program__set_autoload(p, with);
		bpf_program__set_autoload(v, !with);
	}
	return skel;
}

uint32_t kernel_cfg_flags(uint32_t features)
{
	uint32_t flags = 0;

	if (!has(features, CTACCEL_FEAT_CSUM))
		flags |= CTACCEL_CFG_COMPAT;
	if (!has(features, CTACCEL_FEAT_NEIGH))
		flags |= CTACCEL_CFG_FIB_NEIGH;
	if (!has(features, CTACCEL_FEAT_EXPIRY))
		flags |= CTACCEL_CFG_EXPIRY_TIMER;
	return flags;
}

uint32_t kernel_features_loaded(const struct ctaccel_config *cfg, uint32_t kernel)
{
	uint32_t f = kernel & 1U << CTACCEL_FEAT_HOOKS;

	if (!(cfg->flags & CTACCEL_CFG_COMPAT))
		f |= 1U << CTACCEL_FEAT_CSUM | 1U << CTACCEL_FEAT_ROUTES;
	if (!(cfg->flags & CTACCEL_CFG_FIB_NEIGH))
		f |= 1U << CTACCEL_FEAT_NEIGH;
	if (!(cfg->flags & CTACCEL_CFG_EXPIRY_TIMER))
		f |= 1U << CTACCEL_FEAT_EXPIRY;
	return f;
}
