// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Bad on purpose: what the shared-rmw check must report (each line marked
 * "expect: shared-rmw") and what it must let pass. Compiled by the check for
 * its BTF only; never part of the product.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ctaccel.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct ctaccel_flow_key);
	__type(value, struct ctaccel_flow);
} bad_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bad_total SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} good_percpu SEC(".maps");

__u64 bad_global;
__u64 good_global; /* single writer: nobody, this is an example */

static __always_inline void account(struct ctaccel_flow *f, __u32 len)
{
	struct ctaccel_flow_leg *l = &f->leg[CTACCEL_DIR_REPLY];

	f->leg[CTACCEL_DIR_ORIG].packets++;    /* expect: shared-rmw */
	f->leg[CTACCEL_DIR_ORIG].bytes += len; /* expect: shared-rmw */
	f->tcp_flags |= 2;		       /* expect: shared-rmw */
	l->packets += 1;		       /* expect: shared-rmw */
	__sync_fetch_and_add(&l->bytes, len);
}

SEC("tc")
int bad_counts(struct __sk_buff *skb)
{
	struct ctaccel_flow_key key = {};
	struct ctaccel_flow *f;
	__u32 zero = 0;
	__u64 *t, *c;

	f = bpf_map_lookup_elem(&bad_flows, &key);
	if (f)
		account(f, skb->len);
	t = bpf_map_lookup_elem(&bad_total, &zero);
	if (t)
		(*t)++; /* expect: shared-rmw */
	c = bpf_map_lookup_elem(&good_percpu, &zero);
	if (c)
		(*c)++;
	bad_global += skb->len; /* expect: shared-rmw */
	good_global++;
	return 0;
}
