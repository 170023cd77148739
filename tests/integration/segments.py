#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Crafted TCP segments through the test gateway, from both ends.

One process holds a packet socket on the client's veth (vc) and one on the
server's (vs), each opened inside its namespace, so that segments of either
side go out in the order given. The client and server kernels drop what
arrives for port 9 (lib.bash and the test set that up), so only these
segments make up each flow. Sequence and acknowledgement numbers follow each
side's own, so nf_conntrack's window tracking accepts every segment and never
decides the outcome.

usage: segments.py CNS SNS CMAC GCMAC SMAC GSMAC FAMILY SCENARIO [SEED FLOWS]

The route scenario changes the gateway's routes (namespace SEGMENTS_GW); the
test removes them.
"""
import ctypes
import os
import random
import socket
import subprocess
import sys
import time

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

CLONE_NEWNET = 0x40000000
ADDR = {4: ("198.18.0.2", "198.18.1.2"), 6: ("2001:db8::2", "2001:db8:1::2")}
SPORT_BASE = {"simopen": 61000, "badsum": 61100, "othermac": 61200, "ttl": 61300,
              "ttlflow": 61400, "route": 61600, "mtu": 61700, "random": 62000}
# the server's further addresses (the test adds them): one per route kind
SERVER_HOST = {4: "198.18.1.%d", 6: "2001:db8:1::%d"}
F = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


def packet_socket(netns, dev):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET):
        sys.exit(f"segments: setns {netns}: {os.strerror(ctypes.get_errno())}")
    os.close(fd)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((dev, 0))
    return s


class Flow:
    """One flow between the client (C) and the server's port 9 (S)."""

    def __init__(self, net, family, cport, rng):
        self.net, self.family, self.cport = net, family, cport
        self.next = {"C": rng.randrange(1 << 31), "S": rng.randrange(1 << 31)}
        self.isn = dict(self.next)
        self.sent_syn = {"C": False, "S": False}
        self.frames = 0
        self.addr = ADDR[family]

    def to_host(self, host):
        """The server's side of the flow is its address number `host`."""
        self.addr = (ADDR[self.family][0], SERVER_HOST[self.family] % host)

    def send(self, side, flags, data=0, bad_csum=False, ttl=64, mac=None, ack=None, seq=None,
             df=False):
        """A segment from `side` with the given flags; seq and ack follow the sides."""
        peer = "S" if side == "C" else "C"
        bits = sum(F[c] for c in flags)
        if seq is None:
            seq = self.isn[side] if bits & F["S"] else self.next[side]
        if ack is None:
            ack = self.next[peer] if bits & F["A"] else 0
        src, dst = self.addr if side == "C" else reversed(self.addr)
        sport, dport = (self.cport, 9) if side == "C" else (9, self.cport)
        tcp = TCP(sport=sport, dport=dport, flags=bits, seq=seq % (1 << 32),
                  ack=ack % (1 << 32), window=65535)
        if bad_csum:
            tcp.chksum = 0xdead
        ip = IP(src=src, dst=dst, ttl=ttl, flags="DF" if df else 0) if self.family == 4 else \
            IPv6(src=src, dst=dst, hlim=ttl)
        sock, smac, gmac = self.net[side]
        frame = Ether(src=smac, dst=mac or gmac) / ip / tcp / (b"x" * data)
        sock.send(bytes(frame))
        self.frames += 1
        if os.environ.get("SEGMENTS_TRACE"):
            print(f"{self.cport} {side} {flags} seq={seq} ack={ack} len={data}"
                  f"{' badsum' if bad_csum else ''}{' ttl=1' if ttl <= 1 else ''}", flush=True)
        time.sleep(0.002)
        # what the segment consumes of its sender's sequence space
        if bits & F["S"] and not self.sent_syn[side]:
            self.next[side] = self.isn[side] + 1
            self.sent_syn[side] = True
        if not bad_csum and ttl > 1 and mac is None:
            self.next[side] += data + (1 if bits & F["F"] else 0)


