#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Write the committed seed corpus of the fuzz targets (tests/fuzz/corpus/).

Packet seeds start with the selector byte of fuzz_packet (bit 0: egress,
bit 1: arrived forwarded, bit 2: as it is, else to this host with checksums
made right), then an Ethernet frame. Addresses are from the
documentation ranges the tests use.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 1, 2, 4, 8, 16, 32, 64, 128
A4 = (bytes([198, 18, 0, 1]), bytes([198, 18, 1, 2]))
A6 = (bytes.fromhex("20010db8000000000000000000000001"),
      bytes.fromhex("20010db8000000000000000000000002"))
MAC = bytes.fromhex("020000000001020000000002")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp(sport, dport, flags, payload=b"", doff=5, seq=1000, ack=0):
    opts = b"\x01" * ((doff - 5) * 4) if doff > 5 else b""
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (doff & 15) << 4, flags, 65535,
                       0, 0) + opts + payload


def ipv4(l4, proto=6, tot=None, ihl=5, frag=0, src=A4[0], dst=A4[1]):
    opts = b"\x01" * ((ihl - 5) * 4) if ihl > 5 else b""
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl & 15), 0,
                      tot if tot is not None else 20 + len(opts) + len(l4), 1, frag, 64, proto,
                      0, src, dst) + opts
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + l4


def ipv6(l4, nh=6, plen=None, src=A6[0], dst=A6[1]):
    return struct.pack("!IHBB16s16s", 0x60000000, plen if plen is not None else len(l4), nh, 64,
                       src, dst) + l4


def eth(l3, etype):
    return MAC + struct.pack("!H", etype) + l3


def e4(l4, **kw):
    return eth(ipv4(l4, **kw), 0x0800)


def e6(l4, **kw):
    return eth(ipv6(l4, **kw), 0x86DD)


def packets():
    p = {}
    t = lambda f, **kw: tcp(40000, 80, f, **kw)
    # A whole handshake and close, each direction, v4 and v6.
    for fam, mk in (("v4", e4), ("v6", e6)):
        p[f"{fam}-syn"] = mk(t(SYN))
        p[f"{fam}-synack"] = mk(tcp(80, 40000, SYN | ACK), **({"src": A4[1], "dst": A4[0]} if fam == "v4" else {"src": A6[1], "dst": A6[0]}))
        p[f"{fam}-ack-data"] = mk(t(ACK | PSH, payload=b"x" * 100))
        p[f"{fam}-fin"] = mk(t(FIN | ACK))
        p[f"{fam}-rst"] = mk(t(RST))
    # Odd flag combinations.
    for name, f in (("synfin", SYN | FIN), ("synrst", SYN | RST), ("noflags", 0),
                    ("allflags", 0xFF), ("finonly", FIN), ("urg", URG | ACK),
                    ("ece-cwr-syn", SYN | ECE | CWR), ("rstack", RST | ACK)):
        p[f"flags-{name}"] = e4(t(f))
    p["port0"] = e4(tcp(0, 0, SYN))
    p["port0-v6"] = e6(tcp(0, 80, SYN))
    p["same-endpoints"] = e4(tcp(80, 80, SYN), src=A4[0], dst=A4[0])
    # Truncations and bogus lengths.
    syn = e4(t(SYN))
    for cut in (14, 15, 20, 33, 34, 40, 53):
        p[f"trunc-v4-{cut}"] = syn[:cut]
    syn6 = e6(t(SYN))
    for cut in (14, 30, 53, 54, 60, 73):
        p[f"trunc-v6-{cut}"] = syn6[:cut]
    p["v4-totlen-short"] = e4(t(SYN), tot=20)
    p["v4-totlen-long"] = e4(t(SYN), tot=1500)
    p["v4-totlen-zero"] = e4(t(SYN), tot=0)
    p["v4-ihl-4"] = e4(t(SYN), ihl=4)
    p["v4-ihl-15"] = e4(t(SYN), ihl=15)
    p["v4-ihl-15-short"] = e4(t(SYN), ihl=15)[:60]
    p["v4-options"] = e4(t(SYN), ihl=8)
    p["tcp-doff-0"] = e4(t(SYN, doff=0))
    p["tcp-doff-4"] = e4(t(SYN, doff=4))
    p["tcp-doff-15"] = e4(t(SYN, doff=15))
    p["tcp-doff-15-short"] = e4(t(SYN, doff=15))[:60]
    p["v6-plen-short"] = e6(t(SYN), plen=4)
    p["v6-plen-long"] = e6(t(SYN), plen=9000)
    p["v4-first-frag"] = e4(t(SYN), frag=0x2000)
    p["v4-later-frag"] = e4(t(SYN), frag=0x0010)
    # Other protocols and encapsulations.
    p["udp"] = e4(struct.pack("!HHHH", 5353, 53, 8, 0), proto=17)
    p["icmp6"] = e6(b"\x80\0\0\0\0\0\0\0", nh=58)
    p["v6-hopbyhop"] = e6(bytes([6, 0]) + b"\x01\x04\0\0\0\0" + t(SYN), nh=0)
    p["v6-routing"] = e6(bytes([6, 0, 0, 0]) + b"\0" * 4 + t(SYN), nh=43)
    p["v6-fragment"] = e6(bytes([6, 0, 0, 0, 0, 0, 0, 1]) + t(SYN), nh=44)
    p["v6-ext-loop"] = e6(bytes([0, 0]) * 40, nh=0)
    p["vlan"] = MAC + struct.pack("!HHH", 0x8100, 100, 0x0800) + ipv4(t(SYN))
    p["qinq"] = MAC + struct.pack("!HHHHH", 0x88A8, 10, 0x8100, 100, 0x0800) + ipv4(t(SYN))
    p["arp"] = eth(b"\0\1\x08\0\6\4\0\1" + b"\0" * 20, 0x0806)
    p["eth-v4-type-v6-body"] = eth(ipv6(t(SYN)), 0x0800)
    p["eth-v6-type-v4-body"] = eth(ipv4(t(SYN)), 0x86DD)
    p["v4-version-5"] = eth(b"\x55" + ipv4(t(SYN))[1:], 0x0800)
    return p


