// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Bad on purpose: what the bpf-layout check must report in a program file
 * that uses the object's maps header. Never built.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} own_map SEC(".maps"); /* expect: bpf-layout */

#include "unguarded.bpf.h" /* expect: bpf-layout */

SEC("tc")
int good_prog(struct __sk_buff *skb)
{
	return 0;
}
