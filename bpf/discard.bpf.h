/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * What the kernel discards before (or at) its own connection tracking:
 * frames for another host, bad IP, TCP or UDP checksums, forwarded packets
 * whose TTL expires here; and the route lookup's question for a packet,
 * which the fast path and the UDP bypass check ask too.
 */
#ifndef CTACCEL_DISCARD_BPF_H
#define CTACCEL_DISCARD_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"

/* A segment's checksum is summed in a csum_buf (maps.bpf.h): the
 * pseudo-header, up to CSUM_L4_MAX bytes of TCP, padding; bpf_csum_diff
 * takes it CSUM_CHUNK bytes at a time. */
#define CSUM_PSEUDO 40
#define CSUM_L4_MAX 1500
#define CSUM_CHUNK  512

/* What the kernel discards there must neither create, change nor remove a
 * flow. skb->ip_summed: */
#define CHECKSUM_UNNECESSARY 1
#define CHECKSUM_PARTIAL     3

/* The kernel checks the TCP checksum only of CHECKSUM_NONE and _COMPLETE
 * skbs: the NIC or GRO verified an UNNECESSARY one, and a PARTIAL one comes
 * from a local socket, its checksum still to be filled in. */
#if CTACCEL_KERN_CTX
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

static __always_inline bool csum_trusted(struct __sk_buff *skb)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	__u8 summed = BPF_CORE_READ_BITFIELD(kskb, ip_summed);

	return summed == CHECKSUM_UNNECESSARY || summed == CHECKSUM_PARTIAL;
}
#else
/*
 * Without bpf_cast_to_kern_ctx (before Linux 6.3) the skb's ip_summed is
 * told exactly by helpers that act on each value differently, the skb left
 * as it was: bpf_csum_level's query answers for UNNECESSARY alone;
 * bpf_csum_update of 0 answers for COMPLETE alone (skb->csum plus 0 is
 * skb->csum); raising the level turns NONE, and only NONE, into
 * UNNECESSARY at level 0, which the reset turns back. What is left is
 * PARTIAL. Both helpers exist since Linux 5.7.
 */
static __always_inline bool csum_trusted(struct __sk_buff *skb)
{
	if (bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) >= 0)
		return true; /* UNNECESSARY */
	if (bpf_csum_update(skb, 0) >= 0)
		return false; /* COMPLETE */
	bpf_csum_level(skb, BPF_CSUM_LEVEL_INC);
	if (bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) >= 0) {
		bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
		return false; /* NONE */
	}
	return true; /* PARTIAL */
}
#endif

static __always_inline __u32 csum_fold(__s64 sum)
{
	__u64 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u32)((s & 0xffff) + (s >> 16));
}

/* The sender's and the receiver's address, as on the wire. */
static __always_inline void pkt_addrs(const struct pkt *p, const __u32 **src, const __u32 **dst)
{
	*src = p->src_is_hi ? p->key.addr_hi : p->key.addr_lo;
	*dst = p->src_is_hi ? p->key.addr_lo : p->key.addr_hi;
}

/* An IPv4 header without options, in the linear part (nearly every one),
 * summed in place: 1 good, 0 bad, -1 not such a header (the caller copies).
 * The 32-bit words' one's complement sum folds to the 16-bit words' one. */
static __always_inline int ip_csum_inplace(struct __sk_buff *skb, const struct pkt *p)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	const __u32 *w = data + ETH_HLEN;
	__u64 s;

	if (p->l4_off != ETH_HLEN + 20 || parse_copy_always || (void *)(w + 5) > data_end)
		return -1;
	s = (__u64)w[0] + w[1] + w[2] + w[3] + w[4];
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return csum_fold(s) == 0xffff;
}

static __always_inline bool ip_csum_ok(struct __sk_buff *skb, const struct pkt *p,
				       struct csum_buf *cb)
{
	__u32 ihl = p->l4_off - ETH_HLEN;
	__s64 sum;
	int inplace;

	if (p->key.family != AF_INET)
		return true; /* IPv6 has no header checksum */
	inplace = ip_csum_inplace(skb, p);
	if (inplace >= 0)
		return inplace;
	if (ihl < 20 || ihl > 60 || bpf_skb_load_bytes(skb, ETH_HLEN, cb->b, ihl))
		return false;
	sum = bpf_csum_diff(NULL, 0, (void *)cb->b, ihl, 0);
	return sum >= 0 && csum_fold(sum) == 0xffff;
}

/* Pseudo-header in the first CSUM_PSEUDO bytes (zeros add nothing), the
 * segment or datagram after it, summed chunk by chunk. */
static __always_inline bool l4_csum_ok(struct __sk_buff *skb, const struct pkt *p,
				       struct csum_buf *cb)
{
	__u32 len = p->l4_len, total, off, n, i;
	__u8 proto = p->key.proto;
	const __u32 *src, *dst;
	__s64 sum = 0;

