/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The fast path: packets of established, opted-in flows are forwarded from tc
 * ingress (route lookup, TTL or hop limit, MACs, redirect), skipping the IP
 * stack, netfilter and the neighbour layer. Whatever the kernel must decide
 * itself goes the slow way, counted by reason. Part of the tc tracker's
 * object: included once, by bpf/tracker.bpf.c, after its maps and counters.
 */
#ifndef CTACCEL_FASTPATH_BPF_H
#define CTACCEL_FASTPATH_BPF_H

#define PACKET_HOST 0

/* Results of fastpath_route(): FP_FORWARD or the reason for the slow path. */
enum fp_result {
	FP_FORWARD,
	FP_CONTROL,
	FP_OPTIONS,
	FP_NO_ROUTE,
	FP_NOT_FORWARDED,
	FP_FWD_DISABLED,
	FP_NO_NEIGH,
	FP_MTU,
	FP_EGRESS,
	FP_OTHER,
};

/* IPv4 TTL, protocol and header checksum: rewritten with one store. */
struct ttl_word {
	__u8 ttl;
	__u8 protocol;
	__u16 check;
};

/* RFC 1624 incremental update of a one's complement checksum. */
static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + (__u32) new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The length of each IP packet the skb leaves as: a GRO-merged skb is
 * checked per segment against the MTU, as the kernel's forward path does. */
static __always_inline __u32 seg_len(struct __sk_buff *skb, const struct pkt *p)
{
	if (skb->gso_size)
		return p->l4_off - ETH_HLEN + p->l4_hlen + skb->gso_size;
	return p->ip_len;
}

static __always_inline int fib_verdict(long rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		return FP_FORWARD;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return FP_NO_ROUTE;
	case BPF_FIB_LKUP_RET_NOT_FWDED:
		return FP_NOT_FORWARDED;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return FP_FWD_DISABLED;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return FP_NO_NEIGH;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return FP_MTU;
	default:
		return FP_OTHER;
	}
}

/*
 * The rewrite: MACs first, then the TTL (with its checksum) or hop limit in
 * one store, so that a failure leaves a packet the kernel forwards as it
 * would have (it sets the MACs itself), never one with its TTL spent twice.
 */
static __always_inline int fast_rewrite(struct __sk_buff *skb, const struct pkt *p,
					const struct bpf_fib_lookup *fib)
{
	struct ttl_word buf, *w, nw;
	__u8 macs[12], hop;

	__builtin_memcpy(macs, fib->dmac, 6);
	__builtin_memcpy(macs + 6, fib->smac, 6);
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0))
		return FP_OTHER;
	if (p->key.family == AF_INET6) {
		hop = p->ttl - 1;
		if (bpf_skb_store_bytes(skb, ETH_HLEN + 7, &hop, 1, 0))
			return FP_OTHER;
		return FP_FORWARD;
	}
	w = hdr_at(skb, ETH_HLEN + 8, sizeof(buf), &buf);
	if (!w)
		return FP_OTHER;
	nw = *w;
	nw.ttl = w->ttl - 1;
	nw.check = csum_replace16(w->check, bpf_htons((__u16)w->ttl << 8),
				  bpf_htons((__u16)nw.ttl << 8));
	if (bpf_skb_store_bytes(skb, ETH_HLEN + 8, &nw, sizeof(nw), 0))
		return FP_OTHER;
	return FP_FORWARD;
}

/*
 * Route one packet of a fast-path flow: FP_FORWARD once rewritten and
 * redirected to its egress device, else the reason it goes the slow way
 * (untouched, or touched only in ways the kernel redoes).
 */
__noinline int fastpath_route(struct __sk_buff *skb, struct pkt *p)
{
	struct bpf_fib_lookup fib = {};
	struct ctaccel_iface *out;
	__u32 ifindex;
	int verdict;

	if (!skb || !p)
		return FP_OTHER;
	if (p->tcp_flags & (TCPF_SYN | TCPF_FIN | TCPF_RST))
		return FP_CONTROL;
	if (skb->pkt_type != PACKET_HOST)
		return FP_NOT_FORWARDED;
	if (p->key.family == AF_INET && p->l4_off != ETH_HLEN + 20)
		return FP_OPTIONS;
	/* The kernel reassembles what nf_conntrack sees: fragments go its way,
	 * the first with the rest. */
	if (p->frag_head)
		return FP_OTHER;
	if (p->ttl <= 1)
		return FP_OTHER; /* not tracked at all when it expires here */
	fib_params(skb, p, &fib);
	/* Non-zero: the route's MTU (and learned path MTU) is checked. */
	fib.tot_len = seg_len(skb, p);
	verdict = fib_verdict(bpf_fib_lookup(skb, &fib, sizeof(fib), 0));
	if (verdict != FP_FORWARD)
		return verdict;
	/* The replies must meet ctaccel at that device's ingress. */
	ifindex = fib.ifindex;
	out = bpf_map_lookup_elem(&ctaccel_ifaces, &ifindex);
	if (!out || !(out->flags & CTACCEL_IFACE_INGRESS))
		return FP_EGRESS;
	verdict = fast_rewrite(skb, p, &fib);
	if (verdict != FP_FORWARD)
		return verdict;
	bpf_redirect(ifindex, 0);
	return FP_FORWARD;
}

/* The slow_* counters follow the reasons' order: one index computes them. */
_Static_assert(CTACCEL_CTR_slow_other - CTACCEL_CTR_slow_control == FP_OTHER - FP_CONTROL &&
		       CTACCEL_CTR_slow_mtu - CTACCEL_CTR_slow_control == FP_MTU - FP_CONTROL,
	       "slow-path counters in the order of enum fp_result");

/* Forward a packet on the fast path, or count why it stays on the slow one. */
static __always_inline int fastpath(struct __sk_buff *skb, struct pkt *p, struct ctaccel_stats *st)
{
	__u32 r = fastpath_route(skb, p);

	if (r == FP_FORWARD) {
		CTR_INC(st, fastpath_packets);
		CTR_ADD(st, fastpath_bytes, p->ip_len);
		return TC_ACT_REDIRECT;
	}
	if (r < FP_CONTROL || r > FP_OTHER)
		r = FP_OTHER;
	((__u64 *)st)[CTACCEL_CTR_slow_control + r - FP_CONTROL]++;
	return TC_ACT_UNSPEC;
}

#endif /* CTACCEL_FASTPATH_BPF_H */
