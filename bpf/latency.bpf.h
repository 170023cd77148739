/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Handshake latency per server endpoint: the moves of the handshake stamp the
 * flow and add the gap to the endpoint's histogram (ctaccel_latency) and to
 * the sum of all. Only handshake packets pay for it.
 */
#ifndef CTACCEL_LATENCY_BPF_H
#define CTACCEL_LATENCY_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"

/* What a new endpoint starts from (larger than a BPF stack). */
static const struct ctaccel_latency latency_zero;

/* log2 of the microseconds, in a bucket index. */
static __always_inline __u32 latency_bucket(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 b = 0;

	if (us >= 1ULL << 16) {
		us >>= 16;
		b += 16;
	}
	if (us >= 1ULL << 8) {
		us >>= 8;
		b += 8;
	}
	if (us >= 1ULL << 4) {
		us >>= 4;
		b += 4;
	}
	if (us >= 1ULL << 2) {
		us >>= 2;
		b += 2;
	}
	if (us >= 1ULL << 1)
		b += 1;
	if (us >> 32) /* ns beyond 2^48: the last bucket */
		b = CTACCEL_LAT_BUCKETS - 1;
	return b < CTACCEL_LAT_BUCKETS ? b : CTACCEL_LAT_BUCKETS - 1;
}

/* This CPU's slot of an endpoint, created on first use. */
static __always_inline struct ctaccel_latency *latency_slot(const struct ctaccel_latency_key *k,
							    struct ctaccel_stats *st)
{
	struct ctaccel_latency *l = bpf_map_lookup_elem(&ctaccel_latency, k);
	long err;

	if (l)
		return l;
	err = bpf_map_update_elem(&ctaccel_latency, k, &latency_zero, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		CTR_INC(st, latency_overflow);
		return NULL;
	}
	return bpf_map_lookup_elem(&ctaccel_latency, k);
}

/* The server endpoint of a packet's flow: the sender of a reply, else the
 * receiver. */
static __always_inline void latency_key(const struct pkt *p, bool server_sent,
					struct ctaccel_latency_key *k)
{
	bool hi = server_sent ? p->src_is_hi : !p->src_is_hi;

	__builtin_memcpy(k->addr, hi ? p->key.addr_hi : p->key.addr_lo, sizeof(k->addr));
	k->port = hi ? p->key.port_hi : p->key.port_lo;
	k->family = p->key.family;
	k->__pad = 0;
}

/* Per-CPU slots written by the tc programs only: plain adds are exact. */
static __always_inline void latency_hist_add(struct ctaccel_latency *l, __u32 leg, __u64 ns)
{
	struct ctaccel_latency_hist *h = &l->leg[leg & 1];
	__u32 b = latency_bucket(ns) & (CTACCEL_LAT_BUCKETS - 1);

	h->count++;
	h->sum_ns += ns;
	h->bucket[b]++;
}

static __always_inline void latency_add(const struct pkt *p, bool server_sent, __u32 leg, __u64 ns,
					struct ctaccel_stats *st)
{
	struct ctaccel_latency_key k = {};
	struct ctaccel_latency *l;

	l = latency_slot(&k, st); /* family 0: all endpoints */
	if (l)
		latency_hist_add(l, leg, ns);
	latency_key(p, server_sent, &k);
	l = latency_slot(&k, st);
	if (l)
		latency_hist_add(l, leg, ns);
}

/* A SYN sent again: counted for its endpoint, and the server leg starts over. */
static __always_inline void latency_syn_again(struct ctaccel_flow *f, const struct pkt *p,
					      struct ctaccel_stats *st)
{
	struct ctaccel_latency_key k = {};
	struct ctaccel_latency *l;

	f->syn_ns = bpf_ktime_get_ns();
	l = latency_slot(&k, st);
	if (l)
		l->syn_retransmits++;
	latency_key(p, false, &k);
	l = latency_slot(&k, st);
	if (l)
		l->syn_retransmits++;
}

/* After a state move this CPU won: stamp the handshake, add its gaps. */
static __always_inline void latency_move(struct ctaccel_flow *f, const struct pkt *p, __u32 dir,
					 __u32 old, __u32 new, struct ctaccel_stats *st)
{
	__u64 t, since;

	if (old == CTACCEL_ST_SYN_SENT && new == CTACCEL_ST_SYN_RECV && dir == CTACCEL_DIR_REPLY) {
		since = f->syn_ns;
		if (!since)
			return;
		t = bpf_ktime_get_ns();
		f->synack_ns = t;
		latency_add(p, true, CTACCEL_LEG_SERVER, t - since, st);
	} else if (old == CTACCEL_ST_SYN_RECV && new == CTACCEL_ST_ESTABLISHED &&
		   dir == CTACCEL_DIR_ORIG) {
		since = f->synack_ns;
		if (!since)
			return;
		t = bpf_ktime_get_ns();
		latency_add(p, false, CTACCEL_LEG_CLIENT, t - since, st);
	}
}

#endif /* CTACCEL_LATENCY_BPF_H */
