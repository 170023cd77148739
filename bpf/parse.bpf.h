/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The tc tracker's packet parser: Ethernet, IPv4/IPv6, and TCP, UDP or a
 * quoting ICMP error's headers into a normalised flow key and what the
 * tracker needs of the headers (struct pkt), read in place or copied, never
 * pulled.
 */
#ifndef CTACCEL_PARSE_BPF_H
#define CTACCEL_PARSE_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"

/* What the parser found; anything but PKT_TCP and PKT_UDP is counted and
 * passed on. */
enum pkt_kind {
	PKT_TCP,
	PKT_UDP,
	PKT_UDP_INVALID, /* length field inconsistent: nf_conntrack's udp_error() */
	PKT_ICMP_ERROR,	 /* an ICMP error: key is the flow of the packet it quotes */
	PKT_NON_IP,
	PKT_NON_TCP,
	PKT_FRAGMENT,
	PKT_UNPARSED,
	PKT_MALFORMED,
};

/* Whether a packet's IP and TCP checksums are known good. */
enum pkt_csum {
	CSUM_UNKNOWN, /* not verified yet: done only when the packet would change a flow */
	CSUM_GOOD,    /* verified, or the kernel vouches for it (see csum_trusted()) */
};

struct pkt {
	struct ctaccel_flow_key key;
	__u32 ip_len; /* IP packet length: what nf_conntrack accounts */
	__u16 l4_off; /* offset of the TCP or UDP header in the frame */
	__u16 l4_len; /* TCP or UDP header and payload */
	__u8 tcp_flags;
	__u8 src_is_hi; /* the sender is the key's hi side */
	__u8 bypass;	/* out: the packet's flow skips nf_conntrack */
	__u8 ttl;	/* IPv4 TTL or IPv6 hop limit */
	__u8 tos;	/* IPv4 TOS, for the FIB lookup */
	__u8 csum;	/* enum pkt_csum */
	__u8 l4_hlen;	/* TCP or UDP header length */
	__u8 ingress;	/* seen at tc ingress */
	__u8 fast;	/* out: the flow is on the fast path and this packet may take it */
	__u8 udp_csum;	/* UDP: the datagram carries a checksum (0 means none) */
	__u8 prev;	/* its entry is in the table a migration leaves */
	__u8 frag_head; /* a first fragment, more to come (IPv4; IPv6 UDP) */
	__u8 df;	/* may not be fragmented (IPv4 DF; every IPv6 packet) */
	__u8 routed;	/* no_create is settled (route_settle) */
	__u8 no_create; /* enum route_drop: the kernel drops it after PRE_ROUTING,
			 * so it is counted on its flow, never the start of one
			 * (discard.bpf.h) */
	__u32 key_hash; /* ctaccel_key_hash() of key */
};

