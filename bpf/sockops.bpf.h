/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The bypass mark for local TCP sockets (the sock_ops program's body),
 * decided by the same policy trie as the tc programs: the output hook runs
 * before tc egress, so packets of local sockets get the bypass mark from
 * their socket.
 */
#ifndef CTACCEL_SOCKOPS_BPF_H
#define CTACCEL_SOCKOPS_BPF_H

#include "common.bpf.h"
#include "maps.bpf.h"
#include "policy.bpf.h"

/*
 * A load from the sock_ops context at a constant offset. Plain field reads let
 * clang fold them into pointer arithmetic on the context, which the verifier
 * refuses ("dereference of modified ctx ptr").
 */
#define SOCKOPS_U32(ops, field)                                                                    \
	({                                                                                         \
		__u32 __v;                                                                         \
		asm volatile(                                                                      \
			"%[v] = *(u32 *)(%[c] + %[o])"                                             \
			: [v] "=r"(__v)                                                            \
			: [c] "r"(ops), [o] "i"(__builtin_offsetof(struct bpf_sock_ops, field)));  \
		__v;                                                                               \
	})

static __always_inline void sock_ends_read(struct bpf_sock_ops *ops, struct sock_ends *e)
{
	e->family = SOCKOPS_U32(ops, family);
	e->lport = bpf_htons((__u16)SOCKOPS_U32(ops, local_port));
	e->rport = (__u16)bpf_ntohl(SOCKOPS_U32(ops, remote_port));
	if (e->family == AF_INET) {
		e->laddr[0] = SOCKOPS_U32(ops, local_ip4);
		e->raddr[0] = SOCKOPS_U32(ops, remote_ip4);
		return;
	}
	e->laddr[0] = SOCKOPS_U32(ops, local_ip6[0]);
	e->laddr[1] = SOCKOPS_U32(ops, local_ip6[1]);
	e->laddr[2] = SOCKOPS_U32(ops, local_ip6[2]);
	e->laddr[3] = SOCKOPS_U32(ops, local_ip6[3]);
	e->raddr[0] = SOCKOPS_U32(ops, remote_ip6[0]);
	e->raddr[1] = SOCKOPS_U32(ops, remote_ip6[1]);
	e->raddr[2] = SOCKOPS_U32(ops, remote_ip6[2]);
	e->raddr[3] = SOCKOPS_U32(ops, remote_ip6[3]);
}

static __always_inline bool sockops_match(const struct sock_ends *e, bool local_only)
{
	__u32 zero = 0;
	void *trie = bpf_map_lookup_elem(&ctaccel_policy, &zero);

	if (!trie || (e->family != AF_INET && e->family != AF_INET6))
		return false;
	if (policy_endpoint(trie, e->family, IPPROTO_TCP, e->laddr, e->lport))
		return true;
	return !local_only && policy_endpoint(trie, e->family, IPPROTO_TCP, e->raddr, e->rport);
}

/*
 * Mark a local socket whose flows the policy bypasses. Connecting sockets and
 * accepted ones are decided by both endpoints; listeners by their own
 * address and port, which covers their SYN-ACKs. Always 1 (sock_ops' "go
 * on").
 */
static __always_inline int sockops_mark(struct bpf_sock_ops *ops)
{
	struct sock_ends e = {};
	struct ctaccel_stats *st;
	__u32 zero = 0, op = ops->op;
	int mark = 0;

	switch (op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		break;
	default:
		return 1;
	}
	if (bpf_get_netns_cookie(ops) != ctaccel_cfg.netns_cookie)
		return 1;
	sock_ends_read(ops, &e);
	if (!sockops_match(&e, op == BPF_SOCK_OPS_TCP_LISTEN_CB))
		return 1;
	if (bpf_getsockopt(ops, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
		mark = 0;
	mark = ctaccel_mark_set(mark, live_mark());
	if (bpf_setsockopt(ops, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
		return 1;
	st = bpf_map_lookup_elem(&ctaccel_stats, &zero);
	if (st)
		CTR_ATOMIC(st, sockets_marked, 1);
	return 1;
}

#endif /* CTACCEL_SOCKOPS_BPF_H */
