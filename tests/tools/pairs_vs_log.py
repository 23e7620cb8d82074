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
import sys

from chaos_pairs import log_lines, pairs


def main():
    path, port, log, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    want = log_lines(log, prefix)
    got, incomplete, broken = pairs(path, port, prefix)
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
