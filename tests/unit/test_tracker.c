// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Unit tests of the tc tracker through BPF_PROG_TEST_RUN: packet sequences
 * against nf_conntrack's states, malformed input, concurrency, a full table
 * and compare-and-delete. Every step compares every counter and gauge with a
 * model kept by the test, and the gauges with a count of the table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowtab.h"
#include "internal.h"
#include "kernel.h"
#include "tracker.skel.h"
#include "pkt.h"
#include "invariants.h"

#define TC_ACT_UNSPEC_U32 0xffffffffU

struct env {
	struct tracker *skel;
	int flows_fd, stats_fd, ifaces_fd, ingress_fd, egress_fd, delete_fd, clock_fd;
	unsigned int hz;
	struct ctaccel_stats model; /* what every counter must read */
};

/* Headers read from copies (bpf_skb_load_bytes), as when they are not all in
 * the linear area of a real skb; else in place. */
static bool copy_headers;

/* Slots of the ring of flows without a reply; 0: no ring (the loader's
 * default is a quarter of the table, which the other tests would meet). */
static __u32 unreplied_slots;

/* Timeouts in milliseconds override the defaults where non-zero. */
static struct env *env_new(__u32 max_entries, const __u64 *timeouts_ms)
{
	struct env *e = calloc(1, sizeof(*e));
	struct ctaccel_config cfg;
	struct ctaccel_live to;
	int i;

	assert_non_null(e);
	e->hz = ctaccel_kernel_hz();
	assert_true(e->hz >= 100);
	ctaccel_config_default(&cfg, e->hz);
	ctaccel_live_default(&to, e->hz);
	if (timeouts_ms)
		for (i = 0; i < CTACCEL_ST__MAX; i++)
			if (timeouts_ms[i])
				to.timeout[i] = (timeouts_ms[i] * e->hz + 999) / 1000;
	/* The object and programs this kernel gets (CTACCEL_WITHOUT forces an
	 * older kernel's: tests/run.sh runs this suite both ways). */
	e->skel = kernel_tracker_open(ctaccel_kernel_features());
	assert_non_null(e->skel);
	cfg.flags |= kernel_cfg_flags(ctaccel_kernel_features());
	/* Small tables by default: every check reads the whole table. */
	assert_int_equal(bpf_map__set_max_entries(e->skel->maps.ctaccel_flows,
						  max_entries ? max_entries : 4096),
			 0);
	cfg.unreplied_max = unreplied_slots;
	if (unreplied_slots)
		assert_int_equal(
			bpf_map__set_max_entries(e->skel->maps.ctaccel_unreplied, unreplied_slots),
			0);
	memcpy((void *)&e->skel->rodata->ctaccel_cfg, &cfg, sizeof(cfg));
	e->skel->data_live->ctaccel_live = to;
	e->skel->rodata->parse_copy_always = copy_headers;
	assert_int_equal(tracker__load(e->skel), 0);
	e->flows_fd = bpf_map__fd(e->skel->maps.ctaccel_flows);
	e->stats_fd = bpf_map__fd(e->skel->maps.ctaccel_stats);
	e->ifaces_fd = bpf_map__fd(e->skel->maps.ctaccel_ifaces);
	e->ingress_fd = bpf_program__fd(e->skel->progs.ctaccel_ingress);
	e->egress_fd = bpf_program__fd(e->skel->progs.ctaccel_egress);
	e->delete_fd = bpf_program__fd(e->skel->progs.ctaccel_delete);
	e->clock_fd = bpf_program__fd(e->skel->progs.ctaccel_clock);
	return e;
}

/* A 16-entry table with an unreplied ring of `slots` slots. */
static struct env *env_ring(__u32 slots)
{
	struct env *e;

	unreplied_slots = slots;
	e = env_new(16, NULL);
	unreplied_slots = 0;
	return e;
}

static void env_free(struct env *e)
{
	tracker__destroy(e->skel);
	free(e);
}

/* Run one frame; the verdict must be pass-through and the frame unchanged. */
static void run_frame(int prog_fd, const struct frame *f, __u32 ingress_ifindex)
{
	struct __sk_buff ctx = {.ingress_ifindex = ingress_ifindex};
	static __thread uint8_t out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = f->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (ingress_ifindex) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	assert_int_equal(bpf_prog_test_run_opts(prog_fd, &opts), 0);
	assert_int_equal(opts.retval, TC_ACT_UNSPEC_U32);
	assert_int_equal(opts.data_size_out, f->len);
	assert_memory_equal(out, f->data, f->len);
}

static void stats_read(struct env *e, struct ctaccel_stats *s)
{
	assert_int_equal(ctaccel_stats_read(e->stats_fd, s), 0);
}

/* Every counter and gauge equals the model, named on failure. */
static void stats_expect(struct env *e, const char *where)
{
	struct ctaccel_stats s;
	bool bad = false;
	int i;

	stats_read(e, &s);
	for (i = 0; i < CTACCEL_CTR__MAX; i++) {
		if (ctaccel_counter(&s, i) == ctaccel_counter(&e->model, i))
			continue;
		print_error("%s: counter %s = %llu, expected %llu\n", where,
			    ctaccel_counter_names[i], (unsigned long long)ctaccel_counter(&s, i),
			    (unsigned long long)ctaccel_counter(&e->model, i));
		bad = true;
	}
	for (i = 0; i < CTACCEL_ST__MAX; i++) {
		if (s.flows_in_state[i] == e->model.flows_in_state[i])
			continue;
		print_error("%s: gauge %s = %lld, expected %lld\n", where, ctaccel_state_names[i],
			    (long long)s.flows_in_state[i], (long long)e->model.flows_in_state[i]);
		bad = true;
	}
	if (bad)
		fail_msg("%s: counters differ from the model", where);
}

/* Summed gauges equal a count of the table by state, exactly. */
static size_t gauges_match_table(struct env *e)
{
	char why[256];
	size_t n = 0;

	if (inv_gauges_match_table(e->flows_fd, e->stats_fd, &n, why, sizeof(why)))
		fail_msg("%s", why);
	return n;
}

/*
 * Removed + present = created, and the packets of present and removed flows
 * add up to the packets ever accounted.
 */
static void conservation_holds(struct env *e)
{
	char why[256];

	if (inv_conservation(e->flows_fd, e->stats_fd, why, sizeof(why)))
		fail_msg("%s", why);
}

static bool tuple_is(const struct ctaccel_tuple *t, const struct endpoint *src,
		     const struct endpoint *dst)
{
	size_t alen = src->family == AF_INET ? 4 : 16;

	return t->family == src->family && t->sport == src->port && t->dport == dst->port &&
	       !memcmp(t->src, src->addr, alen) && !memcmp(t->dst, dst->addr, alen);
}

/* Entries of the flow between a and b (either originator); at most one. */
static int flow_find(struct env *e, const struct endpoint *a, const struct endpoint *b,
		     struct ctaccel_flow_entry *out, bool *a_is_orig)
{
	struct ctaccel_flow_list l;
	int found = 0;
	size_t i;

	assert_int_equal(ctaccel_flows_read(e->flows_fd, &l), 0);
	for (i = 0; i < l.n; i++) {
		struct ctaccel_tuple t;

		ctaccel_flow_tuple(&l.e[i].key, &l.e[i].val, &t);
		if (tuple_is(&t, a, b) || tuple_is(&t, b, a)) {
			found++;
			if (out)
				*out = l.e[i];
			if (a_is_orig)
				*a_is_orig = tuple_is(&t, a, b);
		}
	}
	ctaccel_flow_list_free(&l);
	assert_true(found <= 1);
	return found;
}

/* ---- Packet sequences, step by step against nf_conntrack's behaviour ---- */

enum side { C, S };
enum cls {
	ACC,	     /* accounted, state as given */
	IGN,	     /* ignored by nf_conntrack: no accounting, no state change */
	INV,	     /* invalid: nothing changes */
	NOACC,	     /* SYN with no reply yet on SYN_SENT: state moves, no accounting */
	KILL,	     /* RST before any reply: accounted, entry removed */
	REOPEN,	     /* SYN on a closed flow: old entry removed, new flow */
	BADSUM,	     /* bad TCP checksum on a segment that would change the flow: nothing */
	BADSUM_DATA, /* bad TCP checksum, no change of state: accounted (not checked) */
	OTHERHOST,   /* frame for another MAC: the kernel drops it before IP; nothing */
};
#define GONE	  (-1)
#define UNCHANGED (-2) /* expiry must not move */

struct step {
	enum side from;
	uint8_t flags;
	uint16_t payload;
	enum cls cls;
	int state;
	int timeout; /* seconds to expiry, UNCHANGED, or 0 for "not checked" */
};

#define HANDSHAKE                                                                                  \
	{C, F_SYN, 0, ACC, CTACCEL_ST_SYN_SENT, 120},                                              \
		{S, F_SYN | F_ACK, 0, ACC, CTACCEL_ST_SYN_RECV, 60},                               \
	{                                                                                          \
		C, F_ACK, 0, ACC, CTACCEL_ST_ESTABLISHED, 432000                                   \
	}
#define DATA                                                                                       \
	{C, F_PSH | F_ACK, 100, ACC, CTACCEL_ST_ESTABLISHED, 432000},                              \
	{                                                                                          \
		S, F_PSH | F_ACK, 300, ACC, CTACCEL_ST_ESTABLISHED, 432000                         \
	}
#define CLIENT_CLOSES                                                                              \
	{C, F_FIN | F_ACK, 0, ACC, CTACCEL_ST_FIN_WAIT, 120},                                      \
		{S, F_ACK, 0, ACC, CTACCEL_ST_CLOSE_WAIT, 60},                                     \
		{S, F_FIN | F_ACK, 0, ACC, CTACCEL_ST_LAST_ACK, 30},                               \
	{                                                                                          \
		C, F_ACK, 0, ACC, CTACCEL_ST_TIME_WAIT, 120                                        \
	}

struct sequence {
	const char *name;
	struct step steps[24];
};

