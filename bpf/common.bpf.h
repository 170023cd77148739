/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * What every module of ctaccel's BPF objects shares: the kernel's types and
 * libbpf's helpers, the kernel/user contract (include/ctaccel.h), the kernel
 * constants vmlinux.h cannot carry (it has types, not macros), the counter
 * macros, and the return codes modules hand each other. Nothing here defines
 * a map or a program.
 */
#ifndef CTACCEL_COMMON_BPF_H
#define CTACCEL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "ctaccel.h"

/*
 * The tracker object is built twice (Makefile): as tracker with
 * bpf_cast_to_kern_ctx (Linux 6.3), and as tracker_compat without it
 * (CTACCEL_KERN_CTX 0) for older kernels; the loader takes the one the
 * running kernel can load (user/lib/kernel.c). Only the checksum status
 * (discard.bpf.h) and the fast path's route memo (fastpath.bpf.h) differ.
 */
#ifndef CTACCEL_KERN_CTX
#define CTACCEL_KERN_CTX 1
#endif

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88A8
#define AF_INET		2
#define AF_INET6	10
#define TC_ACT_UNSPEC	(-1)
#define TC_ACT_REDIRECT 7
#define EEXIST		17
#define ENOENT		2
#define E2BIG		7
#define EBUSY		16
#define EINVAL		22
#define CLOCK_MONOTONIC 1
#define IPPROTO_ICMPV6	58

#define IP_DF	  0x4000
#define IP_MF	  0x2000
#define IP_OFFSET 0x1FFF

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20
#define TCPF_ECE 0x40
#define TCPF_CWR 0x80

/* skb->pkt_type */
#define PACKET_HOST	 0
#define PACKET_OTHERHOST 3

#define SOL_SOCKET 1
#define SO_MARK	   36

/*
 * Counters only the tc programs write are plain per-CPU increments: tc runs in
 * softirq or with BH disabled, so nothing else on this CPU interleaves. Slots
 * that process-context programs (the delete and expiry programs, sock_ops,
 * the cgroup hooks: interruptible by the tc programs) also write are changed
 * with atomics on both sides.
 */
#define CTR_INC(st, name)	((st)->name++)
#define CTR_ADD(st, name, v)	((st)->name += (v))
#define CTR_ATOMIC(st, name, v) __sync_fetch_and_add(&(st)->name, (v))

/* A per-state gauge moves wherever a flow enters or leaves a state, from any
 * context: atomically. */
static __always_inline void gauge_add(struct ctaccel_stats *st, __u32 state, __s64 v)
{
	if (state < CTACCEL_ST__MAX)
		__sync_fetch_and_add(&st->flows_in_state[state], v);
}

/*
 * What a step of a packet on its flow's entry left to do, besides 0 (done,
 * its reference dropped): the packet removed the entry (and left it), and
 * either starts a new flow with the next lookup (FLOW_AGAIN) or is done
 * (FLOW_GONE); its checksum must be verified before it may change the flow
 * (FLOW_CSUM); it claimed a closed flow to reopen it (flow_reopen), still
 * holds its reference, and passes the old state in bits 8-15 (FLOW_REOPEN);
 * its entry is on its way to a migration's new table (FLOW_MOVING).
 */
#define FLOW_AGAIN  1
#define FLOW_GONE   2
#define FLOW_CSUM   3
#define FLOW_REOPEN 4
/* Migrating only: the entry, in the table being left, is claimed (moved to
 * the new table, or removed); the packet dropped its reference and looks up
 * again once the claim is over (migrate_wait). */
#define FLOW_MOVING 5

/* flow_ref() results. */
#define REF_TAKEN 0
#define REF_OTHER 1 /* the element now holds another flow: look up again */
#define REF_DEAD  2 /* the entry is being deleted */
#define REF_BUSY  3 /* the swap kept losing */

#endif /* CTACCEL_COMMON_BPF_H */
