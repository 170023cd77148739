// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Benchmark helper on a pinned ctaccel: fill the flow table through the
 * pinned ingress program (BPF_PROG_TEST_RUN, one SYN per flow), or read it
 * with the classic get_next_key + lookup loop that batch reads replace.
 *
 *   flowfill fill PIN_PATH N                (SYN_SENT)
 *   flowfill fill-established PIN_PATH N    (the whole handshake: ESTABLISHED)
 *   flowfill loop PIN_PATH
 *
 * and time one expiry pass each way, in CPU seconds of this process (the
 * kernel runs both on its behalf), printing "SECONDS EXAMINED REMOVED":
 *
 *   flowfill gcpass PIN_PATH    from userspace: batch reads, then the delete program
 *   flowfill expire PIN_PATH    in the kernel: the ctaccel_expire program
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <bpf/bpf.h>
#include "ctaccel.h"
#include "flowtab.h"
#include "pkt.h"

static int run(int fd, const struct frame *f)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->len);

	if (bpf_prog_test_run_opts(fd, &opts)) {
		perror("test run");
		return 1;
	}
	return 0;
}

/* N flows: a SYN each, or (established) the whole handshake. */
static int fill(const char *pin, unsigned int n, bool established)
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

		snprintf(addr, sizeof(addr), "198.19.%u.%u", (i >> 8) & 0xff, i & 0xff);
		c = ep(addr, 1024 + (i >> 16));
		frame_tcp(&f, &c, &s, F_SYN, 0);
		if (run(fd, &f))
			return 1;
		if (!established)
			continue;
		frame_tcp(&f, &s, &c, F_SYN | F_ACK, 0);
		if (run(fd, &f))
			return 1;
		frame_tcp(&f, &c, &s, F_ACK, 0);
		if (run(fd, &f))
			return 1;
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

static int pinned(const char *pin, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		perror(path);
	return fd;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int pass(const char *pin, bool kernel)
{
	struct ctaccel_gc_result r;
	double t0;
	int err;

	if (kernel) {
		int fd = pinned(pin, "prog_expire");

		if (fd < 0)
			return 1;
		t0 = cpu_s();
		err = ctaccel_expire_pass(fd, &r);
	} else {
		int flows = pinned(pin, "ctaccel_flows"), del = pinned(pin, "prog_delete"),
		    clk = pinned(pin, "prog_clock");

		if (flows < 0 || del < 0 || clk < 0)
			return 1;
		t0 = cpu_s();
		err = ctaccel_gc_pass(flows, del, clk, &r);
	}
	if (err) {
		fprintf(stderr, "flowfill: pass: %s\n", strerror(-err));
		return 1;
	}
	printf("%.6f %zu %zu\n", cpu_s() - t0, r.scanned, r.deleted);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "fill"))
		return fill(argv[2], strtoul(argv[3], NULL, 0), false);
	if (argc == 4 && !strcmp(argv[1], "fill-established"))
		return fill(argv[2], strtoul(argv[3], NULL, 0), true);
	if (argc == 3 && !strcmp(argv[1], "loop"))
		return loop(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "gcpass"))
		return pass(argv[2], false);
	if (argc == 3 && !strcmp(argv[1], "expire"))
		return pass(argv[2], true);
	fprintf(stderr,
		"usage: flowfill fill|fill-established PIN_PATH N | loop|gcpass|expire PIN_PATH\n");
	return 2;
}
