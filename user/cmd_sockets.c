// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Host TCP sockets of the namespace the command runs in: `ctaccel sockets`
 * (counts per state, and transitions since load) and `ctaccel tw` (TIME_WAIT
 * by local port and by remote endpoint, with the share of the ephemeral port
 * range each remote endpoint holds). The kernel aggregates; userspace reads
 * the aggregate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "flowtab.h"
#include "sockets.skel.h"

static const char *const tcp_state_names[CTACCEL_TCP_STATE_SLOTS] = {
#define X(name, num) [num] = #name,
	CTACCEL_TCP_STATES(X)
#undef X
};

/* Reading drives the walk; the program writes nothing to the stream. */
static int iter_run(struct bpf_link *link)
{
	char buf[4096];
	int fd, err = 0;
	ssize_t n;

	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		pr_err("create the TCP socket iterator: %s", strerror(-err));
		return err;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0) {
		err = -errno;
		pr_err("walk TCP sockets: %s", strerror(-err));
	}
	close(fd);
	return err;
}

/* A private copy of the iterator, loaded and attached (not yet run). */
static int iter_load(struct sockets **out, struct bpf_link **link)
{
	struct sockets *skel;
	int err;

	skel = sockets__open();
	if (!skel) {
		err = -errno;
		pr_err("open the socket iterator: %s", strerror(-err));
		return err;
	}
	/* Only the iterator: the tracepoint program lives with `ctaccel load`. */
	bpf_program__set_autoload(skel->progs.ctaccel_sock_state, false);
	err = sockets__load(skel);
	if (err) {
		pr_err("load the socket iterator: %s", strerror(-err));
		sockets__destroy(skel);
		return err;
	}
	*link = bpf_program__attach_iter(skel->progs.ctaccel_tcp_iter, NULL);
	if (!*link) {
		err = -errno;
		pr_err("attach iter/tcp: %s", strerror(-err));
		sockets__destroy(skel);
		return err;
	}
	*out = skel;
	return 0;
}

/* Load a private copy of the iterator and walk this namespace's sockets once. */
static int sockets_walk(struct sockets **out)
{
	struct bpf_link *link;
	struct sockets *skel;
	int err;

	err = iter_load(&skel, &link);
	if (err)
		return err;
	err = iter_run(link);
	bpf_link__destroy(link);
	if (err) {
		sockets__destroy(skel);
		return err;
	}
	*out = skel;
	return 0;
}

