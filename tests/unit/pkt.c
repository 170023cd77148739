// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include "pkt.h"

struct endpoint ep(const char *addr, uint16_t port)
{
	struct endpoint e = {.port = port};

	if (inet_pton(AF_INET, addr, e.addr) == 1) {
		e.family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, e.addr) == 1) {
		e.family = AF_INET6;
	} else {
		fprintf(stderr, "pkt: bad address %s\n", addr);
		abort();
	}
	return e;
}

/* Ethernet and IP headers for `l4` bytes of protocol `proto`; the L4 header's
 * offset. */
static size_t frame_ip(struct frame *f, const struct endpoint *src, const struct endpoint *dst,
		       uint8_t proto, size_t l4)
{
	struct ethhdr *eth = (void *)f->data;
	size_t l3;

	memset(f, 0, sizeof(*f));
	memset(eth->h_source, 0x04, ETH_ALEN);
	if (src->family == AF_INET) {
		struct iphdr *iph = (void *)(eth + 1);

		eth->h_proto = htons(ETH_P_IP);
		iph->version = 4;
		iph->ihl = 5;
		iph->ttl = 64;
		iph->protocol = proto;
		memcpy(&iph->saddr, src->addr, 4);
		memcpy(&iph->daddr, dst->addr, 4);
		l3 = sizeof(*iph);
		iph->tot_len = htons(l3 + l4);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		eth->h_proto = htons(ETH_P_IPV6);
		ip6->version = 6;
		ip6->hop_limit = 64;
		ip6->nexthdr = proto;
		memcpy(&ip6->saddr, src->addr, 16);
		memcpy(&ip6->daddr, dst->addr, 16);
		ip6->payload_len = htons(l4);
		l3 = sizeof(*ip6);
	}
	f->ip_len = l3 + l4;
	f->len = sizeof(*eth) + l3 + l4;
	return sizeof(*eth) + l3;
}

void frame_udp(struct frame *f, const struct endpoint *src, const struct endpoint *dst,
	       size_t payload)
{
	size_t off = frame_ip(f, src, dst, IPPROTO_UDP, sizeof(struct udphdr) + payload);
	struct udphdr *uh = (void *)(f->data + off);

	uh->source = htons(src->port);
	uh->dest = htons(dst->port);
	uh->len = htons(sizeof(*uh) + payload);
	memset((uint8_t *)(uh + 1), 'u', payload);
	frame_fix_csum(f->data, f->len);
}

size_t frame_udp_off(const struct frame *f)
{
	const struct ethhdr *eth = (const void *)f->data;

	return sizeof(*eth) +
	       (eth->h_proto == htons(ETH_P_IP) ? sizeof(struct iphdr) : sizeof(struct ipv6hdr));
}

void frame_tcp(struct frame *f, const struct endpoint *src, const struct endpoint *dst,
	       uint8_t flags, size_t payload)
{
	size_t off = frame_ip(f, src, dst, IPPROTO_TCP, sizeof(struct tcphdr) + payload);
	struct tcphdr *th = (void *)(f->data + off);

	th->source = htons(src->port);
	th->dest = htons(dst->port);
	th->doff = 5;
	th->window = htons(64240);
	((uint8_t *)th)[13] = flags;
	memset((uint8_t *)(th + 1), 'x', payload);
	frame_fix_csum(f->data, f->len);
}

static uint32_t sum16(const uint8_t *b, size_t n, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Byte offsets only: the fuzzer's frames put headers anywhere. */
void frame_fix_csum(uint8_t *data, size_t len)
{
	uint8_t *l3 = data + ETH_HLEN, *l4, pseudo[40] = {}, proto;
	size_t l4_len, plen, ihl, tot, min, csum_at;
	uint32_t sum;

	if (len < ETH_HLEN + 20)
		return;
	if (get16(data + 12) == ETH_P_IP) {
		ihl = (l3[0] & 0xf) * 4;
		tot = get16(l3 + 2);
		if (l3[0] >> 4 != 4 || ihl < 20 || tot < ihl || ETH_HLEN + tot > len)
			return;
		put16(l3 + 10, 0);
		put16(l3 + 10, fold(sum16(l3, ihl, 0)));
		proto = l3[9];
		min = proto == IPPROTO_UDP ? sizeof(struct udphdr) : sizeof(struct tcphdr);
		if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || tot - ihl < min)
			return;
		l4 = l3 + ihl;
		l4_len = tot - ihl;
		memcpy(pseudo, l3 + 12, 8); /* source and destination */
		pseudo[9] = proto;
		put16(pseudo + 10, l4_len);
		plen = 12;
	} else if (get16(data + 12) == ETH_P_IPV6) {
		l4_len = get16(l3 + 4);
		proto = l3[6];
		min = proto == IPPROTO_UDP ? sizeof(struct udphdr) : sizeof(struct tcphdr);
		if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || l4_len < min ||
		    ETH_HLEN + 40 + l4_len > len)
			return;
		l4 = l3 + 40;
		memcpy(pseudo, l3 + 8, 32);
		put16(pseudo + 34, l4_len);
		pseudo[39] = proto;
		plen = 40;
	} else {
		return;
	}
	csum_at = proto == IPPROTO_UDP ? offsetof(struct udphdr, check)
				       : offsetof(struct tcphdr, check);
	put16(l4 + csum_at, 0);
	sum = sum16(pseudo, plen, 0);
	sum = sum16(l4, l4_len, sum);
	/* UDP sends a sum of 0 as 0xffff: 0 means "no checksum". */
	put16(l4 + csum_at, proto == IPPROTO_UDP && fold(sum) == 0 ? 0xffff : fold(sum));
}

size_t frame_tcp_csum_off(const struct frame *f)
{
	const struct ethhdr *eth = (const void *)f->data;
	size_t l3 = eth->h_proto == htons(ETH_P_IP) ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);

	return sizeof(*eth) + l3 + offsetof(struct tcphdr, check);
}
