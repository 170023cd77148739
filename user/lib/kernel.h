/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* The programs that suit the running kernel (kernel.c). */
#ifndef LIBCTACCEL_KERNEL_H
#define LIBCTACCEL_KERNEL_H

#include <stdint.h>
#include "ctaccel.h"

struct tracker;

/* The tracker object for a kernel with these features (CTACCEL_FEATURES
 * bits), opened, each program row with a stand-in set to load one of the
 * two. NULL with errno on failure. */
struct tracker *kernel_tracker_open(uint32_t features);
/* The CTACCEL_CFG_* flags that record those paths in the configuration. */
uint32_t kernel_cfg_flags(uint32_t features);
#define KERNEL_CFG_FLAGS (CTACCEL_CFG_COMPAT | CTACCEL_CFG_FIB_NEIGH | CTACCEL_CFG_EXPIRY_TIMER)
/* The paths a loaded configuration took, tc_attach's from the kernel's. */
uint32_t kernel_features_loaded(const struct ctaccel_config *cfg, uint32_t kernel);

#endif /* LIBCTACCEL_KERNEL_H */
