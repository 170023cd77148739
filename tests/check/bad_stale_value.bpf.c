// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Bad on purpose: what the stale-value check must report (each line marked
 * "expect: stale-value") and what it must let pass. Compiled by the check for
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

struct spin {
	struct ctaccel_flow *f;
	const struct ctaccel_flow_key *key;
};

static long spin_cb(__u32 i, struct spin *s)
{
	struct ctaccel_flow *f = bpf_map_lookup_elem(&bad_flows, s->key);

	return !f || !f->ref;
}

SEC("tc")
int bad_stale(struct __sk_buff *skb)
{
	struct ctaccel_flow_key key = {};
	struct spin by_key = {.key = &key};
	struct ctaccel_flow *f;
	struct spin s = {};

	f = bpf_map_lookup_elem(&bad_flows, &key);
	if (!f)
		return 0;
	bpf_loop(4, spin_cb, &by_key, 0);
	s.f = f; /* expect: stale-value */
	bpf_loop(4, spin_cb, &s, 0);
	bpf_map_delete_elem(&bad_flows, &key);
	__sync_fetch_and_add(&f->leg[0].packets, 1); /* expect: stale-value */
	f = bpf_map_lookup_elem(&bad_flows, &key);
	if (f)
		__sync_fetch_and_add(&f->leg[0].packets, 1);
	return 0;
}

SEC("tc")
int bad_stale_init(struct __sk_buff *skb)
{
	struct ctaccel_flow_key key = {};
	struct ctaccel_flow *f = bpf_map_lookup_elem(&bad_flows, &key);
	struct spin s = {.f = f}; /* expect: stale-value */

	if (f)
		bpf_loop(4, spin_cb, &s, 0);
	return 0;
}