def simopen(flow, _rng):
    # c:SYN, s:SYN, c:SYN/ACK, c:SYN (a retransmission), s:ACK, s:data
    flow.send("C", "S")
    flow.send("S", "S")
    flow.send("C", "SA")
    flow.send("C", "S")
    flow.send("S", "A")
    flow.send("S", "PA", data=40)


def handshake(flow):
    flow.send("C", "S")
    flow.send("S", "SA")
    flow.send("C", "A")


def badsum(flow, _rng):
    # established, then a RST with a bad checksum: nothing changes
    handshake(flow)
    flow.send("C", "PA", data=100)
    flow.send("S", "R", bad_csum=True)
    flow.send("S", "RA", bad_csum=True)
    flow.send("S", "A")


def badsum_syn(flow, _rng):
    flow.send("C", "S", bad_csum=True)


def othermac(flow, _rng):
    handshake(flow)
    flow.send("S", "R", mac="02:00:00:00:00:99")
    flow.send("C", "FA", mac="02:00:00:00:00:99")
    flow.send("C", "PA", data=60)


def othermac_syn(flow, _rng):
    flow.send("C", "S", mac="02:00:00:00:00:99")


def ttl(flow, _rng):
    flow.send("C", "S", ttl=1)
    handshake(flow)
    flow.send("S", "PA", data=30)


def ttl_probe(flow, _rng):
    # a TCP traceroute's first probe, never followed up
    flow.send("C", "S", ttl=1)


def ttl_rst(flow, _rng):
    # the server's RST dies at the gateway (TTL 1), after nf_conntrack saw it
    handshake(flow)
    flow.send("S", "R", ttl=1)


def ttl_reopen(flow, _rng):
    # a closed flow, and a SYN for its tuple that dies at the gateway
    handshake(flow)
    flow.send("C", "FA")
    flow.send("S", "FA")
    flow.send("C", "A")
    flow.send("C", "S", ttl=1)


def gateway(*args):
    """A command in the gateway's namespace; its output."""
    return subprocess.run(["ip", "netns", "exec", os.environ["SEGMENTS_GW"], *args],
                          check=True, capture_output=True, text=True).stdout


def gateway_established(flow):
    """Wait (10 s at most) until the gateway's nf_conntrack has the flow
    ESTABLISHED: every segment before it has passed the gateway."""
    for _ in range(500):
        if "ESTABLISHED" in gateway("conntrack", "-L", "-f", f"ipv{flow.family}", "-p", "tcp",
                                    "--sport", str(flow.cport)):
            return
        time.sleep(0.02)
    sys.exit(f"segments: flow {flow.cport} never ESTABLISHED at the gateway")


def route_drop(kind, host):
    """An established flow to the server's address `host`, then a `kind`
    route for that address at the gateway: the flow's next segment dies in
    route input after PRE_ROUTING, and so does a new flow's SYN."""
    def scenario(flow, rng):
        flow.to_host(host)
        handshake(flow)
        gateway_established(flow)
        plen = 32 if flow.family == 4 else 128
        gateway("ip", "route", "add", kind, f"{flow.addr[1]}/{plen}")
        flow.send("C", "PA", data=100)
        new = Flow(flow.net, flow.family, flow.cport + 50, rng)
        new.to_host(host)
        new.send("C", "S")
        flow.frames += new.frames
    return scenario


# The gateway's server-side device has an MTU of 1280 (the test sets it):
# 1300 bytes of payload are over it, in IPv4 and in IPv6.
def mtu_flow(flow, _rng):
    handshake(flow)
    flow.send("C", "PA", data=1300, df=True)


def mtu_syn(flow, _rng):
    flow.send("C", "S", data=1300, df=True)


