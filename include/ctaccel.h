/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The contract between ctaccel's BPF programs and its userspace: map keys and
 * values, the packed connection-tracking word, counters, states and timeouts.
 * Every fact here has one definition; both sides include this file.
 *
 * Byte order: addresses and ports in struct ctaccel_flow_key are in network
 * byte order, exactly as on the wire. Everything else is host byte order.
 */
#ifndef CTACCEL_H
#define CTACCEL_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CTACCEL_VERSION "0.1.0"

/*
 * Layout version of the pinned maps. Bump it whenever a key, value or map
 * definition below changes size or meaning, so that a newer binary refuses
 * (or migrates) pinned state it cannot read. The loader stores it in the
 * pinned configuration (struct ctaccel_config.abi) and every open compares it:
 * sizes alone cannot tell a change of meaning.
 */
#define CTACCEL_ABI_VERSION 8

/*
 * TCP states with nf_conntrack's names, numbering and default timeouts
 * (net/netfilter/nf_conntrack_proto_tcp.c), then the three classes of a UDP
 * flow (nf_conntrack_proto_udp.c has no states, only its status bits): no
 * reply yet; replied, timed out with nf_conntrack_udp_timeout like an
 * unreplied one; and a stream, ASSURED, on nf_conntrack_udp_timeout_stream.
 * NONE is never stored in a live entry: a tracking word whose state is NONE
 * marks an entry being removed.
 */
#define CTACCEL_STATES(X)                                                                          \
	X(NONE, 0)                                                                                 \
	X(SYN_SENT, 120)                                                                           \
	X(SYN_RECV, 60)                                                                            \
	X(ESTABLISHED, 432000)                                                                     \
	X(FIN_WAIT, 120)                                                                           \
	X(CLOSE_WAIT, 60)                                                                          \
	X(LAST_ACK, 30)                                                                            \
	X(TIME_WAIT, 120)                                                                          \
	X(CLOSE, 10)                                                                               \
	X(SYN_SENT2, 120)                                                                          \
	X(UDP_UNREPLIED, 30)                                                                       \
	X(UDP_REPLIED, 30)                                                                         \
	X(UDP_ASSURED, 120)

/* clang-format off */
enum ctaccel_state {
#define X(name, timeout) CTACCEL_ST_##name,
	CTACCEL_STATES(X)
#undef X
	CTACCEL_ST__MAX,
};
/* clang-format on */

/* The TCP states are the first ones: nf_conntrack's transition table. */
#define CTACCEL_ST_TCP__MAX (CTACCEL_ST_SYN_SENT2 + 1)

static inline int ctaccel_state_is_udp(__u32 state)
{
	return state >= CTACCEL_ST_UDP_UNREPLIED && state < CTACCEL_ST__MAX;
}

/* nf_conntrack's "unacknowledged" timeout: caps ESTABLISHED before any reply. */
#define CTACCEL_TIMEOUT_UNACK_DEFAULT 300

/* Direction of a packet relative to the flow's originator. */
enum ctaccel_dir {
	CTACCEL_DIR_ORIG = 0,
	CTACCEL_DIR_REPLY = 1,
	CTACCEL_DIR__MAX,
};

/*
 * Flow key, normalised so that both directions of a flow find one entry:
 * the (address, port) pair that compares lower (as big-endian numbers,
 * address first) is the "lo" side. IPv4 addresses use word [0]; the other
 * words are zero.
 */
struct ctaccel_flow_key {
	__u32 addr_lo[4];
	__u32 addr_hi[4];
	__u16 port_lo;
	__u16 port_hi;
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 __pad[2];
};

struct ctaccel_flow_leg {
	__u64 packets;
	__u64 bytes; /* IP packet length, as nf_conntrack accounts it */
};

/*
 * Flow value. `ct` packs state, flags and expiry in one 64-bit word that is
 * only ever changed with compare-and-swap: whoever wins the swap owns the state
 * move (and the per-state gauges), and an entry is removed only by the one who
 * swapped its word to NONE. Legs and flags are changed with atomic adds/ors.
 */
