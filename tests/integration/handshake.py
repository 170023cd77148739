#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Handshakes with chosen gaps, for latency.bats (this kernel has no netem).
Both ends are raw sockets: the kernels at the ends are told to drop these
packets (nft), and packet sockets see them before netfilter does. IPv4;
bounded in count and time.

    handshake.py server IFACE PORT DELAY_MS COUNT
        answer COUNT SYNs to PORT seen on IFACE with a SYN-ACK DELAY_MS later;
        prints "ready" once it listens, "answered N" at the end
    handshake.py client DST PORT DELAY_MS COUNT
        COUNT handshakes from consecutive source ports (40000 on), each ACK
        DELAY_MS after its SYN-ACK; prints "ok N"
    handshake.py gaps
        tcpdump -tt -nn -Q in lines on stdin (the gateway's view): the server
        gap (SYN to SYN-ACK) and client gap (SYN-ACK to ACK) of each
        handshake, counted per log2 bucket of microseconds, as JSON
    handshake.py compare GAPS.json LATENCY-ENDPOINT.json
        ctaccel's histograms of one endpoint against those; prints "equal"
"""
import json
import math
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synflood import csum  # noqa: E402 (the one Internet checksum of the tests)


ETH_P_IP = 0x0800


def ipv4_tcp(src, dst, sport, dport, seq, ack, flags):
    """An IPv4 TCP segment with both checksums; src and dst packed."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!xBH", socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, socket.IPPROTO_TCP,
                     0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def parse(frame):
    """(src, dst, sport, dport, seq, flags) of an IPv4 TCP frame, else None."""
    if len(frame) < 54 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[23] != socket.IPPROTO_TCP:
        return None
    t = 14 + ihl
    sport, dport, seq = struct.unpack("!HHI", frame[t:t + 8])
    return frame[26:30], frame[30:34], sport, dport, seq, frame[t + 13]


SYN, ACK = 0x02, 0x10


def server(iface, port, delay, count):
    """Raw frames on IFACE: a SYN-ACK delay after each SYN to port."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    sock.bind((iface, 0))
    sock.settimeout(1.0)
    print("ready", flush=True)
    answered, deadline = 0, time.monotonic() + 60
    while answered < count and time.monotonic() < deadline:
        try:
            frame, addr = sock.recvfrom(2048)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        p = parse(frame)
        if not p or p[3] != port or p[5] != SYN:
            continue
        src, dst, sport, dport, seq, _ = p
        time.sleep(delay)
        reply = ipv4_tcp(dst, src, dport, sport, 7000, seq + 1, SYN | ACK)
        sock.send(frame[6:12] + frame[0:6] + frame[12:14] + reply)
        answered += 1
    print("answered %d" % answered, flush=True)


def client(dst, port, delay, count):
    """SYNs through the kernel's routing (a raw IP socket), SYN-ACKs read
    raw from every interface; the ACK a delay after each SYN-ACK."""
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    rx.settimeout(0.5)
    dst_b = socket.inet_aton(dst)
    out.connect((dst, 0))
    src_b = socket.inet_aton(_source_for(dst))
    ok = 0
    for i in range(count):
        sport = 40000 + i
        out.send(ipv4_tcp(src_b, dst_b, sport, port, 1000, 0, SYN))
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                frame, addr = rx.recvfrom(2048)
            except socket.timeout:
                continue
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            p = parse(frame)
            if p and p[2] == port and p[3] == sport and p[5] == SYN | ACK:
                time.sleep(delay)
                out.send(ipv4_tcp(src_b, dst_b, sport, port, 1001, p[4] + 1, ACK))
                ok += 1
                break
    print("ok %d" % ok, flush=True)


def _source_for(dst):
    """The address the kernel would send from to dst."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((dst, 9))
    return s.getsockname()[0]


LINE = re.compile(r"^(\d+\.\d+) .*? IP (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]*)\]")


def bucket(seconds):
    us = int(seconds * 1e6)
    return 0 if us < 2 else min(int(math.log2(us)), 31)


# tcpdump stamps a packet a few microseconds before tc ingress does: a gap
# this close to a bucket's edge may fall on either side of it.
EDGE_US = 50


def near_edge(seconds):
    """The bucket whose lower edge the gap is within EDGE_US of, else None."""
    us = seconds * 1e6
    b = bucket(seconds)
    if b + 1 < 32 and 2 ** (b + 1) - us <= EDGE_US:
        return b + 1
    if b > 0 and us - 2 ** b <= EDGE_US:
        return b
    return None


def add(d, key):
    d[str(key)] = d.get(str(key), 0) + 1


def gaps():
    syn, synack = {}, {}
    out = {"server": {}, "client": {}, "near": {"server": {}, "client": {}}}
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        t, src, sport, dst, dport, flags = m.groups()
        t = float(t)
        if flags == "S":
            syn[(src, sport)] = t
        elif flags == "S.":
            client = (dst, dport)
            if client in syn:
                synack[client] = t
                gap = t - syn[client]
                add(out["server"], bucket(gap))
                if near_edge(gap) is not None:
                    add(out["near"]["server"], near_edge(gap))
        elif flags == "." and (src, sport) in synack:
            gap = t - synack.pop((src, sport))
            add(out["client"], bucket(gap))
            if near_edge(gap) is not None:
                add(out["near"]["client"], near_edge(gap))
    print(json.dumps(out, sort_keys=True))


def compare(want_file, got_file):
    """tcpdump's buckets against ctaccel's (latency JSON of one endpoint):
    the same totals, and at every bucket edge the counts below it differ by
    no more than the gaps tcpdump saw within EDGE_US of that edge."""
    want = json.load(open(want_file))
    got = json.load(open(got_file))
    bad = []
    for leg in ("server", "client"):
        mine = {}
        for b in got[leg]["buckets"]:
            mine[str(round(math.log2(b["hi_ms"] * 1000)) - 1)] = b["count"]
        theirs = want[leg]
        if sum(mine.values()) != sum(theirs.values()):
            bad.append("%s: %d handshakes, tcpdump saw %d" % (leg, sum(mine.values()),
                                                             sum(theirs.values())))
        below_mine = below_theirs = 0
        for b in range(32):
            near = want["near"][leg].get(str(b), 0)
            if abs(below_mine - below_theirs) > near:
                bad.append("%s: below %d us ctaccel has %d, tcpdump %d (%d near the edge)" %
                           (leg, 2 ** b, below_mine, below_theirs, near))
            below_mine += mine.get(str(b), 0)
            below_theirs += theirs.get(str(b), 0)
    print("\n".join(bad) if bad else "equal")
    return 1 if bad else 0


def main():
    if len(sys.argv) == 6 and sys.argv[1] in ("server", "client"):
        a, port, delay, count = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) / 1e3, int(sys.argv[5])
        if not 0 < count <= 1000 or not 0 <= delay <= 1:
            sys.exit("handshake: COUNT 1-1000, DELAY_MS 0-1000")
        (server if sys.argv[1] == "server" else client)(a, port, delay, count)
    elif len(sys.argv) == 2 and sys.argv[1] == "gaps":
        gaps()
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