static const struct sequence sequences[] = {
	{"client closes first", {HANDSHAKE, DATA, CLIENT_CLOSES}},
	{"server closes first",
	 {HANDSHAKE,
	  DATA,
	  {S, F_FIN | F_ACK, 0, ACC, CTACCEL_ST_FIN_WAIT, 120},
	  {C, F_ACK, 0, ACC, CTACCEL_ST_CLOSE_WAIT, 60},
	  {C, F_FIN | F_ACK, 0, ACC, CTACCEL_ST_LAST_ACK, 30},
	  {S, F_ACK, 0, ACC, CTACCEL_ST_TIME_WAIT, 120}}},
	{"both close at once",
	 {HANDSHAKE,
	  {C, F_FIN | F_ACK, 0, ACC, CTACCEL_ST_FIN_WAIT, 120},
	  {S, F_FIN | F_ACK, 0, ACC, CTACCEL_ST_LAST_ACK, 30},
	  {C, F_ACK, 0, ACC, CTACCEL_ST_TIME_WAIT, 120},
	  {S, F_ACK, 0, ACC, CTACCEL_ST_TIME_WAIT, 120}}},
	{"half-close",
	 {HANDSHAKE,
	  {C, F_FIN | F_ACK, 0, ACC, CTACCEL_ST_FIN_WAIT, 120},
	  {S, F_ACK, 0, ACC, CTACCEL_ST_CLOSE_WAIT, 60},
	  {S, F_PSH | F_ACK, 500, ACC, CTACCEL_ST_CLOSE_WAIT, 60},
	  {C, F_ACK, 0, ACC, CTACCEL_ST_CLOSE_WAIT, 60},
	  {S, F_FIN | F_ACK, 0, ACC, CTACCEL_ST_LAST_ACK, 30},
	  {C, F_ACK, 0, ACC, CTACCEL_ST_TIME_WAIT, 120}}},
	{"RST from the client",
	 {HANDSHAKE,
	  DATA,
	  {C, F_RST, 0, ACC, CTACCEL_ST_CLOSE, 10},
	  {S, F_ACK, 0, ACC, CTACCEL_ST_CLOSE, 10}}},
	{"RST from the server", {HANDSHAKE, {S, F_RST | F_ACK, 0, ACC, CTACCEL_ST_CLOSE, 10}}},
	{"SYN to a closed port",
	 {{C, F_SYN, 0, ACC, CTACCEL_ST_SYN_SENT, 120}, {S, F_RST | F_ACK, 0, KILL, GONE, 0}}},
	{"SYN never answered",
	 {{C, F_SYN, 0, ACC, CTACCEL_ST_SYN_SENT, 120},
	  {C, F_SYN, 0, NOACC, CTACCEL_ST_SYN_SENT, UNCHANGED},
	  {C, F_SYN, 0, NOACC, CTACCEL_ST_SYN_SENT, UNCHANGED}}},
	{"SYN retransmit, then answered",
	 {{C, F_SYN, 0, ACC, CTACCEL_ST_SYN_SENT, 120},
	  {C, F_SYN, 0, NOACC, CTACCEL_ST_SYN_SENT, UNCHANGED},
	  {S, F_SYN | F_ACK, 0, ACC, CTACCEL_ST_SYN_RECV, 60},
	  {C, F_ACK, 0, ACC, CTACCEL_ST_ESTABLISHED, 432000}}},
	{"client reuses a TIME_WAIT tuple",
	 {HANDSHAKE,
	  CLIENT_CLOSES,
	  {C, F_SYN, 0, REOPEN, CTACCEL_ST_SYN_SENT, 120},
	  {S, F_SYN | F_ACK, 0, ACC, CTACCEL_ST_SYN_RECV, 60},
	  {C, F_ACK, 0, ACC, CTACCEL_ST_ESTABLISHED, 432000}}},
	{"server reopens a TIME_WAIT tuple",
	 {HANDSHAKE,
	  CLIENT_CLOSES,
	  {S, F_SYN, 0, REOPEN, CTACCEL_ST_SYN_SENT, 120},
	  {C, F_SYN | F_ACK, 0, ACC, CTACCEL_ST_SYN_RECV, 60}}},
	{"RST then SYN from the same side reopens",
	 {HANDSHAKE,
	  {C, F_RST, 0, ACC, CTACCEL_ST_CLOSE, 10},
	  {C, F_SYN, 0, REOPEN, CTACCEL_ST_SYN_SENT, 120}}},
	{"RST then SYN from the other side is invalid",
	 {HANDSHAKE,
	  {C, F_RST, 0, ACC, CTACCEL_ST_CLOSE, 10},
	  {S, F_SYN, 0, INV, CTACCEL_ST_CLOSE, 10},
	  {C, F_ACK, 0, ACC, CTACCEL_ST_CLOSE, 10}}},
	{"ignored and invalid packets",
	 {{C, F_FIN | F_ACK, 0, INV, GONE, 0},
	  {C, F_RST, 0, INV, GONE, 0},
	  {C, F_SYN, 0, ACC, CTACCEL_ST_SYN_SENT, 120},
	  {C, F_ACK, 0, INV, CTACCEL_ST_SYN_SENT, UNCHANGED},
	  {S, F_SYN | F_ACK, 0, ACC, CTACCEL_ST_SYN_RECV, 60},
	  {S, F_SYN | F_ACK, 0, IGN, CTACCEL_ST_SYN_RECV, UNCHANGED},
	  {C, F_ACK, 0, ACC, CTACCEL_ST_ESTABLISHED, 432000},
	  {C, F_SYN, 0, IGN, CTACCEL_ST_ESTABLISHED, UNCHANGED},
	  {C, 0, 0, INV, CTACCEL_ST_ESTABLISHED, UNCHANGED},
	  {C, F_SYN | F_FIN, 0, INV, CTACCEL_ST_ESTABLISHED, UNCHANGED},
	  {C, F_SYN | F_RST, 0, INV, CTACCEL_ST_ESTABLISHED, UNCHANGED},
	  {S, F_FIN, 0, INV, CTACCEL_ST_ESTABLISHED, UNCHANGED}}},
	{"mid-stream pickup",
	 {{C, F_PSH | F_ACK, 100, ACC, CTACCEL_ST_ESTABLISHED, 300},
	  {S, F_ACK, 0, ACC, CTACCEL_ST_ESTABLISHED, 300},
	  {C, F_ACK, 0, ACC, CTACCEL_ST_ESTABLISHED, 432000}}},
	{"challenge ACK in LAST_ACK",
	 {HANDSHAKE,
	  {S, F_FIN | F_ACK, 0, ACC, CTACCEL_ST_FIN_WAIT, 120},
	  {C, F_FIN | F_ACK, 0, ACC, CTACCEL_ST_LAST_ACK, 30},
	  {C, F_SYN, 0, IGN, CTACCEL_ST_LAST_ACK, UNCHANGED},
	  {S, F_ACK, 0, IGN, CTACCEL_ST_LAST_ACK, UNCHANGED},
	  {S, F_ACK, 0, ACC, CTACCEL_ST_TIME_WAIT, 120}}},
	{"simultaneous open",
	 {{C, F_SYN, 0, ACC, CTACCEL_ST_SYN_SENT, 120},
	  {S, F_SYN, 0, NOACC, CTACCEL_ST_SYN_SENT2, UNCHANGED},
	  {C, F_SYN | F_ACK, 0, ACC, CTACCEL_ST_SYN_RECV, 60},
	  {S, F_ACK, 0, ACC, CTACCEL_ST_ESTABLISHED, 432000}}},
	/* nf_conntrack clears the originator's remembered flags when it ignores
	 * its SYN: the simultaneous open no longer promotes the next ACK. */
	{"SYN ignored in SYN_RECV forgets the simultaneous open",
	 {{C, F_SYN, 0, ACC, CTACCEL_ST_SYN_SENT, 120},
	  {S, F_SYN, 0, NOACC, CTACCEL_ST_SYN_SENT2, UNCHANGED},
	  {C, F_SYN | F_ACK, 0, ACC, CTACCEL_ST_SYN_RECV, 60},
	  {C, F_SYN, 0, IGN, CTACCEL_ST_SYN_RECV, UNCHANGED},
	  {S, F_ACK, 0, ACC, CTACCEL_ST_SYN_RECV, 60},
	  {S, F_PSH | F_ACK, 200, ACC, CTACCEL_ST_SYN_RECV, 60}}},
	{"bad-checksum SYN creates nothing",
	 {{C, F_SYN, 0, BADSUM, GONE, 0},
	  {C, F_SYN, 0, ACC, CTACCEL_ST_SYN_SENT, 120},
	  {S, F_SYN | F_ACK, 0, BADSUM, CTACCEL_ST_SYN_SENT, UNCHANGED},
	  {S, F_SYN | F_ACK, 0, ACC, CTACCEL_ST_SYN_RECV, 60}}},
	{"bad-checksum RST leaves an established flow",
	 {HANDSHAKE,
	  {C, F_ACK, 0, ACC, CTACCEL_ST_ESTABLISHED, 432000},
	  {S, F_RST, 0, BADSUM, CTACCEL_ST_ESTABLISHED, UNCHANGED},
	  {S, F_RST | F_ACK, 0, BADSUM, CTACCEL_ST_ESTABLISHED, UNCHANGED},
	  {S, F_RST, 0, ACC, CTACCEL_ST_CLOSE, 10}}},
	{"bad-checksum RST before any reply kills nothing",
	 {{C, F_SYN, 0, ACC, CTACCEL_ST_SYN_SENT, 120},
	  {S, F_RST | F_ACK, 0, BADSUM, CTACCEL_ST_SYN_SENT, UNCHANGED},
	  {S, F_RST | F_ACK, 0, KILL, GONE, 0}}},
	{"bad-checksum SYN does not reopen TIME_WAIT",
	 {HANDSHAKE,
	  CLIENT_CLOSES,
	  {C, F_SYN, 0, BADSUM, CTACCEL_ST_TIME_WAIT, UNCHANGED},
	  {C, F_SYN, 0, REOPEN, CTACCEL_ST_SYN_SENT, 120}}},
	{"bad-checksum FIN and ACK move nothing; data is only accounted",
	 {{C, F_SYN, 0, ACC, CTACCEL_ST_SYN_SENT, 120},
	  {S, F_SYN | F_ACK, 0, ACC, CTACCEL_ST_SYN_RECV, 60},
	  {C, F_ACK, 0, BADSUM, CTACCEL_ST_SYN_RECV, UNCHANGED},
	  {C, F_ACK, 0, ACC, CTACCEL_ST_ESTABLISHED, 432000},
	  {C, F_PSH | F_ACK, 100, BADSUM_DATA, CTACCEL_ST_ESTABLISHED, 432000},
	  {C, F_FIN | F_ACK, 0, BADSUM, CTACCEL_ST_ESTABLISHED, UNCHANGED},
	  CLIENT_CLOSES}},
	{"frames for another host change nothing",
	 {{C, F_SYN, 0, OTHERHOST, GONE, 0},
	  HANDSHAKE,
	  {S, F_RST, 0, OTHERHOST, CTACCEL_ST_ESTABLISHED, UNCHANGED},
	  {C, F_FIN | F_ACK, 0, OTHERHOST, CTACCEL_ST_ESTABLISHED, UNCHANGED},
	  DATA}},
};

/* The test's own picture of the flow under test. */
struct flow_model {
	bool exists;
	enum side orig;
	int state;
	__u64 packets[2], bytes[2];
	__u32 tcp_flags;
	__u64 ct;
};

static bool closed(int s)
{
	return s == CTACCEL_ST_TIME_WAIT || s == CTACCEL_ST_CLOSE;
}

static void model_remove(struct env *e, struct flow_model *m)
{
	e->model.flows_in_state[m->state]--;
	e->model.deleted_packets += m->packets[0] + m->packets[1];
	e->model.deleted_bytes += m->bytes[0] + m->bytes[1];
	memset(m, 0, sizeof(*m));
}

static void model_create(struct env *e, struct flow_model *m, enum side from, int state,
			 const struct frame *f, uint8_t flags)
{
	memset(m, 0, sizeof(*m));
	m->exists = true;
	m->orig = from;
	m->state = state;
	m->packets[0] = 1;
	m->bytes[0] = f->ip_len;
	m->tcp_flags = flags;
	e->model.flows_created++;
	e->model.policy_lookups++;
	e->model.flows_in_state[state]++;
	e->model.tracked_packets++;
	e->model.tracked_bytes += f->ip_len;
}

static void model_move(struct env *e, struct flow_model *m, int state)
{
	if (state == m->state)
		return;
	e->model.flows_in_state[m->state]--;
	e->model.flows_in_state[state]++;
	e->model.transitions++;
	if (closed(state) && !closed(m->state))
		e->model.flows_closed++;
	m->state = state;
}

static void run_sequence(struct env *e, const struct sequence *seq, const struct endpoint *c,
			 const struct endpoint *s)
{
	struct flow_model m = {};
	char where[160];
	size_t i;

	for (i = 0; i < sizeof(seq->steps) / sizeof(seq->steps[0]); i++) {
		const struct step *st = &seq->steps[i];
		const struct endpoint *src = st->from == C ? c : s, *dst = st->from == C ? s : c;
		struct ctaccel_flow_entry ent;
		struct frame f;
		int dir, found;
		bool c_is_orig;

		if (st->state == CTACCEL_ST_NONE)
			break; /* end of the steps */
		snprintf(where, sizeof(where), "%s (%s), step %zu", seq->name,
			 c->family == AF_INET ? "IPv4" : "IPv6", i + 1);
		frame_tcp(&f, src, dst, st->flags, st->payload);
		if (st->cls == BADSUM || st->cls == BADSUM_DATA)
			f.data[frame_tcp_csum_off(&f)] ^= 0x5a;
		if (st->cls == OTHERHOST)
			f.data[0] = 0x02; /* a unicast MAC that is not lo's */
		run_frame(e->ingress_fd, &f, 0);
		e->model.packets++;
		e->model.bytes += f.len;
		dir = m.exists && st->from != m.orig;

		switch (st->cls) {
		case BADSUM:
			e->model.bad_checksum++;
			break;
		case OTHERHOST:
			e->model.not_for_host++;
			break;
		case BADSUM_DATA:
		case ACC:
			if (!m.exists) {
				model_create(e, &m, st->from, st->state, &f, st->flags);
				break;
			}
			model_move(e, &m, st->state);
			m.packets[dir]++;
			m.bytes[dir] += f.ip_len;
			m.tcp_flags |= (__u32)st->flags << (8 * dir);
			e->model.tracked_packets++;
			e->model.tracked_bytes += f.ip_len;
			break;
		case IGN:
			e->model.ignored++;
			break;
		case INV:
			e->model.invalid++;
			break;
		case NOACC:
			model_move(e, &m, st->state);
			e->model.syn_retransmits++;
			break;
		case KILL:
			model_move(e, &m, CTACCEL_ST_CLOSE);
			m.packets[dir]++;
			m.bytes[dir] += f.ip_len;
			e->model.tracked_packets++;
			e->model.tracked_bytes += f.ip_len;
			e->model.flows_killed++;
			model_remove(e, &m);
			break;
		case REOPEN:
			e->model.flows_reopened++;
			model_remove(e, &m);
			model_create(e, &m, st->from, st->state, &f, st->flags);
			break;
		}
		stats_expect(e, where);
		gauges_match_table(e);
		conservation_holds(e);

		found = flow_find(e, c, s, &ent, &c_is_orig);
		if (st->state == GONE) {
			if (found)
				fail_msg("%s: flow should be gone", where);
			continue;
		}
		if (!found)
			fail_msg("%s: flow missing", where);
		if ((int)ctaccel_ct_state(ent.val.ct) != st->state)
			fail_msg("%s: state %s, expected %s", where,
				 ctaccel_state_names[ctaccel_ct_state(ent.val.ct)],
				 ctaccel_state_names[st->state]);
		assert_int_equal(c_is_orig, m.orig == C);
		assert_int_equal(ent.val.leg[0].packets, m.packets[0]);
		assert_int_equal(ent.val.leg[1].packets, m.packets[1]);
		assert_int_equal(ent.val.leg[0].bytes, m.bytes[0]);
		assert_int_equal(ent.val.leg[1].bytes, m.bytes[1]);
		assert_int_equal(ent.val.tcp_flags, m.tcp_flags);
		if (st->timeout == UNCHANGED) {
			assert_int_equal(ctaccel_ct_expires(ent.val.ct), ctaccel_ct_expires(m.ct));
		} else if (st->timeout > 0) {
			__s64 want = (__s64)st->timeout * e->hz, left;
			uint64_t now;

			assert_int_equal(ctaccel_clock_now(e->clock_fd, &now), 0);
			left = ctaccel_ct_expires(ent.val.ct) - now;
			if (left > want || left < want - (__s64)e->hz)
				fail_msg("%s: expires in %lld jiffies, expected %d s (HZ %u)",
					 where, (long long)left, st->timeout, e->hz);
		}
		m.ct = ent.val.ct;
	}
}

