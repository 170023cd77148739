// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
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

void frame_tcp(struct frame *f, const struct endpoint *src, const struct endpoint *dst,
	       uint8_t flags, size_t payload)
{
	struct ethhdr *eth = (void *)f->data;
	struct tcphdr *th;
	size_t l3;

	memset(f, 0, sizeof(*f));
	memset(eth->h_dest, 0x02, ETH_ALEN);
	memset(eth->h_source, 0x04, ETH_ALEN);
	if (src->family == AF_INET) {
		struct iphdr *iph = (void *)(eth + 1);

		eth->h_proto = htons(ETH_P_IP);
		iph->version = 4;
		iph->ihl = 5;
		iph->ttl = 64;
		iph->protocol = IPPROTO_TCP;
		memcpy(&iph->saddr, src->addr, 4);
		memcpy(&iph->daddr, dst->addr, 4);
		l3 = sizeof(*iph) + sizeof(*th) + payload;
		iph->tot_len = htons(l3);
		th = (void *)(iph + 1);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		eth->h_proto = htons(ETH_P_IPV6);
		ip6->version = 6;
		ip6->hop_limit = 64;
		ip6->nexthdr = IPPROTO_TCP;
		memcpy(&ip6->saddr, src->addr, 16);
		memcpy(&ip6->daddr, dst->addr, 16);
		ip6->payload_len = htons(sizeof(*th) + payload);
		l3 = sizeof(*ip6) + sizeof(*th) + payload;
		th = (void *)(ip6 + 1);
	}
	th->source = htons(src->port);
	th->dest = htons(dst->port);
	th->doff = 5;
	th->window = htons(64240);
	((uint8_t *)th)[13] = flags;
	memset((uint8_t *)(th + 1), 'x', payload);
	f->ip_len = l3;
	f->len = sizeof(*eth) + l3;
}
