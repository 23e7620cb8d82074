#!/usr/bin/env python3
"""Compares the processor's server-side pairs with an access log, for
restart tests: prints "log=N pairs=N missing=N duplicated=N incomplete=N
broken=N" for the URIs under PREFIX, and exits 0 when nothing is missing.

missing: log lines with no complete pair; duplicated: complete pairs beyond
what the log holds (a replay after kill -9 may repeat what the last
checkpoint did not cover); broken: JSON lines that do not parse (a writer
killed mid-line, and the next one appending to that line). An unterminated
last line is being written: it is skipped.

usage: pairs_vs_log.py PAIRS PORT LOG PREFIX [--list]
"""
import collections
import json
import sys


def main():
    path, port, log, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    want = collections.Counter()
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[1].startswith(prefix):
                want[line.strip()] += 1
    got, incomplete, broken = collections.Counter(), 0, 0
    with open(path, errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # the processor is mid-write
            try:
                p = json.loads(line)
            except ValueError:
                broken += 1
                continue
            if p.get("server.port") != port or p.get("span.kind") != "server" or \
                    not p.get("url.path", "").startswith(prefix):
                continue
            if not p.get("sluice.complete"):
                incomplete += 1
                continue
            uri = p["url.path"] + ("?" + p["url.query"] if "url.query" in p else "")
            got["%s %s %s" % (p["http.request.method"], uri,
                              p.get("http.response.status_code", 0))] += 1
    missing = want - got
    extra = got - want
    print("log=%d pairs=%d missing=%d duplicated=%d incomplete=%d broken=%d" % (
        sum(want.values()), sum(got.values()), sum(missing.values()),
        sum(extra.values()), incomplete, broken))
    if "--list" in sys.argv:
        for k in sorted(missing):
            print("missing:", k)
        for k in sorted(extra):
            print("extra:", k)
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