struct ctaccel_flow {
	__u64 ct;
	__u64 first_seen; /* jiffies */
	/*
	 * References (CTACCEL_REF_*): the packets between reading `ct` and
	 * finishing their accounting, a DEAD mark, and a hash of the key.
	 * Whoever swaps `ct` to NONE waits for the count to drain and sets
	 * DEAD in one swap before it reads the legs for the last time and
	 * deletes the entry, so no packet counted into a flow is lost with it.
	 * A packet takes a reference only by a swap that finds its own key's
	 * hash and no DEAD: the element it looked up may have been removed and
	 * reused for another flow since.
	 */
	__u64 ref;
	struct ctaccel_flow_leg leg[CTACCEL_DIR__MAX];
	__u32 tcp_flags; /* OR of TCP flag bytes: bits 0-7 originator, 8-15 reply (UDP: 0) */
	__u32 last_seen; /* low 32 bits of the jiffies of the last accounted packet */
	__u8 orig_is_hi; /* 1 if the originator is the key's hi side */
	__u8 bypass;	 /* the policy made this flow skip nf_conntrack (decided at creation) */
	__u8 syn_in;	 /* created by a SYN (UDP: any packet) at an attached ingress */
	__u8 __pad;
	/*
	 * The policy's fast-path verdict for this flow, cached: (policy
	 * generation << 1) | allowed. Recomputed when ctaccel_policy_gen moves
	 * on, so a policy change reaches existing flows at their next packet.
	 * Any CPU may store it; each stores a verdict of the moment it read.
	 */
	__u32 fastpath;
	/*
	 * Handshake stamps (bpf_ktime_get_ns), for the latency histograms:
	 * the SYN that opened the flow (or its last retransmission: the SYNs
	 * of a flow come one at a time) and the SYN-ACK, stored by the CPU
	 * that won that state move. 0: not seen here.
	 */
	__u64 syn_ns;
	__u64 synack_ns;
	/* ICMP errors about this flow seen at an attached ingress (nf_conntrack
	 * relates them to the flow and accounts them nowhere). */
	__u32 icmp_errors;
	/* The claim of the unreplied ring's slot this flow took when it began
	 * (struct ctaccel_unreplied_slot); 0: none. */
	__u32 unreplied_claim;
};

/* Layout of ctaccel_flow.ref. */
#define CTACCEL_REF_COUNT_MASK 0x7fffffffULL
#define CTACCEL_REF_DEAD       (1ULL << 31)
#define CTACCEL_REF_HASH_SHIFT 32

/* The key hash kept in ctaccel_flow.ref: any well-mixed 32 bits will do. */
static inline __u32 ctaccel_key_hash(const struct ctaccel_flow_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = 0x9e3779b9, i;

	for (i = 0; i < sizeof(*k) / sizeof(__u32); i++) {
		h ^= w[i];
		h *= 0x85ebca6b;
		h ^= h >> 13;
	}
	return h;
}

/* Layout of ctaccel_flow.ct. */
#define CTACCEL_CT_STATE_MASK 0xfULL
#define CTACCEL_CT_SEEN_REPLY (1ULL << 4) /* a valid reply-direction packet was seen */
#define CTACCEL_CT_ASSURED    (1ULL << 5) /* nf_conntrack's ASSURED */
#define CTACCEL_CT_CLOSE_INIT (1ULL << 6) /* a side moved the flow into FIN_WAIT */
#define CTACCEL_CT_SIMOPEN    (1ULL << 7) /* simultaneous open (SYN_SENT2 seen) */
#define CTACCEL_CT_CHALLENGE  (1ULL << 8) /* SYN ignored in LAST_ACK: expect challenge ACK */
#define CTACCEL_CT_LAST_SHIFT 9		  /* kind of the last in-window/ignored packet */
#define CTACCEL_CT_LAST_MASK  (3ULL << CTACCEL_CT_LAST_SHIFT)
#define CTACCEL_CT_LAST_OTHER 0ULL
#define CTACCEL_CT_LAST_SYN   1ULL
#define CTACCEL_CT_LAST_RST   2ULL
#define CTACCEL_CT_LAST_REPLY (1ULL << 11) /* ... a SYN or RST, and it came from the reply side */
#define CTACCEL_CT_EXP_SHIFT  12	   /* expiry, in jiffies, in bits 12-63 */

/*
 * The datapath's clock is jiffies (bpf_jiffies64): a plain load, where the
 * ktime helpers cost more than the rest of the per-packet work. Userspace
 * reads it through the ctaccel_clock program and converts with
 * ctaccel_config.hz.
 */
static inline __u32 ctaccel_ct_state(__u64 ct)
{
	return (__u32)(ct & CTACCEL_CT_STATE_MASK);
}

static inline __u64 ctaccel_ct_expires(__u64 ct)
{
	return ct >> CTACCEL_CT_EXP_SHIFT;
}

static inline __u64 ctaccel_ct_with_expiry(__u64 ct, __u64 expires)
{
	return (ct & ((1ULL << CTACCEL_CT_EXP_SHIFT) - 1)) | (expires << CTACCEL_CT_EXP_SHIFT);
}

/* An entry has expired once the clock reaches its expiry. */
static inline int ctaccel_ct_expired(__u64 ct, __u64 now)
{
	return ctaccel_ct_expires(ct) <= now;
}

/*
 * Global counters: name and meaning. The order is the layout of struct
 * ctaccel_stats and the index of enum ctaccel_counter; the names are the JSON
 * and metric names.
 */
