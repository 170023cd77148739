// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

const char *const ctaccel_state_names[CTACCEL_ST__MAX] = {
#define X(name, timeout) [CTACCEL_ST_##name] = #name,
	CTACCEL_STATES(X)
#undef X
};

const unsigned int ctaccel_state_default_timeout[CTACCEL_ST__MAX] = {
#define X(name, timeout) [CTACCEL_ST_##name] = timeout,
	CTACCEL_STATES(X)
#undef X
};

const char *const ctaccel_counter_names[CTACCEL_CTR__MAX] = {
#define X(name, help) [CTACCEL_CTR_##name] = #name,
	CTACCEL_COUNTERS(X)
#undef X
};

const char *const ctaccel_counter_help[CTACCEL_CTR__MAX] = {
#define X(name, help) [CTACCEL_CTR_##name] = help,
	CTACCEL_COUNTERS(X)
#undef X
};

/* The counters are the first members of struct ctaccel_stats, in enum order. */
#define X(name, help)                                                                              \
	_Static_assert(__builtin_offsetof(struct ctaccel_stats, name) == 8 * CTACCEL_CTR_##name,   \
		       "counter " #name " out of place");
CTACCEL_COUNTERS(X)
#undef X

const char *ctaccel_proto_name(int proto)
{
	return proto == IPPROTO_UDP ? "udp" : proto == IPPROTO_TCP ? "tcp" : "?";
}

int ctaccel_state_parse(const char *name)
{
	int i;

	for (i = 1; i < CTACCEL_ST__MAX; i++)
		if (!strcasecmp(name, ctaccel_state_names[i]))
			return i;
	return -EINVAL;
}

int ctaccel_stats_read(int stats_fd, struct ctaccel_stats *sum)
{
	int ncpus = libbpf_num_possible_cpus();
	struct ctaccel_stats *percpu;
	__u32 key = 0;
	int cpu, err;
	size_t i;

	if (ncpus <= 0)
		return ncpus < 0 ? ncpus : -EINVAL;
	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	err = bpf_map_lookup_elem(stats_fd, &key, percpu);
	if (err) {
		err = -errno;
		goto cleanup;
	}
	memset(sum, 0, sizeof(*sum));
	for (cpu = 0; cpu < ncpus; cpu++) {
		for (i = 0; i < CTACCEL_CTR__MAX; i++)
			((__u64 *)sum)[i] += ((__u64 *)&percpu[cpu])[i];
		for (i = 0; i < CTACCEL_ST__MAX; i++)
			sum->flows_in_state[i] += percpu[cpu].flows_in_state[i];
	}
cleanup:
	free(percpu);
	return err;
}

static int flow_list_reserve(struct ctaccel_flow_list *l, size_t more)
{
	struct ctaccel_flow_entry *e;
	size_t cap = l->cap ? l->cap : 1024;

	while (cap < l->n + more)
		cap *= 2;
	if (cap == l->cap)
		return 0;
	e = realloc(l->e, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	l->e = e;
	l->cap = cap;
	return 0;
}

void ctaccel_flow_list_free(struct ctaccel_flow_list *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}

int ctaccel_flows_walk(int flows_fd, ctaccel_flows_raw_fn fn, void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct ctaccel_flow_key *keys = NULL;
	struct ctaccel_flow *vals = NULL;
	__u32 chunk = CTACCEL_WALK_CHUNK, count, token;
	bool first = true;
	int err = 0;

	for (;;) {
		if (!keys) {
			keys = calloc(chunk, sizeof(*keys));
			vals = calloc(chunk, sizeof(*vals));
			if (!keys || !vals) {
				err = -ENOMEM;
				goto cleanup;
			}
		}
		count = chunk;
		err = bpf_map_lookup_batch(flows_fd, first ? NULL : &token, &token, keys, vals,
					   &count, &opts);
		if (err)
			err = -errno;
		if (err == -ENOSPC) {
			/* A hash bucket holds more than a chunk: grow and retry. */
			free(keys);
			free(vals);
			keys = NULL;
			vals = NULL;
			chunk *= 2;
			continue;
		}
		if (err && err != -ENOENT)
			goto cleanup;
		if (count) {
			int cb = fn(keys, vals, count, ctx);

			if (cb) {
				err = cb;
				goto cleanup;
			}
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		first = false;
	}
cleanup:
	free(keys);
	free(vals);
	return err;
}

static int flow_list_append(const struct ctaccel_flow_key *keys, const struct ctaccel_flow *vals,
			    __u32 n, void *ctx)
{
	struct ctaccel_flow_list *out = ctx;
	__u32 i;

	if (flow_list_reserve(out, n))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		out->e[out->n].key = keys[i];
		out->e[out->n].val = vals[i];
		out->n++;
	}
	return 0;
}

int ctaccel_flows_read(int flows_fd, struct ctaccel_flow_list *out)
{
	int err;

	memset(out, 0, sizeof(*out));
	err = ctaccel_flows_walk(flows_fd, flow_list_append, out);
	if (err)
		ctaccel_flow_list_free(out);
	return err;
}

void ctaccel_flow_tuple(const struct ctaccel_flow_key *k, const struct ctaccel_flow *f,
			struct ctaccel_tuple *t)
{
	bool hi = f->orig_is_hi;

	t->family = k->family;
	t->proto = k->proto;
	memcpy(t->src, hi ? k->addr_hi : k->addr_lo, sizeof(t->src));
	memcpy(t->dst, hi ? k->addr_lo : k->addr_hi, sizeof(t->dst));
	t->sport = ntohs(hi ? k->port_hi : k->port_lo);
	t->dport = ntohs(hi ? k->port_lo : k->port_hi);
}

int ctaccel_delete_flows(int del_prog_fd, const struct ctaccel_del_req *reqs, size_t n,
			 unsigned int flags, size_t *deleted, size_t *skipped)
{
	size_t off;

	for (off = 0; off < n; off += CTACCEL_DEL_BATCH_MAX) {
		struct ctaccel_del_args args = {
			.reqs = (__u64)(uintptr_t)(reqs + off),
			.count = n - off < CTACCEL_DEL_BATCH_MAX ? n - off : CTACCEL_DEL_BATCH_MAX,
			.flags = flags,
		};
		/* Syscall programs write their results back into ctx_in. */
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
		int err = bpf_prog_test_run_opts(del_prog_fd, &opts);

		if (err)
			return -errno;
		if ((int)opts.retval < 0)
			return (int)opts.retval;
		if (args.faults)
			return -EFAULT;
		if (deleted)
			*deleted += args.deleted;
		if (skipped)
			*skipped += args.skipped;
	}
	return 0;
}

unsigned int ctaccel_kernel_hz(void)
{
	struct timespec res;

	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec || !res.tv_nsec)
		return 0;
	return (1000000000L + res.tv_nsec / 2) / res.tv_nsec;
}

void ctaccel_config_default(struct ctaccel_config *cfg, unsigned int hz)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hz = hz;
}

