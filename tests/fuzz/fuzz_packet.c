// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libFuzzer: arbitrary bytes as frames through ctaccel's tc programs, with
 * BPF_PROG_TEST_RUN. The first byte picks the hook (ingress or egress),
 * whether the frame came in forwarded, and whether it goes as it is (bit 2)
 * or addressed to this host with its IP and TCP checksums made right, so
 * that most inputs reach the tracker; the rest is the frame.
 *
 * Checked after every input: the verdict is pass-through and the frame comes
 * back unchanged, or the kernel refused the frame before the program ran; no
 * counter went down; the gauges equal the table; present + removed flows =
 * created. A table of 64 entries fills often: then every flow is removed
 * through the delete program, which keeps the gauges, as GC would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctaccel.h"
#include "flowtab.h"
#include "invariants.h"
#include "pkt.h"
#include "tracker.skel.h"

#define TABLE	    64
#define FRAME_MAX   1514
#define FORWARD_IFX 1 /* lo: registered as an attached ingress */

static struct tracker *skel;
static int flows_fd, stats_fd, delete_fd, prog_fd[2];
static struct ctaccel_stats last;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_packet: %s: %s\n", what, why);
	abort();
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ctaccel_iface in = {.flags = CTACCEL_IFACE_INGRESS};
	struct ctaccel_config cfg;
	struct ctaccel_live to;
	__u32 ifx = FORWARD_IFX;

	(void)argc;
	(void)argv;
	libbpf_set_print(quiet);
	ctaccel_config_default(&cfg, ctaccel_kernel_hz());
	ctaccel_live_default(&to, cfg.hz);
	/* Closing states expire at once: lookups meet dead entries too. */
	to.timeout[CTACCEL_ST_CLOSE] = 1;
	to.timeout[CTACCEL_ST_TIME_WAIT] = 1;
	to.timeout[CTACCEL_ST_LAST_ACK] = 1;
	skel = tracker__open();
	if (!skel)
		die("open", strerror(errno));
	bpf_map__set_max_entries(skel->maps.ctaccel_flows, TABLE);
	memcpy((void *)&skel->rodata->ctaccel_cfg, &cfg, sizeof(cfg));
	skel->data_live->ctaccel_live = to;
	if (tracker__load(skel))
		die("load", strerror(errno));
	flows_fd = bpf_map__fd(skel->maps.ctaccel_flows);
	stats_fd = bpf_map__fd(skel->maps.ctaccel_stats);
	delete_fd = bpf_program__fd(skel->progs.ctaccel_delete);
	prog_fd[0] = bpf_program__fd(skel->progs.ctaccel_ingress);
	prog_fd[1] = bpf_program__fd(skel->progs.ctaccel_egress);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ctaccel_ifaces), &ifx, &in, BPF_ANY))
		die("register ingress", strerror(errno));
	if (ctaccel_stats_read(stats_fd, &last))
		die("stats", strerror(errno));
	return 0;
}

/* Remove every flow through the delete program (FORCE, no expectation). */
static void table_empty(void)
{
	struct ctaccel_flow_list l;
	struct ctaccel_del_req req[TABLE];
	size_t i, deleted = 0, skipped = 0;

	if (ctaccel_flows_read(flows_fd, &l))
		die("read", strerror(errno));
	for (i = 0; i < l.n && i < TABLE; i++) {
		req[i].key = l.e[i].key;
		req[i].expect_ct = 0;
	}
	if (ctaccel_delete_flows(delete_fd, req, i, CTACCEL_DEL_FORCE, &deleted, &skipped))
		die("delete", strerror(errno));
	if (deleted != i)
		die("delete", "a flow of a quiet table was not removed");
	ctaccel_flow_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t in[FRAME_MAX], out[FRAME_MAX];
	struct __sk_buff ctx = {};
	struct ctaccel_stats now;
	char why[256];
	size_t n = 0;
	int err, egress;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_out = out, .data_size_out = sizeof(out),
		    .repeat = 1);

	if (size < 1 || size - 1 > FRAME_MAX)
		return -1;
	egress = data[0] & 1;
	if (data[0] & 2) {
		ctx.ingress_ifindex = FORWARD_IFX;
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	memcpy(in, data + 1, size - 1);
	if (!(data[0] & 4) && size - 1 >= 6) {
		memset(in, 0, 6); /* lo's MAC: for this host */
		frame_fix_csum(in, size - 1);
	}
	opts.data_in = in;
	opts.data_size_in = size - 1;
	err = bpf_prog_test_run_opts(prog_fd[egress], &opts);
	if (ctaccel_stats_read(stats_fd, &now))
		die("stats", strerror(errno));
	if (err) {
		/* Refused by BPF_PROG_TEST_RUN (too short for its headers): the
		 * program never saw it. */
		if (errno != EINVAL)
			die("test run", strerror(errno));
		if (now.packets != last.packets)
			die("refused frame", "the program ran anyway");
	} else {
		if (opts.retval != (__u32)-1)
			die("verdict", "not TC_ACT_UNSPEC");
		if (opts.data_size_out != size - 1 || memcmp(out, in, size - 1))
			die("frame", "changed by the program");
		if (now.packets != last.packets + 1)
			die("packets", "not counted once");
	}
	if (inv_counters_monotonic(&last, &now, why, sizeof(why)))
		die("monotonic", why);
	if (inv_gauges_match_table(flows_fd, stats_fd, &n, why, sizeof(why)))
		die("gauges", why);
	if (inv_conservation(flows_fd, stats_fd, why, sizeof(why)))
		die("conservation", why);
	if (n >= TABLE) {
		table_empty();
		if (inv_gauges_match_table(flows_fd, stats_fd, &n, why, sizeof(why)) || n)
			die("gauges after delete", why);
	}
	if (ctaccel_stats_read(stats_fd, &last))
		die("stats", strerror(errno));
	return 0;
}
