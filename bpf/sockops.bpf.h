/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The sock_ops program: the bypass mark for local sockets, decided by the same
 * policy trie as the tc programs. Part of the tc tracker's object (it shares
 * the policy and configuration): included once, by bpf/tracker.bpf.c.
 */
#ifndef CTACCEL_SOCKOPS_BPF_H
#define CTACCEL_SOCKOPS_BPF_H

#define SOL_SOCKET 1
#define SO_MARK	   36

/* The socket's endpoints, read field by field (the verifier wants constant ctx offsets). */
struct sock_ends {
	__u32 family;
	__u32 laddr[4];
	__u32 raddr[4];
	__u16 lport; /* network byte order */
	__u16 rport; /* network byte order */
};

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
 * Local flows: the output hook runs before tc egress, so packets of local
 * sockets get the bypass mark from their socket. Connecting sockets and
 * accepted ones are decided by both endpoints; listeners by their own
 * address and port, which covers their SYN-ACKs.
 */
SEC("sockops")
int ctaccel_sockops(struct bpf_sock_ops *ops)
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
	mark = (mark & ~ctaccel_cfg.mark_mask) | ctaccel_cfg.mark;
	if (bpf_setsockopt(ops, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
		return 1;
	st = bpf_map_lookup_elem(&ctaccel_stats, &zero);
	if (st)
		CTR_ATOMIC(st, sockets_marked, 1);
	return 1;
}

#endif /* CTACCEL_SOCKOPS_BPF_H */
