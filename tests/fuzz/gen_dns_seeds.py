#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/dns_fuzz.c into tests/fuzz/corpus/dns/.
Each seed is one byte of framing (0: UDP datagram, 1: TCP segment with the
2-byte length prefix) and the DNS message: responses real resolvers send
(compression, CNAME chains, mixed case, AAAA, many answers) and the hostile
shapes the parser must survive (pointer loops, forward pointers, counts
larger than the packet, cut records).
    tests/fuzz/gen_dns_seeds.py [outdir]"""
import os
import socket
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "dns")


def name(n, ptr=None):
    out = b"".join(bytes([len(l)]) + l.encode() for l in n.split(".") if l)
    return out + (struct.pack(">H", 0xC000 | ptr) if ptr is not None else b"\0")


def header(qd, an, flags=0x8180, ns=0, ar=0):
    return struct.pack(">HHHHHH", 0xBEEF, flags, qd, an, ns, ar)


def rr(owner_ptr, rtype, ttl, rdata):
    return struct.pack(">HHHIH", 0xC000 | owner_ptr, rtype, 1, ttl, len(rdata)) + rdata


def a(ip):
    return socket.inet_pton(socket.AF_INET, ip)


def aaaa(ip):
    return socket.inet_pton(socket.AF_INET6, ip)


def q(n, t=1):
    return name(n) + struct.pack(">HH", t, 1)


def seeds():
    yield "a", header(1, 1) + q("api.example.test") + rr(12, 1, 300, a("10.1.2.3"))
    yield "aaaa", header(1, 2) + q("V6.Example.TEST", 28) + rr(12, 28, 60, aaaa("2001:db8::1")) + rr(12, 28, 60, aaaa("::1"))
    m = header(1, 3) + q("www.shop.test")
    edge_at = len(m) + 12
    m += rr(12, 5, 100, name("edge.cdn.test"))
    e1_at = len(m) + 12
    m += rr(edge_at, 5, 20, name("e1", edge_at + 5)) + rr(e1_at, 1, 50, a("192.0.2.7"))
    yield "cname_chain", m
    yield "query", header(1, 0, flags=0x0100) + q("who.test")
    yield "nxdomain", header(1, 0, flags=0x8183) + q("none.test")
    yield "self_pointer", header(1, 0) + struct.pack(">H", 0xC00C) + struct.pack(">HH", 1, 1)
    yield "loop", header(1, 0) + b"\x01a\xc0\x0c" + struct.pack(">HH", 1, 1)
    yield "forward", header(1, 1) + q("f.test") + struct.pack(">HHHIH", 0xC000 | 40, 1, 1, 5, 4) + a("1.2.3.4") + name("far.test")
    yield "big_counts", header(65535, 65535, ns=65535, ar=65535) + q("c.test") + rr(12, 1, 5, a("192.0.2.1"))
    m = header(1, 2) + q("cut.test") + rr(12, 1, 10, a("192.0.2.1")) + rr(12, 1, 10, a("192.0.2.2"))
    yield "cut", m[:-3]
    many = header(1, 100) + q("many.test") + b"".join(rr(12, 1, 10, a("10.0.%d.%d" % (i // 250, i % 250))) for i in range(100))
    yield "many", many[:512]
    yield "ptr", header(1, 1) + q("4.3.2.1.in-addr.arpa", 12) + rr(12, 12, 3600, name("host.example.test"))
    yield "escapes", header(1, 1) + b"\x03a.\x01\x04\xff\x00\x00" + struct.pack(">HH", 1, 1) + rr(12, 1, 5, a("192.0.2.9"))
    yield "ttl_top_bit", header(1, 1) + q("t.test") + rr(12, 1, 0x80000001, a("192.0.2.10"))


def main():
    os.makedirs(OUT, exist_ok=True)
    for label, msg in seeds():
        with open(os.path.join(OUT, "udp_" + label), "wb") as f:
            f.write(b"\0" + msg)
        with open(os.path.join(OUT, "tcp_" + label), "wb") as f:
            f.write(b"\1" + struct.pack(">H", len(msg)) + msg)


if __name__ == "__main__":
    main()
