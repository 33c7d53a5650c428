#!/usr/bin/env python3
"""The fetch path alone: broker CPU seconds per GB served, for several Sluice builds or settings on
the same data. For each variant (LABEL=BINARY[:yaml line]) a fresh broker gets the same load
(sluice-bench acks=1 into --partitions partitions for --produce-s seconds), then --rounds consume runs
read it all from the page cache (--from-beginning) while the broker's utime + stime is sampled from
/proc/PID/stat around each run; with --perf, one more run is profiled (perf record -e cpu-clock).
A librdkafka consumer on the same 2 cores is usually the bottleneck, so the number that compares
builds is the broker's CPU per GB, not the rate. Everything started here is stopped here.

  fetch_path.py --workdir /tmp/fp --out build/bench/fetch-path.json \\
      before=/tmp/old/sluice copy=build/sluice:"fetch.sendfile.enable: false" sendfile=build/sluice
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import compare  # noqa: E402  (start_sluice, cpu_seconds, perf_profile; same directory)


def consume(bootstrap, topic, seconds):
    cmd = [compare.BENCH, "--bootstrap", bootstrap, "--json", "--topic", topic, "--producers", "0",
           "--consumers", "1", "--from-beginning", "--duration", str(seconds), "--warmup", "0"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    return json.loads(p.stdout)["consume"]


def run_variant(label, spec, a):
    binary, _, extra = spec.partition(":")
    os.environ["SLUICE_BIN"] = os.path.abspath(binary)
    compare.conftest.SLUICE_BIN = os.environ["SLUICE_BIN"]
    d = os.path.join(a.workdir, label)
    shutil.rmtree(d, ignore_errors=True)
    broker = compare.start_sluice(d, extra + "\n" if extra else "")
    out = {"binary": binary, "config": extra, "rounds": []}
    try:
        subprocess.run([compare.BENCH, "--bootstrap", broker.bootstrap, "--json", "--topic", "fp",
                        "--partitions", str(a.partitions), "--acks", "1", "--duration",
                        str(a.produce_s), "--warmup", "0"], capture_output=True, timeout=300)
        for _ in range(a.rounds):
            c0, load = compare.cpu_seconds(broker.pid), os.getloadavg()[0]
            r = consume(broker.bootstrap, "fp", a.consume_s)
            cpu = compare.cpu_seconds(broker.pid) - c0
            gb = r["records"] * compare.RECORD_SIZE / 1e9
            out["rounds"].append({"mib_per_s": r["mib_per_s"], "gb": round(gb, 3),
                                  "broker_cpu_s": round(cpu, 3),
                                  "cpu_s_per_gb": round(cpu / gb, 3) if gb else None,
                                  "loadavg_1m": round(load, 2)})
            print(f"fetch_path: {label}: {out['rounds'][-1]}", file=sys.stderr, flush=True)
        if a.perf:
            p = subprocess.Popen([compare.BENCH, "--bootstrap", broker.bootstrap, "--json",
                                  "--topic", "fp", "--producers", "0", "--consumers", "1",
                                  "--from-beginning", "--duration", str(a.consume_s),
                                  "--warmup", "0"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            time.sleep(0.5)
            out["perf"] = compare.perf_profile(broker.pid, max(a.consume_s - 1, 1), d)
            p.communicate(timeout=a.consume_s + 120)
    finally:
        out["broker_exit"] = broker.stop()
        shutil.rmtree(d, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--produce-s", type=float, default=10)
    ap.add_argument("--consume-s", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("variants", nargs="+", help="LABEL=BINARY[:yaml line]")
    a = ap.parse_args()
    results = {}
    for v in a.variants:
        label, _, spec = v.partition("=")
        results[label] = run_variant(label, spec, a)
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
