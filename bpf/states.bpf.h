/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * nf_conntrack's state machines on the packed tracking word of
 * include/ctaccel.h: TCP's transition table and the checks of
 * nf_conntrack_tcp_packet() (tcp_step), UDP's three classes
 * (udp_step). Pure functions of the word, the packet's class and direction,
 * the clock and the settings: they read no map and no packet.
 */
#ifndef CTACCEL_STATES_BPF_H
#define CTACCEL_STATES_BPF_H

#include "common.bpf.h"

/*
 * nf_conntrack's packet classes (enum tcp_bit_set), in its order, as the
 * second index of the transition table.
 */
enum tcp_index {
	TCPI_SYN,
	TCPI_SYNACK,
	TCPI_FIN,
	TCPI_ACK,
	TCPI_RST,
	TCPI_NONE,
	TCPI__MAX,
};

static __always_inline __u32 tcp_index_of(__u8 flags)
{
	if (flags & TCPF_RST)
		return TCPI_RST;
	if (flags & TCPF_SYN)
		return (flags & TCPF_ACK) ? TCPI_SYNACK : TCPI_SYN;
	if (flags & TCPF_FIN)
		return TCPI_FIN;
	if (flags & TCPF_ACK)
		return TCPI_ACK;
	return TCPI_NONE;
}

/*
 * The flag combinations nf_conntrack's tcp_error() accepts, ECE/CWR/PSH
 * ignored; everything else (no flags, SYN+FIN, SYN+RST, FIN alone...) is
 * invalid before any state is looked at.
 */
static __always_inline bool tcp_flags_valid(__u8 flags)
{
	switch (flags & ~(TCPF_ECE | TCPF_CWR | TCPF_PSH)) {
	case TCPF_SYN:
	case TCPF_SYN | TCPF_URG:
	case TCPF_SYN | TCPF_ACK:
	case TCPF_RST:
	case TCPF_RST | TCPF_ACK:
	case TCPF_FIN | TCPF_ACK:
	case TCPF_FIN | TCPF_ACK | TCPF_URG:
	case TCPF_ACK:
	case TCPF_ACK | TCPF_URG:
		return true;
	}
	return false;
}

/* Table outcomes beyond the real states: invalid and ignored packets. */
#define sNO CTACCEL_ST_NONE
#define sSS CTACCEL_ST_SYN_SENT
#define sSR CTACCEL_ST_SYN_RECV
#define sES CTACCEL_ST_ESTABLISHED
#define sFW CTACCEL_ST_FIN_WAIT
#define sCW CTACCEL_ST_CLOSE_WAIT
#define sLA CTACCEL_ST_LAST_ACK
#define sTW CTACCEL_ST_TIME_WAIT
#define sCL CTACCEL_ST_CLOSE
#define sS2 CTACCEL_ST_SYN_SENT2
#define sIV CTACCEL_ST__MAX
#define sIG (CTACCEL_ST__MAX + 1)

/*
 * nf_conntrack's transition table (tcp_conntracks[dir][index][state]) as of
 * Linux 6.x. Columns: sNO sSS sSR sES sFW sCW sLA sTW sCL sS2.
 */