def mtu_syn_fragmented(flow, _rng):
    # without DF the gateway fragments an IPv4 SYN and forwards it; IPv6
    # is never fragmented on the way
    flow.send("C", "S", data=1300)


# ---- seeded random sequences, kept in nf_conntrack's window ----

def rand_open(flow, rng):
    kind = rng.choice(["plain", "plain", "retransmit", "simultaneous", "refused", "unanswered"])
    if kind == "plain":
        handshake(flow)
    elif kind == "retransmit":
        for _ in range(rng.randint(2, 3)):
            flow.send("C", "S")
        flow.send("S", "SA")
        flow.send("C", "A")
    elif kind == "simultaneous":
        flow.send("C", "S")
        flow.send("S", "S")
        flow.send("C", "SA")
        flow.send("S", "SA")
        flow.send("C", "A")
        # nf_conntrack ignored the server's SYN/ACK: until the server acks,
        # it knows no window for the client's data (window tracking would
        # decide, which this test keeps out of play)
        flow.send("S", "A")
    elif kind == "refused":
        flow.send("C", "S")
        flow.send("S", "RA", seq=0)
        return False
    else:
        flow.send("C", "S")
        flow.send("C", "S")
        return False
    return True


def rand_middle(flow, rng):
    for _ in range(rng.randint(0, 6)):
        side = rng.choice("CS")
        if rng.random() < 0.6:
            flow.send(side, "PA", data=rng.randint(1, 400))
        else:
            flow.send(side, "A")


def rand_close(flow, rng):
    kind = rng.choice(["client", "server", "both", "rst-client", "rst-server", "open"])
    if kind in ("client", "server"):
        a, b = ("C", "S") if kind == "client" else ("S", "C")
        flow.send(a, "FA")
        flow.send(b, "A")
        if rng.random() < 0.5:
            flow.send(b, "PA", data=rng.randint(1, 200))
            flow.send(a, "A")
        flow.send(b, "FA")
        flow.send(a, "A")
    elif kind == "both":
        flow.send("C", "FA")
        flow.send("S", "FA")
        flow.send("C", "A")
        flow.send("S", "A")
    elif kind.startswith("rst"):
        flow.send("C" if kind == "rst-client" else "S", "R")
    if kind != "open" and rng.random() < 0.3:
        flow.send(rng.choice("CS"), "A")  # a straggler after the close


def rand_flow(flow, rng):
    if rand_open(flow, rng):
        rand_middle(flow, rng)
        rand_close(flow, rng)


SCENARIOS = {"simopen": [simopen], "badsum": [badsum, badsum_syn],
             "othermac": [othermac, othermac_syn], "ttl": [ttl, ttl_probe],
             "ttlflow": [ttl_rst, ttl_reopen],
             "route": [route_drop("blackhole", 3), route_drop("unreachable", 4),
                       route_drop("prohibit", 5)],
             "mtu": [mtu_flow, mtu_syn, mtu_syn_fragmented], "random": [rand_flow]}


def main():
    if len(sys.argv) < 9:
        sys.exit(__doc__)
    cns, sns, cmac, gcmac, smac, gsmac, family, scenario = sys.argv[1:9]
    seed = int(sys.argv[9]) if len(sys.argv) > 9 else 1
    flows = int(sys.argv[10]) if len(sys.argv) > 10 else 1
    family = int(family)
    net = {"C": (packet_socket(cns, "vc"), cmac, gcmac),
           "S": (packet_socket(sns, "vs"), smac, gsmac)}
    rng = random.Random(seed * 10 + family)
    base = SPORT_BASE[scenario] + (500 if family == 6 else 0)
    frames = 0
    for i, fn in enumerate(SCENARIOS[scenario] * flows):
        flow = Flow(net, family, base + i, rng)
        fn(flow, rng)
        frames += flow.frames
    print(f"{scenario} IPv{family}: {frames} segments", flush=True)


if __name__ == "__main__":
    main()
