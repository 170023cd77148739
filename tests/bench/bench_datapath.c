// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Per-packet cost of the tc tracker, from BPF_PROG_TEST_RUN, side by side with
 * an empty tc program in the same run. Not a test: it prints figures.
 *
 *   bench_datapath [-r ROUNDS] [-n REPEAT] [-f FLOWS]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowtab.h"
#include "tracker.skel.h"
#include "bench_empty.skel.h"
#include "pkt.h"

static int rounds = 7;
static unsigned int repeat = 2000000;
static unsigned int big_flows = 1000000;

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* Average ns per run of one frame, repeated in the kernel. */
static __u32 run_repeat(int prog_fd, const struct frame *f, unsigned int n)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->len,
		    .repeat = n);

	if (bpf_prog_test_run_opts(prog_fd, &opts)) {
		fprintf(stderr, "bench: test run: %s\n", strerror(errno));
		exit(1);
	}
	return opts.duration;
}

/* ns of a single run (repeat = 1): what a first packet of a flow costs. */
static __u32 run_once(int prog_fd, const struct frame *f)
{
	return run_repeat(prog_fd, f, 1);
}

struct figure {
	const char *name;
	__u32 v[64];
	int n;
};

static void figure_print(struct figure *fg, double base)
{
	qsort(fg->v, fg->n, sizeof(fg->v[0]), cmp_u32);
	printf("| %-44s | %6u | %6u | %6u |", fg->name, fg->v[0], fg->v[fg->n / 2],
	       fg->v[fg->n - 1]);
	if (base > 0)
		printf(" %5.2fx |\n", fg->v[fg->n / 2] / base);
	else
		printf("      - |\n");
}

static double median(struct figure *fg)
{
	__u32 tmp[64];

	memcpy(tmp, fg->v, sizeof(tmp));
	qsort(tmp, fg->n, sizeof(tmp[0]), cmp_u32);
	return tmp[fg->n / 2];
}

static void fill(struct tracker *skel, unsigned int flows, const struct endpoint *s)
{
	int fd = bpf_program__fd(skel->progs.ctaccel_ingress);
	unsigned int i;

	for (i = 0; i < flows; i++) {
		char addr[32];
		struct endpoint c;
		struct frame f;

		snprintf(addr, sizeof(addr), "198.19.%u.%u", (i >> 8) & 0xff, i & 0xff);
		c = ep(addr, 1024 + (i >> 16));
		frame_tcp(&f, &c, s, F_SYN, 0);
		run_once(fd, &f);
	}
}

/* A flow through to TIME_WAIT, untimed. */
static void to_time_wait(int fd, const struct endpoint *c, const struct endpoint *s)
{
	static const struct {
		bool from_c;
		uint8_t flags;
	} steps[] = {
		{true, F_SYN},	{false, F_SYN | F_ACK}, {true, F_ACK}, {true, F_FIN | F_ACK},
		{false, F_ACK}, {false, F_FIN | F_ACK}, {true, F_ACK},
	};
	struct frame f;
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		frame_tcp(&f, steps[i].from_c ? c : s, steps[i].from_c ? s : c, steps[i].flags, 0);
		run_once(fd, &f);
	}
}

/* A tracker with a table of max_entries and a ring of flows without a reply
 * of ring slots (as `load unreplied-max` gives). */
static struct tracker *tracker_new(__u32 max_entries, __u32 ring)
{
	struct tracker *skel = tracker__open();
	struct ctaccel_config cfg;

	ctaccel_config_default(&cfg, ctaccel_kernel_hz());
	cfg.unreplied_max = ring;
	if (skel) {
		memcpy((void *)&skel->rodata->ctaccel_cfg, &cfg, sizeof(cfg));
		ctaccel_live_default(&skel->data_live->ctaccel_live, cfg.hz);
	}
	if (!skel || bpf_map__set_max_entries(skel->maps.ctaccel_flows, max_entries) ||
	    bpf_map__set_max_entries(skel->maps.ctaccel_unreplied, ring) || tracker__load(skel)) {
		fprintf(stderr, "bench: cannot load the tracker\n");
		exit(1);
	}
	return skel;
}

static int drop_event(void *ctx, void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return 0;
}

/* A monitor's lease on a tracker, as `ctaccel monitor` takes it: events are
 * written while the datapath's clock is before `until`. */
static struct ring_buffer *monitor_listen(struct tracker *t)
{
	struct ctaccel_monitor m = {.until = ~0ULL};
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(t->maps.ctaccel_monitor), &zero, &m, BPF_ANY))
		return NULL;
	return ring_buffer__new(bpf_map__fd(t->maps.ctaccel_events), drop_event, NULL, NULL);
}