def main():
    seeds = {
        "packet": {},
        "args": {
            # selector 0: policy rules; 1: load options; 2: numbers
            "policy-all": b"\0all",
            "policy-prefix-port": b"\0198.18.1.0/24\nport\n80",
            "policy-v6": b"\x002001:db8::/32\nport\n443",
            "policy-host-bits": b"\x00198.18.1.77/8",
            "policy-bad-plen": b"\x00198.18.1.0/33",
            "policy-port0": b"\0all\nport\n0",
            "policy-port-hex": b"\0all\nport\n0x50",
            "policy-trailing": b"\0all\nport",
            "load-all": b"\x01max-flows\n65536\nmark\n0x100/0xff00\ntimeout\nTIME_WAIT\n30",
            "load-mark-outside": b"\x01mark\n0x1/0x2",
            "load-mark-noslash": b"\x01mark\n0x10",
            "load-unack": b"\x01timeout\nunack\n300",
            "load-timeout-huge": b"\x01timeout\nESTABLISHED\n4294967295",
            # the settings schema's spellings and shapes
            "load-keys": b"\x01max-flows\n010\ntimeout-time-wait\n30\nlocal\nno\n"
                         b"expiry-interval\n0.25\nunreplied-max\nauto\ncgroup\n/sys/fs/cgroup",
            "load-prefixes": b"\x01max\n100\nm\n5\nexp\n1.5\ntimeout-syn\n3",
            "load-bad-numbers": b"\x01max-flows\n0x10\nmax-flows\n+5\nexpiry-interval\n0.0105\n"
                                b"timeout-close\n1e3\nlocal\nmaybe",
            "policy-octal-plen": b"\x00010.1.2.0/024",
            "policy-plus-plen": b"\x00198.18.1.0/+24",
            "policy-octal-port": b"\x00all\nport\n0443",
            "num-octal": b"\x020777",
            "num-neg": b"\x02-1",
            "num-big": b"\x0218446744073709551616",
        },
        "config": {
            "full": b"[ctaccel]\ndevices = eth0, eth1\nlisten = 127.0.0.1:9474\n"
                    b"pin-path = /sys/fs/bpf/ctaccel\nexpiry-interval = 10\nhttp-rate = 50\n"
                    b"max-flows = 262144\nmark = 0x01000000/0x01000000\n"
                    b"timeout-time-wait = 120\npolicy = 198.18.0.0/15 port 80\n"
                    b"policy = all\ndetach-on-exit = yes\n",
            "unix": b"listen = unix:/run/ctaccel.sock\n",
            "v6-listen": b"listen = [::1]:9474\n",
            "bad-section": b"[other]\nx = 1\n",
            "bad-key": b"nonsense = 1\n",
            "long-line": b"devices = " + b"eth0," * 200 + b"\n",
            "continuation": b"policy = all\n  port 80\n",
            "no-equals": b"device\n",
            "bad-timeout": b"timeout-nosuch = 5\n",
            "old-spellings": b"[ctaccel]\ndevice = eth0\ngc_interval = 2\nmax_flows = 1024\n"
                             b"timeout_TIME_WAIT = 30\ndetach_on_exit = on\npin_path = /x\n",
            "bad-bool": b"[ctaccel]\ndetach-on-exit = maybe\n",
            # numbers are decimal digits only; marks alone may be 0x-hex
            "numbers-other-bases": b"[ctaccel]\nmax-flows = 0100\nhttp-rate = +5\n"
                                   b"expiry-interval = 0x2\nmark = 0x100/0xff00\n"
                                   b"policy = 10.1.2.0/024 port 0443\n",
            "long-policy": b"[ctaccel]\npolicy = 198.18.0.0/16" + b" " * 250 + b"port 443\n",
        },
        "http": {
            # selector 0: policy body; 1: METHOD\nURL; 2: listen address
            "body-good": b'\0{"rules": [{"prefix": "all"}, {"prefix": "198.18.1.0/24", "port": 80}]}',
            "body-null-port": b'\0{"rules": [{"prefix": "2001:db8::/32", "port": null}]}',
            "body-extra-key": b'\0{"rules": [{"prefix": "all", "x": 1}]}',
            "body-port-string": b'\0{"rules": [{"prefix": "all", "port": "80"}]}',
            "body-port-huge": b'\0{"rules": [{"prefix": "all", "port": 99999999999999}]}',
            "body-not-json": b"\0{rules:",
            "body-deep": b"\0" + b"[" * 2000,
            "body-empty": b'\0{"rules": []}',
            "body-octal-plen": b'\0{"rules": [{"prefix": "10.1.2.0/024", "port": 443}]}',
            "body-plus-plen": b'\0{"rules": [{"prefix": "198.18.1.0/+24"}]}',
            "body-port-negative": b'\0{"rules": [{"prefix": "all", "port": -1}]}',
            "req-metrics": b"\x01GET\n/metrics",
            "req-policy-put": b"\x01PUT\n/v1/policy",
            "req-bad-method": b"\x01DELETE\n/v1/policy",
            "req-traversal": b"\x01GET\n/../../etc/passwd",
            "req-query": b"\x01GET\n/metrics?x=1",
            "listen-v4": b"\x02127.0.0.1:9474",
            "listen-v6": b"\x02[::1]:9474",
            "listen-unix": b"\x02unix:/run/ctaccel.sock",
            "listen-port0": b"\x02127.0.0.1:0",
            "listen-noport": b"\x02127.0.0.1:",
            "listen-trailing": b"\x02127.0.0.1:80x",
            "listen-octal-port": b"\x02127.0.0.1:09474",
            "listen-plus-port": b"\x02127.0.0.1:+80",
            "listen-hex-port": b"\x02127.0.0.1:0x50",
            "listen-long-unix": b"\x02unix:" + b"a" * 200,
        },
    }
    for name, frame in packets().items():
        seeds["packet"][f"in-{name}"] = b"\0" + frame
    for name in ("v4-syn", "v4-synack", "v6-ack-data"):
        seeds["packet"][f"eg-{name}"] = b"\x01" + packets()[name]
        seeds["packet"][f"fwd-{name}"] = b"\x03" + packets()[name]
        # as they are: for another MAC, checksums unset
        seeds["packet"][f"raw-{name}"] = b"\x04" + packets()[name]
    for target, files in seeds.items():
        d = os.path.join(OUT, target)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print(f"wrote {sum(len(v) for v in seeds.values())} seeds under {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
