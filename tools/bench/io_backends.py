#!/usr/bin/env python3
"""The two disk backends side by side (docs/performance.md, "Disk backends"): sluice-bench produce
acks=all and acks=1, 1 KiB records, on 1 and 100 partitions, against build/sluice with
storage.io.backend io_uring and sync. Rounds interleave the backends so that the shared machine's
load falls on both alike; each result keeps the 1-minute load average around it. With --profile,
one more acks=all run per backend and partition count under `perf record -e cpu-clock`.
Writes every result to --out (JSON) and prints a Markdown table. Every broker started is stopped.

    python3 tools/bench/io_backends.py --rounds 2 --duration 10 --out build/io_backends.json
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (bench(), perf_profile(), start_sluice())

BACKENDS = ("io_uring", "sync")
PARTITIONS = (1, 100)
ACKS = ("all", "1")


def perf_stat(pid, seconds):
    """The broker's CPU time, system calls and context switches over `seconds` (perf stat on the
    threads that exist when it attaches: the loop, libuv's pool, io_uring's workers)."""
    p = subprocess.run(["perf", "stat", "-x,", "-e", "task-clock,raw_syscalls:sys_enter,"
                        "context-switches", "-p", str(pid), "--", "sleep", str(seconds)],
                       capture_output=True, text=True, timeout=seconds + 60)
    out = {}
    for line in p.stderr.splitlines():
        f = line.split(",")
        if len(f) > 3 and f[0].replace(".", "", 1).isdigit():
            out[f[2]] = float(f[0])
    return {"cpu_s": out.get("task-clock", 0.0) / 1000.0,
            "syscalls": out.get("raw_syscalls:sys_enter"),
            "context_switches": out.get("context-switches")}


def run_one(workdir, backend, partitions, acks, duration, warmup, profile=False):
    d = os.path.join(workdir, f"{backend}-{partitions}-{acks}")
    shutil.rmtree(d, ignore_errors=True)
    broker = compare.start_sluice(d, f"storage.io.backend: {backend}\n")
    try:
        args = ["--topic", "io", "--partitions", str(partitions), "--acks", acks,
                "--duration", str(duration), "--warmup", str(warmup)]
        # perf attaches after the warm-up and watches the measured window.
        prof = {}
        if profile:
            timer = threading.Timer(warmup, lambda: prof.update(
                top=compare.perf_profile(broker.pid, duration, d)))
        else:
            timer = threading.Timer(warmup, lambda: prof.update(
                stat=perf_stat(broker.pid, duration)))
        timer.start()
        result = compare.bench(broker.bootstrap, args, timeout=duration + warmup + 120)
        timer.join()
        if profile:
            result["profile"] = prof.get("top", "perf did not run")
        else:
            result["broker"] = prof.get("stat", {})
        assert f"storage io backend={backend}" in broker.log_text()
    finally:
        rc = broker.stop()
        shutil.rmtree(d, ignore_errors=True)
    result["broker_exit"] = rc
    return result


def cell(r):
    if r.get("fatal") or "produce" not in r:
        return f"failed: {r.get('fatal')}"
    p = r["produce"]
    gib = p["bytes"] / (1 << 30) or float("nan")
    b = r.get("broker") or {}
    per_gib = ""
    if b.get("cpu_s") and b.get("syscalls") is not None:
        per_gib = (f", broker {b['cpu_s'] / gib:.1f} CPU s/GiB, "
                   f"{b['syscalls'] / gib / 1000:.0f}k syscalls/GiB, "
                   f"{b['context_switches'] / gib / 1000:.0f}k switches/GiB")
    return (f"{p['mib_per_s']:.0f} MiB/s{per_gib} "
            f"(load {r['loadavg_1m'][0]:.1f}){' errors' if r['errors'] else ''}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--out", default=os.path.join(compare.ROOT, "build", "io_backends.json"))
    ap.add_argument("--workdir", default=None, help="data directory (default: a temp dir in /tmp)")
    a = ap.parse_args()
    workdir = a.workdir or tempfile.mkdtemp(prefix="sluice-io-bench-")
    results = []
    for rnd in range(1, a.rounds + 1):
        for partitions in PARTITIONS:
            for acks in ACKS:
                for backend in (BACKENDS if rnd % 2 else BACKENDS[::-1]):
                    r = run_one(workdir, backend, partitions, acks, a.duration, a.warmup)
                    r.update(round=rnd, backend=backend, partitions=partitions, acks=acks)
                    results.append(r)
                    print(f"round {rnd} {backend:8} partitions={partitions:3} acks={acks:3} "
                          f"{cell(r)}", flush=True)
    if a.profile:
        for partitions in PARTITIONS:
            for backend in BACKENDS:
                r = run_one(workdir, backend, partitions, "all", a.duration, a.warmup, True)
                r.update(round="profile", backend=backend, partitions=partitions, acks="all")
                results.append(r)
                print(f"profile {backend} partitions={partitions} {cell(r)}\n{r['profile']}\n",
                      flush=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
    print("\n| partitions | acks | backend | " +
          " | ".join(f"round {i}" for i in range(1, a.rounds + 1)) + " |")
    print("|---|---|---|" + "---|" * a.rounds)
    for partitions in PARTITIONS:
        for acks in ACKS:
            for backend in BACKENDS:
                cells = [cell(r) for r in results if r["backend"] == backend and
                         r["partitions"] == partitions and r["acks"] == acks and
                         r["round"] != "profile"]
                print(f"| {partitions} | {acks} | {backend} | " + " | ".join(cells) + " |")
    if not a.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
