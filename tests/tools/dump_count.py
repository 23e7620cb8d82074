#!/usr/bin/env python3
"""Sums what wire-dump received, counting each frame once (a frame resent
after a reconnect has the same seq). Prints one line:
  frames=N events=N loss_events=N delivered=N loss.K=TOTAL ...
where delivered = events that are not LOSS reports, and loss.K is the last
total reported for kind K (highest seq wins).

usage: dump_count.py DUMP_FILE
"""
import re
import sys


def main():
    frames, events, loss_events, last = set(), 0, 0, {}
    cur, dup = None, False
    pat_frame = re.compile(r"^# frame seq=(\d+) events=(\d+) bytes=\d+ loss=(\d+)")
    pat_loss = re.compile(r"^LOSS .* kind=(\d+) total=(\d+)")
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            m = pat_frame.match(line)
            if m:
                cur, dup = int(m.group(1)), m.group(1) in frames
                if not dup:
                    frames.add(m.group(1))
                    events += int(m.group(2))
                    loss_events += int(m.group(3))
                continue
            m = pat_loss.match(line)
            if m and not dup:
                k = int(m.group(1))
                if k not in last or last[k][0] <= cur:
                    last[k] = (cur, int(m.group(2)))
    out = "frames=%d events=%d loss_events=%d delivered=%d" % (
        len(frames), events, loss_events, events - loss_events)
    out += "".join(" loss.%d=%d" % (k, v[1]) for k, v in sorted(last.items()))
    print(out)


if __name__ == "__main__":
    main()
