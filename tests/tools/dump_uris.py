#!/usr/bin/env python3
"""Reads wire-dump output and prints "UNIQUE DUPLICATES" for the HTTP
request URIs under PREFIX that a server read (ingress DATA whose payload
starts with "GET PREFIX"). A frame seen again (resent after a reconnect)
counts once, by seq; a URI seen in two different frames is a duplicate.

usage: dump_uris.py PREFIX DUMP_FILE [--list]
"""
import re
import sys


def main():
    prefix, path = sys.argv[1], sys.argv[2]
    pat = re.compile(r'^DATA .* dir=1 .* cap=\d+ "GET (%s\S*) ' % re.escape(prefix))
    seqs, seen, dups, skip = set(), {}, 0, False
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("# frame seq="):
                seq = line.split()[2]
                skip = seq in seqs
                seqs.add(seq)
                continue
            m = None if skip else pat.match(line)
            if m:
                uri = m.group(1)
                dups += uri in seen
                seen[uri] = seen.get(uri, 0) + 1
    if "--list" in sys.argv:
        print("\n".join(sorted(seen)))
    else:
        print(len(seen), dups)


if __name__ == "__main__":
    main()
