#!/usr/bin/env python3
"""Writes the seed corpus for decode_fuzz: valid loader frames (Contract 2)
holding a connection's open, HTTP/1.x data both ways, loss totals and close,
so the fuzzer starts from inputs that reach the pairer. Run from the repo top."""
import os
import struct


def u(v):
    if v < 0x80:
        return bytes([v])
    return b"\xcf" + struct.pack(">Q", v)


def arr(items):
    n = len(items)
    head = bytes([0x90 | n]) if n < 16 else b"\xdd" + struct.pack(">I", n)
    return head + b"".join(items)


def bin_(b):
    return b"\xc6" + struct.pack(">I", len(b)) + b


def str_(s):
    return bytes([0xa0 | len(s)]) + s


def ev(t, ts, rest):
    return arr([u(t), u(ts), u(100), u(100)] + rest)


def conn_open(cid, role):
    return ev(3, 1, [u(cid), u(role), u(2), bin_(b"\x7f\0\0\x01"), u(8080),
                     bin_(b"\x7f\0\0\x01"), u(40000), u(4026531840), str_(b"nginx")])


def data(cid, ts, direction, pos, payload, full=None):
    return ev(5, ts, [u(cid), u(direction), u(1), u(pos), u(full or len(payload)), bin_(payload)])


def frame(seq, events):
    return b"\x93\x01" + u(seq) + arr(events)


req = b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: v\r\n\r\n"
seeds = {
    "server_get": frame(1, [conn_open(7, 2), data(7, 2, 1, 0, req), data(7, 3, 0, 0, resp),
                            ev(4, 4, [u(7), u(len(resp)), u(len(req))])]),
    "client_chunked": frame(2, [conn_open(8, 1), data(8, 2, 0, 0, req), data(8, 3, 1, 0, chunked)]),
    "pipelined": frame(3, [conn_open(9, 2), data(9, 2, 1, 0, req * 3), data(9, 3, 0, 0, resp * 3)]),
    "gap_and_loss": frame(4, [conn_open(10, 0), data(10, 2, 1, 0, req[:10], len(req)),
                              data(10, 3, 1, 500, req), ev(6, 5, [u(0), u(12)])]),
    "exec_exit": frame(5, [ev(1, 1, [u(1), u(0), u(5), u(4026531836), u(100), u(9),
                                     str_(b"curl"), str_(b"/usr/bin/curl")]),
                           ev(2, 2, [u(0), u(9)])]),
}


# Version 4 (what the loader sends now): each event a bin holding one
# Contract-1 record in the host's (little-endian) layout, common/records.h.
def rec(t, ts, body, flags=0, tgid=100):
    return bin_(struct.pack("<HHIQII", t, flags, 24 + len(body), ts, tgid, tgid) + body)


def open4(cid, role):
    return rec(3, 1, struct.pack("<QBBHHHII16s16s16s", cid, role, 2, 8080, 40000, 0,
                                 4026531840, 0, b"\x7f\0\0\x01", b"\x7f\0\0\x01", b"nginx"))


def data4(cid, ts, direction, pos, payload, full=None):
    return rec(5, ts, struct.pack("<QQIIBBHI", cid, pos, full or len(payload), len(payload),
                                  direction, 1, 0, 0) + payload)


def close4(cid, ts, sent, recv):
    return rec(4, ts, struct.pack("<QQQ", cid, sent, recv))


def loss4(kind, total, epoch):
    return rec(6, 9, struct.pack("<IIQQ", kind, 0, total, epoch), tgid=0)


def exec4(ts):
    return rec(1, ts, struct.pack("<IIQIIQ16s256sII256s", 1, 0, 5, 4026531836, 100, 9, b"curl",
                                  b"/usr/bin/curl", 8, 0, b"curl\0-s\0"), flags=1)


def frame4(seq, events):
    return b"\x93\x04" + u(seq) + arr(events)


seeds.update({
    "v4_server_get": frame4(11, [open4(17, 2), data4(17, 2, 1, 0, req), data4(17, 3, 0, 0, resp),
                                 close4(17, 4, len(resp), len(req))]),
    "v4_pipelined_loss": frame4(12, [open4(18, 2), data4(18, 2, 1, 0, req * 3),
                                     data4(18, 3, 0, 0, resp * 3), loss4(0, 12, 1700000000)]),
    "v4_exec_chunked": frame4(13, [exec4(1), open4(19, 1), data4(19, 2, 0, 0, req),
                                   data4(19, 3, 1, 0, chunked)]),
})
os.makedirs("tests/fuzz/corpus/decode", exist_ok=True)
for name, blob in seeds.items():
    with open(os.path.join("tests/fuzz/corpus/decode", name), "wb") as f:
        f.write(blob)
