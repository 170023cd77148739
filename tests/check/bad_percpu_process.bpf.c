// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Bad on purpose: what the percpu-process check must report (each line marked
 * "expect: percpu-process") and what it must let pass. Compiled by the check
 * for its BTF only; never part of the product.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "ctaccel.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctaccel_stats);
} bad_stats SEC(".maps");

#define CTR_INC(st, name) ((st)->name++)

/* Reached from tc and from the syscall program. */
static __always_inline void count_removal(struct ctaccel_stats *st)
{
	st->flows_deleted++; /* expect: percpu-process */
	__sync_fetch_and_add(&st->deleted_packets, 1);
}

/* Reached from tc only: plain increments are exact there. */
static __always_inline void count_packet(struct ctaccel_stats *st, __u32 len)
{
	CTR_INC(st, packets);
	st->bytes += len;
}

static long remove_one(__u32 i, struct ctaccel_stats *unused)
{
	__u32 zero = 0;
	struct ctaccel_stats *st = bpf_map_lookup_elem(&bad_stats, &zero);

	if (st) {
		count_removal(st);
		CTR_INC(st, flows_expired); /* expect: percpu-process */
	}
	return 0;
}

SEC("tc")
int bad_tc(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct ctaccel_stats *st = bpf_map_lookup_elem(&bad_stats, &zero);

	if (!st)
		return 0;
	count_packet(st, skb->len);
	count_removal(st);
	return 0;
}

SEC("syscall")
int bad_syscall(void *ctx)
{
	bpf_loop(8, remove_one, NULL, 0);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(bad_tracepoint, const struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0;
	struct ctaccel_stats *st = bpf_map_lookup_elem(&bad_stats, &zero);

	if (st)
		st->transitions += 1; /* expect: percpu-process */
	return 0;
}