static void sequences_for(const char *caddr, const char *saddr)
{
	struct env *e = env_new(0, NULL);
	size_t i;

	for (i = 0; i < sizeof(sequences) / sizeof(sequences[0]); i++) {
		/* A tuple of its own per sequence; the model spans all. */
		struct endpoint c = ep(caddr, 40000 + i), s = ep(saddr, 80);

		run_sequence(e, &sequences[i], &c, &s);
	}
	env_free(e);
}

static void test_sequences_ipv4(void **state)
{
	(void)state;
	sequences_for("198.18.0.1", "198.18.1.1");
}

static void test_sequences_ipv6(void **state)
{
	(void)state;
	sequences_for("2001:db8::1", "2001:db8:1::1");
}

/* A handshake's first two segments at ingress: c's SYN, s's SYN-ACK. */
static void syn_synack(struct env *e, const struct endpoint *c, const struct endpoint *s)
{
	struct frame f;

	frame_tcp(&f, c, s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	frame_tcp(&f, s, c, F_SYN | F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
}

/* The server's side compares lower, so the originator is the key's hi side. */
static void test_sequences_originator_is_hi(void **state)
{
	(void)state;
	sequences_for("198.18.1.1", "198.18.0.1");
}

static void test_sequences_headers_copied(void **state)
{
	(void)state;
	copy_headers = true;
	sequences_for("198.18.0.1", "198.18.1.1");
	sequences_for("2001:db8::1", "2001:db8:1::1");
	copy_headers = false;
}

static void test_assured_and_flags(void **state)
{
	struct endpoint c = ep("198.18.0.1", 40000), s = ep("198.18.1.1", 443);
	struct env *e = env_new(0, NULL);
	struct ctaccel_flow_entry ent;
	struct frame f;

	(void)state;
	syn_synack(e, &c, &s);
	assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
	assert_true(ent.val.ct & CTACCEL_CT_SEEN_REPLY);
	assert_false(ent.val.ct & CTACCEL_CT_ASSURED);
	frame_tcp(&f, &c, &s, F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
	assert_true(ent.val.ct & CTACCEL_CT_ASSURED);
	/* last_seen keeps the low 32 bits of the clock */
	assert_true(ent.val.first_seen > 0 &&
		    (__s32)(ent.val.last_seen - (__u32)ent.val.first_seen) >= 0);
	env_free(e);
}

/*
 * Packets of an established flow, alternating sides as requests and answers
 * do, within one jiffy: the word stays as it was (no swap to pay for), while
 * each packet is still accounted. A RST from either side still remembers
 * its side (a later SYN from that side reopens; sequences cover it).
 */
static void test_established_word_stays(void **state)
{
	struct endpoint c = ep("198.18.0.1", 40001), s = ep("198.18.1.1", 443);
	struct env *e = env_new(0, NULL);
	struct ctaccel_flow_entry before, after;
	uint64_t now0, now1;
	struct frame f;
	int tries;

	(void)state;
	syn_synack(e, &c, &s);
	for (tries = 0; tries < 100; tries++) {
		assert_int_equal(ctaccel_clock_now(e->clock_fd, &now0), 0);
		/* renews the expiry in this jiffy */
		frame_tcp(&f, &c, &s, F_ACK, 0);
		run_frame(e->ingress_fd, &f, 0);
		assert_int_equal(flow_find(e, &c, &s, &before, NULL), 1);
		/* the answer */
		frame_tcp(&f, &s, &c, F_ACK, 0);
		run_frame(e->ingress_fd, &f, 0);
		assert_int_equal(flow_find(e, &c, &s, &after, NULL), 1);
		assert_int_equal(ctaccel_clock_now(e->clock_fd, &now1), 0);
		if (now0 == now1)
			break;
	}
	assert_true(tries < 100);
	assert_int_equal(ctaccel_ct_state(after.val.ct), CTACCEL_ST_ESTABLISHED);
	if (after.val.ct != before.val.ct)
		fail_msg("word %#llx became %#llx within one jiffy",
			 (unsigned long long)before.val.ct, (unsigned long long)after.val.ct);
	assert_int_equal(after.val.leg[CTACCEL_DIR_ORIG].packets,
			 before.val.leg[CTACCEL_DIR_ORIG].packets);
	assert_int_equal(after.val.leg[CTACCEL_DIR_REPLY].packets,
			 before.val.leg[CTACCEL_DIR_REPLY].packets + 1);
	env_free(e);
}

/* ---- A migration of the table (migrate.bpf.h, docs/upgrading.md) ---- */

/* The migration's programs over `prev`'s table (as the old one) and
 * counters, with a new table of their own. */
static struct env *env_migrating(struct env *prev)
{
	uint32_t features = ctaccel_kernel_features();
	struct env *e = calloc(1, sizeof(*e));
	struct ctaccel_config cfg;

	assert_non_null(e);
	e->hz = prev->hz;
	ctaccel_config_default(&cfg, e->hz);
	e->skel = kernel_tracker_open(features);
	assert_non_null(e->skel);
	cfg.flags |= kernel_cfg_flags(features) | CTACCEL_CFG_MIGRATING;
	memcpy((void *)&e->skel->rodata->ctaccel_cfg, &cfg, sizeof(cfg));
	ctaccel_live_default(&e->skel->data_live->ctaccel_live, e->hz);
	e->skel->rodata->parse_copy_always = copy_headers;
	assert_int_equal(bpf_map__reuse_fd(e->skel->maps.ctaccel_flows_prev, prev->flows_fd), 0);
	assert_int_equal(bpf_map__reuse_fd(e->skel->maps.ctaccel_stats, prev->stats_fd), 0);
	assert_int_equal(tracker__load(e->skel), 0);
	e->flows_fd = bpf_map__fd(e->skel->maps.ctaccel_flows);
	e->stats_fd = prev->stats_fd;
	e->ingress_fd = bpf_program__fd(e->skel->progs.ctaccel_ingress);
	return e;
}

static void migrate_pass_run(struct env *e, __u32 flags, struct ctaccel_migrate_args *a)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = a, .ctx_size_in = sizeof(*a));

	memset(a, 0, sizeof(*a));
	a->flags = flags;
	assert_int_equal(
		bpf_prog_test_run_opts(bpf_program__fd(e->skel->progs.ctaccel_migrate), &opts), 0);
	assert_int_equal(a->err, 0);
}

/*
 * A flow of the old table is counted there in place by the migration's
 * programs; a packet that meets its entry claimed waits, and says so when the
 * claim outlasts the wait; the move program carries the entry over with
 * every count; the next packet counts in the new table. The gauges never
 * move: a move is not a new flow.
 */
static void test_migration_in_place_wait_move(void **state)
{
	struct endpoint c = ep("198.18.0.1", 40002), s = ep("198.18.1.1", 443);
	struct env *old = env_new(0, NULL), *mig;
	struct ctaccel_flow_entry before, in_place, moved, after;
	struct ctaccel_migrate_args a;
	struct ctaccel_stats st0, st;
	struct ctaccel_flow v;
	struct frame f;
	__u64 ct;

	(void)state;
	syn_synack(old, &c, &s);
	frame_tcp(&f, &c, &s, F_ACK, 0);
	run_frame(old->ingress_fd, &f, 0);
	assert_int_equal(flow_find(old, &c, &s, &before, NULL), 1);
	mig = env_migrating(old);
	stats_read(old, &st0);

	/* in place, in the old table */
	frame_tcp(&f, &c, &s, F_ACK, 0);
	run_frame(mig->ingress_fd, &f, 0);
	assert_int_equal(flow_find(mig, &c, &s, &in_place, NULL), 0);
	assert_int_equal(flow_find(old, &c, &s, &in_place, NULL), 1);
	assert_int_equal(in_place.val.leg[CTACCEL_DIR_ORIG].packets,
			 before.val.leg[CTACCEL_DIR_ORIG].packets + 1);

	/* claimed (word NONE) and never released: the packet waits it out,
	 * counted as a wait and as flow_busy, and changes nothing */
	assert_int_equal(bpf_map_lookup_elem(old->flows_fd, &in_place.key, &v), 0);
	ct = v.ct;
	v.ct = 0;
	assert_int_equal(bpf_map_update_elem(old->flows_fd, &in_place.key, &v, BPF_EXIST), 0);
	run_frame(mig->ingress_fd, &f, 0);
	stats_read(old, &st);
	assert_int_equal(st.migrate_waits, st0.migrate_waits + 1);
	assert_int_equal(st.flow_busy, st0.flow_busy + 1);
	assert_int_equal(flow_find(mig, &c, &s, &moved, NULL), 0);
	v.ct = ct;
	assert_int_equal(bpf_map_update_elem(old->flows_fd, &in_place.key, &v, BPF_EXIST), 0);

	/* the move: every count and the word carried over, the old entry gone */
	migrate_pass_run(mig, CTACCEL_MIGRATE_START, &a);
	migrate_pass_run(mig, 0, &a);
	assert_int_equal(a.moved, 1);
	assert_int_equal(a.busy + a.conflicts, 0);
	assert_int_equal(flow_find(old, &c, &s, &moved, NULL), 0);
	assert_int_equal(flow_find(mig, &c, &s, &moved, NULL), 1);
	assert_int_equal(moved.val.ct, in_place.val.ct);
	assert_memory_equal(moved.val.leg, in_place.val.leg, sizeof(moved.val.leg));
	assert_int_equal(moved.val.first_seen, in_place.val.first_seen);
	assert_int_equal(moved.val.ref & (CTACCEL_REF_COUNT_MASK | CTACCEL_REF_DEAD), 0);
	assert_int_equal(moved.val.ref >> CTACCEL_REF_HASH_SHIFT,
			 in_place.val.ref >> CTACCEL_REF_HASH_SHIFT);

	/* the next packet, in the new table */
	frame_tcp(&f, &s, &c, F_ACK, 0);
	run_frame(mig->ingress_fd, &f, 0);
	assert_int_equal(flow_find(mig, &c, &s, &after, NULL), 1);
	assert_int_equal(after.val.leg[CTACCEL_DIR_REPLY].packets,
			 moved.val.leg[CTACCEL_DIR_REPLY].packets + 1);
	migrate_pass_run(mig, CTACCEL_MIGRATE_DONE, &a);
	stats_read(old, &st);
	assert_int_equal(st.flows_migrated, st0.flows_migrated + 1);
	assert_int_equal(st.migrations, st0.migrations + 1);
	assert_int_equal(st.migrations_started, st0.migrations_started + 1);
	assert_int_equal(st.migrate_conflicts, 0);
	assert_int_equal(st.flows_in_state[CTACCEL_ST_ESTABLISHED], 1);
	assert_int_equal(st.flows_created, st0.flows_created);
	env_free(mig);
	env_free(old);
}

/*
 * The STATS pass adds each carried total to its slot of the counters map,
 * once, a gauge's negative part too: what a migration across ABIs brings
 * from the old counters map (user/lib/abi.c reads it and puts each total
 * in this layout's slot). Nothing else moves.
 */
static void test_migration_carries_counters(void **state)
{
	struct env *old = env_new(0, NULL), *mig;
	struct ctaccel_migrate_args a = {.flags = CTACCEL_MIGRATE_STATS};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a, .ctx_size_in = sizeof(a));
	struct ctaccel_stats st0, st;
	int i;

	(void)state;
	mig = env_migrating(old);
	stats_read(old, &st0);
	a.stats[CTACCEL_CTR_tracked_packets] = 1234;
	a.stats[CTACCEL_CTR_SLOTS + CTACCEL_ST_TIME_WAIT] = 40;
	a.stats[CTACCEL_CTR_SLOTS + CTACCEL_ST_SYN_SENT] = -3;
	assert_int_equal(
		bpf_prog_test_run_opts(bpf_program__fd(mig->skel->progs.ctaccel_migrate), &opts),
		0);
	assert_int_equal(a.err, 0);
	stats_read(old, &st);
	for (i = 0; i < CTACCEL_CTR__MAX; i++)
		assert_int_equal(((__u64 *)&st)[i],
				 ((__u64 *)&st0)[i] +
					 (i == CTACCEL_CTR_tracked_packets ? 1234 : 0));
	for (i = 0; i < CTACCEL_ST__MAX; i++)
		assert_int_equal(st.flows_in_state[i],
				 st0.flows_in_state[i] + (i == CTACCEL_ST_TIME_WAIT  ? 40
							  : i == CTACCEL_ST_SYN_SENT ? -3
										     : 0));
	env_free(mig);
	env_free(old);
}

