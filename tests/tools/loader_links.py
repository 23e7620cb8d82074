#!/usr/bin/env python3
"""Counts the BPF links attached right now whose program uses one of the
maps pinned in PIN_DIR/maps: one loader's links, whether pinned or not,
duplicates included (every sluice program uses one of its maps). Prints 0
when nothing is pinned there.

usage: loader_links.py PIN_DIR [--ids]   (--ids: print the link ids instead)
"""
import json
import os
import subprocess
import sys


def bpftool(*args):
    return json.loads(subprocess.check_output(["bpftool", "-j", *args],
                                              stderr=subprocess.DEVNULL))


def main():
    maps = set()
    try:
        for name in os.listdir(sys.argv[1] + "/maps"):
            maps.add(bpftool("map", "show", "pinned", sys.argv[1] + "/maps/" + name)["id"])
    except (OSError, subprocess.CalledProcessError, KeyError, ValueError):
        pass
    progs = {p["id"] for p in bpftool("prog", "show") if maps & set(p.get("map_ids", []))}
    links = [l["id"] for l in bpftool("link", "show") if l.get("prog_id") in progs]
    print(" ".join(map(str, links)) if "--ids" in sys.argv else len(links))


if __name__ == "__main__":
    main()
