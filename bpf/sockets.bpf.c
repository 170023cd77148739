// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Host TCP sockets: an iter/tcp program that aggregates the sockets of the
 * namespace it is run in (per-state counts, TIME_WAIT per local port and per
 * remote endpoint), and a tp_btf program that counts state transitions. The
 * two iterators (iter/tcp, iter/udp) also walk for a change of the bypass
 * mark (mark_walk below).
 *
 * Each `ctaccel sockets`/`ctaccel tw` loads its own copy of this object, so the
 * aggregates in .bss and tw_remote belong to one run of the iterator and no
 * other reader can mix into them. The daemon keeps one copy and resets the
 * counts it reads before every run. One file: its globals and maps are at its
 * top, as the tracker object's are in maps.bpf.h.
 */
#include "common.bpf.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define RCV_SHUTDOWN 1

/* Sockets of this network namespace are counted by the tracepoint. */
const volatile __u64 netns_cookie;

/*
 * Per-run aggregates of the iterator, read by userspace through the skeleton.
 * One run of the iterator at a time writes them (see the top of this file), so
 * plain increments are exact: "single writer" below is that run.
 */
__u64 state_count[CTACCEL_TCP_STATE_SLOTS]; /* single writer: the iterator run */
__u64 time_wait_total;			    /* single writer: the iterator run */
/* timewait sockets still in FIN_WAIT2 (orphaned closes) */
__u64 fin_wait2_tw;	    /* single writer: the iterator run */
__u32 tw_local_port[65536]; /* single writer: the iterator run */
/* endpoints that did not fit tw_remote */
__u64 tw_remote_overflow; /* single writer: the iterator run */
/* Set by a reader that keeps this object loaded and wants only state_count
 * (the daemon, per scrape): the per-port and per-remote detail is skipped. */
__u32 states_only;

/*
 * A walk for a change of the bypass mark (user/lib/live.c), instead of the
 * aggregates: the sockets that hold mark_old (a struct ctaccel_live mark
 * word), counted by kind; with mark_rewrite, a full TCP socket that holds it
 * takes mark_new instead, as sock_ops would give it now (a listener's
 * SYN-ACKs and children then carry the new one too). Set by userspace before
 * the run, under the reader's lock.
 */
__u32 mark_walk, mark_rewrite;
__u64 mark_old, mark_new;
__u64 mark_held[CTACCEL_MH__MAX]; /* single writer: the iterator run */
__u64 mark_rewritten;		  /* single writer: the iterator run */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ctaccel_tw_remote);
	__type(value, __u32);
} tw_remote SEC(".maps"); /* single writer: the iterator run */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctaccel_sk_transitions);
} ctaccel_sk_transitions SEC(".maps");

static __always_inline void tw_remote_add(const struct sock_common *skc)
{
	struct ctaccel_tw_remote k = {
		.family = skc->skc_family,
		.port = bpf_ntohs(skc->skc_dport),
	};
	__u32 one = 1, *v;

	if (k.family == AF_INET)
		k.addr[0] = skc->skc_daddr;
	else
		__builtin_memcpy(k.addr, &skc->skc_v6_daddr, sizeof(k.addr));
	v = bpf_map_lookup_elem(&tw_remote, &k);
	if (v)
		(*v)++;
	else if (bpf_map_update_elem(&tw_remote, &k, &one, BPF_NOEXIST))
		tw_remote_overflow++;
}

/* One TCP socket of a mark walk. The iterator holds a full socket's lock
 * while the program runs, which bpf_setsockopt() needs. */