	if (len < (proto == IPPROTO_UDP ? 8 : 20) || len > CSUM_L4_MAX)
		return false;
	pkt_addrs(p, &src, &dst);
	__builtin_memset(cb->b, 0, CSUM_PSEUDO);
	if (p->key.family == AF_INET) {
		/* at 28: source, destination, zero, protocol, TCP length */
		__builtin_memcpy(cb->b + 28, src, 4);
		__builtin_memcpy(cb->b + 32, dst, 4);
		cb->b[37] = proto;
		cb->b[38] = len >> 8;
		cb->b[39] = len & 0xff;
	} else {
		/* source, destination, 32-bit TCP length, zeros, next header */
		__builtin_memcpy(cb->b, src, 16);
		__builtin_memcpy(cb->b + 16, dst, 16);
		cb->b[34] = len >> 8;
		cb->b[35] = len & 0xff;
		cb->b[39] = proto;
	}
	if (bpf_skb_load_bytes(skb, p->l4_off, cb->b + CSUM_PSEUDO, len))
		return false;
	total = CSUM_PSEUDO + len;
	cb->b[total & (CSUM_BUF - 1)] = 0;
	cb->b[(total + 1) & (CSUM_BUF - 1)] = 0;
	cb->b[(total + 2) & (CSUM_BUF - 1)] = 0;
	total = (total + 3) & ~3U;
	for (i = 0; i < CSUM_BUF / CSUM_CHUNK; i++) {
		off = i * CSUM_CHUNK;
		if (off >= total)
			break;
		n = total - off;
		if (n > CSUM_CHUNK)
			n = CSUM_CHUNK;
		sum = bpf_csum_diff(NULL, 0, (void *)(cb->b + off), n, sum);
		if (sum < 0)
			return false;
	}
	return csum_fold(sum) == 0xffff;
}

/* Whether the kernel's ip_rcv and nf_conntrack's tcp_error/udp_error would accept the
 * packet's checksums (ingress only: nf_conntrack checks at PRE_ROUTING). A
 * global function: the verifier walks it once, not at every call site. */
__noinline int csum_ok(struct __sk_buff *skb, struct pkt *p, struct ctaccel_stats *st)
{
	struct csum_buf *cb;
	__u32 zero = 0;

	if (!skb || !p || !st)
		return true;
	cb = bpf_map_lookup_elem(&csum_scratch, &zero);
	if (!cb)
		return true;
	if (!ip_csum_ok(skb, p, cb))
		return false;
	/* A UDP datagram without a checksum (0) is fine to nf_conntrack,
	 * IPv6 included. */
	if (csum_trusted(skb) || (p->key.proto == IPPROTO_UDP && !p->udp_csum))
		return true;
	if (p->l4_len > CSUM_L4_MAX || p->frag_head) {
		/* too long to check here, or its checksum covers fragments
		 * still to come: taken as good */
		CTR_INC(st, csum_unverified);
		return true;
	}
	return l4_csum_ok(skb, p, cb);
}

/* The route lookup's question for this packet, from the device it came in on. */
static __always_inline void fib_params(struct __sk_buff *skb, const struct pkt *p,
				       struct bpf_fib_lookup *fib)
{
	const __u32 *src, *dst;

	pkt_addrs(p, &src, &dst);
	fib->ifindex = skb->ingress_ifindex;
	fib->l4_protocol = p->key.proto;
	fib->sport = p->src_is_hi ? p->key.port_hi : p->key.port_lo;
	fib->dport = p->src_is_hi ? p->key.port_lo : p->key.port_hi;
	if (p->key.family == AF_INET) {
		fib->family = AF_INET;
		fib->tos = p->tos;
		fib->ipv4_src = src[0];
		fib->ipv4_dst = dst[0];
	} else {
		fib->family = AF_INET6;
		__builtin_memcpy(fib->ipv6_src, src, 16);
		__builtin_memcpy(fib->ipv6_dst, dst, 16);
	}
}

/*
 * What routing does to a packet after PRE_ROUTING, asked of the FIB from the
 * device it came in on, in the kernel's order: a blackhole, unreachable or
 * prohibit route drops it in route input (ip_error, ip6_pkt_discard); then
 * ip_forward and ip6_forward drop it for a TTL (hop limit) of 1 or less, then
 * for a length over the outgoing device's MTU when it may not be fragmented.
 * nf_conntrack has seen such a packet at PRE_ROUTING: a confirmed entry is
 * accounted and moved, a new one is never confirmed (confirmation is the
 * last hook of INPUT and POSTROUTING).
 */
enum route_drop {
	ROUTE_PASSES,	  /* forwarded, local, or not told apart (docs/datapath.md) */
	ROUTE_UNROUTABLE, /* a blackhole, unreachable or prohibit route */
	ROUTE_TTL,	  /* forwarded, and its TTL or hop limit expires here */
	ROUTE_TOO_BIG,	  /* forwarded, over the MTU, and may not be fragmented */
};

__noinline int route_drop(struct __sk_buff *skb, struct pkt *p)
{
	struct bpf_fib_lookup fib = {};
	long rc;

	if (!skb || !p)
		return ROUTE_PASSES;
	fib_params(skb, p, &fib);
	/* No tot_len: the helper answers with the egress device's MTU. */
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return ROUTE_UNROUTABLE;
	case BPF_FIB_LKUP_RET_SUCCESS:
	case BPF_FIB_LKUP_RET_NO_NEIGH:
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		break;
	default:
		/* Local, and no route at all, both NOT_FWDED; forwarding off
		 * on this device, FWD_DISABLED before any lookup: the packet
		 * is taken as local. */
		return ROUTE_PASSES;
	}
	if (p->ttl <= 1)
		return ROUTE_TTL;
	/* NO_NEIGH answers before the MTU is known. A GSO packet goes if
	 * its segments fit, a first fragment is reassembled and fragmented
	 * again; an MTU of 64 KiB or more does not fit mtu_result (0). */
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH || !p->df || p->frag_head || skb->gso_size ||
	    !fib.mtu_result)
		return ROUTE_PASSES;
	return p->ip_len > fib.mtu_result ? ROUTE_TOO_BIG : ROUTE_PASSES;
}

/* Whether the kernel drops the packet after PRE_ROUTING, settled once and
 * only for what arrives at an ingress: a TTL-1 packet pays for the lookup,
 * and so does one that would start a flow. */
static __always_inline void route_settle(struct __sk_buff *skb, struct pkt *p)
{
	if (p->routed || !p->ingress)
		return;
	p->routed = 1;
	p->no_create = route_drop(skb, p);
}

#endif /* CTACCEL_DISCARD_BPF_H */