#define CTACCEL_COUNTERS(X)                                                                        \
	X(packets, "packets seen by the tc programs")                                              \
	X(bytes, "bytes (skb length) seen by the tc programs")                                     \
	X(tracked_packets, "TCP and UDP packets accounted to a flow")                              \
	X(tracked_bytes, "IP bytes accounted to a flow")                                           \
	X(non_ip, "packets that are neither IPv4 nor IPv6")                                        \
	X(non_tcp, "IP packets that are neither TCP nor UDP")                                      \
	X(fragments, "non-first IPv4 fragments (no TCP or UDP header)")                            \
	X(unparsed, "packets ctaccel cannot parse yet (VLAN tags, IPv6 extension headers)")        \
	X(malformed, "truncated or inconsistent IP, TCP or UDP headers")                           \
	X(invalid, "TCP and UDP packets nf_conntrack would mark invalid")                          \
	X(ignored, "TCP packets nf_conntrack would let through without a state change")            \
	X(syn_retransmits, "unanswered SYN retransmits (not accounted, timeout not renewed)")      \
	X(skipped_egress, "egress packets already tracked at an attached ingress")                 \
	X(flows_created, "flows started (entries inserted, and closed entries reopened by a SYN)") \
	X(flows_closed, "TCP flows that reached TIME_WAIT or CLOSE")                               \
	X(flows_expired, "expired entries removed by a packet of a new flow")                      \
	X(flows_reopened, "TIME_WAIT/CLOSE flows a new SYN replaced, in the same entry")           \
	X(flows_killed, "entries removed by a RST before any reply")                               \
	X(flows_deleted, "entries removed by compare-and-delete (GC, flush)")                      \
	X(deleted_packets, "packets of ended flows (entries removed or reopened)")                 \
	X(deleted_bytes, "bytes of ended flows (entries removed or reopened)")                     \
	X(transitions, "state moves")                                                              \
	X(table_full, "new flows not tracked because the table was full")                          \
	X(insert_failed, "new flows not tracked because the insert failed otherwise")              \
	X(insert_races, "inserts that lost to another CPU's insert of the same flow")              \
	X(flow_busy, "packets not tracked because their entry was being removed")                  \
	X(flow_reused,                                                                             \
	  "lookups whose entry was removed and reused for another flow (looked up again)")         \
	X(cas_exhausted, "packets not tracked because the state swap kept losing")                 \
	X(quiesce_timeouts, "removals that stopped waiting for packets in flight")                 \
	X(bypassed_packets, "packets marked to skip nf_conntrack (bypassed flows)")                \
	X(policy_lookups, "policy decisions taken for new flows")                                  \
	X(sockets_marked, "local sockets given the bypass mark")                                   \
	X(not_for_host,                                                                            \
	  "frames addressed to another host's MAC (the kernel drops them before IP)")              \
	X(bad_checksum,                                                                            \
	  "packets with a bad IP, TCP or UDP checksum that would have changed a flow")             \
	X(ttl_expired, "forwarded packets whose TTL or hop limit expires here")                    \
	X(csum_unverified, "segments and datagrams too long or fragmented to checksum here")       \
	X(fastpath_packets, "packets forwarded by the fast path (tc redirect)")                    \
	X(fastpath_bytes, "IP bytes forwarded by the fast path")                                   \
	X(slow_control, "fast-path flows' SYN, FIN and RST segments, left to the kernel")          \
	X(slow_options, "fast-path flows' packets with IPv4 options, left to the kernel")          \
	X(slow_no_route,                                                                           \
	  "fast-path flows' packets with no route (unreachable, blackhole, prohibit)")             \
	X(slow_not_forwarded,                                                                      \
	  "fast-path flows' packets the kernel would not forward (local, not unicast)")            \
	X(slow_fwd_disabled, "fast-path flows' packets on a device with forwarding turned off")    \
	X(slow_no_neigh,                                                                           \
	  "no longer counted: the fast path leaves neighbours to the kernel (bpf_redirect_neigh)") \
	X(slow_mtu,                                                                                \
	  "fast-path flows' packets over the egress MTU (the kernel sends the ICMP error)")        \
	X(slow_egress, "fast-path flows' packets routed to a device without ctaccel")              \
	X(slow_other, "fast-path flows' packets refused otherwise (route lookup, rewrite)")        \
	X(unreplied_evicted, "flows without a reply removed, oldest first, to make room")          \
	X(events_lost, "flow events a monitor missed (its ring buffer was full)")                  \
	X(latency_overflow, "handshakes kept only in the totals: the endpoint table was full")     \
	X(icmp_related, "ICMP errors about a tracked flow (counted on it, not tracked as flows)")  \
	X(migrations, "migrations of the flow table that completed (max-flows, unreplied-max)")    \
	X(migrations_started, "migrations begun (both program sets loaded, nothing moved yet)")    \
	X(migrate_ns, "time completed migrations took, from their start to their last pass, ns")   \
	X(flows_migrated, "entries a migration moved into the new table, state and counts intact") \
	X(migrate_conflicts,                                                                       \
	  "entries of the old table a migration ended (removed, in deleted_*): the new table "     \
	  "already held their tuple, or had no room")                                              \
	X(migrate_waits, "packets that waited for their entry to reach the new table")             \
	X(unroutable,                                                                              \
	  "flows not started: routing drops their first packet (blackhole, unreachable, "          \
	  "prohibit route)")                                                                       \
	X(too_big, "flows not started: their first packet is over the outgoing MTU and may not "   \
		   "be fragmented (IPv4 DF, IPv6)")

/* clang-format off */
enum ctaccel_counter {
#define X(name, help) CTACCEL_CTR_##name,
	CTACCEL_COUNTERS(X)
#undef X
	CTACCEL_CTR__MAX,
};
/* clang-format on */

