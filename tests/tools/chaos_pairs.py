#!/usr/bin/env python3
"""Compares the processor's complete server-side pairs with an access log
under traffic that does not stop (tests/integration/test_chaos.sh): the
log is a snapshot, later pairs are not "extra".

Prints "logged=N missing=N duplicated=N incomplete=N broken=N":
  logged      lines under PREFIX in LOG (minus those in --since OLDLOG)
  missing     of those, lines with no complete pair
  duplicated  complete pairs beyond what LOG holds, for lines LOG holds
              (a kill -9 replays what the last checkpoint did not cover)
  incomplete  pairs marked incomplete under PREFIX
  broken      JSON lines that do not parse
Exits 0 when nothing is missing.

usage: chaos_pairs.py PAIRS PORT PREFIX LOG [--since OLDLOG]
"""
import collections
import json
import sys


def log_lines(path, prefix):
    got = collections.Counter()
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[1].startswith(prefix):
                got[line.strip()] += 1
    return got


def pairs(path, port, prefix):
    got, incomplete, broken = collections.Counter(), 0, 0
    with open(path, errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # being written
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
    return got, incomplete, broken


def main():
    args = sys.argv[1:]
    since = collections.Counter()
    if "--since" in args:
        i = args.index("--since")
        since = log_lines(args[i + 1], args[2])
        del args[i:i + 2]
    path, port, prefix, log = args[0], int(args[1]), args[2], args[3]
    full = log_lines(log, prefix)
    want = full - since
    got, incomplete, broken = pairs(path, port, prefix)
    missing = sum(max(0, n - got[k]) for k, n in want.items())
    dups = sum(max(0, got[k] - n) for k, n in full.items())
    print("logged=%d missing=%d duplicated=%d incomplete=%d broken=%d" % (
        sum(want.values()), missing, dups, incomplete, broken))
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
