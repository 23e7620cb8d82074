#!/usr/bin/env python3
"""Reads sluice's JSON-lines pairs for integration tests.

  pairs.py count  PAIRS PORT KIND N      exit 0 once >= N pairs match
  pairs.py oracle PAIRS PORT KIND LOG [CUT]   compare with a server's access log
  pairs.py show   PAIRS PORT KIND        print the matching pairs' summaries

PORT is the server port the pairs must carry; KIND is server or client. The
access log holds "METHOD URI STATUS" lines (nginx's $request_method
$request_uri $status, or the same written by another server). The oracle
passes when both sides hold the same multiset of lines and every pair is
complete; otherwise it prints what is missing and what is extra. With
PREFIX set in the environment only URIs starting with it count, on both
sides, so one server can serve several test cases.

CUT (default 0) is for load generators that stop by closing connections
with a request in flight (wrk does, at the end of its run): the server logs
such a request although its response never left (the write fails), so
sluice rightly reports it incomplete. Up to CUT incomplete pairs are then
allowed, each standing in for exactly one log line with the same method and
URI; every complete pair must still match a log line."""
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
    cut = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    with open(sys.argv[5], encoding="utf-8") as f:
        want = collections.Counter(l.strip() for l in f
                                   if l.strip() and l.split(" ")[1].startswith(PREFIX))
    got = collections.Counter(key(p) for p in pairs if p["sluice.complete"])
    incomplete = [p for p in pairs if not p["sluice.complete"]]
    ok = True
    if not want:
        print("the server logged no requests: nothing to compare")
        ok = False
    missing, extra = want - got, got - want
    if len(incomplete) > cut:
        print("incomplete pairs (%d, %d allowed):" % (len(incomplete), cut),
              [key(p) for p in incomplete[:10]])
        ok = False
    else:
        # each allowed incomplete pair must account for one missing log line
        for p in incomplete:
            uri = p["url.path"] + ("?" + p["url.query"] if "url.query" in p else "")
            match = [k for k in missing if k.rsplit(" ", 1)[0] == "%s %s" % (
                p["http.request.method"], uri)]
            if not match:
                print("incomplete pair with no log line:", key(p))
                ok = False
                continue
            missing[match[0]] -= 1
            missing = +missing
    if missing or extra:
        print("missing from sluice:", dict(missing))
        print("extra in sluice:", dict(extra))
        ok = False
    if ok:
        print("%d pairs match the server's log (%d cut by the client)"
              % (sum(want.values()), len(incomplete)))
    return 0 if ok else 1


sys.exit(main())
