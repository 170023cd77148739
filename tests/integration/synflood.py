#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Spoofed IPv6 SYNs for flood.bats (hping3 has no IPv6): COUNT SYNs to
DST:DPORT from SOURCES addresses PREFIX::100.. and consecutive source ports,
through a raw socket (the caller's namespace routes them). Bounded by COUNT.

    synflood.py PREFIX SOURCES DST DPORT COUNT
"""
import ipaddress
import socket
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src, dst, sport, dport, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!IxxxB", len(tcp), socket.IPPROTO_TCP)
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(tcp), socket.IPPROTO_TCP, 64) + src + dst
    return ip6 + tcp


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    prefix, sources, dst, dport, count = sys.argv[1:]
    sources, dport, count = int(sources), int(dport), int(count)
    if not 0 < count <= 1000000 or not 0 < sources <= 4096:
        sys.exit("synflood: COUNT 1-1000000, SOURCES 1-4096")
    base = ipaddress.IPv6Address(prefix)
    dst_b = ipaddress.IPv6Address(dst).packed
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for i in range(count):
        src = (base + 0x100 + i % sources).packed
        s.sendto(syn(src, dst_b, 10000 + i // sources, dport, i), (dst, 0))
    print("sent %d" % count)


if __name__ == "__main__":
    main()