/* Programs loaded without the flag refuse to move anything. */
static void test_migration_refused_unless_migrating(void **state)
{
	struct env *e = env_new(0, NULL);
	struct ctaccel_migrate_args a = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a, .ctx_size_in = sizeof(a));

	(void)state;
	assert_int_equal(
		bpf_prog_test_run_opts(bpf_program__fd(e->skel->progs.ctaccel_migrate), &opts), 0);
	assert_int_equal(a.err, -EINVAL);
	env_free(e);
}

/* ---- Malformed and non-TCP input: passed untouched, counted once ---- */

/* The test-run path itself rejects IP frames shorter than an IP header. */
#define KERNEL_REFUSES CTACCEL_CTR__MAX

struct bad_frame {
	const char *name;
	unsigned int counter; /* CTACCEL_CTR_* expected to rise by one */
	void (*make)(struct frame *f);
};

static void mk_eth_only(struct frame *f)
{
	struct endpoint c = ep("198.18.0.1", 1), s = ep("198.18.1.1", 2);

	frame_tcp(f, &c, &s, F_SYN, 0);
	f->len = ETH_HLEN + 1;
}

static void mk_ip_truncated(struct frame *f)
{
	mk_eth_only(f);
	f->len = ETH_HLEN + 10;
}

static struct iphdr *v4(struct frame *f, uint8_t flags)
{
	struct endpoint c = ep("198.18.0.1", 1000), s = ep("198.18.1.1", 2000);

	frame_tcp(f, &c, &s, flags, 0);
	return (struct iphdr *)(f->data + ETH_HLEN);
}

static void mk_ihl_small(struct frame *f)
{
	v4(f, F_SYN)->ihl = 4;
}

static void mk_totlen_long(struct frame *f)
{
	struct iphdr *iph = v4(f, F_SYN);

	iph->tot_len = htons(ntohs(iph->tot_len) + 1);
}

static void mk_totlen_short(struct frame *f)
{
	v4(f, F_SYN)->tot_len = htons(16);
}

static void mk_tcp_truncated(struct frame *f)
{
	struct iphdr *iph = v4(f, F_SYN);

	iph->tot_len = htons(20 + 10);
	f->len = ETH_HLEN + 30;
}

static void mk_doff_small(struct frame *f)
{
	struct iphdr *iph = v4(f, F_SYN);

	((struct tcphdr *)(iph + 1))->doff = 4;
}

static void mk_doff_past_end(struct frame *f)
{
	struct iphdr *iph = v4(f, F_SYN);

	((struct tcphdr *)(iph + 1))->doff = 15;
}

static void mk_fragment(struct frame *f)
{
	struct iphdr *iph = v4(f, F_SYN);

	iph->frag_off = htons(185); /* offset 1480 */
}

static void mk_gre(struct frame *f)
{
	v4(f, F_SYN)->protocol = IPPROTO_GRE;
}

static void mk_arp(struct frame *f)
{
	v4(f, F_SYN);
	((struct ethhdr *)f->data)->h_proto = htons(ETH_P_ARP);
}

static void mk_vlan(struct frame *f)
{
	v4(f, F_SYN);
	((struct ethhdr *)f->data)->h_proto = htons(ETH_P_8021Q);
}

static void mk_qinq(struct frame *f)
{
	v4(f, F_SYN);
	((struct ethhdr *)f->data)->h_proto = htons(ETH_P_8021AD);
}

static struct ipv6hdr *v6(struct frame *f, uint8_t flags)
{
	struct endpoint c = ep("2001:db8::1", 1000), s = ep("2001:db8:1::1", 2000);

	frame_tcp(f, &c, &s, flags, 0);
	return (struct ipv6hdr *)(f->data + ETH_HLEN);
}

static void mk_v6_hbh(struct frame *f)
{
	v6(f, F_SYN)->nexthdr = 0;
}

static void mk_v6_truncated(struct frame *f)
{
	v6(f, F_SYN);
	f->len = ETH_HLEN + 30;
}

static void mk_v6_plen_long(struct frame *f)
{
	struct ipv6hdr *ip6 = v6(f, F_SYN);

	ip6->payload_len = htons(ntohs(ip6->payload_len) + 8);
}

static void mk_v6_gre(struct frame *f)
{
	v6(f, F_SYN)->nexthdr = IPPROTO_GRE;
}

static void mk_v4_version(struct frame *f)
{
	v4(f, F_SYN)->version = 6;
}

static void mk_no_flags(struct frame *f)
{
	v4(f, 0);
}

static void mk_syn_fin(struct frame *f)
{
	v4(f, F_SYN | F_FIN);
}

static void mk_syn_rst(struct frame *f)
{
	v6(f, F_SYN | F_RST);
}

static void mk_all_flags(struct frame *f)
{
	v4(f, 0xff);
}

static void mk_fin_alone(struct frame *f)
{
	v4(f, F_FIN);
}

static const struct bad_frame bad_frames[] = {
	{"Ethernet header and one byte", KERNEL_REFUSES, mk_eth_only},
	{"truncated IPv4 header", KERNEL_REFUSES, mk_ip_truncated},
	{"IHL < 5", CTACCEL_CTR_malformed, mk_ihl_small},
	{"IPv4 total length past the frame", CTACCEL_CTR_malformed, mk_totlen_long},
	{"IPv4 total length below the header", CTACCEL_CTR_malformed, mk_totlen_short},
	{"IPv4 version field wrong", CTACCEL_CTR_malformed, mk_v4_version},
	{"truncated TCP header", CTACCEL_CTR_malformed, mk_tcp_truncated},
	{"TCP data offset < 5", CTACCEL_CTR_malformed, mk_doff_small},
	{"TCP data offset past the packet", CTACCEL_CTR_malformed, mk_doff_past_end},
	{"non-first fragment", CTACCEL_CTR_fragments, mk_fragment},
	{"GRE", CTACCEL_CTR_non_tcp, mk_gre},
	{"ARP", CTACCEL_CTR_non_ip, mk_arp},
	{"VLAN tag", CTACCEL_CTR_unparsed, mk_vlan},
	{"QinQ tag", CTACCEL_CTR_unparsed, mk_qinq},
	{"IPv6 hop-by-hop header", CTACCEL_CTR_unparsed, mk_v6_hbh},
	{"truncated IPv6 header", KERNEL_REFUSES, mk_v6_truncated},
	{"IPv6 payload length past the frame", CTACCEL_CTR_malformed, mk_v6_plen_long},
	{"IPv6 GRE", CTACCEL_CTR_non_tcp, mk_v6_gre},
	{"TCP without flags", CTACCEL_CTR_invalid, mk_no_flags},
	{"SYN+FIN", CTACCEL_CTR_invalid, mk_syn_fin},
	{"SYN+RST", CTACCEL_CTR_invalid, mk_syn_rst},
	{"all flags", CTACCEL_CTR_invalid, mk_all_flags},
	{"FIN without ACK", CTACCEL_CTR_invalid, mk_fin_alone},
};

static void test_malformed(void **state)
{
	struct env *e = env_new(0, NULL);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]); i++) {
		struct frame f;

		bad_frames[i].make(&f);
		if (bad_frames[i].counter == KERNEL_REFUSES) {
			LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data,
				    .data_size_in = f.len);

			assert_int_equal(bpf_prog_test_run_opts(e->ingress_fd, &opts), -EINVAL);
			stats_expect(e, bad_frames[i].name);
			continue;
		}
		run_frame(e->ingress_fd, &f, 0);
		e->model.packets++;
		e->model.bytes += f.len;
		((__u64 *)&e->model)[bad_frames[i].counter]++;
		stats_expect(e, bad_frames[i].name);
		assert_int_equal(gauges_match_table(e), 0);
	}
	env_free(e);
}

/* The kernel refuses frames shorter than Ethernet: nothing runs, nothing moves. */
static void test_zero_length(void **state)
{
	struct env *e = env_new(0, NULL);
	uint8_t buf[ETH_HLEN] = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf, .data_size_in = 0);

	(void)state;
	assert_int_not_equal(bpf_prog_test_run_opts(e->ingress_fd, &opts), 0);
	opts.data_size_in = ETH_HLEN - 1;
	assert_int_not_equal(bpf_prog_test_run_opts(e->ingress_fd, &opts), 0);
	stats_expect(e, "zero-length");
	env_free(e);
}

static void test_ipv4_options_tracked(void **state)
{
	struct endpoint c = ep("198.18.0.1", 41000), s = ep("198.18.1.1", 80);
	struct env *e = env_new(0, NULL);
	struct ctaccel_flow_entry ent;
	struct iphdr *iph;
	struct frame f;

	(void)state;
	/* Rebuild the SYN with 4 bytes of IPv4 options (NOPs). */
	frame_tcp(&f, &c, &s, F_SYN, 0);
	iph = (struct iphdr *)(f.data + ETH_HLEN);
	memmove((uint8_t *)(iph + 1) + 4, iph + 1, f.len - ETH_HLEN - sizeof(*iph));
	memset(iph + 1, 1, 4);
	iph->ihl = 6;
	iph->tot_len = htons(ntohs(iph->tot_len) + 4);
	f.len += 4;
	frame_fix_csum(f.data, f.len);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
	assert_int_equal(ctaccel_ct_state(ent.val.ct), CTACCEL_ST_SYN_SENT);
	assert_int_equal(ent.val.leg[0].bytes, 20 + 4 + 20);
	env_free(e);
}

/* A bad IPv4 header checksum is refused like a bad TCP one; egress, which
 * carries what this host made, is not checked (nor is it by nf_conntrack). */
static void checksums_where_checked(void)
{
	struct endpoint c = ep("198.18.0.1", 43000), s = ep("198.18.1.1", 80);
	struct env *e = env_new(0, NULL);
	struct ctaccel_flow_entry ent;
	struct frame f;

	frame_tcp(&f, &c, &s, F_SYN, 0);
	f.data[ETH_HLEN + 10] ^= 0x5a; /* IPv4 header checksum */
	run_frame(e->ingress_fd, &f, 0);
	e->model.packets = 1;
	e->model.bytes = f.len;
	e->model.bad_checksum = 1;
	stats_expect(e, "bad IPv4 header checksum");
	assert_int_equal(flow_find(e, &c, &s, NULL, NULL), 0);
	frame_tcp(&f, &c, &s, F_SYN, 0);
	f.data[frame_tcp_csum_off(&f)] ^= 0x5a;
	run_frame(e->egress_fd, &f, 0);
	assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
	assert_int_equal(ctaccel_ct_state(ent.val.ct), CTACCEL_ST_SYN_SENT);
	env_free(e);
}

/* The IPv4 header is summed in place where it is linear, through a copy
 * where not: both ways refuse the same bad header. */
static void test_checksums_where_checked(void **state)
{
	(void)state;
	checksums_where_checked();
	copy_headers = true;
	checksums_where_checked();
	copy_headers = false;
}

