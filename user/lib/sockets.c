// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Host TCP sockets of the namespace the caller runs in: counts per state,
 * transitions since load, and TIME_WAIT by local port and by remote endpoint
 * with the share of the ephemeral port range each remote endpoint holds. The
 * kernel aggregates (iter/tcp); this reads the aggregate.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "sockets.skel.h"

const char *const ctaccel_tcp_state_names[CTACCEL_TCP_STATE_SLOTS] = {
#define X(name, num) [num] = #name,
	CTACCEL_TCP_STATES(X)
#undef X
};

struct ctaccel_sockiter {
	struct ctaccel *h;
	struct sockets *skel;
	struct bpf_link *link, *udp_link;
	/* one walk at a time: each sets the object's globals, then runs */
	pthread_mutex_t lock;
};

/* Reading drives the walk; the program writes nothing to the stream. */
static int link_run(struct ctaccel *h, struct bpf_link *link, const char *what)
{
	char buf[4096];
	ssize_t n;
	int fd, err = 0;

	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return lib_fail(h, -errno, "create the %s socket iterator", what);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		err = lib_fail(h, -errno, "walk %s sockets", what);
	close(fd);
	return err;
}

static int iter_run(struct ctaccel_sockiter *it)
{
	return link_run(it->h, it->link, "TCP");
}

/* A private copy of the iterator, loaded and attached (not yet run). */
int ctaccel_sockiter_new(struct ctaccel *h, struct ctaccel_sockiter **out)
{
	struct ctaccel_sockiter *it = calloc(1, sizeof(*it));
	int err;

	if (!it)
		return lib_fail(h, -ENOMEM, "load the socket iterator");
	it->h = h;
	pthread_mutex_init(&it->lock, NULL);
	it->skel = sockets__open();
	if (!it->skel) {
		err = lib_fail(h, -errno, "open the socket iterator");
		goto fail;
	}
	/* Only the iterator: the tracepoint program lives with `ctaccel load`. */
	bpf_program__set_autoload(it->skel->progs.ctaccel_sock_state, false);
	err = sockets__load(it->skel);
	if (err) {
		lib_fail(h, err, "load the socket iterator");
		goto fail;
	}
	it->link = bpf_program__attach_iter(it->skel->progs.ctaccel_tcp_iter, NULL);
	if (!it->link) {
		err = lib_fail(h, -errno, "attach iter/tcp");
		goto fail;
	}
	it->udp_link = bpf_program__attach_iter(it->skel->progs.ctaccel_udp_iter, NULL);
	if (!it->udp_link) {
		err = lib_fail(h, -errno, "attach iter/udp");
		goto fail;
	}
	*out = it;
	return 0;
fail:
	ctaccel_sockiter_free(it);
	return err;
}

void ctaccel_sockiter_free(struct ctaccel_sockiter *it)
{
	if (!it)
		return;
	bpf_link__destroy(it->udp_link);
	bpf_link__destroy(it->link);
	sockets__destroy(it->skel);
	pthread_mutex_destroy(&it->lock);
	free(it);
}

/* A kept iterator: only the per-state counts, reset before each walk. */
int ctaccel_sockiter_states(struct ctaccel_sockiter *it, uint64_t states[CTACCEL_TCP_STATE_SLOTS])
{
	int err;

	pthread_mutex_lock(&it->lock);
	it->skel->bss->states_only = 1;
	memset(it->skel->bss->state_count, 0, sizeof(it->skel->bss->state_count));
	it->skel->bss->time_wait_total = 0;
	it->skel->bss->fin_wait2_tw = 0;
	err = iter_run(it);
	if (!err)
		memcpy(states, it->skel->bss->state_count, sizeof(it->skel->bss->state_count));
	pthread_mutex_unlock(&it->lock);
	return err;
}

int ctaccel_sockiter_marks(struct ctaccel_sockiter *it, uint64_t old, uint64_t rewrite_to,
			   uint64_t held[CTACCEL_MH__MAX], uint64_t *rewritten)
{
	struct sockets__bss *b = it->skel->bss;
	int err;

	pthread_mutex_lock(&it->lock);
	memset(b->mark_held, 0, sizeof(b->mark_held));
	b->mark_rewritten = 0;
	b->mark_old = old;
	b->mark_new = rewrite_to;
	b->mark_rewrite = rewrite_to != 0;
	b->mark_walk = 1;
	err = iter_run(it);
	err = err ?: link_run(it->h, it->udp_link, "UDP");
	b->mark_walk = 0;
	if (!err) {
		memcpy(held, b->mark_held, sizeof(b->mark_held));
		*rewritten = b->mark_rewritten;
	}
	pthread_mutex_unlock(&it->lock);
	return err;
}

void ctaccel_sockiter_lend(struct ctaccel *h, struct ctaccel_sockiter *it)
{
	h->walker = it;
}

/*
 * Load a private copy of the iterator and walk this namespace's sockets once:
 * the walked iterator, or NULL with *err set (said once). Success is the
 * pointer itself, so no failure can pass for one.
 */
static struct ctaccel_sockiter *sockets_walk(struct ctaccel *h, int *err)
{
	struct ctaccel_sockiter *it = NULL;

	*err = ctaccel_sockiter_new(h, &it);
	if (!*err && it)
		*err = iter_run(it);
	if (*err && it) {
		ctaccel_sockiter_free(it);
		it = NULL;
	}
	if (!it && !*err)
		*err = -EIO;
	return it;
}

