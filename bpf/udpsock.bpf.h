/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The bypass mark for local UDP sockets, decided by the policy trie: the
 * output hook runs before tc egress, so a local flow's datagrams skip
 * nf_conntrack only when their socket carries the mark. UDP has no handshake
 * for sock_ops to see; the socket's address hooks stand in for it:
 *   bind:    a socket bound to an address and port a rule covers (a server);
 *   connect: a socket connected to a peer, or from an address, a rule covers.
 * A socket that sends unconnected datagrams (sendto) from an address no rule
 * covers keeps no mark: the mark is read before the sendmsg hook runs, so it
 * could only follow the previous datagram's peer. Its flows are not bypassed
 * (tc egress follows the mark, see flow_create()), so nf_conntrack tracks
 * them whole, as before. The cgroup programs of tracker.bpf.c call
 * udp_sock_hook().
 */
#ifndef CTACCEL_UDPSOCK_BPF_H
#define CTACCEL_UDPSOCK_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "policy.bpf.h"

#define SOCK_DGRAM_TYPE 2

/* Mark the socket; process context, hence the atomic counter. */
static __always_inline void udp_sock_mark(struct bpf_sock_addr *ctx)
{
	struct ctaccel_stats *st;
	__u32 zero = 0;
	int mark = 0;

	if (bpf_getsockopt(ctx, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
		mark = 0;
	mark = ctaccel_mark_set(mark, live_mark());
	if (bpf_setsockopt(ctx, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
		return;
	st = bpf_map_lookup_elem(&ctaccel_stats, &zero);
	if (st)
		CTR_ATOMIC(st, sockets_marked, 1);
}

/*
 * The socket's own address and port (bound, or 0) and the address in the
 * call (the one bound to, or the peer), into a sock_ends; false when this is
 * not a UDP socket of ctaccel's network namespace.
 */
static __always_inline bool udp_sock_ends(struct bpf_sock_addr *ctx, struct sock_ends *e, bool v6)
{
	struct bpf_sock *sk = ctx->sk;

	if (ctx->type != SOCK_DGRAM_TYPE || ctx->protocol != IPPROTO_UDP || !sk ||
	    bpf_get_netns_cookie(ctx) != ctaccel_cfg.netns_cookie)
		return false;
	e->family = v6 ? AF_INET6 : AF_INET;
	if (v6) {
		e->raddr[0] = ctx->user_ip6[0];
		e->raddr[1] = ctx->user_ip6[1];
		e->raddr[2] = ctx->user_ip6[2];
		e->raddr[3] = ctx->user_ip6[3];
		e->laddr[0] = sk->src_ip6[0];
		e->laddr[1] = sk->src_ip6[1];
		e->laddr[2] = sk->src_ip6[2];
		e->laddr[3] = sk->src_ip6[3];
	} else {
		e->raddr[0] = ctx->user_ip4;
		e->laddr[0] = sk->src_ip4;
	}
	e->rport = (__u16)ctx->user_port;
	e->lport = bpf_htons((__u16)sk->src_port);
	return true;
}

/*
 * At bind, the call's address and port are the socket's own; at connect, the
 * peer's, and the socket's own (if bound) counts too.
 */
static __always_inline int udp_sock_hook(struct bpf_sock_addr *ctx, bool v6, bool bind)
{
	struct sock_ends e = {};
	__u32 zero = 0;
	void *trie;

	if (!udp_sock_ends(ctx, &e, v6))
		return 1;
	trie = bpf_map_lookup_elem(&ctaccel_policy, &zero);
	if (!trie)
		return 1;
	if (policy_endpoint(trie, e.family, IPPROTO_UDP, e.raddr, e.rport) ||
	    (!bind && e.lport && policy_endpoint(trie, e.family, IPPROTO_UDP, e.laddr, e.lport)))
		udp_sock_mark(ctx);
	return 1;
}

#endif /* CTACCEL_UDPSOCK_BPF_H */