/*
 * Value of the single-entry PERCPU_ARRAY `ctaccel_stats`. Userspace sums every
 * possible CPU; a gauge slot of one CPU may be negative (a flow created on one
 * CPU and removed on another), the sum is exact.
 */
#define CTACCEL_STATS_SLOTS 96 /* fixed size */
/* The counters' slots: a new counter takes a reserved one, and the gauges
 * after them stay where they are (until ABI 6 they followed the last
 * counter, so that one more moved them all). */
#define CTACCEL_CTR_SLOTS 64

struct ctaccel_stats {
#define X(name, help) __u64 name;
	CTACCEL_COUNTERS(X)
#undef X
	__u64 __ctr_reserved[CTACCEL_CTR_SLOTS - CTACCEL_CTR__MAX];
	__s64 flows_in_state[CTACCEL_ST__MAX]; /* per-state gauges */
	__u64 __reserved[CTACCEL_STATS_SLOTS - CTACCEL_CTR_SLOTS - CTACCEL_ST__MAX];
};

/*
 * Load-time configuration (the BPF object's .rodata), filled by the loader.
 * Constants of the programs: what changes on a running instance is not here
 * (the timeouts and the mark: struct ctaccel_live).
 */
struct ctaccel_config {
	/* [state], then unack: the timeouts until ABI 7, in jiffies; zero
	 * since ABI 8. Read only to migrate older state (the places of the
	 * _abi7 fields keep the layout every older build reads). */
	__u64 timeout_abi7[CTACCEL_ST__MAX + 1];
	__u64 netns_cookie; /* sockets of this network namespace get marks */
	__u32 hz;
	__u32 mark_abi7; /* the bypass mark until ABI 7; zero since */
	__u32 mark_mask_abi7;
	__u32 abi;	     /* CTACCEL_ABI_VERSION of the loader that pinned this state */
	__u32 flags;	     /* CTACCEL_CFG_* */
	__u32 unreplied_max; /* slots of ctaccel_unreplied: flows without a reply, at most */
};

/*
 * The settings that change on a running instance, the one value of the map
 * ctaccel_live: the timeouts in jiffies of the kernel (ctaccel_config.hz) and
 * the bypass mark. Userspace is its one writer, each word with one aligned
 * 8-byte store through the map's mmap (user/lib/live.c), so that a packet
 * reads a word's old value or its new one, never a mix; the datapath only
 * reads it. A flow takes a changed timeout at its next packet, as
 * nf_conntrack's flows take a changed sysctl.
 */
struct ctaccel_live {
	__u64 timeout[CTACCEL_ST__MAX]; /* [CTACCEL_ST_NONE] unused */
	__u64 unack;			/* ESTABLISHED before any reply, at most */
	/* Odd while userspace writes the timeouts, one more after: a change
	 * kernel expiry sees (an entry written before it may expire sooner
	 * than the timeouts now say, bpf/expiry.bpf.h). Starts at 2. */
	__u64 gen;
	/* Bypassed flows: skb/socket mark & mask == value. One word, the mask
	 * in the high half, so that value and mask change together. */
	__u64 mark;
};

static inline __u32 ctaccel_mark_value(__u64 mark)
{
	return (__u32)mark;
}

static inline __u32 ctaccel_mark_mask(__u64 mark)
{
	return (__u32)(mark >> 32);
}

static inline __u64 ctaccel_mark_word(__u32 value, __u32 mask)
{
	return (__u64)mask << 32 | value;
}

/* `mark` with the bits of the mark word `m` set (the others kept). */
static inline __u32 ctaccel_mark_set(__u32 mark, __u64 m)
{
	return (mark & ~ctaccel_mark_mask(m)) | ctaccel_mark_value(m);
}

/* Whether `mark` carries the mark word `m`, as nft's notrack rule asks. */
static inline int ctaccel_mark_carried(__u32 mark, __u64 m)
{
	return (mark & ctaccel_mark_mask(m)) == ctaccel_mark_value(m);
}

/*
 * A walk of the host's sockets for a change of the bypass mark (the socket
 * iterators of bpf/sockets.bpf.c, user/lib/live.c): those that still hold
 * the old mark, by kind. A full TCP socket's mark is rewritten by the walk;
 * the others keep theirs until they close.
 */
enum ctaccel_mark_holder {
	CTACCEL_MH_TCP,	      /* a full TCP socket whose rewrite failed */
	CTACCEL_MH_TIME_WAIT, /* a TIME_WAIT socket's ACKs and RSTs (tw_mark) */
	CTACCEL_MH_REQUEST,   /* a SYN_RECV request's SYN-ACKs (ir_mark) */
	CTACCEL_MH_UDP,	      /* a UDP socket (no setsockopt from iter/udp) */
	CTACCEL_MH__MAX,
};

/*
 * A forwarding gateway: only the ingress program on devices, no sock_ops and
 * no host-socket tracepoint. Flows of the host's own sockets are not tracked
 * (nor bypassed); `ctaccel sockets`/`tw` still count host sockets, without
 * transitions since load.
 */
