#!/usr/bin/env python3
"""Turns scripts/bench.sh's raw records (one JSON object per line) into the
table `make bench` prints and the figures file results.json. Ratios are taken
between runs made next to each other (same rep) and then the median over reps
is shown, with the spread, so one noisy run cannot decide a line.

    report.py RAW.jsonl RESULTS.json
"""
import json
import statistics
import sys
from collections import defaultdict

MIB = 1024


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def num(v):
    """v if it is a number, else None (a field a dead process left empty)."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def fmt(v, spec="{:.0f}", none="-"):
    if v is None or v == "":
        return none
    try:
        return spec.format(v)
    except (ValueError, TypeError):
        return str(v)


def load(path):
    recs = defaultdict(list)
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                recs[r["kind"]].append(r)
    return recs


def overhead(recs, res, out):
    runs = recs.get("wrk", [])
    if not runs:
        return
    by = {(r["rep"], r["cfg"], r["mode"]): r for r in runs}
    reps = sorted({r["rep"] for r in runs})
    out.append("1. Overhead: nginx (1 worker, CPU 1) <- wrk -t1 -c%s (CPU 0), 612-byte page; "
               "%d interleaved reps x %ss" % (res["meta"].get("wrk_conns", "?"), len(reps),
                                              res["meta"].get("seconds", "?")))
    out.append("   %-10s %-9s %9s %7s %-13s %7s %7s %8s %-22s %9s" % (
        "mode", "attached", "req/s", "ratio", "(min..max)", "p50 us", "p99 us", "+p99 us",
        "CPU-ms/1k req = nginx+tool", "pairs/req"))
    res["overhead"] = {}
    for mode in ("ka", "close"):
        for cfg in ("none", "floor", "probes", "sluice", "bpftrace"):
            mine = [by[k] for k in by if k[1] == cfg and k[2] == mode]
            if not mine:
                continue
            ratios, dp99, cpu, pairs = [], [], [], []
            for rep in reps:
                a, z = by.get((rep, cfg, mode)), by.get((rep, "none", mode))
                if a and z and z["rps"]:
                    ratios.append(a["rps"] / z["rps"])
                    dp99.append(a["p99_us"] - z["p99_us"])
                if a and a["requests"]:
                    cpu.append((a["cpu_nginx_s"] + a["cpu_tool_s"]) / (a["requests"] / 1000.0))
                    if "pairs" in a:
                        pairs.append(a["pairs"] / a["requests"])
            row = {
                "rps": median(r["rps"] for r in mine),
                "ratio": median(ratios),
                "ratio_min": min(ratios) if ratios else None,
                "ratio_max": max(ratios) if ratios else None,
                "p50_us": median(r["p50_us"] for r in mine),
                "p99_us": median(r["p99_us"] for r in mine),
                "added_p99_us": median(dp99),
                "cpu_s_per_1k": median(cpu),
                "cpu_nginx_s_per_1k": median(r["cpu_nginx_s"] / (r["requests"] / 1000.0)
                                             for r in mine if r["requests"]),
                "cpu_tool_s_per_1k": median(r["cpu_tool_s"] / (r["requests"] / 1000.0)
                                            for r in mine if r["requests"]),
                "pairs_per_request": median(pairs),
                "sluice_loss": sum(r.get("loss") or 0 for r in mine),
                "sluice_dead": sorted({r["dead"] for r in mine if r.get("dead")}),
                "errors": sum(r.get("errors", 0) for r in mine),
                "peer_lost_events": sum(r.get("lost", 0) for r in mine),
            }
            res["overhead"]["%s/%s" % (mode, cfg)] = row
            spread = ("%.3f..%.3f" % (row["ratio_min"], row["ratio_max"])) if ratios else ""
            cpu = "%5s = %5s + %5s" % (
                fmt(row["cpu_s_per_1k"] and row["cpu_s_per_1k"] * 1000, "{:.1f}"),
                fmt(row["cpu_nginx_s_per_1k"] and row["cpu_nginx_s_per_1k"] * 1000, "{:.1f}"),
                fmt(row["cpu_tool_s_per_1k"] is not None and row["cpu_tool_s_per_1k"] * 1000, "{:.1f}"))
            out.append("   %-10s %-9s %9s %7s %-13s %7s %7s %8s %-26s %9s%s" % (
                "keep-alive" if mode == "ka" else "close", cfg, fmt(row["rps"]),
                fmt(row["ratio"], "{:.3f}"), spread, fmt(row["p50_us"]), fmt(row["p99_us"]),
                fmt(row["added_p99_us"], "{:+.0f}") if cfg != "none" else "", cpu,
                fmt(row["pairs_per_request"], "{:.3f}") if cfg == "sluice" else "",
                ("  errors=%d" % row["errors"] if row["errors"] else "") +
                ("  peer lost %d events" % row["peer_lost_events"]
                 if row["peer_lost_events"] else "") +
                ("  sluice lost %d" % row["sluice_loss"] if row["sluice_loss"] else "") +
                ("  SLUICE DIED: %s" % "; ".join(row["sluice_dead"]) if row["sluice_dead"] else "")))
    out.append("   CPU-ms/1k req: CPU time of nginx (its kernel time includes the probes) and of "
               "the tool (loader + processor, or bpftrace) per 1000 requests")
    out.append("   pairs/req: complete request/response pairs sluice wrote per request wrk counted")
    out.append("   floor: programs that return at once on every hook sluice attaches "
               "(tests/bench/hook_floor.c): what the hooks cost before any work")
    out.append("   probes: sluice's probes and loader with no processor connected (the loader "
               "spools, then drops): the kernel side and the loader without the processor")
    out.append("")


def kernel(recs, res, out):
    rows = recs.get("bpf", [])
    if not rows:
        return
    out.append("2. Kernel cost (kernel.bpf_stats_enabled=1, separate runs; ns = run_time_ns/run_cnt)")
    res["kernel"] = {}
    for tool in ("sluice", "bpftrace"):
        for mode in ("ka", "close"):
            rs = [r for r in rows if r["tool"] == tool and r["mode"] == mode]
            if not rs:
                continue
            ns, cnt, req = sum(r["ns"] for r in rs), sum(r["cnt"] for r in rs), rs[0]["requests"]
            top = sorted((r for r in rs if r["cnt"]), key=lambda r: -r["ns"])[:4]
            k = {"ns_per_invocation": ns / cnt if cnt else None,
                 "invocations_per_request": cnt / req if req else None,
                 "bpf_us_per_request": ns / req / 1000 if req else None,
                 "programs": {r["prog"] + "#" + str(r["id"]): {"ns": r["ns"], "cnt": r["cnt"],
                              "ns_per_run": r["ns"] / r["cnt"] if r["cnt"] else None} for r in rs}}
            res["kernel"]["%s/%s" % (tool, mode)] = k
            out.append("   %-8s %-10s %3d progs: %6s ns/invocation, %5s runs/request, %6s us BPF "
                       "per request; top: %s" % (
                           tool, "keep-alive" if mode == "ka" else "close", len(rs),
                           fmt(k["ns_per_invocation"]), fmt(k["invocations_per_request"], "{:.1f}"),
                           fmt(k["bpf_us_per_request"], "{:.2f}"),
                           ", ".join("%s %.0fns" % (r["prog"], r["ns"] / r["cnt"]) for r in top)))
    out.append("")


def pipeline(recs, res, out):
    ramp = recs.get("ramp", [])
    steps = recs.get("ramp_step", [])
    pb = {r["stream"]: r for r in recs.get("proc_bench", [])}
    h1 = recs.get("http1_bench", [])
    gw = recs.get("frame_gen_write", [])
    if not (ramp or steps or pb or h1):
        return
    out.append("3. Pipeline")
    res["pipeline"] = {}
    best = []
    if ramp:
        r = dict(ramp[0])
        best = [x for x in steps if x["rate"] == r["max_rate"] and x["result"] == "pass"]
        r["max_pairs_per_s"] = best[0]["pairs_per_s"] if best else None
        res["pipeline"]["ramp"] = r
        res["pipeline"]["ramp_steps"] = steps
        out.append("   frame-gen (CPU 0) -> processor (unpinned), 3 s steps, fresh processor each, 32 MiB "
                   "spool: max %s events/s (%s pairs/s) with zero drops; first failing step %s events/s"
                   % (fmt(r["max_rate"]), fmt(r["max_pairs_per_s"]), fmt(r["first_fail"] or None)))
        for x in steps:
            out.append("     step %9.0f ev/s: sent %9.0f ev/s, %8.0f pairs/s acked, dropped %d, backlog "
                       "at end %5.1f MiB, drained in %.2fs, processor used %s CPUs, pairs out %s/%s -> %s" % (
                           x["rate"], x["events_per_s"], x["pairs_per_s"], x["dropped_events"],
                           x["backlog_end"] / 1048576.0, x["drain_s"], fmt(x.get("proc_cpus"), "{:.2f}"),
                           x.get("proc_pairs"), x["acked_pairs"], x["result"]))
    if ramp and best and best[0].get("proc_cpus"):
        x = best[0]
        r["proc_us_per_event"] = 1e6 * x["proc_cpus"] / x["events_per_s"]
        r["events_per_proc_core"] = x["events_per_s"] / x["proc_cpus"]
        out.append("     at %s events/s the processor used %.2f CPUs: %.2f us per event, %s events/s if it "
                   "had a core to itself" % (fmt(x["rate"]), x["proc_cpus"], r["proc_us_per_event"],
                                              fmt(r["events_per_proc_core"])))
    if gw:
        res["pipeline"]["generator_events_per_s"] = gw[0].get("gen_events_per_s")
        out.append("     frame-gen alone generates %s events/s (one core, the loader's encoder)"
                   % fmt(gw[0].get("gen_events_per_s")))
    for name, what in (("synthetic", "generated keep-alive stream (32 pairs/conn, 256 conns)"),
                       ("recorded", "stream recorded from the loader under nginx + wrk")):
        if name in pb:
            r = pb[name]
            res["pipeline"]["proc_" + name] = r
            out.append("   processor alone (taskset one core), %s:" % what)
            out.append("     per CPU-second %s events/s, %s pairs/s; per wall second %s events/s, %s pairs/s "
                       "(got %.0f%% of the core); bad events %d"
                       % (fmt(r["events_per_cpu_s"]), fmt(r["pairs_per_cpu_s"]), fmt(r["events_per_s"]),
                          fmt(r["pairs_per_s"]), 100.0 * r["median_cpu_s"] / r["median_s"],
                          r["bad_events"]))
    if h1:
        res["pipeline"]["http1_parser"] = h1[0]
        out.append("   HTTP/1.x parser alone (tests/bench/http1_bench.c): %s pairs/s"
                   % fmt(h1[0].get("pairs_per_s")))
    out.append("")


def realpath(recs, res, out):
    rows = recs.get("realpath", [])
    if not rows:
        return
    out.append("4. Real path: tcp-blast (2 threads, 4 syscalls = 4 DATA events per exchange) in the "
               "traced cgroup -> ring buffer -> loader -> processor")
    best = None
    for r in rows:
        ok = r["lost"] == 0 and r["events"] > 0 and not r.get("dead")
        if ok and (best is None or r["events_per_s"] > best["events_per_s"]):
            best = r
        out.append("   target %7s exch/s: did %7.0f exch/s, processor received %8.0f events/s, lost %d"
                   % ("max" if not r["target"] else "%.0f" % r["target"], r["exchanges_per_s"],
                      r["events_per_s"], r["lost"]) +
                   ("  SLUICE DIED: %s" % r["dead"] if r.get("dead") else ""))
    res["realpath"] = {"steps": rows, "best_zero_loss_events_per_s": best and best["events_per_s"]}
    out.append("   highest with zero loss: %s events/s" % fmt(best and best["events_per_s"]))
    out.append("")


def memory(recs, res, out):
    rows = recs.get("mem", [])
    if not rows:
        return
    out.append("5. Memory: idle keep-alive connections to nginx (one request each), kB")
    out.append("   %7s %8s %8s | %-44s | %-30s" % (
        "conns", "tracked", "max-conns", "loader RSS (HWM) = BPF maps + anon + file",
        "processor RSS (HWM), anon"))
    res["memory"] = {}
    for r in rows:
        if r["max_conns"] != "default":
            res["memory"][str(r["conns"])] = r
        else:
            res["memory"]["start_default"] = r
        bm = r.get("loader_bpfmap_kb") or 0
        out.append("   %7d %8s %9s | %7s (%7s) = %6s + %5s + %6s      | %7s (%7s), %7s" % (
            r["conns"], r.get("live"), r["max_conns"], r.get("loader_VmRSS_kb"),
            r.get("loader_VmHWM_kb"), bm, r.get("loader_RssAnon_kb"),
            (r.get("loader_RssFile_kb") or 0) - bm, r.get("processor_VmRSS_kb"),
            r.get("processor_VmHWM_kb"), r.get("processor_RssAnon_kb")))
    out.append("   BPF maps = the ring buffer as the loader maps it (twice its size, back to back)")
    out.append("")


def verdict(ok):
    return "PASS" if ok else "MISS"


def targets(res, out):
    out.append("Targets")
    t = []
    ov = res.get("overhead", {})

    def line(name, target, value, ok, note=""):
        t.append({"target": name, "want": target, "got": value,
                  "result": "n/a" if ok is None else verdict(ok), "note": note})
        out.append("   %-62s %-17s %-16s %s%s" % (name, target, value,
                                                   "n/a" if ok is None else verdict(ok),
                                                   ("  " + note) if note else ""))

    s = ov.get("ka/sluice", {}).get("ratio")
    dead = ov.get("ka/sluice", {}).get("sluice_dead")
    line("keep-alive req/s with sluice / without", ">= 0.95", fmt(s, "{:.3f}"),
         None if s is None else (s >= 0.95 and not dead),
         "not full capture: sluice died (%s)" % "; ".join(dead) if dead else "")
    f = ov.get("ka/floor", {}).get("ratio")
    k = ov.get("ka/probes", {}).get("ratio")
    if k is not None:
        line("keep-alive: sluice's probes and loader, no processor", "(info)",
             fmt(k, "{:.3f}"), None)
    if f is not None:
        line("keep-alive: the same hooks with empty programs (floor)", "(info)",
             fmt(f, "{:.3f}"), None,
             "sluice's work beyond the hooks: %s of the floor" % fmt(s and s / f, "{:.3f}")
             if s else "")
    for mode, name in (("ka", "keep-alive"), ("close", "Connection: close")):
        s = ov.get(mode + "/sluice", {}).get("ratio")
        p = ov.get(mode + "/bpftrace", {}).get("ratio")
        line("%s: sluice's ratio beats bpftrace's" % name, "> peer",
             "%s vs %s" % (fmt(s, "{:.3f}"), fmt(p, "{:.3f}")),
             None if s is None or p is None else s > p)
    pl = res.get("pipeline", {})
    r = pl.get("ramp", {}).get("max_rate")
    line("pipeline events/s with zero drops (frame-gen -> processor)", ">= 1,000,000", fmt(r),
         None if r is None else r >= 1e6)
    rp = res.get("realpath", {}).get("best_zero_loss_events_per_s")
    if rp is not None:
        line("real path events/s with zero loss (tcp-blast, loader, processor)", "(info)", fmt(rp), None)
    pp = pl.get("proc_synthetic", {}).get("pairs_per_cpu_s")
    line("HTTP pairs per CPU-second, processor pipeline (generated)", ">= 500,000", fmt(pp),
         None if pp is None else pp >= 5e5,
         "%s per wall second" % fmt(pl.get("proc_synthetic", {}).get("pairs_per_s")))
    pr = pl.get("proc_recorded", {}).get("pairs_per_cpu_s")
    if pr is not None:
        line("HTTP pairs per CPU-second, processor pipeline (recorded)", "(info)", fmt(pr), None)
    mem = res.get("memory", {}).get("100000") or {}
    dead = " (sluice died: %s)" % mem["dead"] if mem.get("dead") else ""
    v = num(mem.get("processor_VmRSS_kb"))
    line("processor RSS at 100k connections", "<= 64 MiB",
         fmt(v and v / MIB, "{:.1f} MiB", "not measured"), v is not None and v <= 64 * MIB,
         ("tracked %s" % mem.get("live") if mem else "") + dead)
    # The ring buffer is a pinned BPF map: kernel memory that exists with or
    # without a loader (it keeps filling while none runs), sized by
    # --ringbuf-bytes like the spool by --spool-bytes, and RSS counts it twice
    # (libbpf maps it back to back). It is shown, and left out of the target
    # as the other BPF maps are.
    v = num(mem.get("loader_VmRSS_kb"))
    bm = num(mem.get("loader_bpfmap_kb")) or 0
    line("loader RSS at 100k connections, as the kernel counts it", "(info)",
         fmt(v and v / MIB, "{:.1f} MiB", "not measured"), None,
         "of which the ring-buffer mapping %.1f MiB (--ringbuf-bytes, mapped twice)" % (bm / MIB)
         if v else dead)
    own = v - bm if v else None
    line("loader memory at 100k connections: RSS without the BPF maps", "<= 16 MiB + spool",
         fmt(own and own / MIB, "{:.1f} MiB", "not measured"), own is not None and own <= 16 * MIB,
         "anon (spool, heap) %.1f MiB, files (binary, libraries) %.1f MiB" % (
             (num(mem.get("loader_RssAnon_kb")) or 0) / MIB,
             ((num(mem.get("loader_RssFile_kb")) or 0) - bm) / MIB) if v else dead)
    res["targets"] = t


def main():
    recs = load(sys.argv[1])
    meta = recs.get("meta", [{}])[0]
    end = recs.get("meta_end", [{}])[0]
    res = {"meta": dict(meta, seconds_total=end.get("seconds"))}
    out = ["sluice bench  %s  Linux %s  %s CPUs (%s)  commit %s%s  bench took %ss" % (
        meta.get("date"), meta.get("kernel"), meta.get("cpus"), meta.get("cpu"), meta.get("commit"),
        " + %s changed files" % meta["dirty"] if meta.get("dirty") else "", end.get("seconds", "?")),
        "machine: %s other BPF programs loaded (%s attached to tracepoints: every traced syscall "
        "runs them too), load average %s at start, %s at end" % (
            meta.get("other_bpf_progs"), meta.get("other_tracepoint_links"), meta.get("loadavg"),
            end.get("loadavg")), ""]
    overhead(recs, res, out)
    kernel(recs, res, out)
    pipeline(recs, res, out)
    realpath(recs, res, out)
    memory(recs, res, out)
    targets(res, out)
    print("\n".join(out))
    with open(sys.argv[2], "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
