#!/usr/bin/env python3
"""Reads sluice's JSON-lines pairs for integration tests.

  pairs.py count  PAIRS PORT KIND N      exit 0 once >= N pairs match
  pairs.py oracle PAIRS PORT KIND LOG    compare with a server's access log
  pairs.py show   PAIRS PORT KIND        print the matching pairs' summaries

PORT is the server port the pairs must carry; KIND is server or client. The
access log holds "METHOD URI STATUS" lines (nginx's $request_method
$request_uri $status, or the same written by another server). The oracle
passes when both sides hold the same multiset of lines and every pair is
complete; otherwise it prints what is missing and what is extra. With
PREFIX set in the environment only URIs starting with it count, on both
sides, so one server can serve several test cases."""
import collections
import json
import os
import sys

PREFIX = os.environ.get("PREFIX", "")


def load(path, port, kind):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # the processor is mid-write
                p = json.loads(line)
                if p.get("server.port") == port and p.get("span.kind") == kind \
                        and p.get("url.path", "").startswith(PREFIX):
                    out.append(p)
    except FileNotFoundError:
        pass
    return out


def key(p):
    uri = p["url.path"] + ("?" + p["url.query"] if "url.query" in p else "")
    return "%s %s %s" % (p["http.request.method"], uri, p.get("http.response.status_code", 0))


def main():
    cmd, path, port, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    pairs = load(path, port, kind)
    if cmd == "count":
        return 0 if len(pairs) >= int(sys.argv[5]) else 1
    if cmd == "show":
        for p in pairs:
            print(key(p), "complete" if p["sluice.complete"] else "INCOMPLETE")
        return 0
    with open(sys.argv[5], encoding="utf-8") as f:
        want = collections.Counter(l.strip() for l in f
                                   if l.strip() and l.split(" ")[1].startswith(PREFIX))
    got = collections.Counter(key(p) for p in pairs)
    incomplete = [key(p) for p in pairs if not p["sluice.complete"]]
    ok = True
    if not want:
        print("the server logged no requests: nothing to compare")
        ok = False
    if got != want:
        print("missing from sluice:", dict(want - got))
        print("extra in sluice:", dict(got - want))
        ok = False
    if incomplete:
        print("incomplete pairs:", incomplete[:10])
        ok = False
    if ok:
        print("%d pairs match the server's log" % sum(want.values()))
    return 0 if ok else 1


sys.exit(main())