int main(int argc, char **argv)
{
	struct figure empty = {.name = "empty tc program (repeat)"};
	struct figure empty1 = {.name = "empty tc program (single run)"};
	struct figure syn = {.name = "first SYN, insert (single run)"};
	struct figure syn_mon = {.name = "first SYN, a monitor listening (single run)"};
	struct figure reopen = {.name = "SYN reusing a TIME_WAIT tuple (single run)"};
	struct figure evict = {.name = "SYN evicting the oldest unreplied (single run)"};
	struct figure est_small = {.name = "established packet, 1k flows (repeat)"};
	struct figure est_big = {.name = "established packet, 1M flows (repeat)"};
	struct figure udp_small = {.name = "replied UDP datagram, 1k flows (repeat)"};
	struct figure udp_new = {.name = "first UDP datagram, insert (single run)"};
	struct endpoint c = ep("198.18.0.1", 40000), s = ep("198.18.1.1", 80);
	struct endpoint su = ep("198.18.1.1", 53);
	struct frame udata;
	__u32 max_entries;
	struct bench_empty *eskel;
	struct tracker *small, *big, *flood, *heard;
	struct ring_buffer *monitor;
	struct frame data, f;
	struct ctaccel_stats st;
	int opt, r, i, empty_fd, small_fd, big_fd, flood_fd, heard_fd;

	while ((opt = getopt(argc, argv, "r:n:f:")) != -1) {
		switch (opt) {
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'n':
			repeat = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			big_flows = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-r ROUNDS] [-n REPEAT] [-f FLOWS]\n", argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > 64)
		rounds = 7;
	libbpf_set_print(NULL);
	max_entries = big_flows + 1024;

	eskel = bench_empty__open_and_load();
	if (!eskel) {
		fprintf(stderr, "bench: cannot load the empty program\n");
		return 1;
	}
	empty_fd = bpf_program__fd(eskel->progs.bench_empty);
	/* Same table size for both, so only the number of entries differs; a
	 * ring as large as the table, so that the fill evicts nothing. */
	small = tracker_new(max_entries, max_entries);
	big = tracker_new(max_entries, max_entries);
	/* Under a flood: the ring (256 slots) is full of flows without a
	 * reply, and every new flow evicts the oldest of them. */
	flood = tracker_new(4096, 256);
	/* Like small, with a monitor listening (its ring drained every round). */
	heard = tracker_new(max_entries, max_entries);
	monitor = monitor_listen(heard);
	if (!monitor) {
		fprintf(stderr, "bench: cannot listen to the events\n");
		return 1;
	}
	heard_fd = bpf_program__fd(heard->progs.ctaccel_ingress);
	small_fd = bpf_program__fd(small->progs.ctaccel_ingress);
	big_fd = bpf_program__fd(big->progs.ctaccel_ingress);
	flood_fd = bpf_program__fd(flood->progs.ctaccel_ingress);

	fprintf(stderr, "bench: filling tables (1000, %u and 1000 flows)...\n", big_flows);
	fill(small, 1000, &s);
	fill(big, big_flows, &s);
	fill(flood, 1000, &s);
	fill(heard, 1000, &s);
	ring_buffer__consume(monitor);
	frame_tcp(&data, &c, &s, F_PSH | F_ACK, 100);
	/* A UDP datagram of the same IP length as the TCP segment, on a
	 * replied flow. */
	frame_udp(&udata, &c, &su, 112);
	run_once(small_fd, &udata);
	frame_udp(&f, &su, &c, 112);
	run_once(small_fd, &f);
	for (i = 0; i < 2; i++) {
		struct tracker *t = i ? big : small;
		int fd = i ? big_fd : small_fd;

		frame_tcp(&f, &c, &s, F_SYN, 0);
		run_once(fd, &f);
		frame_tcp(&f, &s, &c, F_SYN | F_ACK, 0);
		run_once(fd, &f);
		frame_tcp(&f, &c, &s, F_ACK, 0);
		run_once(fd, &f);
		if (ctaccel_stats_read(bpf_map__fd(t->maps.ctaccel_stats), &st) == 0)
			fprintf(stderr,
				"bench: table %d: %lld established, %llu created, %llu full\n", i,
				(long long)st.flows_in_state[CTACCEL_ST_ESTABLISHED],
				(unsigned long long)st.flows_created,
				(unsigned long long)st.table_full);
	}

	/* Alternate the variants inside every round: the machine is shared. */
	for (r = 0; r < rounds; r++) {
		__u32 one[257];
		int k;

		empty.v[empty.n++] = run_repeat(empty_fd, &data, repeat);
		est_small.v[est_small.n++] = run_repeat(small_fd, &data, repeat);
		est_big.v[est_big.n++] = run_repeat(big_fd, &data, repeat);
		udp_small.v[udp_small.n++] = run_repeat(small_fd, &udata, repeat);

		for (k = 0; k < 257; k++)
			one[k] = run_once(empty_fd, &data);
		qsort(one, 257, sizeof(one[0]), cmp_u32);
		empty1.v[empty1.n++] = one[128];
		for (k = 0; k < 257; k++) {
			struct endpoint cn = ep("198.18.2.1", 1024 + r * 257 + k);

			frame_tcp(&f, &cn, &s, F_SYN, 0);
			one[k] = run_once(small_fd, &f);
		}
		qsort(one, 257, sizeof(one[0]), cmp_u32);
		syn.v[syn.n++] = one[128];
		for (k = 0; k < 257; k++) {
			struct endpoint cn = ep("198.18.5.1", 1024 + r * 257 + k);

			frame_udp(&f, &cn, &su, 112);
			one[k] = run_once(small_fd, &f);
		}
		qsort(one, 257, sizeof(one[0]), cmp_u32);
		udp_new.v[udp_new.n++] = one[128];
		for (k = 0; k < 257; k++) {
			struct endpoint cn = ep("198.18.2.1", 1024 + r * 257 + k);

			frame_tcp(&f, &cn, &s, F_SYN, 0);
			one[k] = run_once(heard_fd, &f);
		}
		ring_buffer__consume(monitor);
		qsort(one, 257, sizeof(one[0]), cmp_u32);
		syn_mon.v[syn_mon.n++] = one[128];
		/* A client port reused while its last flow is in TIME_WAIT. */
		for (k = 0; k < 257; k++) {
			struct endpoint cr = ep("198.18.3.1", 1024 + r * 257 + k);

			to_time_wait(small_fd, &cr, &s);
			frame_tcp(&f, &cr, &s, F_SYN, 0);
			one[k] = run_once(small_fd, &f);
		}
		qsort(one, 257, sizeof(one[0]), cmp_u32);
		reopen.v[reopen.n++] = one[128];
		for (k = 0; k < 257; k++) {
			struct endpoint cf = ep("198.18.4.1", 1024 + r * 257 + k);

			frame_tcp(&f, &cf, &s, F_SYN, 0);
			one[k] = run_once(flood_fd, &f);
		}
		qsort(one, 257, sizeof(one[0]), cmp_u32);
		evict.v[evict.n++] = one[128];
	}

	printf("\nPer-packet cost, ns (BPF_PROG_TEST_RUN, %d rounds, repeat %u; single runs: "
	       "median of 257)\n\n",
	       rounds, repeat);
	printf("| %-44s | %6s | %6s | %6s | %6s |\n", "variant", "min", "median", "max", "ratio");
	printf("|%s|--------|--------|--------|--------|\n",
	       "----------------------------------------------");
	figure_print(&empty, 0);
	figure_print(&est_small, median(&empty));
	figure_print(&est_big, median(&empty));
	figure_print(&udp_small, median(&empty));
	figure_print(&empty1, 0);
	figure_print(&syn, median(&empty1));
	figure_print(&udp_new, median(&empty1));
	figure_print(&syn_mon, median(&empty1));
	figure_print(&reopen, median(&empty1));
	figure_print(&evict, median(&empty1));
	printf("\nRatios: established/empty against the repeated empty program, first SYN against "
	       "the\n"
	       "single-run empty program; growth 1k -> %u flows: %.2fx\n",
	       big_flows, median(&est_big) / median(&est_small));
	printf("Above the empty program: an established packet %.0f ns, a replied UDP datagram\n"
	       "%.0f ns (goal, cost issue: <= 50 ns; linear frames only: make bench-gateway gives\n"
	       "real packets)\n",
	       median(&est_small) - median(&empty), median(&udp_small) - median(&empty));

	tracker__destroy(small);
	tracker__destroy(big);
	tracker__destroy(flood);
	ring_buffer__free(monitor);
	if (ctaccel_stats_read(bpf_map__fd(heard->maps.ctaccel_stats), &st) == 0 && st.events_lost)
		fprintf(stderr, "bench: the monitor lost %llu events\n",
			(unsigned long long)st.events_lost);
	tracker__destroy(heard);
	bench_empty__destroy(eskel);
	return 0;
}
