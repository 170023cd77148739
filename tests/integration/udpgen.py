#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Bounded UDP traffic for the tests, with its own count of every flow.

  udpgen.py server ADDR PORT
      answers each datagram that starts with b"Q" or b"S" with RESPONSE bytes
      and swallows the others (the one-way case), until killed.
  udpgen.py client ADDR PORT MODE COUNT [FIRST_SPORT]
      q: COUNT request/response pairs (DNS-like), each from its own port;
      Q: the same from connected sockets (connect(), then send and recv);
      B: request/response pairs whose requests (BIG bytes) are fragmented;
      o: COUNT one-way datagrams that are never answered, each from its own port;
      s: COUNT streams, each from its own port: a datagram each way every
         STREAM_GAP seconds for STREAM_SECONDS (past the 2 s that make a
         stream in nf_conntrack).
      Source ports are FIRST_SPORT, FIRST_SPORT + 1, ... when given, else the
      kernel's. Prints one line per flow: "sport orig_packets orig_bytes
      reply_packets reply_bytes" (IP bytes, as nf_conntrack accounts them),
      and on stderr the first failure, if any; exits 1 if anything failed.
"""
import socket
import sys
import time

REQUEST = 40
BIG = 3000
ONE_WAY = 30
RESPONSE = 120
STREAM_SECONDS = 2.6
STREAM_GAP = 0.2
WAIT = 2.0


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def ip_bytes(family, payload):
    return payload + 8 + (40 if family == socket.AF_INET6 else 20)


def server(addr, port):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(2048)
        if data[:1] in (b"Q", b"S"):
            s.sendto(b"R" * RESPONSE, peer)


def client(addr, port, mode, count, first_sport):
    fam = family_of(addr)
    failed = None
    flows = []
    socks = []
    for i in range(count):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(WAIT)
        s.bind(("", first_sport + i if first_sport else 0))
        socks.append(s)
        flows.append([s.getsockname()[1], 0, 0, 0, 0])

    def send(i, kind, size):
        if mode == "Q":
            socks[i].send(kind + b"x" * (size - 1))
        else:
            socks[i].sendto(kind + b"x" * (size - 1), (addr, port))
        flows[i][1] += 1
        flows[i][2] += ip_bytes(fam, size)

    def receive(i):
        nonlocal failed
        try:
            data = socks[i].recv(2048)
        except socket.timeout:
            failed = failed or "flow %d: no response within %.0f s" % (flows[i][0], WAIT)
            return
        flows[i][3] += 1
        flows[i][4] += ip_bytes(fam, len(data))

    if mode == "Q":
        for s in socks:
            s.connect((addr, port))
    if mode in ("q", "Q", "B"):
        for i in range(count):
            send(i, b"Q", BIG if mode == "B" else REQUEST)
            receive(i)
    elif mode == "o":
        for i in range(count):
            send(i, b"O", ONE_WAY)
    elif mode == "s":
        end = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < end:
            for i in range(count):
                send(i, b"S", REQUEST)
                receive(i)
            time.sleep(STREAM_GAP)
    else:
        sys.exit("udpgen: mode %s is not q, o or s" % mode)
    for f in flows:
        print(*f)
    if failed:
        print("udpgen: " + failed, file=sys.stderr)
        sys.exit(1)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) in (6, 7) and sys.argv[1] == "client":
        first = int(sys.argv[6]) if len(sys.argv) == 7 else 0
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), first)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
