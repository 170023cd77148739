/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * libctaccel: the running kernel's features (kernel.c). Included by
 * libctaccel.h, the one header its clients include.
 */
#ifndef LIBCTACCEL_PUBLIC_KERNEL_H
#define LIBCTACCEL_PUBLIC_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ctaccel.h"

struct ctaccel;

/* ---- the running kernel (kernel.c) ---- */
/*
 * What ctaccel probes in the running kernel at load (from its BTF, never
 * from its version), and the path each feature takes with and without it;
 * every path keeps the figures exact (docs/kernels.md says what each costs).
 * X(ID, NAME, SINCE, WITH, WITHOUT, NEEDS):
 *   NAME     the feature's name in status, /v1/status and /metrics
 *   SINCE    the first Linux release that has NEEDS
 *   WITH     the path where the kernel has it, WITHOUT where it has not
 */
/* clang-format off */
#define CTACCEL_FEATURES(X)                                                                        \
	X(CSUM,   "checksum_status", "6.3",  "kern_ctx",   "helpers",     "bpf_cast_to_kern_ctx")      \
	X(ROUTES, "route_memo",      "6.3",  "rt_genid",   "none",        "bpf_cast_to_kern_ctx")      \
	X(NEIGH,  "fib_lookup",      "6.3",  "skip_neigh", "neigh_check", "BPF_FIB_LOOKUP_SKIP_NEIGH") \
	X(EXPIRY, "expiry",          "6.10", "workqueue",  "timer",       "bpf_wq")                    \
	X(HOOKS,  "tc_attach",       "6.6",  "tcx",        "clsact",      "BPF_TCX_INGRESS")
/* clang-format on */

enum ctaccel_feature {
#define X(id, name, since, with, without, needs) CTACCEL_FEAT_##id,
	CTACCEL_FEATURES(X)
#undef X
		CTACCEL_FEAT__MAX,
};

struct ctaccel_feature_info {
	const char *name, *since, *with, *without, *needs;
};
extern const struct ctaccel_feature_info ctaccel_features[CTACCEL_FEAT__MAX];

/* The running kernel's features, a bit (1 << CTACCEL_FEAT_*) each, less
 * those the environment's CTACCEL_WITHOUT names (a comma-separated list of
 * feature names: the tests and benchmarks force the other paths with it). */
uint32_t ctaccel_kernel_features(void);
/* The paths the open state's programs took (its configuration's record),
 * tc_attach's from the running kernel. */
uint32_t ctaccel_features_in_use(const struct ctaccel *h);
/* A feature's path in a CTACCEL_FEATURES bit set. */
static inline const char *ctaccel_feature_path(uint32_t features, enum ctaccel_feature id)
{
	return features & 1U << id ? ctaccel_features[id].with : ctaccel_features[id].without;
}

#endif /* LIBCTACCEL_PUBLIC_KERNEL_H */