static __always_inline int addr_cmp(const __u32 *a, const __u32 *b)
{
	int i;

	for (i = 0; i < 4; i++) {
		__u32 x = bpf_ntohl(a[i]), y = bpf_ntohl(b[i]);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* Fill the normalised key from source and destination of the packet. */
static __always_inline void key_set(struct pkt *p, const __u32 *saddr, const __u32 *daddr,
				    __u16 sport, __u16 dport, __u8 proto)
{
	struct ctaccel_flow_key *k = &p->key;
	int c = addr_cmp(saddr, daddr);

	if (c == 0)
		c = bpf_ntohs(sport) < bpf_ntohs(dport) ? -1 : bpf_ntohs(sport) > bpf_ntohs(dport);
	p->src_is_hi = c > 0;
	if (p->src_is_hi) {
		__builtin_memcpy(k->addr_lo, daddr, 16);
		__builtin_memcpy(k->addr_hi, saddr, 16);
		k->port_lo = dport;
		k->port_hi = sport;
	} else {
		__builtin_memcpy(k->addr_lo, saddr, 16);
		__builtin_memcpy(k->addr_hi, daddr, 16);
		k->port_lo = sport;
		k->port_hi = dport;
	}
	k->proto = proto;
	p->key_hash = ctaccel_key_hash(k);
}

/*
 * `len` header bytes at `off`: in place when the linear area holds them, else
 * copied into `buf`. Never a pull: on a cloned skb (any TCP skb a socket
 * still holds) bpf_skb_pull_data() copies the whole header area, and that
 * was the tracker's largest cost per packet under real traffic.
 */
/* The deepest header read: the ports of the packet quoted in an ICMP error,
 * behind two IPv4 headers with options. */
#define HDR_OFF_MAX (ETH_HLEN + 60 + 8 + 60)

static __always_inline void *hdr_at(struct __sk_buff *skb, __u32 off, __u32 len, void *buf)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (off > HDR_OFF_MAX)
		return NULL;
	if (!parse_copy_always && data + off + len <= data_end)
		return data + off;
	if (bpf_skb_load_bytes(skb, off, buf, len))
		return NULL;
	return buf;
}

static __always_inline enum pkt_kind parse_tcp(struct __sk_buff *skb, __u32 off, __u32 l4_len,
					       struct pkt *p, const __u32 *saddr,
					       const __u32 *daddr)
{
	struct tcphdr buf, *th;
	__u32 doff;

	if (l4_len < sizeof(*th))
		return PKT_MALFORMED;
	th = hdr_at(skb, off, sizeof(*th), &buf);
	if (!th)
		return PKT_MALFORMED;
	doff = th->doff * 4;
	if (doff < sizeof(*th) || doff > l4_len)
		return PKT_MALFORMED;
	p->l4_len = l4_len;
	p->l4_hlen = doff;
	p->tcp_flags = ((__u8 *)th)[13];
	key_set(p, saddr, daddr, th->source, th->dest, IPPROTO_TCP);
	return PKT_TCP;
}

/* nf_conntrack's udp_error(): a length field past the IP payload or short of
 * the header makes the datagram invalid, before any flow is looked at. */
static __always_inline enum pkt_kind parse_udp(struct __sk_buff *skb, __u32 off, __u32 l4_len,
					       struct pkt *p, const __u32 *saddr,
					       const __u32 *daddr)
{
	struct udphdr buf, *uh;
	__u32 ulen;

	if (l4_len < sizeof(*uh))
		return PKT_MALFORMED;
	uh = hdr_at(skb, off, sizeof(*uh), &buf);
	if (!uh)
		return PKT_MALFORMED;
	ulen = bpf_ntohs(uh->len);
	if (ulen < sizeof(*uh))
		return PKT_UDP_INVALID;
	if (p->frag_head) {
		/* The first fragment: nf_conntrack sees the datagram
		 * reassembled, once, and its length is the header's. */
		if (ulen <= l4_len)
			return PKT_UDP_INVALID;
		/* reassembled: IPv6 without its fragment header */
		p->ip_len = (p->key.family == AF_INET6 ? sizeof(struct ipv6hdr)
						       : p->l4_off - ETH_HLEN) +
			    ulen;
	} else if (ulen > l4_len) {
		return PKT_UDP_INVALID;
	}
	p->l4_len = l4_len;
	p->l4_hlen = sizeof(*uh);
	p->udp_csum = uh->check != 0;
	key_set(p, saddr, daddr, uh->source, uh->dest, IPPROTO_UDP);
	return PKT_UDP;
}

#define ICMP_DEST_UNREACH    3
#define ICMP_SOURCE_QUENCH   4
#define ICMP_REDIRECT	     5
#define ICMP_TIME_EXCEEDED   11
#define ICMP_PARAMETERPROB   12
#define ICMPV6_INFO_MSG_MASK 0x80

/*
 * An ICMP error (the kinds nf_conntrack relates to a flow: icmp_error_message
 * and its IPv6 twin): the key of the TCP or UDP packet it quotes, which is
 * the key of that packet's flow. Anything else is PKT_NON_TCP.
 */
static __always_inline enum pkt_kind parse_icmp(struct __sk_buff *skb, __u32 off, __u32 l4_len,
						struct pkt *p, bool v6)
{
	__u32 saddr[4] = {}, daddr[4] = {}, inner, ihl;
	struct {
		__u8 type, code;
		__u16 check;
		__u32 rest;
	} ibuf, *ic;
	struct iphdr buf4, *ip4;
	struct ipv6hdr buf6, *ip6;
	__u16 pbuf[2], *ports;
	__u8 proto;

	if (l4_len < sizeof(*ic))
		return PKT_NON_TCP;
	ic = hdr_at(skb, off, sizeof(*ic), &ibuf);
	if (!ic)
		return PKT_NON_TCP;
	if (v6 ? (ic->type & ICMPV6_INFO_MSG_MASK)
	       : (ic->type != ICMP_DEST_UNREACH && ic->type != ICMP_SOURCE_QUENCH &&
		  ic->type != ICMP_REDIRECT && ic->type != ICMP_TIME_EXCEEDED &&
		  ic->type != ICMP_PARAMETERPROB))
		return PKT_NON_TCP;
	inner = off + sizeof(*ic);
	if (v6) {
		ip6 = hdr_at(skb, inner, sizeof(*ip6), &buf6);
		if (!ip6 || ip6->version != 6)
			return PKT_NON_TCP;
		proto = ip6->nexthdr;
		__builtin_memcpy(saddr, &ip6->saddr, 16);
		__builtin_memcpy(daddr, &ip6->daddr, 16);
		ihl = sizeof(*ip6);
	} else {
		ip4 = hdr_at(skb, inner, sizeof(*ip4), &buf4);
		if (!ip4 || ip4->version != 4 || ip4->ihl < 5 ||
		    (bpf_ntohs(ip4->frag_off) & IP_OFFSET))
			return PKT_NON_TCP;
		proto = ip4->protocol;
		saddr[0] = ip4->saddr;
		daddr[0] = ip4->daddr;
		ihl = ip4->ihl * 4;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return PKT_NON_TCP;
	ports = hdr_at(skb, inner + ihl, sizeof(pbuf), pbuf);
	if (!ports)
		return PKT_NON_TCP;
	key_set(p, saddr, daddr, ports[0], ports[1], proto);
	return PKT_ICMP_ERROR;
}

static __always_inline enum pkt_kind parse_l4(struct __sk_buff *skb, __u8 proto, __u32 off,
					      __u32 l4_len, struct pkt *p, const __u32 *saddr,
					      const __u32 *daddr)
{
	if (proto == IPPROTO_UDP)
		return parse_udp(skb, off, l4_len, p, saddr, daddr);
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
		return parse_icmp(skb, off, l4_len, p, proto == IPPROTO_ICMPV6);
	return parse_tcp(skb, off, l4_len, p, saddr, daddr);
}

static __always_inline enum pkt_kind parse_ipv4(struct __sk_buff *skb, struct pkt *p, __u32 l3_room)
{
	__u32 saddr[4] = {}, daddr[4] = {}, ihl, tot;
	struct iphdr buf, *iph;

	iph = hdr_at(skb, ETH_HLEN, sizeof(*iph), &buf);
	if (!iph || iph->version != 4 || iph->ihl < 5)
		return PKT_MALFORMED;
	ihl = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot == 0)
		tot = l3_room; /* BIG TCP GSO packet: length is the skb's */
	if (tot < ihl || tot > l3_room)
		return PKT_MALFORMED;
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP &&
	    iph->protocol != IPPROTO_ICMP)
		return PKT_NON_TCP;
	if (bpf_ntohs(iph->frag_off) & IP_OFFSET)
		return PKT_FRAGMENT;
	p->frag_head = !!(bpf_ntohs(iph->frag_off) & IP_MF);
	p->df = !!(bpf_ntohs(iph->frag_off) & IP_DF);
	p->ip_len = tot;
	p->l4_off = ETH_HLEN + ihl;
	p->ttl = iph->ttl;
	p->tos = iph->tos;
	p->key.family = AF_INET;
	saddr[0] = iph->saddr;
	daddr[0] = iph->daddr;
	return parse_l4(skb, iph->protocol, ETH_HLEN + ihl, tot - ihl, p, saddr, daddr);
}