static __always_inline void tcp_mark_walk(struct sock_common *skc, __u32 state)
{
	struct tcp_sock *tp;
	int mark;

	if (state == TCP_TIME_WAIT) {
		struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(skc);

		if (tw && ctaccel_mark_carried(tw->tw_sk.tw_mark, mark_old))
			mark_held[CTACCEL_MH_TIME_WAIT]++;
		return;
	}
	if (state == TCP_NEW_SYN_RECV) {
		struct tcp_request_sock *rq = bpf_skc_to_tcp_request_sock(skc);

		if (rq && ctaccel_mark_carried(rq->req.ir_mark, mark_old))
			mark_held[CTACCEL_MH_REQUEST]++;
		return;
	}
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return;
	mark = tp->inet_conn.icsk_inet.sk.sk_mark;
	if (!ctaccel_mark_carried(mark, mark_old))
		return;
	if (mark_rewrite) {
		/* the old mark's bits out, the new one's in */
		mark = ctaccel_mark_set(mark & ~ctaccel_mark_mask(mark_old), mark_new);
		if (!bpf_setsockopt(tp, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) {
			mark_rewritten++;
			if (!ctaccel_mark_carried(mark, mark_old))
				return;
		}
	}
	mark_held[CTACCEL_MH_TCP]++;
}

/* The iterator runs sequentially in one task: plain increments are exact. */
SEC("iter/tcp")
int ctaccel_tcp_iter(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	__u32 state;

	if (!skc)
		return 0;
	state = skc->skc_state;
	if (mark_walk) {
		tcp_mark_walk(skc, state);
		return 0;
	}
	if (state == TCP_TIME_WAIT) {
		struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(skc);

		/* Like ss and /proc/net/tcp, a timewait socket shows its substate. */
		if (tw && tw->tw_sk.tw_substate == TCP_FIN_WAIT2) {
			fin_wait2_tw++;
			state = TCP_FIN_WAIT2;
		} else if (states_only) {
			time_wait_total++;
		} else {
			time_wait_total++;
			tw_local_port[skc->skc_num & 0xffff]++;
			tw_remote_add(skc);
		}
	}
	if (state < CTACCEL_TCP_STATE_SLOTS)
		state_count[state]++;
	return 0;
}

/* UDP sockets, for a mark walk only (nothing else reads them). */
SEC("iter/udp")
int ctaccel_udp_iter(struct bpf_iter__udp *ctx)
{
	struct udp_sock *up = ctx->udp_sk;

	if (up && mark_walk && ctaccel_mark_carried(up->inet.sk.sk_mark, mark_old))
		mark_held[CTACCEL_MH_UDP]++;
	return 0;
}

/*
 * Every move of a host TCP socket. The tracepoint fires in process and softirq
 * context on the same CPU, so even the per-CPU slot is changed atomically.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ctaccel_sock_state, const struct sock *sk, int oldstate, int newstate)
{
	struct ctaccel_sk_transitions *t;
	__u32 zero = 0, old = oldstate, new = newstate, cell;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (sk->__sk_common.skc_net.net->net_cookie != netns_cookie)
		return 0;
	t = bpf_map_lookup_elem(&ctaccel_sk_transitions, &zero);
	if (!t || old >= CTACCEL_TCP_STATE_SLOTS || new >= CTACCEL_TCP_STATE_SLOTS)
		return 0;
	/* One bound on the flat index, right at the access, for the verifier. */
	cell = old * CTACCEL_TCP_STATE_SLOTS + new;
	barrier_var(cell);
	if (cell >= CTACCEL_TCP_STATE_SLOTS * CTACCEL_TCP_STATE_SLOTS)
		return 0;
	__sync_fetch_and_add(&((__u64 *)t->moves)[cell], 1);
	/* The kernel hands TIME_WAIT to a separate mini-socket: the full socket
	 * goes FIN_WAIT2/CLOSING -> CLOSE once the peer's FIN has arrived. */
	if (new == TCP_CLOSE && (old == TCP_FIN_WAIT2 || old == TCP_CLOSING) &&
	    (sk->sk_shutdown & RCV_SHUTDOWN))
		__sync_fetch_and_add(&t->time_wait_entered, 1);
	return 0;
}
