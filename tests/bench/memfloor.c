// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * What the kernel charges a BPF hash map per element, asked of the kernel
 * itself: for each layout, a map sized like ctaccel's at FLOWS flows is
 * filled with FLOWS elements by batch updates, and the bytes_memlock that
 * the kernel reports for it (the figure the memory goal is stated in) is
 * divided by FLOWS.
 *
 *   memfloor [FLOWS]
 *
 * The layouts are ctaccel's flow table as it is, and the smallest ones an
 * IPv4 flow could have: a 16-byte key (two addresses, two ports, protocol)
 * with the 48 bytes that exact accounting cannot do without (the tracking
 * word, the reference word, and both directions' 64-bit packet and byte
 * counters), and the same with 40 and 32 bytes of value, which would have
 * to give some of them up. Each no-prealloc (as ctaccel's table) and
 * preallocated. For the benchmark only (scripts/bench-read.sh).
 *
 * Then the price of TCP window tracking (issue 34): the state
 * nf_conntrack's tcp_in_window() keeps in struct ip_ct_tcp that ctaccel's
 * tracking word does not already hold (WINDOW_BYTES), on today's entry, on
 * the compact IPv4 key, without the handshake stamps, and on the exact floor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "ctaccel.h"

#define BATCH 4096

struct layout {
	const char *what;
	__u32 key_size;
	__u32 value_size;
};

/*
 * Window tracking's state, beyond what the tracking word holds (the state,
 * the last packet's kind and side, the challenge-ACK and simultaneous-open
 * marks): per direction the end, max end, max window and max ack (4 x 4 B)
 * and the window scale and flags (2 B); the last packet's seq, ack and end
 * (12 B), window (2 B), window scale and retransmission count (2 B); and the
 * bpf_spin_lock that makes both directions' updates one at a time (4 B), as
 * nf_conntrack's ct->lock does.
 */
#define WINDOW_BYTES (2 * (4 * 4 + 2) + 12 + 2 + 2 + 4)
#define STAMP_BYTES  16 /* ctaccel_flow.syn_ns and synack_ns */
#define EXACT_BYTES  48 /* ct, ref, both legs' packets and bytes */

static const struct layout layouts[] = {
	{"ctaccel's flow table today", sizeof(struct ctaccel_flow_key),
	 sizeof(struct ctaccel_flow)},
	{"IPv4 key, the fields exact accounting needs", 16, EXACT_BYTES},
	{"IPv4 key, 40 B of value", 16, 40},
	{"IPv4 key, 32 B of value", 16, 32},
	{"today + window tracking", sizeof(struct ctaccel_flow_key),
	 sizeof(struct ctaccel_flow) + WINDOW_BYTES},
	{"IPv4 key, today's value + window tracking", 16,
	 sizeof(struct ctaccel_flow) + WINDOW_BYTES},
	{"IPv4 key, window tracking, no handshake stamps", 16,
	 sizeof(struct ctaccel_flow) + WINDOW_BYTES - STAMP_BYTES},
	{"IPv4 key, exact fields + window tracking", 16, EXACT_BYTES + WINDOW_BYTES},
};

_Static_assert(WINDOW_BYTES % 8 == 0, "window state keeps the value 8-byte aligned");

/* bytes_memlock of a map, from its fdinfo: what the kernel charges for it. */
static long long memlock_of(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* The memlock per element of one layout filled with `flows` elements. */
static int measure(const struct layout *l, __u32 flows, bool prealloc, double *per_flow)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = prealloc ? 0 : BPF_F_NO_PREALLOC);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	char *keys = NULL, *values = NULL;
	__u32 i, j, n;
	long long mem;
	int fd, err = 0;

	/* Sized as `ctaccel load max-flows` does for the read benchmark. */
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "memfloor", l->key_size, l->value_size, flows + 1024,
			    &opts);
	if (fd < 0)
		return -errno;
	keys = calloc(BATCH, l->key_size);
	values = calloc(BATCH, l->value_size);
	if (!keys || !values) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < flows; i += n) {
		n = flows - i < BATCH ? flows - i : BATCH;
		/* distinct keys: the element's number in the first word */
		for (j = 0; j < n; j++) {
			__u32 id = i + j;

			memcpy(keys + (size_t)j * l->key_size, &id, sizeof(id));
		}
		if (bpf_map_update_batch(fd, keys, values, &n, &bopts)) {
			err = -errno;
			goto cleanup;
		}
	}
	mem = memlock_of(fd);
	if (mem < 0) {
		err = (int)mem;
		goto cleanup;
	}
	*per_flow = (double)mem / flows;
cleanup:
	free(keys);
	free(values);
	close(fd);
	return err;
}

int main(int argc, char **argv)
{
	__u32 flows = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	double nopre, pre;
	size_t i;
	int err;

	if (argc > 2 || flows < 1 || flows > 16000000) {
		fprintf(stderr, "usage: memfloor [FLOWS (1 to 16000000)]\n");
		return 2;
	}
	printf("Hash map memlock per element, %u elements, as the kernel reports it\n", flows);
	printf("| %-46s | %5s | %7s | %12s | %12s |\n", "layout", "key B", "value B", "no prealloc",
	       "preallocated");
	printf("|%s|%s|%s|%s|%s|\n", "------------------------------------------------", "-------",
	       "---------", "--------------", "--------------");
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		const struct layout *l = &layouts[i];

		err = measure(l, flows, false, &nopre);
		if (!err)
			err = measure(l, flows, true, &pre);
		if (err) {
			fprintf(stderr, "memfloor: %s: %s\n", l->what, strerror(-err));
			return 1;
		}
		printf("| %-46s | %5u | %7u | %12.1f | %12.1f |\n", l->what, l->key_size,
		       l->value_size, nopre, pre);
	}
	return 0;
}