#define CTACCEL_CFG_NO_LOCAL (1U << 0)
/* The paths taken for an older kernel (user/lib/kernel.c): the programs of
 * tracker_compat (no bpf_cast_to_kern_ctx, Linux 6.3); bpf_fib_lookup()
 * without BPF_FIB_LOOKUP_SKIP_NEIGH (6.3): the fast path asks it with the
 * neighbour check; expiry walks in the timer (no BPF workqueue, 6.10). */
#define CTACCEL_CFG_COMPAT	 (1U << 1)
#define CTACCEL_CFG_FIB_NEIGH	 (1U << 2)
#define CTACCEL_CFG_EXPIRY_TIMER (1U << 3)
/* Programs of a migration (user/lib/migrate.c, docs/upgrading.md): a flow not
 * in ctaccel_flows is looked for in ctaccel_flows_prev, the table being left,
 * and counted there in place until the move program takes it over. Programs
 * loaded without it never look (the verifier drops the code). */
#define CTACCEL_CFG_MIGRATING (1U << 4)

/*
 * Default bypass mark: one bit clear of kube-proxy's 0x4000/0x8000 and of
 * Cilium's 0x0f00; settable with `ctaccel load mark VALUE/MASK`.
 */
#define CTACCEL_MARK_DEFAULT 0x01000000U

/*
 * Policy: which flows skip nf_conntrack. An LPM trie (inside a one-slot
 * ARRAY_OF_MAPS, so a whole policy is swapped in at once) over family,
 * protocol, port and address: a rule for a prefix and port matches that port
 * only, a rule with port 0 any port. A rule for both TCP and UDP is one key
 * per protocol. A flow is bypassed when either endpoint matches.
 */
struct ctaccel_policy_key {
	__u32 prefixlen; /* 32 + address prefix length (family, proto, port first) */
	__u8 family;	 /* AF_INET or AF_INET6 */
	__u8 proto;	 /* IPPROTO_TCP or IPPROTO_UDP */
	__u16 port;	 /* network byte order; 0: any port */
	__u32 addr[4];	 /* network byte order */
};

struct ctaccel_policy_val {
	__u32 action; /* CTACCEL_POLICY_* bits */
	__u32 __pad;
};

#define CTACCEL_POLICY_BYPASS 1
/*
 * ... and forward the flow from tc ingress once established (the fast path).
 * A flow takes it when an endpoint's rule says so and no endpoint's rule is a
 * plain bypass: a rule without it keeps its prefix off the fast path.
 */
#define CTACCEL_POLICY_FASTPATH 2
#define CTACCEL_POLICY_MAX	4096 /* rules */
/* Trie entries: a rule is one key per family and protocol it covers. */
#define CTACCEL_POLICY_KEYS	(CTACCEL_POLICY_MAX * 4)
#define CTACCEL_POLICY_KEY_BITS 32 /* bits before the address */

/*
 * Value of the one-slot ARRAY `ctaccel_policy_gen`, written by userspace only.
 * `gen` moves on (under the writers' lock) after every policy change, so that
 * flows re-read their fast-path verdict (struct ctaccel_flow.fastpath).
 * `devices` moves on after every change of ctaccel_ifaces, so that the fast
 * path checks its egress device again (0 in a state loaded before it
 * existed). Both are written back together, so every write holds the
 * writers' lock: a write of one field cannot put back an old value of the
 * other.
 */
struct ctaccel_policy_gen {
	__u32 gen;
	__u32 devices;
};

/*
 * Flows without a reply cannot crowd out flows with one: every new flow takes
 * the next slot of the ring `ctaccel_unreplied` (ARRAY of unreplied_max keys,
 * next position in `ctaccel_unreplied_head`), and a slot's previous flow, if it
 * still has no reply, is removed then (unreplied_evicted). So at most
 * unreplied_max flows without a reply are ever in the table, the oldest go
 * first, and a flow that has seen a reply is never touched.
 */
struct ctaccel_unreplied_head {
	__u64 next; /* changed with atomic adds only */
};

/*
 * A ring slot: the flow's key, and its claim, which the flow keeps too. A
 * claim is the ring position modulo the largest multiple of the ring's size
 * below 2^32, + 1: its slot is (claim - 1) % size, and a slot sees the same
 * claim again only after 2^31 or more new flows. The flow's first reply swaps
 * the slot's claim to 0, so that the slot's next taker knows without a lookup
 * that there is nothing to remove.
 */
struct ctaccel_unreplied_slot {
	struct ctaccel_flow_key key;
	__u32 claim;
	__u32 __pad;
};

#define CTACCEL_UNREPLIED_MIN 64 /* never fewer slots (unless max-flows is smaller) */

/*
 * Flow events for `ctaccel monitor`: written to the ring buffer
 * `ctaccel_events` only while a monitor keeps `ctaccel_monitor.until` (jiffies)
 * in the future, so that the datapath pays nothing when nobody listens. An
 * event the ring has no room for is counted in events_lost.
 */
#define CTACCEL_EVENT_TYPES(X)                                                                     \
	X(NEW, 1)                                                                                  \
	X(UPDATE, 2)                                                                               \
	X(DESTROY, 3)

