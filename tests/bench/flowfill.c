// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Benchmark helper on a pinned ctaccel: fill the flow table through the
 * pinned ingress program (BPF_PROG_TEST_RUN, one SYN per flow), or read it
 * with the classic get_next_key + lookup loop that batch reads replace.
 *
 *   flowfill fill PIN_PATH N
 *   flowfill loop PIN_PATH
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "ctaccel.h"
#include "pkt.h"

static int fill(const char *pin, unsigned int n)
{
	struct endpoint s = ep("198.18.1.1", 80);
	char path[512];
	unsigned int i;
	int fd;

	snprintf(path, sizeof(path), "%s/prog_ingress", pin);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	for (i = 0; i < n; i++) {
		char addr[32];
		struct endpoint c;
		struct frame f;
		LIBBPF_OPTS(bpf_test_run_opts, opts);

		snprintf(addr, sizeof(addr), "198.19.%u.%u", (i >> 8) & 0xff, i & 0xff);
		c = ep(addr, 1024 + (i >> 16));
		frame_tcp(&f, &c, &s, F_SYN, 0);
		opts.data_in = f.data;
		opts.data_size_in = f.len;
		if (bpf_prog_test_run_opts(fd, &opts)) {
			perror("test run");
			return 1;
		}
	}
	return 0;
}

static int loop(const char *pin)
{
	struct ctaccel_flow_key key, next;
	struct ctaccel_flow val;
	unsigned long n = 0;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/ctaccel_flows", pin);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	if (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		do {
			if (bpf_map_lookup_elem(fd, &next, &val) == 0)
				n++;
			key = next;
		} while (bpf_map_get_next_key(fd, &key, &next) == 0);
	}
	printf("%lu\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "fill"))
		return fill(argv[2], strtoul(argv[3], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "loop"))
		return loop(argv[2]);
	fprintf(stderr, "usage: flowfill fill PIN_PATH N | loop PIN_PATH\n");
	return 2;
}
