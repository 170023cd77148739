/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Crafted Ethernet/IP/TCP frames for BPF_PROG_TEST_RUN. */
#ifndef CTACCEL_TEST_PKT_H
#define CTACCEL_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 2048

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10
#define F_URG 0x20

struct endpoint {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
};

/* "198.18.0.1" or "2001:db8::1" with a port; aborts on a bad literal. */
struct endpoint ep(const char *addr, uint16_t port);

struct frame {
	uint8_t data[PKT_MAX];
	size_t len;
	size_t ip_len; /* what nf_conntrack would account */
};

/* A TCP segment from src to dst with flags and `payload` bytes of data, to
 * the loopback device's MAC (all zeros: BPF_PROG_TEST_RUN runs frames as
 * received on lo, and a frame for another MAC is not for this host), with
 * correct IP and TCP checksums. */
void frame_tcp(struct frame *f, const struct endpoint *src, const struct endpoint *dst,
	       uint8_t flags, size_t payload);

/* A UDP datagram from src to dst with `payload` bytes, as frame_tcp() builds
 * its segments. */
void frame_udp(struct frame *f, const struct endpoint *src, const struct endpoint *dst,
	       size_t payload);
/* Offset of the UDP header in a frame built by frame_udp(). */
size_t frame_udp_off(const struct frame *f);

/* Recompute the IPv4 header and TCP or UDP checksums of an Ethernet frame, where it
 * has whole headers; anything else is left as it is. */
void frame_fix_csum(uint8_t *data, size_t len);

/* Offset of the TCP checksum field in a frame built by frame_tcp(). */
size_t frame_tcp_csum_off(const struct frame *f);

#endif