int ctaccel_host_sockets(struct ctaccel *h, struct ctaccel_host_sockets *out)
{
	int err;
	struct ctaccel_sockiter *it = sockets_walk(h, &err);

	if (!it)
		return err;
	memcpy(out->states, it->skel->bss->state_count, sizeof(out->states));
	out->fin_wait2_tw = it->skel->bss->fin_wait2_tw;
	ctaccel_sockiter_free(it);
	return 0;
}

int ctaccel_sk_transitions(struct ctaccel *h, struct ctaccel_sk_transitions *sum)
{
	int ncpus = libbpf_num_possible_cpus(), fd, cpu, i, err = 0;
	struct ctaccel_sk_transitions *pc;
	__u32 zero = 0;

	fd = pin_get(h, PIN_SK_TRANSITIONS);
	if (fd < 0)
		return fd;
	if (ncpus <= 0) {
		close(fd);
		return lib_fail(h, -EINVAL, "count the possible CPUs");
	}
	pc = calloc(ncpus, sizeof(*pc));
	if (!pc) {
		close(fd);
		return lib_fail(h, -ENOMEM, "read the socket transitions");
	}
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(fd, &zero, pc)) {
		err = lib_fail(h, -errno, "read %s/%s", h->root, pin_name(PIN_SK_TRANSITIONS));
		goto out;
	}
	for (cpu = 0; cpu < ncpus; cpu++) {
		for (i = 0; i < CTACCEL_TCP_STATE_SLOTS * CTACCEL_TCP_STATE_SLOTS; i++)
			((__u64 *)sum->moves)[i] += ((__u64 *)pc[cpu].moves)[i];
		sum->time_wait_entered += pc[cpu].time_wait_entered;
	}
out:
	free(pc);
	close(fd);
	return err;
}

void ctaccel_sk_summarise(const struct ctaccel_sk_transitions *t, struct ctaccel_sk_summary *s)
{
	s->opened_active = t->moves[TCP_SYN_SENT][TCP_ESTABLISHED];
	s->opened_passive = t->moves[TCP_SYN_RECV][TCP_ESTABLISHED];
	s->closed_by_fin = t->moves[TCP_LAST_ACK][TCP_CLOSE] + t->time_wait_entered;
	/* Straight to CLOSE from a live state: a reset or an abort. */
	s->reset_or_aborted =
		t->moves[TCP_ESTABLISHED][TCP_CLOSE] + t->moves[TCP_CLOSE_WAIT][TCP_CLOSE] +
		t->moves[TCP_SYN_SENT][TCP_CLOSE] + t->moves[TCP_SYN_RECV][TCP_CLOSE] +
		t->moves[TCP_FIN_WAIT1][TCP_CLOSE];
	s->time_wait_entered = t->time_wait_entered;
}

static int cmp_port(const void *a, const void *b)
{
	const struct ctaccel_tw_port *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return (int)x->port - (int)y->port;
}

static int cmp_peer(const void *a, const void *b)
{
	const struct ctaccel_tw_peer *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

/* The ephemeral range of this namespace: net.ipv4.ip_local_port_range. */
static int port_range(unsigned int *lo, unsigned int *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "%u %u", lo, hi);
	fclose(f);
	return n == 2 && *hi >= *lo ? 0 : -EINVAL;
}

static int tw_peers(struct ctaccel_sockiter *it, struct ctaccel_tw_report *r)
{
	int fd = bpf_map__fd(it->skel->maps.tw_remote);
	struct ctaccel_tw_remote key, next;
	unsigned int range = r->port_hi - r->port_lo + 1;
	struct ctaccel_tw_peer *grown;
	size_t cap = 0;
	bool first = true;
	__u32 c;

	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		if (r->npeers == cap) {
			cap = cap ? cap * 2 : 1024;
			grown = realloc(r->peers, cap * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			r->peers = grown;
		}
		if (bpf_map_lookup_elem(fd, &next, &c) == 0)
			r->peers[r->npeers++] =
				(struct ctaccel_tw_peer){next, c, (double)c / range};
		key = next;
		first = false;
	}
	if (r->npeers)
		qsort(r->peers, r->npeers, sizeof(*r->peers), cmp_peer);
	return 0;
}

int ctaccel_tw_read(struct ctaccel *h, struct ctaccel_tw_report *r)
{
	struct ctaccel_sockiter *it;
	unsigned int i;
	int err;

	memset(r, 0, sizeof(*r));
	if (port_range(&r->port_lo, &r->port_hi))
		return lib_fail(h, -EINVAL, "tw: read net.ipv4.ip_local_port_range");
	it = sockets_walk(h, &err);
	if (!it)
		return err;
	r->time_wait = it->skel->bss->time_wait_total;
	r->peer_overflow = it->skel->bss->tw_remote_overflow;
	r->ports = calloc(65536, sizeof(*r->ports));
	if (!r->ports) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < 65536; i++)
		if (it->skel->bss->tw_local_port[i])
			r->ports[r->nports++] =
				(struct ctaccel_tw_port){i, it->skel->bss->tw_local_port[i]};
	if (r->nports)
		qsort(r->ports, r->nports, sizeof(*r->ports), cmp_port);
	err = tw_peers(it, r);
out:
	ctaccel_sockiter_free(it);
	if (err) {
		ctaccel_tw_free(r);
		return lib_fail(h, err, "tw");
	}
	return 0;
}

void ctaccel_tw_free(struct ctaccel_tw_report *r)
{
	free(r->ports);
	free(r->peers);
	memset(r, 0, sizeof(*r));
}
