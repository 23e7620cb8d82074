#!/usr/bin/env python3
"""Writes the seed corpus for http1_fuzz (format: see tests/fuzz/http1_fuzz.c).
Script mode: one role byte, then records (ctl, len, payload) of chunks in both
directions; seeds are whole, valid conversations so the fuzzer starts deep in
the parser. Generator mode: four parameter bytes and randomness.
Run from the repo top."""
import os

UNKNOWN, CLIENT, SERVER = 0, 1, 2
PLAIN, CUT, GAP, REPLAY = 0, 1, 2, 3


def chunk(egress, payload, kind=PLAIN, amount=0):
    """One record; payloads over 255 bytes become several records."""
    out = b""
    for i in range(0, max(len(payload), 1), 255):
        part = payload[i:i + 255]
        out += bytes([(amount << 3) | (kind << 1) | int(egress), len(part)]) + part
    return out


def conv(role, *records):
    return bytes([role]) + b"".join(records)


def req_resp(role, req, resp):
    """role's view: a server reads requests (ingress), a client writes them."""
    req_out = role == CLIENT
    return conv(role, chunk(req_out, req), chunk(not req_out, resp))


SEEDS = {
    "server_get": req_resp(
        SERVER, b"GET /index.html?a=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"),
    "client_post": req_resp(
        CLIENT, b"POST /api HTTP/1.1\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n{\"a\":1}",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    "pipelined": req_resp(
        SERVER, b"".join(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(4))
        + b"HEAD /h HTTP/1.1\r\n\r\n",
        b"".join(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d" % i for i in range(4))
        + b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
    "chunked": req_resp(
        CLIENT, b"PUT /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        b"a\r\n0123456789\r\n0\r\n\r\n"),
    "http10_close": conv(
        SERVER, chunk(False, b"GET /old HTTP/1.0\r\n\r\n"),
        chunk(True, b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n<html>"),
        chunk(True, b"</html>")),
    "upgrade_101": req_resp(
        SERVER, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi"),
    "unknown_gaps": conv(
        UNKNOWN, chunk(False, b"GET /a HTTP/1.1\r\n\r\n"),
        chunk(True, b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\nxxxx", CUT, 8),
        chunk(False, b"GET /b HTTP/1.1\r\nHost: cut-here", CUT, 3),
        chunk(False, b"GET /c HTTP/1.1\r\n\r\n", GAP, 2),
        chunk(True, b"HTTP/1.1 204 No Content\r\n\r\n", GAP, 1),
        chunk(True, b"\r\n", REPLAY, 1)),
}

# A shared pool of 2 slots (byte 0 bit 5, bits 3-4: 1): pipelined requests
# evict each other; a checkpoint mid-way (REPLAY 30) and a damaged one (29).
SEEDS["pool_pipelined"] = conv(
    SERVER | 0x28, chunk(False, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
    chunk(False, b"GET /3 HTTP/1.1\r\n\r\nHEAD /4 HTTP/1.1\r\n\r\n"),
    chunk(True, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" * 3),
    chunk(False, b"", REPLAY, 30),
    chunk(True, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"),
    chunk(False, b"GET /5 HTTP/1.1\r\n\r\n"))
SEEDS["restore_damaged"] = conv(
    CLIENT, chunk(True, b"POST /p?q HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"),
    chunk(False, b"\x01\x40\x07\x50\xff\x60\x02\x70", REPLAY, 29),
    chunk(True, b"cd"),
    chunk(False, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))

# Generator mode (byte 0 bit 7): roles, exchange counts, pipelining depths
# and fault rates; the rest is randomness for tests/fuzz/http1_gen.h.
for name, head in {"gen_server_plain": (0x80, 5, 0, 0),
                   "gen_client_pipelined": (0x81, 12, 5, 0),
                   "gen_server_faults": (0x80, 20, 2, 10),
                   "gen_unknown_faults": (0x83, 30, 7, 25),
                   "gen_server_pool": (0x84 | (2 << 3), 25, 9, 5)}.items():
    SEEDS[name] = bytes(head) + bytes((i * 37 + 11) % 256 for i in range(64))

d = "tests/fuzz/corpus/http1"
os.makedirs(d, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