/* Why an entry went: removed after its timeout (by a packet or GC), a SYN
 * reopened its tuple, a RST before any reply, a forced compare-and-delete
 * (flush, unload), or room for a new flow (no reply yet). */
#define CTACCEL_DESTROY_REASONS(X)                                                                 \
	X(expired, 1)                                                                              \
	X(reopened, 2)                                                                             \
	X(killed, 3)                                                                               \
	X(flushed, 4)                                                                              \
	X(evicted, 5)

/* clang-format off */
enum ctaccel_event_type {
#define X(name, v) CTACCEL_EV_##name = v,
	CTACCEL_EVENT_TYPES(X)
#undef X
	CTACCEL_EV__MAX,
};

enum ctaccel_destroy_reason {
#define X(name, v) CTACCEL_GONE_##name = v,
	CTACCEL_DESTROY_REASONS(X)
#undef X
	CTACCEL_GONE__MAX,
};
/* clang-format on */

struct ctaccel_event {
	__u64 jiffies;
	struct ctaccel_flow_key key;
	struct ctaccel_flow_leg leg[CTACCEL_DIR__MAX];
	__u8 type;   /* enum ctaccel_event_type */
	__u8 reason; /* DESTROY: enum ctaccel_destroy_reason */
	__u8 state;  /* the flow's state after the event (DESTROY: before it) */
	__u8 orig_is_hi;
	__u32 __pad;
};

/* Value of the one-slot ARRAY `ctaccel_monitor`, written by monitors only. */
struct ctaccel_monitor {
	__u64 until; /* jiffies: events are written while the clock is before it */
};

#define CTACCEL_EVENTS_BYTES (256 * 1024)

/* Context of the ctaccel_clock program: the datapath's clock, read once. */
struct ctaccel_clock {
	__u64 jiffies;
};

/*
 * Compare-and-delete: the `ctaccel_delete` syscall program removes each
 * requested entry only if its tracking word still equals expect_ct (nothing
 * touched it since userspace read it) and it has expired, or with
 * CTACCEL_DEL_FORCE whatever its expiry. expect_ct == 0 with FORCE removes the
 * entry whatever its word (flush).
 */
struct ctaccel_del_req {
	struct ctaccel_flow_key key;
	__u64 expect_ct;
};

#define CTACCEL_DEL_FORCE     (1U << 0)
#define CTACCEL_DEL_BATCH_MAX 1024

struct ctaccel_del_args {
	__u64 reqs;    /* user pointer to struct ctaccel_del_req[count] */
	__u32 count;   /* at most CTACCEL_DEL_BATCH_MAX */
	__u32 flags;   /* CTACCEL_DEL_* */
	__u32 deleted; /* out */
	__u32 skipped; /* out: changed since read, not expired, or gone */
	__u32 faults;  /* out: requests that could not be read */
	__u32 __pad;
};

/*
 * One pass of a migration's move program (ctaccel_migrate, run through
 * BPF_PROG_TEST_RUN by user/lib/migrate.c): every entry of the table being
 * left is claimed, waited for, copied into the new table and deleted.
 */
struct ctaccel_migrate_args {
	__u32 flags;	 /* CTACCEL_MIGRATE_* */
	__u32 moved;	 /* out: entries now in the new table */
	__u32 busy;	 /* out: entries another CPU held (removed or reopened meanwhile) */
	__u32 conflicts; /* out: entries ended (migrate_conflicts) */
	__s32 err;	 /* out: -EINVAL from programs that do not migrate */
	__u32 __pad;
	__u64 head;	  /* START: the old ring's next position */
	__u64 started_ns; /* DONE: when the migration began (CLOCK_MONOTONIC) */
	/* STATS: what the old counters map held when its last writer had
	 * gone, summed over the CPUs and put in this layout's slots */
	__s64 stats[CTACCEL_STATS_SLOTS];
};

/* The pass that found the old table empty: count the migration done. */
#define CTACCEL_MIGRATE_DONE (1U << 0)
/* Before the programs go in: the new ring's head goes on from `head` (no
 * claim it gives then equals one a flow keeps from the old ring); no entry
 * is moved. */
#define CTACCEL_MIGRATE_START (1U << 1)
/* A migration across a change of the counters' layout (an older ABI's
 * state): `stats` added to the new counters map, once. */
#define CTACCEL_MIGRATE_STATS (1U << 2)

/*
 * A migration's journal (the move program's .data.migrate section, pinned in
 * the migration's record, user/lib/migrate_record.c): what a process killed mid-way
 * leaves for the one that finishes it. The loader gives it its values before
 * load; the move program is the one writer of `done`, each of its
 * once-only passes (START, STATS, DONE) setting its bit in the same run.
 */
struct ctaccel_migrate_journal {
	__u32 abi;	     /* the build's that began it: only that layout finishes it */
	__u32 unreplied_max; /* the new ring's setting (0: the ring off) */
	__u64 started_ns;    /* CLOCK_MONOTONIC at its programs' load */
	__u64 done;	     /* CTACCEL_MIGRATE_* of the passes that ran, atomic or */
};

