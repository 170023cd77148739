/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The bypass and fast-path policy as the datapath reads it: the trie, the
 * generation, and the verdict cached in each flow.
 */
#ifndef CTACCEL_POLICY_BPF_H
#define CTACCEL_POLICY_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"

/* The action of the policy rule for this endpoint (port: network order), or 0. */
static __always_inline __u32 policy_endpoint(void *trie, __u8 family, __u8 proto, const __u32 *addr,
					     __u16 port)
{
	struct ctaccel_policy_key k = {
		.prefixlen = CTACCEL_POLICY_KEY_BITS + (family == AF_INET ? 32 : 128),
		.family = family,
		.proto = proto,
		.port = port,
	};
	struct ctaccel_policy_val *v;

	__builtin_memcpy(k.addr, addr, sizeof(k.addr));
	v = bpf_map_lookup_elem(trie, &k);
	if (!v) {
		k.port = 0; /* rules for any port */
		v = bpf_map_lookup_elem(trie, &k);
	}
	return v ? v->action : 0;
}

/*
 * The policy's verdict on a flow (CTACCEL_POLICY_* bits): bypassed when
 * either endpoint has a rule; on the fast path when one says so and neither
 * has a plain bypass rule.
 */
static __always_inline __u32 policy_verdict(const struct ctaccel_flow_key *key)
{
	__u32 zero = 0, lo, hi, verdict = 0;
	void *trie = bpf_map_lookup_elem(&ctaccel_policy, &zero);

	if (!trie)
		return 0;
	lo = policy_endpoint(trie, key->family, key->proto, key->addr_lo, key->port_lo);
	hi = policy_endpoint(trie, key->family, key->proto, key->addr_hi, key->port_hi);
	if ((lo | hi) & CTACCEL_POLICY_BYPASS)
		verdict |= CTACCEL_POLICY_BYPASS;
	if (((lo | hi) & CTACCEL_POLICY_FASTPATH) && (!lo || (lo & CTACCEL_POLICY_FASTPATH)) &&
	    (!hi || (hi & CTACCEL_POLICY_FASTPATH)))
		verdict |= CTACCEL_POLICY_FASTPATH;
	return verdict;
}

/* The policy generation shifted into ctaccel_flow.fastpath's place. */
static __always_inline __u32 policy_gen_now(void)
{
	__u32 zero = 0;
	struct ctaccel_policy_gen *g = bpf_map_lookup_elem(&ctaccel_policy_gen, &zero);

	return g ? *(volatile __u32 *)&g->gen << 1 : 0;
}

/*
 * Whether an accounted packet of this flow may take the fast path: a bypassed
 * flow whose handshake crossed this node (TCP: created by a SYN at an ingress
 * and ESTABLISHED through SYN_RECV: ASSURED; UDP: created at an ingress and
 * replied before this packet, so the kernel forwarded it once each way), seen
 * at ingress, and still allowed by the policy in use. The generation is read
 * before the trie, so a verdict stored with the new generation was taken on
 * the new policy. `ct` is the word before this packet, `nct` after it.
 */
static __always_inline void fast_decide(struct ctaccel_flow *f, struct pkt *p, __u64 ct, __u64 nct)
{
	bool ready = p->key.proto == IPPROTO_UDP
			     ? (ct & CTACCEL_CT_SEEN_REPLY)
			     : ctaccel_ct_state(nct) == CTACCEL_ST_ESTABLISHED &&
				       (nct & CTACCEL_CT_ASSURED);
	__u32 gen, cached;

	if (!p->ingress || !f->bypass || !f->syn_in || !ready)
		return;
	gen = policy_gen_now();
	cached = *(volatile __u32 *)&f->fastpath;
	if ((cached & ~1U) != gen) {
		cached = gen | !!(policy_verdict(&p->key) & CTACCEL_POLICY_FASTPATH);
		f->fastpath = cached;
	}
	p->fast = cached & 1;
}

/* A local socket's endpoints, as the policy reads them (sockops.bpf.h and
 * udpsock.bpf.h fill them in field by field: the verifier wants constant
 * context offsets). */
struct sock_ends {
	__u32 family;
	__u32 laddr[4];
	__u32 raddr[4];
	__u16 lport; /* network byte order */
	__u16 rport; /* network byte order */
};

#endif /* CTACCEL_POLICY_BPF_H */