/* clang-format off */
static const __u8 tcp_next[CTACCEL_DIR__MAX][TCPI__MAX][CTACCEL_ST_TCP__MAX] = {
	[CTACCEL_DIR_ORIG] = {
		[TCPI_SYN]    = { sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2 },
		[TCPI_SYNACK] = { sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR },
		[TCPI_FIN]    = { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
		[TCPI_ACK]    = { sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV },
		[TCPI_RST]    = { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
		[TCPI_NONE]   = { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	},
	[CTACCEL_DIR_REPLY] = {
		[TCPI_SYN]    = { sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2 },
		[TCPI_SYNACK] = { sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR },
		[TCPI_FIN]    = { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
		[TCPI_ACK]    = { sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG },
		[TCPI_RST]    = { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
		[TCPI_NONE]   = { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	},
};
/* clang-format on */

/* What a packet does to its flow, decided by tcp_step(). */
enum tcp_verdict {
	TV_ACCOUNT, /* in-window: store the new word, account the packet */
	TV_NOACCT,  /* store the new word, do not account (SYN retransmit) */
	TV_IGNORE,  /* store the new word (bookkeeping only), do not account */
	TV_INVALID, /* change nothing */
	TV_REOPEN,  /* remove the entry; the packet starts a new flow */
	TV_KILL,    /* remove the entry (RST before any reply), packet accounted */
};

#define CT_FLAG_BITS ((1ULL << CTACCEL_CT_EXP_SHIFT) - 1 - CTACCEL_CT_STATE_MASK)

static __always_inline bool state_is_closed(__u32 s)
{
	return s == CTACCEL_ST_TIME_WAIT || s == CTACCEL_ST_CLOSE;
}

/*
 * One packet through nf_conntrack_tcp_packet() (without sequence and window
 * tracking): from the flow's word `ct`, a packet of class `index` in direction
 * `dir` at `now` gives a verdict and the word to swap in. A new flow is the
 * step from ct == 0 (state NONE) in the original direction.
 */
static __always_inline enum tcp_verdict tcp_step(__u64 ct, __u32 dir, __u32 index, __u64 now,
						 const struct ctaccel_live *to, __u64 *new_ct)
{
	__u32 old = ctaccel_ct_state(ct);
	__u64 flags = ct & CT_FLAG_BITS;
	__u64 last_kind = (ct & CTACCEL_CT_LAST_MASK) >> CTACCEL_CT_LAST_SHIFT;
	bool last_reply = ct & CTACCEL_CT_LAST_REPLY;
	bool seen_reply = ct & CTACCEL_CT_SEEN_REPLY;
	__u64 this_last, timeout;
	__u32 next, cell;

	if (old >= CTACCEL_ST_TCP__MAX || dir >= CTACCEL_DIR__MAX || index >= TCPI__MAX)
		return TV_INVALID;
	/* One bound on the flat offset, right at the access, for the verifier. */
	cell = (dir * TCPI__MAX + index) * CTACCEL_ST_TCP__MAX + old;
	barrier_var(cell);
	if (cell >= sizeof(tcp_next))
		return TV_INVALID;
	next = ((const __u8 *)tcp_next)[cell];

	this_last = index == TCPI_SYN	? CTACCEL_CT_LAST_SYN
		    : index == TCPI_RST ? CTACCEL_CT_LAST_RST
					: CTACCEL_CT_LAST_OTHER;
	this_last <<= CTACCEL_CT_LAST_SHIFT;
	/* The side counts only with a SYN or an RST (the reopen and the
	 * challenge-ACK checks below). Left clear for any other packet, an
	 * established flow's word changes only when its expiry does, and its
	 * packets in both directions need no compare-and-swap in between. */
	if (dir == CTACCEL_DIR_REPLY && this_last)
		this_last |= CTACCEL_CT_LAST_REPLY;

	switch (next) {
	case CTACCEL_ST_SYN_SENT:
		if (old < CTACCEL_ST_TIME_WAIT)
			break;
		/* A SYN on a closed flow reopens it if the old one was closed
		 * by FIN, or aborted by a RST from the same side. */
		if ((flags & CTACCEL_CT_CLOSE_INIT) ||
		    (last_kind == CTACCEL_CT_LAST_RST && last_reply == (dir == CTACCEL_DIR_REPLY)))
			return TV_REOPEN;
		/* fallthrough */
	case sIG:
		flags &= ~(CTACCEL_CT_LAST_MASK | CTACCEL_CT_LAST_REPLY);
		flags |= this_last;
		if (index == TCPI_SYN && dir == CTACCEL_DIR_ORIG) {
			/* nf_conntrack forgets the originator's remembered
			 * flags (last_flags = 0), the simultaneous-open mark
			 * with them. A SYN answered in LAST_ACK draws an RFC
			 * 5961 challenge ACK that must not close the flow. */
			flags &= ~(CTACCEL_CT_CHALLENGE | CTACCEL_CT_SIMOPEN);
			if (old == CTACCEL_ST_LAST_ACK)
				flags |= CTACCEL_CT_CHALLENGE;
		}
		if (dir == CTACCEL_DIR_REPLY)
			flags |= CTACCEL_CT_SEEN_REPLY;
		*new_ct = (ct & ~CT_FLAG_BITS) | flags;
		return TV_IGNORE;
	case sIV:
		return TV_INVALID;
	case CTACCEL_ST_TIME_WAIT:
		if (old == CTACCEL_ST_LAST_ACK && index == TCPI_ACK &&
		    last_reply != (dir == CTACCEL_DIR_REPLY) && last_kind == CTACCEL_CT_LAST_SYN &&
		    (flags & CTACCEL_CT_CHALLENGE)) {
			flags &= ~CTACCEL_CT_CHALLENGE;
			if (dir == CTACCEL_DIR_REPLY)
				flags |= CTACCEL_CT_SEEN_REPLY;
			*new_ct = (ct & ~CT_FLAG_BITS) | flags;
			return TV_IGNORE;
		}
		break;
	case CTACCEL_ST_SYN_SENT2:
		flags |= CTACCEL_CT_SIMOPEN;
		break;
	case CTACCEL_ST_SYN_RECV:
		if (dir == CTACCEL_DIR_REPLY && index == TCPI_ACK && (flags & CTACCEL_CT_SIMOPEN))
			next = CTACCEL_ST_ESTABLISHED;
		break;
	default:
		break;
	}

	/* In window: the packet moves the flow. */
	flags &= ~(CTACCEL_CT_LAST_MASK | CTACCEL_CT_LAST_REPLY);
	flags |= this_last;
	if (old != next && next == CTACCEL_ST_FIN_WAIT)
		flags |= CTACCEL_CT_CLOSE_INIT;
	/* Compared where it indexes: Linux 6.1's verifier loses a bound
	 * checked on another register copy. */
	barrier_var(next);
	if (next >= CTACCEL_ST_TCP__MAX)
		return TV_INVALID;

	timeout = index == TCPI_RST ? to->timeout[CTACCEL_ST_CLOSE] : to->timeout[next];
	if (!seen_reply) {
		if (index == TCPI_RST)
			return TV_KILL;
		if (index == TCPI_SYN && old == CTACCEL_ST_SYN_SENT) {
			/* SYN retransmit (or simultaneous-open SYN): keep the
			 * expiry, so that port reuse cannot keep an unanswered
			 * entry alive forever. */
			if (dir == CTACCEL_DIR_REPLY)
				flags |= CTACCEL_CT_SEEN_REPLY;
			*new_ct = (ct & ~(CT_FLAG_BITS | CTACCEL_CT_STATE_MASK)) | flags | next;
			return TV_NOACCT;
		}
		if (next == CTACCEL_ST_ESTABLISHED && timeout > to->unack)
			timeout = to->unack;
	} else if (!(flags & CTACCEL_CT_ASSURED) &&
		   (old == CTACCEL_ST_SYN_RECV || old == CTACCEL_ST_ESTABLISHED) &&
		   next == CTACCEL_ST_ESTABLISHED) {
		flags |= CTACCEL_CT_ASSURED;
	}
	if (dir == CTACCEL_DIR_REPLY)
		flags |= CTACCEL_CT_SEEN_REPLY;

	*new_ct = ctaccel_ct_with_expiry(flags | next, now + timeout);
	return TV_ACCOUNT;
}

/*
 * One datagram through nf_conntrack_udp_packet(): a flow without a reply
 * keeps nf_conntrack_udp_timeout from its last packet; the first reply makes
 * it replied (still that timeout); a packet more than two seconds after the
 * flow began, once replied, makes it a stream: ASSURED, on the stream
 * timeout from then on. From ct == 0 it is a new flow's first datagram.
 */
static __always_inline __u64 udp_step(__u64 ct, __u32 dir, __u64 now, __u64 first_seen, __u32 hz,
				      const struct ctaccel_live *to)
{
	__u64 flags = ct & CT_FLAG_BITS;
	__u32 next;

	if (!(flags & CTACCEL_CT_SEEN_REPLY)) {
		next = CTACCEL_ST_UDP_UNREPLIED;
		if (dir == CTACCEL_DIR_REPLY) {
			/* nf_conntrack refreshes the entry before it marks the
			 * reply: the unreplied timeout, here the replied one's
			 * (the same sysctl). */
			flags |= CTACCEL_CT_SEEN_REPLY;
			next = CTACCEL_ST_UDP_REPLIED;
		}
	} else if (now > first_seen + 2 * (__u64)hz) {
		flags |= CTACCEL_CT_ASSURED;
		next = CTACCEL_ST_UDP_ASSURED;
	} else {
		next = (flags & CTACCEL_CT_ASSURED) ? CTACCEL_ST_UDP_ASSURED
						    : CTACCEL_ST_UDP_REPLIED;
	}
	return ctaccel_ct_with_expiry(flags | next, now + to->timeout[next]);
}

#endif /* CTACCEL_STATES_BPF_H */