/*
 * Kernel expiry: a bpf_timer and a BPF workqueue pass over the flow table and
 * remove what has expired through compare-and-delete, with no userspace
 * process (bpf/expiry.bpf.h). The value of the one-slot map `ctaccel_expiry`
 * is a struct bpf_timer and a struct bpf_wq, then this. The settings
 * (interval_ms, stopped, started_ns) are written by ctaccel_expiry_ctl (at
 * load and replace, by `ctaccel expiry` and the daemon's supervisor, under the
 * state lock); everything else has one writer, the pass, which the one
 * workqueue item never runs twice at once.
 */
#define CTACCEL_EXPIRY_HANDLES_SIZE    32
#define CTACCEL_EXPIRY_INTERVAL_MS     1000 /* least pause between passes */
#define CTACCEL_EXPIRY_INTERVAL_MS_MAX 3600000
#define CTACCEL_EXPIRY_DUTY	       200   /* the pause is at least 200 times the pass */
#define CTACCEL_EXPIRY_REMOVE_MAX      65536 /* removals per pass; more wait for the next */
#define CTACCEL_EXPIRY_CATCHUP_MS      10    /* least pause after a pass that hit that */

struct ctaccel_expiry {
	__u32 interval_ms;	 /* single writer: ctaccel_expiry_ctl */
	__u32 stopped;		 /* single writer: ctaccel_expiry_ctl (a pass then sets no timer) */
	__u64 started_ns;	 /* single writer: ctaccel_expiry_ctl (bpf_ktime_get_ns) */
	__u64 passes;		 /* single writer: the expiry pass */
	__u64 removed;		 /* single writer: the expiry pass */
	__u64 busy_ns;		 /* single writer: the expiry pass (checks and walks) */
	__u64 last_pass_end_ns;	 /* single writer: the expiry pass (bpf_ktime_get_ns) */
	__u64 last_pass_busy_ns; /* single writer: the expiry pass */
	__u64 last_pass_examined; /* single writer: the expiry pass */
	__u64 last_pass_removed;  /* single writer: the expiry pass */
	__u64 pause_ns;		  /* single writer: the expiry pass (before the next pass) */
	__u64 cut_passes;	  /* single writer: the expiry pass (stopped at remove_max) */
	__u32 remove_max;	  /* single writer: ctaccel_expiry_ctl */
	__u32 last_pass_cut;	  /* single writer: the expiry pass */
	__u64 checks;		  /* single writer: the expiry pass (ticks, walked or not) */
	__u64 skipped;		  /* single writer: the expiry pass (ticks with nothing due) */
	__u64 walk_start_j;	  /* single writer: the expiry pass (jiffies) */
	__u64 earliest_j;	  /* single writer: the expiry pass (what the last walk left) */
	__u64 next_due_j;    /* single writer: the expiry pass (the soonest anything can expire) */
	__u64 last_check_ns; /* single writer: the expiry pass (bpf_ktime_get_ns) */
};

/*
 * Handshake latency, per server endpoint, as the node sees it: the server leg
 * from the SYN to the SYN-ACK, the client leg from the SYN-ACK to the client's
 * ACK that establishes the flow. Log2 histograms of microseconds in the
 * PERCPU_HASH `ctaccel_latency`, written by the tc programs only; the key
 * with family 0 holds every endpoint's sum, the others at most
 * CTACCEL_LAT_ENDPOINTS endpoints (the rest counted in latency_overflow).
 */
#define CTACCEL_LAT_BUCKETS   32 /* i: [2^i, 2^(i+1)) us; 0 also holds 0 and 1; 31 the rest */
#define CTACCEL_LAT_ENDPOINTS 1024

enum ctaccel_leg {
	CTACCEL_LEG_SERVER = 0,
	CTACCEL_LEG_CLIENT = 1,
	CTACCEL_LEG__MAX,
};

struct ctaccel_latency_key {
	__u32 addr[4]; /* network byte order; IPv4 in addr[0] */
	__u16 port;    /* network byte order */
	__u8 family;   /* AF_INET, AF_INET6; 0: all endpoints */
	__u8 __pad;
};

struct ctaccel_latency_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 bucket[CTACCEL_LAT_BUCKETS];
};

struct ctaccel_latency {
	struct ctaccel_latency_hist leg[CTACCEL_LEG__MAX];
	__u64 syn_retransmits; /* SYNs sent again before an answer */
};

/* Argument of ctaccel_expiry_ctl, and of ctaccel_expire (a forced pass). */
struct ctaccel_expiry_args {
	__u32 interval_ms; /* ctl: least pause between passes */
	__u32 __pad;
	__u64 examined; /* out (forced pass) */
	__u64 removed;	/* out (forced pass) */
	__s32 err;	/* out (ctl): bpf_timer_* result */
	__u32 flags;	/* ctl: CTACCEL_EXPIRY_* */
};

#define CTACCEL_EXPIRY_STOP (1U << 0)
/* A replace's: the timer's callback becomes the new object's, and a timer
 * an operator stopped stays stopped (with its pause). */
#define CTACCEL_EXPIRY_TAKEOVER (1U << 1)

/* Value of `ctaccel_ifaces`: devices the tc programs are attached to. */
struct ctaccel_iface {
	__u32 flags; /* CTACCEL_IFACE_* */
	__u32 __pad;
};

