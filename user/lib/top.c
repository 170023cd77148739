// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The busiest flows over an interval: each refresh reads the table once
 * (batch lookups), sorts each flow's packet and byte totals by key, and
 * merges them with the previous refresh's to get what every flow did in
 * between. Memory: two snapshots of 64 bytes a flow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct top_entry {
	struct ctaccel_flow_key key;
	__u64 packets, bytes;
	__u8 state, bypass, orig_is_hi, __pad[5];
};

struct snapshot {
	struct top_entry *e;
	size_t n, cap;
};

struct ctaccel_top {
	struct snapshot snap[2];
	int cur; /* snap[cur] is being read; snap[!cur] is the previous one */
	bool first;
};

int ctaccel_top_new(struct ctaccel_top **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->first = true;
	return 0;
}

void ctaccel_top_free(struct ctaccel_top *t)
{
	if (!t)
		return;
	free(t->snap[0].e);
	free(t->snap[1].e);
	free(t);
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct top_entry *)a)->key, &((const struct top_entry *)b)->key,
		      sizeof(struct ctaccel_flow_key));
}

static int collect(const struct ctaccel_flow_key *keys, const struct ctaccel_flow *vals, __u32 n,
		   void *ctx)
{
	struct snapshot *s = ctx;
	__u32 i;

	if (s->n + n > s->cap) {
		size_t cap = (s->n + n) * 2;
		struct top_entry *grown = realloc(s->e, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		s->e = grown;
		s->cap = cap;
	}
	for (i = 0; i < n; i++) {
		struct top_entry *e = &s->e[s->n++];

		memset(e, 0, sizeof(*e));
		e->key = keys[i];
		e->packets = vals[i].leg[0].packets + vals[i].leg[1].packets;
		e->bytes = vals[i].leg[0].bytes + vals[i].leg[1].bytes;
		e->state = ctaccel_ct_state(vals[i].ct);
		e->bypass = vals[i].bypass;
		e->orig_is_hi = vals[i].orig_is_hi;
	}
	return 0;
}

static bool busier(const struct ctaccel_flow_rate *a, const struct ctaccel_flow_rate *b,
		   bool by_bytes)
{
	return by_bytes ? a->bytes > b->bytes : a->packets > b->packets;
}

/* Keep r if it is among the max busiest so far (out stays sorted). */
static void keep_if_busy(const struct ctaccel_flow_rate *r, struct ctaccel_flow_rate *out,
			 size_t max, size_t *n, bool by_bytes)
{
	size_t i;

	if (!max || !r->packets || (*n == max && !busier(r, &out[*n - 1], by_bytes)))
		return;
	i = *n < max ? (*n)++ : *n - 1;
	for (; i > 0 && busier(r, &out[i - 1], by_bytes); i--)
		out[i] = out[i - 1];
	out[i] = *r;
}

/* What flow e did since the previous snapshot (all of it when it is new,
 * or a reopened tuple that starts again from fewer packets). */
static void rate_of(const struct top_entry *e, const struct top_entry *prev,
		    struct ctaccel_flow_rate *r)
{
	struct ctaccel_flow v = {.orig_is_hi = e->orig_is_hi};

	memset(r, 0, sizeof(*r));
	r->packets = e->packets;
	r->bytes = e->bytes;
	if (prev && prev->packets <= e->packets && prev->bytes <= e->bytes) {
		r->packets -= prev->packets;
		r->bytes -= prev->bytes;
	}
	ctaccel_flow_tuple(&e->key, &v, &r->tuple);
	r->state = e->state;
	r->bypass = e->bypass;
}

int ctaccel_top_refresh(struct ctaccel *h, struct ctaccel_top *t, bool by_bytes,
			struct ctaccel_flow_rate *out, size_t max, struct ctaccel_top_result *res)
{
	struct snapshot *cur = &t->snap[t->cur], *prev = &t->snap[!t->cur];
	struct ctaccel_flow_rate r;
	size_t i, j = 0;
	int err;

	if (!h->open)
		return lib_fail(h, -EBADF, "top: read %s", h->root);
	memset(res, 0, sizeof(*res));
	cur->n = 0;
	err = ctaccel_flows_walk(h->fd[PIN_FLOWS], collect, cur);
	if (err)
		return lib_fail(h, err, "top: read %s/%s", h->root, pin_name(PIN_FLOWS));
	if (cur->n) /* qsort's base must not be NULL, even for no elements */
		qsort(cur->e, cur->n, sizeof(*cur->e), key_cmp);
	/* Both snapshots are sorted by key: one merge finds each flow's past. */
	for (i = 0; i < cur->n; i++) {
		const struct top_entry *e = &cur->e[i], *p = NULL;

		while (!t->first && j < prev->n && key_cmp(&prev->e[j], e) < 0)
			j++;
		if (!t->first && j < prev->n && !key_cmp(&prev->e[j], e))
			p = &prev->e[j];
		res->bypassed += e->bypass;
		if (t->first)
			continue;
		rate_of(e, p, &r);
		keep_if_busy(&r, out, max, &res->nbusiest, by_bytes);
	}
	res->flows = cur->n;
	res->first = t->first;
	t->first = false;
	t->cur = !t->cur;
	return 0;
}