void ctaccel_live_default(struct ctaccel_live *t, unsigned int hz)
{
	int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < CTACCEL_ST__MAX; i++)
		t->timeout[i] = (__u64)ctaccel_state_default_timeout[i] * hz;
	t->unack = (__u64)CTACCEL_TIMEOUT_UNACK_DEFAULT * hz;
	t->gen = 2;
	t->mark = ctaccel_mark_word(CTACCEL_MARK_DEFAULT, CTACCEL_MARK_DEFAULT);
}

int ctaccel_clock_now(int clock_prog_fd, uint64_t *jiffies)
{
	struct ctaccel_clock clk = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &clk, .ctx_size_in = sizeof(clk));

	if (bpf_prog_test_run_opts(clock_prog_fd, &opts))
		return -errno;
	*jiffies = clk.jiffies;
	return 0;
}

struct gc_walk {
	int del_prog_fd;
	uint64_t now;
	struct ctaccel_del_req *reqs;
	size_t cap;
	struct ctaccel_gc_result *res;
};

/* One batch: what has expired in it goes at once, so a pass holds one batch
 * in memory, however large the table. */
static int gc_batch(const struct ctaccel_flow_key *keys, const struct ctaccel_flow *vals, __u32 n,
		    void *ctx)
{
	struct gc_walk *w = ctx;
	size_t i, k = 0, deleted = 0;
	int err;

	if (n > w->cap) {
		struct ctaccel_del_req *r = realloc(w->reqs, n * sizeof(*r));

		if (!r)
			return -ENOMEM;
		w->reqs = r;
		w->cap = n;
	}
	for (i = 0; i < n; i++) {
		__u64 ct = vals[i].ct;

		if (ctaccel_ct_state(ct) == CTACCEL_ST_NONE || !ctaccel_ct_expired(ct, w->now))
			continue;
		w->reqs[k].key = keys[i];
		w->reqs[k].expect_ct = ct;
		k++;
	}
	w->res->scanned += n;
	w->res->expired += k;
	if (!k)
		return 0;
	err = ctaccel_delete_flows(w->del_prog_fd, w->reqs, k, 0, &deleted, NULL);
	w->res->deleted += deleted;
	return err;
}