#define CTACCEL_IFACE_INGRESS	 (1U << 0) /* forwarded packets are tracked at this ingress */
#define CTACCEL_IFACE_OWN_CLSACT (1U << 1) /* ctaccel created the clsact qdisc */

#define CTACCEL_DEFAULT_MAX_FLOWS 262144

/*
 * Host TCP sockets (bpf/sockets.bpf.c): the kernel's TCP states with the
 * kernel's names (include/net/tcp_states.h), for counts and transitions.
 */
#define CTACCEL_TCP_STATES(X)                                                                      \
	X(ESTABLISHED, 1)                                                                          \
	X(SYN_SENT, 2)                                                                             \
	X(SYN_RECV, 3)                                                                             \
	X(FIN_WAIT1, 4)                                                                            \
	X(FIN_WAIT2, 5)                                                                            \
	X(TIME_WAIT, 6)                                                                            \
	X(CLOSE, 7)                                                                                \
	X(CLOSE_WAIT, 8)                                                                           \
	X(LAST_ACK, 9)                                                                             \
	X(LISTEN, 10)                                                                              \
	X(CLOSING, 11)                                                                             \
	X(NEW_SYN_RECV, 12)                                                                        \
	X(BOUND_INACTIVE, 13)

#define CTACCEL_TCP_STATE_SLOTS 16 /* states are 1..13; room to spare */

/* A remote endpoint holding TIME_WAIT sockets. */
struct ctaccel_tw_remote {
	__u8 family;
	__u8 __pad;
	__u16 port;    /* host byte order */
	__u32 addr[4]; /* network byte order; IPv4 in [0] */
};

/*
 * Value of the PERCPU_ARRAY `ctaccel_sk_transitions`: host TCP socket state
 * moves [old][new] seen by tp_btf/inet_sock_set_state, and the moves into
 * TIME_WAIT (FIN_WAIT2/CLOSING -> CLOSE after the peer's FIN), which the
 * tracepoint never shows directly.
 */
struct ctaccel_sk_transitions {
	__u64 moves[CTACCEL_TCP_STATE_SLOTS][CTACCEL_TCP_STATE_SLOTS];
	__u64 time_wait_entered;
	__u64 __reserved[7];
};

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct ctaccel_flow_key) == 40, "flow key layout");
_Static_assert(sizeof(struct ctaccel_flow) == 96, "flow value layout");
_Static_assert(sizeof(struct ctaccel_latency_key) == 20, "latency key layout");
_Static_assert(sizeof(struct ctaccel_latency) == 8 * (2 * (2 + CTACCEL_LAT_BUCKETS) + 1),
	       "latency layout");
_Static_assert(sizeof(struct ctaccel_policy_gen) == 8, "policy generation layout");
_Static_assert(sizeof(struct ctaccel_unreplied_head) == 8, "unreplied ring head layout");
_Static_assert(sizeof(struct ctaccel_unreplied_slot) == 48, "unreplied ring slot layout");
_Static_assert(sizeof(struct ctaccel_event) == 88, "event layout");
_Static_assert(sizeof(struct ctaccel_monitor) == 8, "monitor layout");
_Static_assert(CTACCEL_CTR__MAX <= CTACCEL_CTR_SLOTS, "counter slots");
_Static_assert(CTACCEL_CTR_SLOTS + CTACCEL_ST__MAX <= CTACCEL_STATS_SLOTS, "stats slots");
_Static_assert(__builtin_offsetof(struct ctaccel_stats, flows_in_state) == 8 * CTACCEL_CTR_SLOTS,
	       "gauges at a fixed slot");
_Static_assert(sizeof(struct ctaccel_stats) == 8 * CTACCEL_STATS_SLOTS, "stats layout");
_Static_assert(sizeof(struct ctaccel_del_req) == 48, "delete request layout");
_Static_assert(sizeof(struct ctaccel_del_args) == 32, "delete args layout");
_Static_assert(sizeof(struct ctaccel_migrate_args) == 40 + 8 * CTACCEL_STATS_SLOTS,
	       "migrate args layout");
_Static_assert(sizeof(struct ctaccel_migrate_journal) == 24, "migration journal layout");
_Static_assert(sizeof(struct ctaccel_expiry) == 8 * 18, "expiry layout");
_Static_assert(sizeof(struct ctaccel_expiry_args) == 32, "expiry args layout");
_Static_assert(sizeof(struct ctaccel_config) == 8 * (CTACCEL_ST__MAX + 2) + 24, "config layout");
_Static_assert(sizeof(struct ctaccel_live) == 8 * (CTACCEL_ST__MAX + 3), "live settings layout");
_Static_assert(sizeof(struct ctaccel_policy_key) == 24, "policy key layout");
_Static_assert(sizeof(struct ctaccel_tw_remote) == 20, "tw remote layout");
_Static_assert(sizeof(struct ctaccel_sk_transitions) == 8 * (16 * 16 + 8), "transitions layout");
_Static_assert(CTACCEL_ST__MAX <= 16, "state must fit CTACCEL_CT_STATE_MASK");
#endif

#endif /* CTACCEL_H */
