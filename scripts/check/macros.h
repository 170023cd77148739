/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* What coccinelle needs to parse BPF C: libbpf's map and program macros. */
#define SEC(name)
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define __always_inline inline
#define __ksym
#define __weak
#define BPF_PROG(name, args...) name(unsigned long long *ctx)
