/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Bad on purpose: a module with no include guard. Never built. */
#include "vmlinux.h" /* expect: bpf-layout */

#define UNGUARDED_ONE 1