int ctaccel_gc_pass(int flows_fd, int del_prog_fd, int clock_prog_fd, struct ctaccel_gc_result *res)
{
	struct gc_walk w = {.del_prog_fd = del_prog_fd, .res = res};
	int err;

	memset(res, 0, sizeof(*res));
	err = ctaccel_clock_now(clock_prog_fd, &w.now);
	err = err ?: ctaccel_flows_walk(flows_fd, gc_batch, &w);
	free(w.reqs);
	return err;
}

struct view_walk {
	ctaccel_flow_fn fn;
	void *ctx;
	uint64_t now;
	unsigned int hz;
	struct ctaccel_flow_view *v;
	size_t cap;
};

/* A batch of raw entries as views: the tuple, counts and seconds. */
static int view_batch(const struct ctaccel_flow_key *keys, const struct ctaccel_flow *vals, __u32 n,
		      void *ctx)
{
	struct view_walk *w = ctx;
	__u32 i;

	if (n > w->cap) {
		struct ctaccel_flow_view *v = realloc(w->v, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = n;
	}
	for (i = 0; i < n; i++) {
		const struct ctaccel_flow *f = &vals[i];
		struct ctaccel_flow_view *v = &w->v[i];
		int64_t left = (int64_t)ctaccel_ct_expires(f->ct) - (int64_t)w->now;

		ctaccel_flow_tuple(&keys[i], f, &v->tuple);
		v->state = ctaccel_ct_state(f->ct);
		v->orig_packets = f->leg[CTACCEL_DIR_ORIG].packets;
		v->orig_bytes = f->leg[CTACCEL_DIR_ORIG].bytes;
		v->reply_packets = f->leg[CTACCEL_DIR_REPLY].packets;
		v->reply_bytes = f->leg[CTACCEL_DIR_REPLY].bytes;
		v->expires_s = left > 0 && w->hz ? left / w->hz : 0;
		v->icmp_errors = f->icmp_errors;
		v->bypass = f->bypass;
		v->assured = f->ct & CTACCEL_CT_ASSURED;
		v->seen_reply = f->ct & CTACCEL_CT_SEEN_REPLY;
	}
	return w->fn(w->v, n, w->ctx);
}

int ctaccel_flows_foreach(struct ctaccel *h, ctaccel_flow_fn fn, void *ctx)
{
	struct view_walk w = {.fn = fn, .ctx = ctx, .hz = h->cfg.hz};
	int err;

	if (!h->open)
		return lib_fail(h, -EBADF, "flow: read %s", h->root);
	err = clock_now(h, &w.now);
	if (err)
		return err;
	err = ctaccel_flows_walk(h->fd[PIN_FLOWS], view_batch, &w);
	free(w.v);
	return err ? lib_fail(h, err, "flow: read %s/%s", h->root, pin_name(PIN_FLOWS)) : 0;
}

int clock_now(struct ctaccel *h, uint64_t *jiffies)
{
	int err;

	if (!h->open)
		return lib_fail(h, -EBADF, "clock of %s", h->root);
	err = ctaccel_clock_now(h->fd[PIN_CLOCK], jiffies);
	return err ? lib_fail(h, err, "read the datapath's clock") : 0;
}

struct flush_walk {
	int del_prog_fd;
	size_t *deleted;
};

static int flush_batch(const struct ctaccel_flow_key *keys, const struct ctaccel_flow *vals,
		       __u32 n, void *ctx)
{
	struct flush_walk *w = ctx;
	struct ctaccel_del_req *reqs = calloc(n ? n : 1, sizeof(*reqs));
	__u32 i;
	int err;

	(void)vals;
	if (!reqs)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		reqs[i].key = keys[i];
	err = ctaccel_delete_flows(w->del_prog_fd, reqs, n, CTACCEL_DEL_FORCE, w->deleted, NULL);
	free(reqs);
	return err;
}

/* Remove every flow through compare-and-delete, so that counters stay exact. */
int flows_flush(struct ctaccel *h, size_t *deleted)
{
	struct flush_walk w = {.del_prog_fd = h->fd[PIN_DELETE], .deleted = deleted};

	return ctaccel_flows_walk(h->fd[PIN_FLOWS], flush_batch, &w);
}
