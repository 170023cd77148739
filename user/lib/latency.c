// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Handshake latency (bpf/latency.bpf.h): the per-CPU histograms summed, per
 * server endpoint and for all, and quantiles read off the log2 buckets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

static void add_latency(struct ctaccel_latency *sum, const struct ctaccel_latency *v)
{
	int i, b;

	for (i = 0; i < CTACCEL_LEG__MAX; i++) {
		sum->leg[i].count += v->leg[i].count;
		sum->leg[i].sum_ns += v->leg[i].sum_ns;
		for (b = 0; b < CTACCEL_LAT_BUCKETS; b++)
			sum->leg[i].bucket[b] += v->leg[i].bucket[b];
	}
	sum->syn_retransmits += v->syn_retransmits;
}

static int cmp_count(const void *a, const void *b)
{
	const struct ctaccel_latency_endpoint *x = a, *y = b;
	uint64_t nx = x->lat.leg[0].count + x->lat.leg[1].count + x->lat.syn_retransmits;
	uint64_t ny = y->lat.leg[0].count + y->lat.leg[1].count + y->lat.syn_retransmits;

	return nx < ny ? 1 : nx > ny ? -1 : 0;
}

int ctaccel_latency_read(struct ctaccel *h, struct ctaccel_latency_report *r)
{
	int ncpus = libbpf_num_possible_cpus(), fd, cpu, err = 0;
	struct ctaccel_latency_key key, next;
	struct ctaccel_latency *pc = NULL;
	bool first = true;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!h->open)
		return lib_fail(h, -EBADF, "latency: read %s", h->root);
	if (ncpus <= 0)
		return lib_fail(h, ncpus ? ncpus : -EINVAL, "latency: count CPUs");
	fd = h->fd[PIN_LATENCY];
	pc = calloc(ncpus, sizeof(*pc));
	r->endpoints = calloc(CTACCEL_LAT_ENDPOINTS + 1, sizeof(*r->endpoints));
	if (!pc || !r->endpoints) {
		err = -ENOMEM;
		goto out;
	}
	while ((rc = bpf_map_get_next_key(fd, first ? NULL : &key, &next)) == 0) {
		struct ctaccel_latency_endpoint *e;

		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &next, pc))
			continue; /* gone since: nothing removes entries, but be safe */
		if (!next.family) {
			e = &r->all;
		} else {
			if (r->n > CTACCEL_LAT_ENDPOINTS)
				break;
			e = &r->endpoints[r->n++];
			e->family = next.family;
			memcpy(e->addr, next.addr, sizeof(e->addr));
			e->port = ntohs(next.port);
		}
		for (cpu = 0; cpu < ncpus; cpu++)
			add_latency(&e->lat, &pc[cpu]);
	}
	if (rc && errno != ENOENT)
		err = -errno;
	if (r->n)
		qsort(r->endpoints, r->n, sizeof(*r->endpoints), cmp_count);
out:
	free(pc);
	if (err) {
		ctaccel_latency_free(r);
		return lib_fail(h, err, "latency: read %s/%s", h->root, pin_name(PIN_LATENCY));
	}
	return 0;
}

void ctaccel_latency_free(struct ctaccel_latency_report *r)
{
	free(r->endpoints);
	memset(r, 0, sizeof(*r));
}

double ctaccel_latency_bucket_lo_ms(int b)
{
	return b <= 0 ? 0.0 : (double)(1ULL << b) / 1000.0;
}

double ctaccel_latency_bucket_hi_ms(int b)
{
	return (double)(1ULL << (b + 1)) / 1000.0;
}

double ctaccel_latency_quantile_ms(const struct ctaccel_latency_hist *h, double q)
{
	uint64_t seen = 0;
	double want;
	int b;

	if (!h->count)
		return 0.0;
	want = q * (double)h->count;
	for (b = 0; b < CTACCEL_LAT_BUCKETS; b++) {
		double lo = ctaccel_latency_bucket_lo_ms(b), hi = ctaccel_latency_bucket_hi_ms(b);

		if (!h->bucket[b])
			continue;
		if ((double)(seen + h->bucket[b]) >= want) {
			/* linear inside the bucket: its bounds are all it knows */
			return lo + (hi - lo) * (want - (double)seen) / (double)h->bucket[b];
		}
		seen += h->bucket[b];
	}
	return ctaccel_latency_bucket_hi_ms(CTACCEL_LAT_BUCKETS - 1);
}

int ctaccel_latency_total(struct ctaccel *h, struct ctaccel_latency *sum)
{
	int ncpus = libbpf_num_possible_cpus(), cpu, err = 0;
	struct ctaccel_latency_key all = {};
	struct ctaccel_latency *pc;

	memset(sum, 0, sizeof(*sum));
	if (!h->open)
		return lib_fail(h, -EBADF, "latency: read %s", h->root);
	if (ncpus <= 0)
		return lib_fail(h, ncpus ? ncpus : -EINVAL, "latency: count CPUs");
	pc = calloc(ncpus, sizeof(*pc));
	if (!pc)
		return lib_fail(h, -ENOMEM, "latency: read %s", h->root);
	if (bpf_map_lookup_elem(h->fd[PIN_LATENCY], &all, pc)) {
		if (errno != ENOENT) /* no handshake yet */
			err = lib_fail(h, -errno, "latency: read %s/%s", h->root, pin_name(PIN_LATENCY));
	} else {
		for (cpu = 0; cpu < ncpus; cpu++)
			add_latency(sum, &pc[cpu]);
	}
	free(pc);
	return err;
}