/* Transition counters since `ctaccel load`, summed over CPUs; -ENOENT if not loaded. */
static int transitions_read(struct ctaccel_sk_transitions *sum)
{
	int ncpus = libbpf_num_possible_cpus(), fd, cpu, i, err = 0;
	struct ctaccel_sk_transitions *pc;
	char path[PATH_MAX];
	__u32 zero = 0;

	snprintf(path, sizeof(path), "%s/%s", cli.pin_path, PIN_SK_TRANSITIONS);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (ncpus <= 0) {
		close(fd);
		return -EINVAL;
	}
	pc = calloc(ncpus, sizeof(*pc));
	if (!pc) {
		close(fd);
		return -ENOMEM;
	}
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(fd, &zero, pc)) {
		err = -errno;
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

static json_t *transitions_json(const struct ctaccel_sk_transitions *t)
{
	json_t *moves = json_object(), *o;
	__u64 reset = 0;
	int a, b;

	for (a = 1; a < CTACCEL_TCP_STATE_SLOTS; a++)
		for (b = 1; b < CTACCEL_TCP_STATE_SLOTS; b++) {
			char name[64];

			if (!t->moves[a][b] || !tcp_state_names[a] || !tcp_state_names[b])
				continue;
			snprintf(name, sizeof(name), "%s->%s", tcp_state_names[a],
				 tcp_state_names[b]);
			json_object_set_new(moves, name, json_integer(t->moves[a][b]));
		}
	/* Straight to CLOSE from a live state: a reset or an abort. */
	reset = t->moves[TCP_ESTABLISHED][TCP_CLOSE] + t->moves[TCP_CLOSE_WAIT][TCP_CLOSE] +
		t->moves[TCP_SYN_SENT][TCP_CLOSE] + t->moves[TCP_SYN_RECV][TCP_CLOSE] +
		t->moves[TCP_FIN_WAIT1][TCP_CLOSE];
	o = json_pack("{s:I,s:I,s:I,s:I,s:I}", "opened_active",
		      (json_int_t)t->moves[TCP_SYN_SENT][TCP_ESTABLISHED], "opened_passive",
		      (json_int_t)t->moves[TCP_SYN_RECV][TCP_ESTABLISHED], "closed_by_fin",
		      (json_int_t)(t->moves[TCP_LAST_ACK][TCP_CLOSE] + t->time_wait_entered),
		      "reset_or_aborted", (json_int_t)reset, "time_wait_entered",
		      (json_int_t)t->time_wait_entered);
	json_object_set_new(o, "moves", moves);
	return o;
}

/* The daemon's copy: loaded once, so a scrape costs one walk and no load
 * (nor the capabilities a load needs). */
static struct sockets *kept;
static struct bpf_link *kept_link;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

int host_sockets_keep(void)
{
	struct bpf_link *link;
	struct sockets *skel;
	int err;

	err = iter_load(&skel, &link);
	if (err)
		return err;
	skel->bss->states_only = 1;
	/* Published whole: a scrape may already be running. */
	pthread_mutex_lock(&kept_lock);
	kept = skel;
	kept_link = link;
	pthread_mutex_unlock(&kept_lock);
	return 0;
}

int host_socket_states(__u64 states[CTACCEL_TCP_STATE_SLOTS])
{
	struct sockets *skel;
	int err;

	pthread_mutex_lock(&kept_lock);
	if (kept) {
		memset(kept->bss->state_count, 0, sizeof(kept->bss->state_count));
		kept->bss->time_wait_total = 0;
		kept->bss->fin_wait2_tw = 0;
		err = iter_run(kept_link);
		if (!err)
			memcpy(states, kept->bss->state_count, sizeof(kept->bss->state_count));
		pthread_mutex_unlock(&kept_lock);
		return err;
	}
	pthread_mutex_unlock(&kept_lock);
	err = sockets_walk(&skel);
	if (err)
		return err;
	memcpy(states, skel->bss->state_count, sizeof(skel->bss->state_count));
	sockets__destroy(skel);
	return 0;
}

int do_sockets(int argc, char **argv)
{
	struct ctaccel_sk_transitions t;
	struct sockets *skel;
	json_t *o, *states;
	int i;

	if (argc && is_prefix(argv[0], "help")) {
		printf("Usage: ctaccel sockets\n");
		return 0;
	}
	if (argc) {
		pr_err("sockets: unexpected '%s'", argv[0]);
		return EXIT_USAGE;
	}
	if (sockets_walk(&skel))
		return EXIT_RUNTIME;
	states = json_object();
	for (i = 1; i < CTACCEL_TCP_STATE_SLOTS; i++)
		if (tcp_state_names[i])
			json_object_set_new(states, tcp_state_names[i],
					    json_integer(skel->bss->state_count[i]));
	o = json_pack("{s:o,s:I}", "states", states, "timewait_in_fin_wait2",
		      (json_int_t)skel->bss->fin_wait2_tw);
	if (transitions_read(&t) == 0)
		json_object_set_new(o, "transitions", transitions_json(&t));
	if (cli.json) {
		json_out(o);
	} else {
		json_t *tr = json_object_get(o, "transitions");

		printf("%-15s %10s\n", "STATE", "SOCKETS");
		for (i = 1; i < CTACCEL_TCP_STATE_SLOTS; i++)
			if (tcp_state_names[i])
				printf("%-15s %10llu\n", tcp_state_names[i],
				       (unsigned long long)skel->bss->state_count[i]);
		if (tr) {
			printf("\nsince load: opened %lld active, %lld passive; closed by FIN "
			       "%lld; "
			       "reset or aborted %lld; entered TIME_WAIT %lld\n",
			       (long long)json_integer_value(json_object_get(tr, "opened_active")),
			       (long long)json_integer_value(json_object_get(tr, "opened_passive")),
			       (long long)json_integer_value(json_object_get(tr, "closed_by_fin")),
			       (long long)json_integer_value(
				       json_object_get(tr, "reset_or_aborted")),
			       (long long)json_integer_value(
				       json_object_get(tr, "time_wait_entered")));
		}
	}
	json_decref(o);
	sockets__destroy(skel);
	return 0;
}

struct port_count {
	unsigned int port;
	__u32 count;
};

struct remote_count {
	struct ctaccel_tw_remote key;
	__u32 count;
};

static int cmp_port(const void *a, const void *b)
{
	const struct port_count *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return (int)x->port - (int)y->port;
}

static int cmp_remote(const void *a, const void *b)
{
	const struct remote_count *x = a, *y = b;

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

int do_tw(int argc, char **argv)
{
	struct ctaccel_tw_remote key, next;
	struct remote_count *remotes = NULL;
	struct port_count *ports = NULL;
	unsigned int lo, hi, range, top = 10, i;
	size_t nports = 0, nremotes = 0, cap = 0;
	uint32_t v, threshold = 50;
	struct sockets *skel;
	bool first = true;
	json_t *o, *bylp, *byr;
	int fd, ret = EXIT_RUNTIME;

	for (i = 0; i < (unsigned int)argc; i++) {
		if (is_prefix(argv[i], "help")) {
			printf("Usage: ctaccel tw [top N] [threshold PERCENT]\n");
			return 0;
		}
		if (is_prefix(argv[i], "top") && i + 1 < (unsigned int)argc) {
			if (parse_u32(argv[++i], &v) || v < 1 || v > 65536) {
				pr_err("tw: top '%s' is not a number from 1 to 65536", argv[i]);
				return EXIT_USAGE;
			}
			top = v;
		} else if (is_prefix(argv[i], "threshold") && i + 1 < (unsigned int)argc) {
			if (parse_u32(argv[++i], &threshold) || threshold > 100) {
				pr_err("tw: threshold '%s' is not a percentage", argv[i]);
				return EXIT_USAGE;
			}
		} else {
			pr_err("tw: unexpected '%s'", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (port_range(&lo, &hi)) {
		pr_err("tw: cannot read net.ipv4.ip_local_port_range");
		return EXIT_RUNTIME;
	}
	range = hi - lo + 1;
	if (sockets_walk(&skel))
		return EXIT_RUNTIME;

	ports = calloc(65536, sizeof(*ports));
	if (!ports)
		goto out;
	for (i = 0; i < 65536; i++)
		if (skel->bss->tw_local_port[i])
			ports[nports++] = (struct port_count){i, skel->bss->tw_local_port[i]};
	qsort(ports, nports, sizeof(*ports), cmp_port);

	fd = bpf_map__fd(skel->maps.tw_remote);
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		__u32 c;

		if (nremotes == cap) {
			struct remote_count *r;

			cap = cap ? cap * 2 : 1024;
			r = realloc(remotes, cap * sizeof(*r));
			if (!r)
				goto out;
			remotes = r;
		}
		if (bpf_map_lookup_elem(fd, &next, &c) == 0)
			remotes[nremotes++] = (struct remote_count){next, c};
		key = next;
		first = false;
	}
	qsort(remotes, nremotes, sizeof(*remotes), cmp_remote);

	bylp = json_array();
	for (i = 0; i < nports && i < top; i++)
		json_array_append_new(bylp, json_pack("{s:i,s:I}", "port", ports[i].port, "count",
						      (json_int_t)ports[i].count));
	byr = json_array();
	for (i = 0; i < nremotes && i < top; i++) {
		char addr[INET6_ADDRSTRLEN];
		double share = (double)remotes[i].count / range;

		inet_ntop(remotes[i].key.family, remotes[i].key.addr, addr, sizeof(addr));
		json_array_append_new(byr,
				      json_pack("{s:s,s:i,s:I,s:f,s:b}", "addr", addr, "port",
						remotes[i].key.port, "count",
						(json_int_t)remotes[i].count, "port_range_share",
						share, "flagged", share * 100 > threshold));
	}
	o = json_pack("{s:I,s:o,s:o,s:{s:i,s:i},s:f,s:I,s:I}", "time_wait",
		      (json_int_t)skel->bss->time_wait_total, "by_local_port", bylp, "by_remote",
		      byr, "port_range", "low", lo, "high", hi, "threshold", threshold / 100.0,
		      "remote_endpoints", (json_int_t)nremotes, "remote_overflow",
		      (json_int_t)skel->bss->tw_remote_overflow);
	if (cli.json) {
		json_out(o);
	} else {
		printf("TIME_WAIT %llu (ephemeral ports %u-%u)\n\n%-10s %10s\n",
		       (unsigned long long)skel->bss->time_wait_total, lo, hi, "LOCAL_PORT",
		       "TIME_WAIT");
		for (i = 0; i < nports && i < top; i++)
			printf("%-10u %10u\n", ports[i].port, ports[i].count);
		printf("\n%-39s %5s %10s %7s\n", "REMOTE", "PORT", "TIME_WAIT", "RANGE");
		for (i = 0; i < nremotes && i < top; i++) {
			char addr[INET6_ADDRSTRLEN];
			double share = (double)remotes[i].count / range;

			inet_ntop(remotes[i].key.family, remotes[i].key.addr, addr, sizeof(addr));
			printf("%-39s %5u %10u %6.1f%%%s\n", addr, remotes[i].key.port,
			       remotes[i].count, share * 100,
			       share * 100 > threshold ? "  near port exhaustion" : "");
		}
	}
	json_decref(o);
	ret = 0;
out:
	if (ret)
		pr_err("tw: out of memory");
	free(ports);
	free(remotes);
	sockets__destroy(skel);
	return ret;
}
