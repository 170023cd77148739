/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Bad on purpose: what the bpf-layout check must report in a module (each
 * line marked "expect: bpf-layout") and what it must let pass. Never built.
 */
#ifndef BAD_MODULE_BPF_H
#define BAD_MODULE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* A map of the object's, outside its maps header: */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bad_counts SEC(".maps"); /* expect: bpf-layout */

/* A data section of its own is a map too: */
__u64 bad_setting SEC(".data.bad"); /* expect: bpf-layout */

/* Uses a macro its includer defines before including it: */
static __always_inline int bad_count(__u64 *v)
{
	return BAD_INCLUDERS_MACRO(v); /* expect: bpf-layout */
}

/* A program in a module: */
SEC("tc") int bad_prog(struct __sk_buff *skb) /* expect: bpf-layout */
{
	return 0;
}

#include <bpf/bpf_endian.h> /* expect: bpf-layout */

#endif /* BAD_MODULE_BPF_H */
