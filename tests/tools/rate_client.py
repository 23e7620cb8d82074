#!/usr/bin/env python3
"""A steady-rate HTTP/1.1 client for tests (Debian's wrk has no -R).

Sends GET PREFIX<n> for n = 0, 1, ... at RATE requests per second for SECS
seconds over keep-alive connections, opening a new connection every
--per-conn requests (so connects, accepts and closes happen too), and prints
one line: "sent N ok M". Each URI is unique, so a server's access log and
what sluice saw can be compared as sets.

usage: rate_client.py HOST:PORT PREFIX RATE SECS [--per-conn K] [--until FILE]
--until FILE: keep going after SECS until FILE exists (a test's stop signal).
"""
import http.client
import os
import sys
import time


def main():
    args = sys.argv[1:]
    per_conn = 50
    until = None
    if "--per-conn" in args:
        i = args.index("--per-conn")
        per_conn = int(args[i + 1])
        del args[i:i + 2]
    if "--until" in args:
        i = args.index("--until")
        until = args[i + 1]
        del args[i:i + 2]
    hostport, prefix, rate, secs = args[0], args[1], float(args[2]), float(args[3])
    host, port = hostport.rsplit(":", 1)
    start = time.monotonic()
    sent = ok = 0
    conn = None
    while True:
        due = start + sent / rate
        now = time.monotonic()
        if now - start >= secs and (until is None or os.path.exists(until)):
            break
        if due > now:
            time.sleep(due - now)
        if conn is None or sent % per_conn == 0:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("GET", "%s%d" % (prefix, sent))
            resp = conn.getresponse()
            resp.read()
            ok += resp.status < 500
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = None
        sent += 1
    if conn is not None:
        conn.close()
    print("sent %d ok %d" % (sent, ok), flush=True)


if __name__ == "__main__":
    main()
