#!/usr/bin/env python3
"""Summarize run-peers.sh raw results into markdown tables.

    summarize.py OUT/raw.txt [--ratios FILE]      (OUT: run-peers.sh's result folder)

Per scenario and peer: median of the repeats, min-max spread, ratio of the
median to raw_epoll's median, latency medians, CPU of server and loadgen, and
server CPU time per request (srv_cpu% / rps, in microseconds).  "per-rep"
ratio = median over repeats of (peer / raw_epoll in the same repeat), which
cancels slow drift of the host.  Scenario (c)
also yields per-connection memory.  --ratios FILE also writes the per-rep
ratios as a table for plot.sh: one row per scenario, one column per peer,
"-" where a peer did not run.
"""
import statistics
import sys

TITLES = {
    "a": "(a) pingpong 64 B, 50 conns, depth 1",
    "b": "(b) pingpong 4 KiB, 50 conns, depth 1",
    "c": "(c) pingpong 64 B, 1000 conns, depth 1",
    "d": "(d) stream 64 KiB writes, 4 conns (256 KiB window/conn)",
    "e": "(e) --lines 64 B, 50 conns, depth 1",
}


def parse(path):
    runs = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            kv = {}
            for tok in line.split():
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    kv[k] = v
            runs.append(kv)
    return runs


def num(kv, k):
    try:
        return float(kv[k])
    except (KeyError, ValueError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=0):
    if x is None:
        return "-"
    return f"{x:,.{nd}f}"


def write_ratios(path, ratios, scens):
    peers = []
    for s in scens:
        for p in ratios.get(s, {}):
            if p not in peers and p != "raw_epoll":
                peers.append(p)
    with open(path, "w") as f:
        f.write("scenario\t" + "\t".join(peers) + "\n")
        for s in scens:
            row = [ratios.get(s, {}).get(p) for p in peers]
            f.write(f"({s})\t" + "\t".join("-" if r is None else f"{r:.3f}" for r in row) + "\n")


def main():
    runs = parse(sys.argv[1])
    ratios_path = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--ratios" else None
    ratios = {}
    # Use runs measured with the two vCPUs "near" each other (see
    # run-peers.sh); a (scen, peer) with no near run falls back to all its runs
    # and is marked with "*".  ALL=1 in the environment disables the filter.
    import os
    total = {}
    for r in runs:
        total.setdefault((r.get("scen"), r.get("peer")), []).append(r)
    fallback = set()
    if os.environ.get("ALL") != "1":
        kept = []
        for key, rs in total.items():
            near = [r for r in rs if r.get("placement", "near") == "near"]
            if not near:
                fallback.add(key)
                near = rs
            kept.extend(near)
        runs = [r for r in runs if r in kept]
    nfar = sum(1 for rs in total.values() for r in rs if r.get("placement") == "far")
    print(f"runs: {sum(len(v) for v in total.values())} total, {nfar} with far vCPU "
          f"placement ({'kept' if os.environ.get('ALL') == '1' else 'excluded'}).")
    groups = {}
    order = list(total.keys())  # first appearance over all runs: stable order
    for r in runs:
        key = (r.get("scen"), r.get("peer"))
        groups.setdefault(key, []).append(r)
    order = [k for k in order if k in groups]
    scens = []
    for s, _ in order:
        if s not in scens:
            scens.append(s)

    for s in scens:
        metric = "mbps" if s == "d" else "rps"
        unit = "MB/s" if s == "d" else "req/s"
        peers = [p for (ss, p) in order if ss == s]
        base = med(num(r, metric) for r in groups.get((s, "raw_epoll"), []))
        print(f"\n### {TITLES.get(s, s)}\n")
        print(f"| peer | {unit} median | min–max | × raw_epoll | × raw_epoll per-rep | "
              "p50 µs | p99 µs | p99.9 µs | srv CPU % | loadgen CPU % | srv CPU µs/req | "
              "errors | n |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for p in peers:
            rs = groups[(s, p)]
            ok = [r for r in rs if "rps" in r]
            vals = [num(r, metric) for r in ok]
            m = med(vals)
            lo = min(vals) if vals else None
            hi = max(vals) if vals else None
            ratio = (m / base) if (m is not None and base) else None
            # drift-robust: ratio to raw_epoll within the same repeat, median
            bym = {r.get("rep"): num(r, metric)
                   for r in groups.get((s, "raw_epoll"), []) if "rps" in r}
            rr = [num(r, metric) / bym[r.get("rep")] for r in ok
                  if bym.get(r.get("rep")) and num(r, metric) is not None]
            ratio_rep = med(rr)
            ratios.setdefault(s, {})[p] = ratio_rep
            srv = med(num(r, "srv_cpu") for r in ok)
            rps = med(num(r, "rps") for r in ok)
            cpu_per_req = (srv / 100.0 / rps * 1e6) if (srv and rps) else None
            errs = sum(int(num(r, "errors") or 0) for r in ok) + (len(rs) - len(ok))
            nd = 0 if metric == "rps" else 0
            mark = "*" if (s, p) in fallback else ""
            print(f"| {p}{mark} | {fmt(m, nd)} | {fmt(lo, nd)}–{fmt(hi, nd)} | "
                  f"{fmt(ratio, 2)} | {fmt(ratio_rep, 2)} | {fmt(med(num(r, 'p50_us') for r in ok), 0)} | "
                  f"{fmt(med(num(r, 'p99_us') for r in ok), 0)} | "
                  f"{fmt(med(num(r, 'p999_us') for r in ok), 0)} | {fmt(srv, 0)} | "
                  f"{fmt(med(num(r, 'lg_cpu') for r in ok), 0)} | {fmt(cpu_per_req, 2)} | "
                  f"{errs} | {len(rs)} |")

    if ratios_path:
        write_ratios(ratios_path, ratios, scens)

    mem = [(p, groups[("c", p)]) for (s, p) in order if s == "c"]
    if mem:
        print("\n### Memory, scenario (c): 1000 connections open\n")
        print("| peer | VmHWM KiB | VmHWM/1000 KiB | idle RSS KiB | "
              "(RSS@1000 − idle)/1000 KiB |")
        print("|---|---:|---:|---:|---:|")
        for p, rs in mem:
            ok = [r for r in rs if "rps" in r]
            hwm = med(num(r, "srv_hwm_kb") for r in ok)
            idle = med(num(r, "idle_rss_kb") for r in ok)
            rss = med(num(r, "srv_rss_kb") for r in ok)
            per = ((rss - idle) / 1000.0) if (rss is not None and idle is not None) else None
            print(f"| {p} | {fmt(hwm)} | {fmt(hwm / 1000.0 if hwm else None, 1)} | "
                  f"{fmt(idle)} | {fmt(per, 1)} |")


if __name__ == "__main__":
    main()
