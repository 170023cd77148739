// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The cheapest possible tc program: the baseline of the per-packet benchmark. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int bench_empty(struct __sk_buff *skb)
{
	return -1; /* TC_ACT_UNSPEC */
}