/* Forwarded packets count at the attached ingress only, once. */
static void test_egress_skips_forwarded(void **state)
{
	struct endpoint c = ep("198.18.0.1", 42000), s = ep("198.18.1.1", 80);
	struct ctaccel_iface in = {.flags = CTACCEL_IFACE_INGRESS};
	struct env *e = env_new(0, NULL);
	struct ctaccel_flow_entry ent;
	__u32 ifindex = 7;
	struct frame f;

	(void)state;
	assert_int_equal(bpf_map_update_elem(e->ifaces_fd, &ifindex, &in, BPF_ANY), 0);
	frame_tcp(&f, &c, &s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	run_frame(e->egress_fd, &f, ifindex);
	e->model.packets = 2;
	e->model.bytes = 2 * f.len;
	e->model.flows_created = 1;
	e->model.policy_lookups = 1;
	e->model.tracked_packets = 1;
	e->model.tracked_bytes = f.ip_len;
	e->model.skipped_egress = 1;
	e->model.flows_in_state[CTACCEL_ST_SYN_SENT] = 1;
	stats_expect(e, "forwarded SYN");
	/* From a device ctaccel is not attached to, egress tracks. */
	frame_tcp(&f, &s, &c, F_SYN | F_ACK, 0);
	run_frame(e->egress_fd, &f, 9);
	assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
	assert_int_equal(ctaccel_ct_state(ent.val.ct), CTACCEL_ST_SYN_RECV);
	env_free(e);
}

/* ---- Concurrency ---- */

#define RACE_RUNS 1000000

struct hammer {
	int prog_fd;
	struct frame f;
	__u32 repeat;
	int cpu;
	int err;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	cpu_set_t set;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = h->f.data, .data_size_in = h->f.len,
		    .repeat = h->repeat);

	CPU_ZERO(&set);
	CPU_SET(h->cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	h->err = bpf_prog_test_run_opts(h->prog_fd, &opts) ? -errno : 0;
	if (!h->err && opts.retval != TC_ACT_UNSPEC_U32)
		h->err = -EINVAL;
	return NULL;
}

static void handshake(struct env *e, const struct endpoint *c, const struct endpoint *s)
{
	struct frame f;

	frame_tcp(&f, c, s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	frame_tcp(&f, s, c, F_SYN | F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
	frame_tcp(&f, c, s, F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
}

/* A handshake, then FINs from both sides, the client's first: TIME_WAIT. */
static void time_wait(struct env *e, const struct endpoint *c, const struct endpoint *s)
{
	struct frame f;

	handshake(e, c, s);
	frame_tcp(&f, c, s, F_FIN | F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
	frame_tcp(&f, s, c, F_FIN | F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
	frame_tcp(&f, c, s, F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
}

static void hammer_run(struct hammer *h, int n)
{
	pthread_t t[8];
	int i;

	for (i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(h[i].err, 0);
	}
}

static void concurrent_established(bool both_directions)
{
	struct endpoint c = ep("198.18.0.1", 43000), s = ep("198.18.1.1", 80);
	struct env *e = env_new(0, NULL);
	struct ctaccel_flow_entry ent;
	struct ctaccel_stats st;
	struct hammer h[2] = {};
	__u64 hs_bytes[2];
	int i;

	handshake(e, &c, &s);
	assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
	hs_bytes[0] = ent.val.leg[0].bytes;
	hs_bytes[1] = ent.val.leg[1].bytes;
	for (i = 0; i < 2; i++) {
		h[i].prog_fd = i ? e->egress_fd : e->ingress_fd;
		h[i].repeat = RACE_RUNS;
		h[i].cpu = i;
		if (both_directions && i)
			frame_tcp(&h[i].f, &s, &c, F_PSH | F_ACK, 1000);
		else
			frame_tcp(&h[i].f, &c, &s, F_PSH | F_ACK, 100);
	}
	hammer_run(h, 2);

	stats_read(e, &st);
	/* Why a packet went uncounted, if one did, before any assertion. */
	if (st.cas_exhausted + st.flow_busy + st.insert_races + st.flow_reused)
		print_message(
			"    not tracked: cas_exhausted %llu, flow_busy %llu, insert_races %llu, "
			"flow_reused %llu\n",
			(unsigned long long)st.cas_exhausted, (unsigned long long)st.flow_busy,
			(unsigned long long)st.insert_races, (unsigned long long)st.flow_reused);
	assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
	assert_int_equal(ctaccel_ct_state(ent.val.ct), CTACCEL_ST_ESTABLISHED);
	if (both_directions) {
		assert_int_equal(ent.val.leg[0].packets, 2 + RACE_RUNS);
		assert_int_equal(ent.val.leg[1].packets, 1 + RACE_RUNS);
		assert_int_equal(ent.val.leg[0].bytes,
				 hs_bytes[0] + (__u64)RACE_RUNS * h[0].f.ip_len);
		assert_int_equal(ent.val.leg[1].bytes,
				 hs_bytes[1] + (__u64)RACE_RUNS * h[1].f.ip_len);
	} else {
		assert_int_equal(ent.val.leg[0].packets, 2 + 2ULL * RACE_RUNS);
		assert_int_equal(ent.val.leg[1].packets, 1);
		assert_int_equal(ent.val.leg[0].bytes,
				 hs_bytes[0] + 2ULL * RACE_RUNS * h[0].f.ip_len);
	}
	stats_read(e, &st);
	assert_int_equal(st.packets, 3 + 2ULL * RACE_RUNS);
	assert_int_equal(st.tracked_packets, 3 + 2ULL * RACE_RUNS);
	assert_int_equal(st.tracked_bytes,
			 hs_bytes[0] + hs_bytes[1] +
				 (__u64)RACE_RUNS * (h[0].f.ip_len + h[1].f.ip_len));
	assert_int_equal(st.cas_exhausted + st.flow_busy + st.insert_races, 0);
	gauges_match_table(e);
	conservation_holds(e);
	env_free(e);
}

static void test_concurrent_one_direction(void **state)
{
	(void)state;
	concurrent_established(false);
}

static void test_concurrent_both_directions(void **state)
{
	(void)state;
	concurrent_established(true);
}

/* Threads push the same flows through whole lives at once. */
struct lifecycle {
	struct env *e;
	int cpu, rounds, flows;
	__u64 sent;
};

static void *lifecycle_thread(void *arg)
{
	static const struct {
		enum side from;
		uint8_t flags;
	} life[] = {
		{C, F_SYN}, {S, F_SYN | F_ACK}, {C, F_ACK}, {C, F_PSH | F_ACK}, {C, F_FIN | F_ACK},
		{S, F_ACK}, {S, F_FIN | F_ACK}, {C, F_ACK}, {C, F_SYN},		{S, F_RST | F_ACK},
		{C, F_SYN}, {S, F_SYN | F_ACK}, {C, F_RST},
	};
	struct lifecycle *lc = arg;
	cpu_set_t set;
	int r, i, k;

	CPU_ZERO(&set);
	CPU_SET(lc->cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (r = 0; r < lc->rounds; r++) {
		for (k = 0; k < lc->flows; k++) {
			struct endpoint c = ep("2001:db8::7", 44000 + k),
					s = ep("2001:db8:1::7", 80);

			for (i = 0; i < (int)(sizeof(life) / sizeof(life[0])); i++) {
				struct frame f;

				frame_tcp(&f, life[i].from == C ? &c : &s,
					  life[i].from == C ? &s : &c, life[i].flags, 10);
				run_frame(lc->cpu & 1 ? lc->e->egress_fd : lc->e->ingress_fd, &f,
					  0);
				lc->sent++;
			}
		}
	}
	return NULL;
}

static void test_concurrent_state_moves(void **state)
{
	struct lifecycle lc[2];
	struct env *e = env_new(0, NULL);
	struct ctaccel_stats st;
	pthread_t t[2];
	__u64 accounted;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		lc[i] = (struct lifecycle){.e = e, .cpu = i, .rounds = 400, .flows = 8};
		assert_int_equal(pthread_create(&t[i], NULL, lifecycle_thread, &lc[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);

	gauges_match_table(e);
	conservation_holds(e);
	stats_read(e, &st);
	/* Every packet is accounted or counted as why not. */
	accounted = st.tracked_packets + st.ignored + st.invalid + st.syn_retransmits +
		    st.flow_busy + st.cas_exhausted + st.table_full + st.insert_failed;
	assert_int_equal(st.packets, lc[0].sent + lc[1].sent);
	assert_int_equal(accounted, st.packets);
	assert_true(st.transitions > 0 && st.flows_killed > 0);
	/* Reopens in place, raced by the other CPU's packets of the same tuples. */
	assert_true(st.flows_reopened > 0);
	env_free(e);
}

/*
 * Port reuse under a race: one CPU takes the same tuples through whole lives,
 * each reopening its closed entry with a SYN, while the other sends data on
 * them all the while. The reopen reuses the entry in place, so no packet of
 * the other CPU ever finds the tuple missing (it would start a mid-stream
 * flow there): every flow after the first of each tuple is a reopen.
 */
#define REOPEN_FLOWS 4

struct reopen_race {
	struct env *e;
	int rounds;
	__u64 sent;
	volatile bool *stop;
};

static struct endpoint reopen_client(int k)
{
	return ep("198.18.0.9", 45100 + k);
}

static void reopen_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *reopen_lives(void *arg)
{
	static const struct {
		enum side from;
		uint8_t flags;
	} life[] = {
		{C, F_SYN},	    {S, F_SYN | F_ACK}, {C, F_ACK},	    {C, F_PSH | F_ACK},
		{C, F_FIN | F_ACK}, {S, F_ACK},		{S, F_FIN | F_ACK}, {C, F_ACK},
	};
	struct reopen_race *r = arg;
	struct endpoint s = ep("198.18.1.9", 80);
	int n, k, i;

	reopen_pin(0);
	for (n = 0; n < r->rounds; n++) {
		for (k = 0; k < REOPEN_FLOWS; k++) {
			struct endpoint c = reopen_client(k);

			for (i = 0; i < (int)(sizeof(life) / sizeof(life[0])); i++) {
				struct frame f;

				frame_tcp(&f, life[i].from == C ? &c : &s,
					  life[i].from == C ? &s : &c, life[i].flags, 10);
				run_frame(r->e->ingress_fd, &f, 0);
				r->sent++;
			}
		}
	}
	*r->stop = true;
	return NULL;
}

static void *reopen_data(void *arg)
{
	struct reopen_race *r = arg;
	struct endpoint s = ep("198.18.1.9", 80);
	struct frame f[REOPEN_FLOWS];
	int k;

	reopen_pin(1);
	for (k = 0; k < REOPEN_FLOWS; k++) {
		struct endpoint c = reopen_client(k);

		frame_tcp(&f[k], &c, &s, F_PSH | F_ACK, 100);
	}
	while (!*r->stop) {
		for (k = 0; k < REOPEN_FLOWS; k++) {
			run_frame(r->e->ingress_fd, &f[k], 0);
			r->sent++;
		}
	}
	return NULL;
}

static void test_reopen_in_place_races(void **state)
{
	struct env *e = env_new(0, NULL);
	volatile bool stop = false;
	struct reopen_race lives = {.e = e, .rounds = 3000, .stop = &stop},
			   data = {.e = e, .stop = &stop};
	struct endpoint s = ep("198.18.1.9", 80);
	struct ctaccel_stats st;
	__u64 accounted;
	pthread_t t[2];
	int k;

	(void)state;
	/* The tuples exist, in TIME_WAIT, before the race: closed by FINs, as
	 * each life closes them (after a RST, the other CPU's next ACK would
	 * take away what lets a SYN reopen). */
	for (k = 0; k < REOPEN_FLOWS; k++) {
		struct endpoint c = reopen_client(k);

		time_wait(e, &c, &s);
	}
	stats_read(e, &st);
	assert_int_equal(st.flows_in_state[CTACCEL_ST_TIME_WAIT], REOPEN_FLOWS);
	assert_int_equal(st.flows_created, REOPEN_FLOWS);
	assert_int_equal(pthread_create(&t[0], NULL, reopen_lives, &lives), 0);
	assert_int_equal(pthread_create(&t[1], NULL, reopen_data, &data), 0);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);

	stats_read(e, &st);
	print_message("    %llu reopened, %llu busy, %llu ignored, %llu invalid\n",
		      (unsigned long long)st.flows_reopened, (unsigned long long)st.flow_busy,
		      (unsigned long long)st.ignored, (unsigned long long)st.invalid);
	assert_int_equal(gauges_match_table(e), REOPEN_FLOWS);
	conservation_holds(e);
	accounted = st.tracked_packets + st.ignored + st.invalid + st.syn_retransmits +
		    st.flow_busy + st.cas_exhausted + st.table_full + st.insert_failed;
	assert_int_equal(st.packets, 6 * REOPEN_FLOWS + lives.sent + data.sent);
	assert_int_equal(st.packets, accounted);
	/* Each round's SYNs reopen, unless one ran out of swaps (counted). */
	assert_true(st.flows_reopened <= (__u64)lives.rounds * REOPEN_FLOWS);
	assert_true(st.flows_reopened + st.cas_exhausted >= (__u64)lives.rounds * REOPEN_FLOWS);
	/* Never deleted, so never created anew: every flow since is a reopen. */
	assert_int_equal(st.flows_created, REOPEN_FLOWS + st.flows_reopened);
	assert_int_equal(st.flows_expired + st.flows_killed + st.flows_deleted +
				 st.unreplied_evicted + st.insert_races,
			 0);
	env_free(e);
}

/* ---- Table full ---- */

static void test_table_full(void **state)
{
	struct endpoint s = ep("198.18.1.1", 80), c0 = ep("198.18.0.1", 45000);
	struct env *e = env_new(8, NULL);
	struct ctaccel_flow_entry ent;
	struct ctaccel_stats st;
	struct frame f;
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		struct endpoint c = ep("198.18.0.1", 45000 + i);

		frame_tcp(&f, &c, &s, F_SYN, 0);
		run_frame(e->ingress_fd, &f, 0);
	}
	stats_read(e, &st);
	assert_int_equal(st.flows_created, 8);
	assert_int_equal(st.table_full, 2);
	assert_int_equal(st.tracked_packets, 8);
	assert_int_equal(gauges_match_table(e), 8);

	/* Existing flows keep being tracked. */
	frame_tcp(&f, &s, &c0, F_SYN | F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(flow_find(e, &c0, &s, &ent, NULL), 1);
	assert_int_equal(ctaccel_ct_state(ent.val.ct), CTACCEL_ST_SYN_RECV);
	assert_int_equal(ent.val.leg[1].packets, 1);

	/* Once a flow is gone (RST to an unanswered SYN), a new one fits again. */
	{
		struct endpoint c1 = ep("198.18.0.1", 45001);

		frame_tcp(&f, &s, &c1, F_RST | F_ACK, 0);
		run_frame(e->ingress_fd, &f, 0);
		assert_int_equal(flow_find(e, &c1, &s, NULL, NULL), 0);
	}
	{
		struct endpoint c9 = ep("198.18.0.1", 45009);

		frame_tcp(&f, &c9, &s, F_SYN, 0);
		run_frame(e->ingress_fd, &f, 0);
		assert_int_equal(flow_find(e, &c9, &s, NULL, NULL), 1);
	}
	stats_read(e, &st);
	assert_int_equal(st.table_full, 2);
	gauges_match_table(e);
	conservation_holds(e);
	env_free(e);
}

/*
 * Flows without a reply take ring slots in turn; a new flow removes its
 * slot's previous flow only while that one still has no reply.
 */
static void test_unreplied_ring(void **state)
{
	struct endpoint s = ep("198.18.1.1", 80), a = ep("198.18.0.1", 44000);
	struct ctaccel_flow_entry ent;
	struct ctaccel_stats st;
	struct frame f;
	struct env *e;
	int i;

	(void)state;
	e = env_ring(4);
	/* slot 0: a flow that gets its reply */
	frame_tcp(&f, &a, &s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	frame_tcp(&f, &s, &a, F_SYN | F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
	/* slots 1, 2, 3, then 0 again (its flow has a reply: kept), 1, 2 */
	for (i = 1; i <= 6; i++) {
		struct endpoint c = ep("198.18.0.2", 45000 + i);

		frame_tcp(&f, &c, &s, F_SYN, 0);
		run_frame(e->ingress_fd, &f, 0);
	}
	assert_int_equal(flow_find(e, &a, &s, &ent, NULL), 1);
	assert_int_equal(ctaccel_ct_state(ent.val.ct), CTACCEL_ST_SYN_RECV);
	for (i = 1; i <= 6; i++) {
		struct endpoint c = ep("198.18.0.2", 45000 + i);

		/* the two oldest without a reply made room */
		assert_int_equal(flow_find(e, &c, &s, NULL, NULL), i > 2);
	}
	stats_read(e, &st);
	assert_int_equal(st.unreplied_evicted, 2);
	assert_int_equal(st.flows_created, 7);
	assert_int_equal(st.table_full, 0);
	assert_int_equal(st.deleted_packets, 2);
	assert_int_equal(gauges_match_table(e), 5);
	conservation_holds(e);
	env_free(e);
}

/* One slot of the unreplied ring, as the datapath left it. */
static struct ctaccel_unreplied_slot ring_slot(struct env *e, __u32 i)
{
	struct ctaccel_unreplied_slot slot = {};

	assert_int_equal(
		bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ctaccel_unreplied), &i, &slot), 0);
	return slot;
}

/*
 * A flow keeps its ring slot; its first reply marks the slot answered (claim
 * 0), so the slot's next taker knows without a lookup that it holds nothing
 * to remove. A slot without a reply keeps its claim, the ring position + 1.
 */
static void test_unreplied_answered(void **state)
{
	struct endpoint s = ep("198.18.1.1", 80), a = ep("198.18.0.1", 44100),
			b = ep("198.18.0.1", 44101), u = ep("198.18.0.4", 5353);
	struct ctaccel_flow_entry ent;
	struct ctaccel_unreplied_slot slot;
	struct ctaccel_stats st;
	struct frame f;
	struct env *e;
	int i;

	(void)state;
	e = env_ring(3);
	frame_tcp(&f, &a, &s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	frame_tcp(&f, &b, &s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(flow_find(e, &a, &s, &ent, NULL), 1);
	assert_int_equal(ent.val.unreplied_claim, 1);
	slot = ring_slot(e, 0);
	assert_int_equal(slot.claim, 1);
	assert_int_equal(flow_find(e, &b, &s, &ent, NULL), 1);
	assert_int_equal(ent.val.unreplied_claim, 2);
	assert_int_equal(ring_slot(e, 1).claim, 2);
	/* a's reply (a SYN-ACK), then b's retransmitted SYN: only a's is answered */
	frame_tcp(&f, &s, &a, F_SYN | F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
	frame_tcp(&f, &b, &s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	slot = ring_slot(e, 0);
	assert_int_equal(slot.claim, 0);
	assert_int_equal(slot.key.port_lo == htons(44100) || slot.key.port_hi == htons(44100), 1);
	assert_int_equal(ring_slot(e, 1).claim, 2);
	/* UDP: the reply marks it too */
	frame_udp(&f, &u, &s, 20);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(ring_slot(e, 2).claim, 3);
	frame_udp(&f, &s, &u, 20);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(ring_slot(e, 2).claim, 0);
	/* the ring comes round: slot 0 (answered) and slot 2 (answered) are
	 * taken without removing their flows, slot 1's flow goes */
	for (i = 0; i < 3; i++) {
		struct endpoint c = ep("198.18.0.2", 45100 + i);

		frame_tcp(&f, &c, &s, F_SYN, 0);
		run_frame(e->ingress_fd, &f, 0);
		assert_int_equal(ring_slot(e, i).claim, 4 + i);
	}
	assert_int_equal(flow_find(e, &a, &s, NULL, NULL), 1);
	assert_int_equal(flow_find(e, &b, &s, NULL, NULL), 0);
	assert_int_equal(flow_find(e, &u, &s, NULL, NULL), 1);
	stats_read(e, &st);
	assert_int_equal(st.unreplied_evicted, 1);
	conservation_holds(e);
	env_free(e);
}

/*
 * A tuple opened, closed and reopened within one jiffy: its new flow has no
 * reply yet, and its previous flow's ring slot (the same key) is the one it
 * takes. That slot must not evict the new flow.
 */
static void test_unreplied_ring_reopen(void **state)
{
	struct endpoint s = ep("198.18.1.1", 80);
	struct ctaccel_flow_entry ent;
	struct ctaccel_stats st;
	struct frame f;
	struct env *e;
	int k, same_jiffy = 0;

	(void)state;
	e = env_ring(1);
	/* A jiffy may tick in the middle of an attempt: try a few tuples. */
	for (k = 0; k < 8 && !same_jiffy; k++) {
		struct endpoint c = ep("198.18.0.3", 46000 + k);
		__u64 first_seen;

		time_wait(e, &c, &s);
		assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
		first_seen = ent.val.first_seen;
		frame_tcp(&f, &c, &s, F_SYN, 0);
		run_frame(e->ingress_fd, &f, 0);
		assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
		assert_int_equal(ctaccel_ct_state(ent.val.ct), CTACCEL_ST_SYN_SENT);
		same_jiffy = ent.val.first_seen == first_seen;
		/* Answered: the next tuple's flow takes the slot from this one. */
		frame_tcp(&f, &s, &c, F_SYN | F_ACK, 0);
		run_frame(e->ingress_fd, &f, 0);
	}
	assert_true(same_jiffy);
	stats_read(e, &st);
	assert_int_equal(st.unreplied_evicted, 0);
	assert_int_equal(st.flows_reopened, k);
	assert_int_equal(st.flows_created, 2 * k);
	assert_int_equal(gauges_match_table(e), k);
	conservation_holds(e);
	env_free(e);
}

/* ---- Compare-and-delete ---- */

static void read_words(struct env *e, struct ctaccel_del_req **reqs, size_t *n)
{
	struct ctaccel_flow_list l;
	size_t i;

	assert_int_equal(ctaccel_flows_read(e->flows_fd, &l), 0);
	*reqs = calloc(l.n + 1, sizeof(**reqs));
	for (i = 0; i < l.n; i++) {
		(*reqs)[i].key = l.e[i].key;
		(*reqs)[i].expect_ct = l.e[i].val.ct;
	}
	*n = l.n;
	ctaccel_flow_list_free(&l);
}

static void send_data_to_all(struct env *e, int flows)
{
	struct endpoint s = ep("198.18.1.1", 80);
	struct frame f;
	int i;

	for (i = 0; i < flows; i++) {
		struct endpoint c = ep("198.18.0.2", 20000 + i);

		frame_tcp(&f, &c, &s, F_PSH | F_ACK, 64);
		run_frame(e->ingress_fd, &f, 0);
	}
}

static void test_delete_compares(void **state)
{
	__u64 timeouts[CTACCEL_ST__MAX] = {[CTACCEL_ST_ESTABLISHED] = 400};
	struct env *e;
	struct ctaccel_del_req *stale, *fresh;
	size_t n, deleted = 0, skipped = 0;
	struct ctaccel_gc_result gc;

	(void)state;
	/* mid-stream pickups live min(established, unack): 400 ms here */
	e = env_new(0, timeouts);
	send_data_to_all(e, 64);
	assert_int_equal(gauges_match_table(e), 64);

	/* Nothing has expired: a GC pass removes nothing. */
	assert_int_equal(ctaccel_gc_pass(e->flows_fd, e->delete_fd, e->clock_fd, &gc), 0);
	assert_int_equal(gc.scanned, 64);
	assert_int_equal(gc.deleted, 0);

	/* A stale read never removes a flow refreshed since. */
	read_words(e, &stale, &n);
	assert_int_equal(n, 64);
	usleep(20 * 1000); /* let the coarse clock move on */
	send_data_to_all(e, 64);
	assert_int_equal(
		ctaccel_delete_flows(e->delete_fd, stale, n, CTACCEL_DEL_FORCE, &deleted, &skipped),
		0);
	assert_int_equal(deleted, 0);
	assert_int_equal(skipped, 64);

	/* Expired and read after expiry, then refreshed (the refresh finds
	 * them expired and starts them anew): still not removed. */
	usleep(500 * 1000);
	free(stale);
	read_words(e, &stale, &n);
	send_data_to_all(e, 64);
	deleted = skipped = 0;
	assert_int_equal(ctaccel_delete_flows(e->delete_fd, stale, n, 0, &deleted, &skipped), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(gauges_match_table(e), 64);

	/* A fresh read with FORCE removes them all; gauges follow. */
	read_words(e, &fresh, &n);
	deleted = skipped = 0;
	assert_int_equal(
		ctaccel_delete_flows(e->delete_fd, fresh, n, CTACCEL_DEL_FORCE, &deleted, &skipped),
		0);
	assert_int_equal(deleted, 64);
	assert_int_equal(gauges_match_table(e), 0);
	conservation_holds(e);

	/* Expired flows go in a GC pass. */
	send_data_to_all(e, 16);
	usleep(500 * 1000);
	assert_int_equal(ctaccel_gc_pass(e->flows_fd, e->delete_fd, e->clock_fd, &gc), 0);
	assert_int_equal(gc.deleted, 16);
	assert_int_equal(gauges_match_table(e), 0);
	conservation_holds(e);
	free(stale);
	free(fresh);
	env_free(e);
}

struct refresher {
	struct env *e;
	volatile int *stop;
	__u64 sent;
};

static void *refresher_thread(void *arg)
{
	struct refresher *r = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	/* Passes about as far apart as the timeout, so that flows expire
	 * between them and GC and packets contend for the same entries. */
	while (!*r->stop) {
		send_data_to_all(r->e, 128);
		r->sent += 128;
		usleep(15000 + rand() % 30000);
	}
	return NULL;
}

/* GC passes race a refresher for a while; nothing is lost or counted twice. */
static void test_delete_races_refresh(void **state)
{
	__u64 timeouts[CTACCEL_ST__MAX] = {[CTACCEL_ST_ESTABLISHED] = 30};
	struct env *e;
	struct refresher r;
	volatile int stop = 0;
	struct ctaccel_gc_result gc;
	struct ctaccel_stats st;
	__u64 gc_deleted = 0, t0;
	pthread_t t;

	(void)state;
	e = env_new(0, timeouts);
	r = (struct refresher){.e = e, .stop = &stop};
	assert_int_equal(pthread_create(&t, NULL, refresher_thread, &r), 0);
	for (t0 = 0; t0 < 300; t0++) { /* about 1.5 s */
		assert_int_equal(ctaccel_gc_pass(e->flows_fd, e->delete_fd, e->clock_fd, &gc), 0);
		gc_deleted += gc.deleted;
		usleep(5000);
	}
	stop = 1;
	pthread_join(t, NULL);

	stats_read(e, &st);
	assert_int_equal(st.flows_deleted, gc_deleted);
	assert_int_equal(st.packets, r.sent);
	assert_int_equal(st.tracked_packets + st.flow_busy + st.cas_exhausted, r.sent);
	assert_int_equal(st.invalid + st.table_full + st.insert_failed, 0);
	gauges_match_table(e);
	conservation_holds(e);
	print_message("    %llu packets, %llu GC deletions, %llu expired by packets, %llu busy\n",
		      (unsigned long long)r.sent, (unsigned long long)gc_deleted,
		      (unsigned long long)st.flows_expired, (unsigned long long)st.flow_busy);
	env_free(e);
}

/* The slot of the kernel's expiry timer, as its passes left it. */
static void expiry_read(struct env *e, struct ctaccel_expiry *out)
{
	unsigned char buf[CTACCEL_EXPIRY_HANDLES_SIZE + sizeof(*out)];
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.ctaccel_expiry), &zero, buf),
			 0);
	memcpy(out, buf + CTACCEL_EXPIRY_HANDLES_SIZE, sizeof(*out));
}

/*
 * The kernel's expiry races packets: its timer's passes (in a kernel worker,
 * every 10 ms) and forced passes (this thread, on the other CPU) remove
 * entries while a refresher on CPU 0 keeps renewing them, about as often as
 * they expire. Nothing is lost or counted twice: every removal is one of the
 * passes', the gauges equal the table, created = present + removed.
 */
static void test_expiry_races_refresh(void **state)
{
	__u64 timeouts[CTACCEL_ST__MAX] = {[CTACCEL_ST_ESTABLISHED] = 30};
	struct ctaccel_gc_result gc;
	struct ctaccel_expiry x;
	struct ctaccel_stats st;
	volatile int stop = 0;
	__u64 forced = 0, i;
	struct refresher r;
	struct env *e;
	cpu_set_t set;
	pthread_t t;

	(void)state;
	e = env_new(0, timeouts);
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	r = (struct refresher){.e = e, .stop = &stop};
	assert_int_equal(expiry_ctl(bpf_program__fd(pin_prog(e->skel, PIN_EXPIRY_CTL)), 10, 0), 0);
	assert_int_equal(pthread_create(&t, NULL, refresher_thread, &r), 0);
	for (i = 0; i < 150; i++) { /* about 1.5 s */
		assert_int_equal(
			ctaccel_expire_pass(bpf_program__fd(e->skel->progs.ctaccel_expire), &gc),
			0);
		forced += gc.deleted;
		usleep(10000);
	}
	stop = 1;
	pthread_join(t, NULL);
	assert_int_equal(expiry_ctl(bpf_program__fd(pin_prog(e->skel, PIN_EXPIRY_CTL)), 0,
				    CTACCEL_EXPIRY_STOP),
			 0);
	usleep(100000); /* a pass the timer had started finishes */
	expiry_read(e, &x);
	stats_read(e, &st);
	assert_true(x.passes > 20);
	assert_true(x.removed > 0 && forced > 0);
	assert_int_equal(st.flows_deleted, forced + x.removed);
	assert_int_equal(st.packets, r.sent);
	assert_int_equal(st.tracked_packets + st.flow_busy + st.cas_exhausted, r.sent);
	assert_int_equal(st.invalid + st.table_full + st.insert_failed, 0);
	gauges_match_table(e);
	conservation_holds(e);
	print_message("    %llu packets, %llu timer passes removed %llu, forced passes %llu, "
		      "%llu expired by packets\n",
		      (unsigned long long)r.sent, (unsigned long long)x.passes,
		      (unsigned long long)x.removed, (unsigned long long)forced,
		      (unsigned long long)st.flows_expired);
	env_free(e);
}

/*
 * A timeout raised while a flow holds the shorter one: the flow still
 * expires at its time, and kernel expiry must walk for it. Its bound (the
 * last walk's start plus each state's timeout now) would put the walk 100 s
 * away; the timeouts' generation, which a live change moves, makes the next
 * check walk. The change without the generation shows the bound's hazard.
 */
static void test_expiry_walks_after_timeout_change(void **state)
{
	__u64 timeouts[CTACCEL_ST__MAX] = {[CTACCEL_ST_SYN_SENT] = 300};
	struct endpoint c = ep("198.18.0.3", 46100), s = ep("198.18.1.1", 80);
	volatile struct ctaccel_live *to;
	struct ctaccel_expiry x;
	__u64 passes;
	struct env *e;
	struct frame f;
	int i;

	(void)state;
	e = env_new(0, timeouts);
	to = &e->skel->data_live->ctaccel_live;
	assert_int_equal(expiry_ctl(bpf_program__fd(pin_prog(e->skel, PIN_EXPIRY_CTL)), 10, 0), 0);
	/* the first check walks (a new program's generation is none) */
	for (i = 0; i < 500; i++) {
		expiry_read(e, &x);
		if (x.passes)
			break;
		usleep(10000);
	}
	assert_true(x.passes >= 1);
	passes = x.passes;
	frame_tcp(&f, &c, &s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	to->timeout[CTACCEL_ST_SYN_SENT] = 100ULL * e->hz;
	usleep(600 * 1000); /* twice the flow's 300 ms */
	expiry_read(e, &x);
	if (x.passes == passes) {
		/* no walk since the flow began (the bound): it outlives its time */
		assert_int_equal(x.removed, 0);
		assert_int_equal(flow_find(e, &c, &s, NULL, NULL), 1);
	} else {
		print_message("    a walk came before the change (a slow machine): no control\n");
	}
	/* the change as userspace makes it: odd while written, one more after */
	to->gen = to->gen + 1;
	to->gen = to->gen + 1;
	for (i = 0; i < 500; i++) {
		expiry_read(e, &x);
		if (x.removed)
			break;
		usleep(10000);
	}
	assert_int_equal(x.removed, 1);
	assert_int_equal(flow_find(e, &c, &s, NULL, NULL), 0);
	assert_int_equal(expiry_ctl(bpf_program__fd(pin_prog(e->skel, PIN_EXPIRY_CTL)), 0,
				    CTACCEL_EXPIRY_STOP),
			 0);
	gauges_match_table(e);
	env_free(e);
}

/* An entry found expired is replaced by a new flow. */
static void test_expired_is_new_flow(void **state)
{
	__u64 timeouts[CTACCEL_ST__MAX] = {[CTACCEL_ST_SYN_SENT] = 50};
	struct endpoint c = ep("198.18.0.3", 46000), s = ep("198.18.1.1", 80);
	struct ctaccel_flow_entry ent;
	struct ctaccel_stats st;
	struct env *e;
	struct frame f;

	(void)state;
	e = env_new(0, timeouts);
	frame_tcp(&f, &c, &s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	usleep(100 * 1000);
	frame_tcp(&f, &c, &s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
	assert_int_equal(ent.val.leg[0].packets, 1); /* a new flow, not a retransmit */
	stats_read(e, &st);
	assert_int_equal(st.flows_expired, 1);
	assert_int_equal(st.flows_created, 2);
	assert_int_equal(st.syn_retransmits, 0);
	gauges_match_table(e);
	conservation_holds(e);
	env_free(e);
}

/* ---- UDP: nf_conntrack_udp_packet()'s classes and timeouts ---- */

static __u64 expires_in(struct env *e, const struct ctaccel_flow_entry *ent)
{
	uint64_t now;

	assert_int_equal(ctaccel_clock_now(e->clock_fd, &now), 0);
	return ctaccel_ct_expires(ent->val.ct) - now;
}

static void udp_expect(struct env *e, const struct endpoint *c, const struct endpoint *s,
		       __u32 state, __u64 orig, __u64 reply, __u32 timeout_s)
{
	struct ctaccel_flow_entry ent;
	__u64 left;

	assert_int_equal(flow_find(e, c, s, &ent, NULL), 1);
	assert_int_equal(ent.key.proto, IPPROTO_UDP);
	assert_int_equal(ctaccel_ct_state(ent.val.ct), state);
	assert_int_equal(!!(ent.val.ct & CTACCEL_CT_SEEN_REPLY), state != CTACCEL_ST_UDP_UNREPLIED);
	assert_int_equal(!!(ent.val.ct & CTACCEL_CT_ASSURED), state == CTACCEL_ST_UDP_ASSURED);
	assert_int_equal(ent.val.leg[CTACCEL_DIR_ORIG].packets, orig);
	assert_int_equal(ent.val.leg[CTACCEL_DIR_REPLY].packets, reply);
	/* refreshed from this packet: within a tick of the class's timeout */
	left = expires_in(e, &ent);
	assert_true(left <= (__u64)timeout_s * e->hz && left + 2 >= (__u64)timeout_s * e->hz);
	gauges_match_table(e);
	conservation_holds(e);
}

static void test_udp_classes(void **state)
{
	struct endpoint c = ep("198.18.0.1", 53000), s = ep("198.18.1.1", 53);
	struct env *e = env_new(0, NULL);
	struct ctaccel_stats st;
	struct frame f;

	(void)state;
	frame_udp(&f, &c, &s, 40);
	run_frame(e->ingress_fd, &f, 0);
	udp_expect(e, &c, &s, CTACCEL_ST_UDP_UNREPLIED, 1, 0, 30);
	run_frame(e->ingress_fd, &f, 0);
	udp_expect(e, &c, &s, CTACCEL_ST_UDP_UNREPLIED, 2, 0, 30);
	frame_udp(&f, &s, &c, 100);
	run_frame(e->ingress_fd, &f, 0);
	udp_expect(e, &c, &s, CTACCEL_ST_UDP_REPLIED, 2, 1, 30);
	/* both ways within two seconds of the start: not yet a stream */
	frame_udp(&f, &c, &s, 40);
	run_frame(e->ingress_fd, &f, 0);
	udp_expect(e, &c, &s, CTACCEL_ST_UDP_REPLIED, 3, 1, 30);
	usleep(2100 * 1000);
	run_frame(e->ingress_fd, &f, 0);
	udp_expect(e, &c, &s, CTACCEL_ST_UDP_ASSURED, 4, 1, 120);
	frame_udp(&f, &s, &c, 100);
	run_frame(e->ingress_fd, &f, 0);
	udp_expect(e, &c, &s, CTACCEL_ST_UDP_ASSURED, 4, 2, 120);
	stats_read(e, &st);
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.transitions, 2);
	assert_int_equal(st.tracked_packets, 6);
	assert_int_equal(st.invalid + st.malformed + st.non_tcp, 0);
	env_free(e);
}

/* What udp_error() refuses never makes a flow; a datagram without a checksum
 * (0) is fine, and a bad checksum only counts where the kernel checks. */
static void test_udp_invalid(void **state)
{
	struct endpoint c = ep("198.18.0.1", 53001), s = ep("198.18.1.1", 53);
	struct endpoint c6 = ep("2001:db8::1", 53001), s6 = ep("2001:db8:1::1", 53);
	struct env *e = env_new(0, NULL);
	struct ctaccel_stats st;
	struct frame f;
	size_t uh;

	(void)state;
	frame_udp(&f, &c, &s, 20);
	uh = frame_udp_off(&f);
	f.data[uh + 5] = 29; /* length one past the datagram */
	frame_fix_csum(f.data, f.len);
	run_frame(e->ingress_fd, &f, 0);
	frame_udp(&f, &c, &s, 20);
	f.data[uh + 4] = 0;
	f.data[uh + 5] = 7; /* shorter than the header */
	frame_fix_csum(f.data, f.len);
	run_frame(e->ingress_fd, &f, 0);
	stats_read(e, &st);
	assert_int_equal(st.invalid, 2);
	assert_int_equal(flow_find(e, &c, &s, NULL, NULL), 0);

	frame_udp(&f, &c, &s, 20);
	f.data[uh + 6] ^= 0x5a; /* bad checksum at ingress: not created */
	run_frame(e->ingress_fd, &f, 0);
	stats_read(e, &st);
	assert_int_equal(st.bad_checksum, 1);
	assert_int_equal(flow_find(e, &c, &s, NULL, NULL), 0);
	run_frame(e->egress_fd, &f, 0); /* egress: not checked, as in nf_conntrack */
	assert_int_equal(flow_find(e, &c, &s, NULL, NULL), 1);

	frame_udp(&f, &c6, &s6, 20);
	uh = frame_udp_off(&f);
	f.data[uh + 6] = f.data[uh + 7] = 0; /* no checksum */
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(flow_find(e, &c6, &s6, NULL, NULL), 1);
	stats_read(e, &st);
	assert_int_equal(st.bad_checksum, 1);
	assert_int_equal(st.flows_created, 2);
	gauges_match_table(e);
	conservation_holds(e);
	env_free(e);
}

/* A TCP and a UDP flow of the same addresses and ports are two flows. */
static void test_udp_beside_tcp(void **state)
{
	struct endpoint c = ep("198.18.0.1", 53002), s = ep("198.18.1.1", 53);
	struct env *e = env_new(0, NULL);
	struct ctaccel_flow_list l;
	struct frame f;
	size_t i, udp = 0;

	(void)state;
	frame_tcp(&f, &c, &s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	frame_udp(&f, &c, &s, 10);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(ctaccel_flows_read(e->flows_fd, &l), 0);
	assert_int_equal(l.n, 2);
	for (i = 0; i < l.n; i++) {
		udp += l.e[i].key.proto == IPPROTO_UDP;
		assert_int_equal(ctaccel_ct_state(l.e[i].val.ct), l.e[i].key.proto == IPPROTO_UDP
									  ? CTACCEL_ST_UDP_UNREPLIED
									  : CTACCEL_ST_SYN_SENT);
	}
	assert_int_equal(udp, 1);
	ctaccel_flow_list_free(&l);
	gauges_match_table(e);
	env_free(e);
}

/* A flow chosen by the policy is marked from its first packet to its last. */
static void test_bypass_marks(void **state)
{
	struct endpoint c = ep("198.18.0.9", 47000), s = ep("198.18.1.9", 80);
	struct endpoint c2 = ep("198.18.0.9", 47001), s2 = ep("198.18.1.9", 81);
	struct ctaccel_policy_key k = {
		.prefixlen = CTACCEL_POLICY_KEY_BITS + 24,
		.family = AF_INET,
		.proto = IPPROTO_TCP,
		.port = htons(80),
	};
	struct ctaccel_policy_val v = {.action = CTACCEL_POLICY_BYPASS};
	struct env *e = env_new(0, NULL);
	struct ctaccel_flow_entry ent;
	struct __sk_buff ctx = {.mark = 0x4000};
	struct frame f;
	struct ctaccel_stats st;
	uint8_t out[PKT_MAX];
	int i;

	(void)state;
	inet_pton(AF_INET, "198.18.1.0", k.addr);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(e->skel->maps.ctaccel_policy_initial), &k,
					     &v, BPF_ANY),
			 0);
	for (i = 0; i < 3; i++) {
		const struct endpoint *src = i == 1 ? &s : &c, *dst = i == 1 ? &c : &s;
		uint8_t flags = i == 0 ? F_SYN : i == 1 ? (F_SYN | F_ACK) : F_ACK;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data, .data_out = out,
			    .data_size_out = sizeof(out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx,
			    .ctx_size_out = sizeof(ctx));

		frame_tcp(&f, src, dst, flags, 0);
		opts.data_size_in = f.len;
		ctx.mark = 0x4000; /* kube-proxy's bit stays */
		assert_int_equal(bpf_prog_test_run_opts(e->ingress_fd, &opts), 0);
		assert_int_equal(ctx.mark, 0x4000 | CTACCEL_MARK_DEFAULT);
		assert_memory_equal(out, f.data, f.len);
	}
	assert_int_equal(flow_find(e, &c, &s, &ent, NULL), 1);
	assert_int_equal(ent.val.bypass, 1);

	/* Port 81 is not in the policy: tracked, not marked. */
	{
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx,
			    .ctx_size_out = sizeof(ctx));

		frame_tcp(&f, &c2, &s2, F_SYN, 0);
		opts.data_size_in = f.len;
		ctx.mark = 0;
		assert_int_equal(bpf_prog_test_run_opts(e->ingress_fd, &opts), 0);
		assert_int_equal(ctx.mark, 0);
	}
	assert_int_equal(flow_find(e, &c2, &s2, &ent, NULL), 1);
	assert_int_equal(ent.val.bypass, 0);
	stats_read(e, &st);
	assert_int_equal(st.bypassed_packets, 3);
	assert_int_equal(st.policy_lookups, 2);
	env_free(e);
}

/* ---- Element reuse ---- */

/*
 * What a packet finds when the element it looked up was removed and reused
 * for another flow, or is being deleted, before it took its reference: made
 * here by rewriting the entry's reference word (a test may write the map; the
 * product never does). The packet must leave the entry alone, counted.
 */
static void test_reused_element_left_alone(void **state)
{
	struct endpoint s = ep("198.18.1.1", 80), c = ep("198.18.0.1", 46000);
	struct ctaccel_flow_entry before, after;
	struct ctaccel_stats st;
	struct frame f;
	struct env *e = env_new(0, NULL);

	(void)state;
	frame_tcp(&f, &c, &s, F_SYN, 0);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(flow_find(e, &c, &s, &before, NULL), 1);
	assert_int_equal(before.val.ref >> CTACCEL_REF_HASH_SHIFT, ctaccel_key_hash(&before.key));
	assert_int_equal(before.val.ref & CTACCEL_REF_COUNT_MASK, 0);

	/* another flow's hash: looked up again, never accounted */
	before.val.ref ^= 1ULL << CTACCEL_REF_HASH_SHIFT;
	assert_int_equal(bpf_map_update_elem(e->flows_fd, &before.key, &before.val, BPF_EXIST), 0);
	frame_tcp(&f, &s, &c, F_SYN | F_ACK, 0);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(flow_find(e, &c, &s, &after, NULL), 1);
	assert_memory_equal(&after.val, &before.val, sizeof(after.val));
	stats_read(e, &st);
	assert_int_equal(st.flow_reused, 4); /* every round of the lookup loop */
	assert_int_equal(st.cas_exhausted, 1);
	assert_int_equal(st.tracked_packets, 1);

	/* DEAD: being deleted, left alone */
	before.val.ref =
		((__u64)ctaccel_key_hash(&before.key) << CTACCEL_REF_HASH_SHIFT) | CTACCEL_REF_DEAD;
	assert_int_equal(bpf_map_update_elem(e->flows_fd, &before.key, &before.val, BPF_EXIST), 0);
	run_frame(e->ingress_fd, &f, 0);
	assert_int_equal(flow_find(e, &c, &s, &after, NULL), 1);
	assert_memory_equal(&after.val, &before.val, sizeof(after.val));
	stats_read(e, &st);
	assert_int_equal(st.flow_busy, 1);
	assert_int_equal(st.tracked_packets, 1);
	env_free(e);
}

/* Two CPUs: one removes every flow (compare-and-delete, forced) while the
 * other sends packets of them, SYNs among them that re-create what was
 * removed; both stop at the end of each round, and the books balance then. */
struct churner {
	struct env *e;
	pthread_barrier_t *bar;
	int rounds;
};

static void *reuse_thread(void *arg)
{
	struct churner *ch = arg;
	struct endpoint s = ep("198.18.1.1", 80);
	cpu_set_t set;
	int r, k, i;

	CPU_ZERO(&set);
	CPU_SET(1 % sysconf(_SC_NPROCESSORS_ONLN), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (r = 0; r < ch->rounds; r++) {
		pthread_barrier_wait(ch->bar);
		for (i = 0; i < 4; i++) {
			for (k = 0; k < 16; k++) {
				struct endpoint c = ep("198.18.0.3", 47000 + k);
				struct frame f;

				frame_tcp(&f, &c, &s, (i + k) % 3 ? F_PSH | F_ACK : F_SYN, 32);
				run_frame(ch->e->ingress_fd, &f, 0);
				frame_tcp(&f, &s, &c, F_ACK, 0);
				run_frame(ch->e->ingress_fd, &f, 0);
			}
		}
		pthread_barrier_wait(ch->bar);
	}
	return NULL;
}

static void test_reuse_under_removal(void **state)
{
	struct env *e = env_new(64, NULL);
	pthread_barrier_t bar;
	struct churner ch = {.e = e, .bar = &bar, .rounds = 300};
	struct ctaccel_del_req *reqs;
	size_t n, deleted = 0, skipped = 0;
	struct ctaccel_stats st;
	pthread_t t;
	int round, i;
	cpu_set_t set;

	(void)state;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	assert_int_equal(pthread_barrier_init(&bar, NULL, 2), 0);
	assert_int_equal(pthread_create(&t, NULL, reuse_thread, &ch), 0);
	for (round = 0; round < ch.rounds; round++) {
		pthread_barrier_wait(&bar);
		for (i = 0; i < 4; i++) {
			read_words(e, &reqs, &n);
			/* adds to deleted and skipped */
			if (n)
				assert_int_equal(ctaccel_delete_flows(e->delete_fd, reqs, n,
								      CTACCEL_DEL_FORCE, &deleted,
								      &skipped),
						 0);
			free(reqs);
		}
		pthread_barrier_wait(&bar);
		gauges_match_table(e);
		conservation_holds(e);
	}
	pthread_join(t, NULL);
	pthread_barrier_destroy(&bar);
	stats_read(e, &st);
	assert_int_equal(st.flows_deleted, deleted);
	assert_true(deleted > 0);
	assert_int_equal(st.quiesce_timeouts, 0);
	fprintf(stderr, "# %zu removed, %llu created, %llu lookups met a reused element\n", deleted,
		(unsigned long long)st.flows_created, (unsigned long long)st.flow_reused);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequences_ipv4),
		cmocka_unit_test(test_sequences_ipv6),
		cmocka_unit_test(test_sequences_originator_is_hi),
		cmocka_unit_test(test_sequences_headers_copied),
		cmocka_unit_test(test_assured_and_flags),
		cmocka_unit_test(test_established_word_stays),
		cmocka_unit_test(test_migration_in_place_wait_move),
		cmocka_unit_test(test_migration_carries_counters),
		cmocka_unit_test(test_migration_refused_unless_migrating),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_ipv4_options_tracked),
		cmocka_unit_test(test_checksums_where_checked),
		cmocka_unit_test(test_egress_skips_forwarded),
		cmocka_unit_test(test_concurrent_one_direction),
		cmocka_unit_test(test_concurrent_both_directions),
		cmocka_unit_test(test_concurrent_state_moves),
		cmocka_unit_test(test_reopen_in_place_races),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_unreplied_ring),
		cmocka_unit_test(test_unreplied_ring_reopen),
		cmocka_unit_test(test_unreplied_answered),
		cmocka_unit_test(test_reused_element_left_alone),
		cmocka_unit_test(test_reuse_under_removal),
		cmocka_unit_test(test_delete_compares),
		cmocka_unit_test(test_delete_races_refresh),
		cmocka_unit_test(test_expiry_races_refresh),
		cmocka_unit_test(test_expiry_walks_after_timeout_change),
		cmocka_unit_test(test_expired_is_new_flow),
		cmocka_unit_test(test_bypass_marks),
		cmocka_unit_test(test_udp_classes),
		cmocka_unit_test(test_udp_invalid),
		cmocka_unit_test(test_udp_beside_tcp),
	};

	libbpf_set_print(NULL);
	/* e.g. CTACCEL_TEST_FILTER='test_concurrent_*' to repeat the races alone */
	if (getenv("CTACCEL_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CTACCEL_TEST_FILTER"));
	return cmocka_run_group_tests_name("tracker", tests, NULL, NULL);
}