/*
 * An IPv6 fragment header right after the fixed header: the first fragment
 * of a UDP datagram (more to come) is read as the datagram, with the fragment
 * header's length in *skip; later fragments are PKT_FRAGMENT; anything else
 * (TCP, atomic fragments) stays unparsed.
 */
static __always_inline enum pkt_kind ipv6_frag(struct __sk_buff *skb, struct pkt *p, __u8 *next,
					       __u32 *skip)
{
	struct {
		__u8 nexthdr, reserved;
		__u16 frag_off; /* offset << 3 | M */
		__u32 id;
	} buf, *fh;
	__u16 off;

	fh = hdr_at(skb, ETH_HLEN + sizeof(struct ipv6hdr), sizeof(*fh), &buf);
	if (!fh)
		return PKT_MALFORMED;
	off = bpf_ntohs(fh->frag_off);
	if (off >> 3)
		return PKT_FRAGMENT;
	if (!(off & 1) || fh->nexthdr != IPPROTO_UDP)
		return PKT_UNPARSED;
	*next = fh->nexthdr;
	*skip = sizeof(*fh);
	p->frag_head = 1;
	return PKT_UDP;
}

static __always_inline enum pkt_kind parse_ipv6(struct __sk_buff *skb, struct pkt *p, __u32 l3_room)
{
	__u32 saddr[4], daddr[4], tot, skip = 0;
	struct ipv6hdr buf, *ip6;
	enum pkt_kind k;
	__u8 next;

	ip6 = hdr_at(skb, ETH_HLEN, sizeof(*ip6), &buf);
	if (!ip6 || ip6->version != 6)
		return PKT_MALFORMED;
	tot = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	if (tot > l3_room)
		return PKT_MALFORMED;
	next = ip6->nexthdr;
	switch (next) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_ICMPV6:
		break;
	case 44: /* fragment */
		k = ipv6_frag(skb, p, &next, &skip);
		if (k != PKT_UDP)
			return k;
		if (tot < sizeof(*ip6) + skip)
			return PKT_MALFORMED;
		break;
	case 0:	  /* hop-by-hop */
	case 43:  /* routing */
	case 51:  /* AH */
	case 60:  /* destination options */
	case 135: /* mobility */
		return PKT_UNPARSED;
	default:
		return PKT_NON_TCP;
	}
	p->ip_len = tot;
	p->l4_off = ETH_HLEN + sizeof(*ip6) + skip;
	p->ttl = ip6->hop_limit;
	p->df = 1; /* routers never fragment IPv6 */
	p->key.family = AF_INET6;
	__builtin_memcpy(saddr, &ip6->saddr, 16);
	__builtin_memcpy(daddr, &ip6->daddr, 16);
	return parse_l4(skb, next, ETH_HLEN + sizeof(*ip6) + skip, tot - sizeof(*ip6) - skip, p,
			saddr, daddr);
}

/*
 * The packet's flow key and what the tracker needs of its headers, into *p.
 * A global function: the verifier walks its in-place and copied paths once,
 * and the caller sees only the verdict.
 */
__noinline int parse(struct __sk_buff *skb, struct pkt *p)
{
	struct ethhdr buf, *eth;

	if (!skb || !p || skb->len < ETH_HLEN)
		return PKT_MALFORMED;
	eth = hdr_at(skb, 0, sizeof(*eth), &buf);
	if (!eth)
		return PKT_MALFORMED;
	switch (bpf_ntohs(eth->h_proto)) {
	case ETH_P_IP:
		return parse_ipv4(skb, p, skb->len - ETH_HLEN);
	case ETH_P_IPV6:
		return parse_ipv6(skb, p, skb->len - ETH_HLEN);
	case ETH_P_8021Q:
	case ETH_P_8021AD:
		return PKT_UNPARSED;
	default:
		return PKT_NON_IP;
	}
}

#endif /* CTACCEL_PARSE_BPF_H */
