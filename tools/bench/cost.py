#!/usr/bin/env python3
"""What the broker spends per MiB produced and per MiB consumed, measured in ways that do not
depend on how busy the machine is (docs/performance.md, "Cost per MiB"): a fixed-rate
sluice-bench produce run (then, optionally, a consume of what it wrote) against one fresh
build/sluice, and around the measured window only:

  --mode stat      the broker's CPU seconds (utime + stime of every thread, io_uring workers
                   included), system calls by name and context switches (perf stat), per MiB;
  --mode callgrind the broker runs under `valgrind --tool=callgrind`: user-space instructions
                   per MiB (instrumentation switched on after the warm-up, dumped at the end)
                   and the top functions by instructions;
  --mode record    `perf record -e cpu-clock -g` of the broker: top symbols by self time.

With --metrics, the broker's own view of the same window from /metrics: the Produce request
duration (last byte read to answer handed to the socket) and the fdatasync duration, as the
bucket bounds holding p50/p99/p99.9. Set beside the client's latency, that splits a tail between
the broker and the client's own queueing.

    python3 tools/bench/cost.py --backend io_uring --rate 20000 --duration 10 --mode stat

Every broker started is stopped; the data dir is deleted.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (bench(), cpu_seconds(), start_sluice())

# The system calls the broker's data path makes (perf stat counts each by name).
SYSCALLS = ("read", "readv", "recvfrom", "write", "writev", "sendmsg", "sendfile64", "pwritev",
            "pwrite64", "pread64", "fdatasync", "io_uring_enter", "epoll_wait", "epoll_pwait",
            "epoll_pwait2", "epoll_ctl", "futex", "mincore", "dup", "close", "mmap", "munmap",
            "madvise", "brk", "clock_gettime")


def syscall_events():
    have = set(os.path.basename(p)[len("sys_enter_"):]
               for p in glob.glob("/sys/kernel/tracing/events/syscalls/sys_enter_*") +
               glob.glob("/sys/kernel/debug/tracing/events/syscalls/sys_enter_*"))
    return [s for s in SYSCALLS if s in have]


# io_uring's own counts: SQEs submitted, and those handed to an io-wq worker thread.
URING_EVENTS = ("io_uring:io_uring_submit_req", "io_uring:io_uring_queue_async_work")


def perf_stat(pid, seconds):
    events = ["task-clock", "context-switches", "page-faults", "raw_syscalls:sys_enter"] + \
        [f"syscalls:sys_enter_{s}" for s in syscall_events()] + \
        [e for e in URING_EVENTS
         if os.path.isdir("/sys/kernel/tracing/events/" + e.replace(":", "/"))]
    p = subprocess.run(["perf", "stat", "-x,", "-e", ",".join(events), "-p", str(pid), "--",
                        "sleep", str(seconds)], capture_output=True, text=True,
                       timeout=seconds + 60)
    out = {}
    for line in p.stderr.splitlines():
        f = line.split(",")
        if len(f) > 3 and f[0].replace(".", "", 1).isdigit():
            out[f[2].replace("syscalls:sys_enter_", "").replace("io_uring:", "")] = float(f[0])
    return out


def perf_record(pid, seconds, out_dir, event="cpu-clock"):
    if event == "cpu-clock":
        return compare.perf_profile(pid, seconds, out_dir)
    data = os.path.join(out_dir, "perf.data")
    subprocess.run(["perf", "record", "-e", event, "-g", "-p", str(pid), "-o", data, "--",
                    "sleep", str(seconds)], capture_output=True, text=True, timeout=seconds + 60)
    rep = subprocess.run(["perf", "report", "--stdio", "--no-children", "-G", "-i", data,
                          "--percent-limit", "3"], capture_output=True, text=True, timeout=300)
    return "\n".join(l for l in rep.stdout.splitlines() if l.strip() and not l.startswith("#"))[:6000]


HIST = re.compile(r'^(sluice_request_duration_seconds|sluice_log_fsync_duration_seconds)_bucket'
                  r'\{(.*?)le="([^"]+)"\} (\S+)$', re.M)


def scrape(url):
    """Cumulative bucket counts of the Produce duration and fsync histograms: {name: {le: n}}."""
    import urllib.request
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    out = {}
    for name, labels, le, n in HIST.findall(text):
        if name.startswith("sluice_request") and 'request="Produce"' not in labels:
            continue
        key = "produce" if name.startswith("sluice_request") else "fsync"
        out.setdefault(key, {})
        le = float("inf") if le == "+Inf" else float(le)
        out[key][le] = out[key].get(le, 0) + float(n)
    return out


def quantiles(before, after):
    """p50/p99/p99.9 upper bucket bounds (ms) of what was observed between two scrapes."""
    res = {}
    for key, buckets in after.items():
        delta = sorted((le, n - before.get(key, {}).get(le, 0)) for le, n in buckets.items())
        total = delta[-1][1] if delta else 0
        q = {"count": total}
        for name, frac in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999)):
            q[name + "_ms_at_most"] = next((le * 1000 for le, n in delta if n >= frac * total),
                                           None) if total else None
        res[key] = q
    return res


def callgrind_control(*args):
    return subprocess.run(["callgrind_control", *args], capture_output=True, text=True,
                          timeout=120)


def callgrind_summary(out_file):
    ann = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=98", out_file],
                         capture_output=True, text=True, timeout=300).stdout
    total = 0
    m = re.search(r"^\s*([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", ann, re.M)
    if m:
        total = int(m.group(1).replace(",", ""))
    top = [l for l in ann.splitlines() if re.match(r"^\s*[\d,]+ \(\s*[\d.]+%\)\s+\S", l)
           and "PROGRAM TOTALS" not in l][:25]
    return total, "\n".join(top)


def run(a):
    workdir = tempfile.mkdtemp(prefix="sluice-cost-", dir=a.workdir)
    extra = f"storage.io.backend: {a.backend}\n" + "".join(f"{c}\n" for c in a.config)
    launcher = ()
    cg_out = os.path.join(workdir, "callgrind.out")
    if a.mode == "callgrind":
        launcher = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={cg_out}",
                    "--dump-instr=no", "--separate-threads=no", "--instr-atstart=no")
    os.makedirs(workdir, exist_ok=True)
    text = compare.conftest.broker_config(os.path.join(workdir, "data"), extra)
    env = dict(kv.split("=", 1) for kv in a.env)
    broker = compare.conftest.Broker(text, workdir, env=env, launcher=launcher)
    broker.pid = broker.proc.pid
    result = {"backend": a.backend, "mode": a.mode, "rate": a.rate, "config": a.config,
              "producer_props": a.producer_prop, "sluice_bin": compare.conftest.SLUICE_BIN}
    try:
        args = ["--topic", "cost", "--partitions", str(a.partitions), "--acks", a.acks,
                "--rate", str(a.rate), "--duration", str(a.duration), "--warmup",
                str(a.warmup), *sum((["-P", p] for p in a.producer_prop), [])]
        measured = {}

        def window():
            m0 = scrape(broker.http_url) if a.metrics else None
            if a.mode == "stat":
                cpu0 = compare.cpu_seconds(broker.pid)
                measured["stat"] = perf_stat(broker.pid, a.duration)
                measured["cpu_s"] = compare.cpu_seconds(broker.pid) - cpu0
            elif a.mode == "record":
                measured["profile"] = perf_record(broker.pid, a.duration, workdir, a.event)
            else:
                callgrind_control("-i", "on", str(broker.pid))
                time.sleep(a.duration)
                callgrind_control("-d", str(broker.pid))
            if a.metrics:
                measured["broker_latency"] = quantiles(m0, scrape(broker.http_url))

        # The tool's window starts after topic creation and the warm-up.
        timer = threading.Timer(a.warmup + 1.0, window)
        timer.start()
        r = compare.bench(broker.bootstrap, args, timeout=a.duration + a.warmup + 300)
        timer.join()
        result["produce"] = r.get("produce")
        result["errors"] = r.get("errors")
        result["loadavg_1m"] = r.get("loadavg_1m")
        mib = (r.get("produce") or {}).get("bytes", 0) / 2**20
        result["mib"] = mib
        if a.consume:
            cargs = ["--topic", "cost", "--producers", "0", "--consumers", "1",
                     "--from-beginning", "--duration", str(a.duration), "--warmup", "0"]
            cpu0 = compare.cpu_seconds(broker.pid)
            c = compare.bench(broker.bootstrap, cargs, timeout=a.duration + 300)
            result["consume"] = c.get("consume")
            result["consume_cpu_s"] = compare.cpu_seconds(broker.pid) - cpu0
        if "stat" in measured and mib:
            st = measured["stat"]
            result["cpu_ms_per_mib"] = measured["cpu_s"] * 1000 / mib
            result["per_mib"] = {k: v / mib for k, v in st.items() if k != "task-clock"}
        if "profile" in measured:
            result["profile"] = measured["profile"]
        if "broker_latency" in measured:
            result["broker_latency"] = measured["broker_latency"]
            requests = measured["broker_latency"].get("produce", {}).get("count")
            if requests and "stat" in measured:
                result["per_produce_request"] = {k: v / requests for k, v in
                                                 measured["stat"].items() if k != "task-clock"}
    finally:
        result["broker_exit"] = broker.stop(timeout=120)
    if a.mode == "callgrind":
        dumps = sorted(glob.glob(cg_out + "*"), key=os.path.getmtime)
        # The dump taken at the end of the window (-d) is the first numbered part.
        parts = [d for d in dumps if re.search(r"\.\d+$", d)] or dumps
        total, top = callgrind_summary(parts[0])
        result["instructions"] = total
        result["instructions_per_mib"] = total / result["mib"] if result.get("mib") else None
        result["top"] = top
        if a.keep_callgrind:
            shutil.copy(parts[0], a.keep_callgrind)
    if a.mode == "record" and a.keep_perf_data:
        shutil.copy(os.path.join(workdir, "perf.data"), a.keep_perf_data)
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="io_uring")
    ap.add_argument("--mode", choices=("stat", "callgrind", "record"), default="stat")
    ap.add_argument("--event", default="cpu-clock", help="--mode record: the perf event")
    ap.add_argument("--rate", type=int, default=20000, help="records/s (1 KiB each)")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--acks", default="all")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--consume", action="store_true", help="then consume it all (stat: CPU only)")
    ap.add_argument("-P", "--producer-prop", action="append", default=[])
    ap.add_argument("--config", action="append", default=[], help="extra broker YAML line")
    ap.add_argument("--metrics", action="store_true",
                    help="the broker's own Produce duration and fdatasync histograms over the "
                    "window (from /metrics; bucket upper bounds)")
    ap.add_argument("--env", action="append", default=[], help="K=V for the broker's environment")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep-callgrind", default=None, help="copy the callgrind dump here")
    ap.add_argument("--keep-perf-data", default=None, help="copy perf.data (--mode record) here")
    ap.add_argument("--out", default=None, help="append the JSON result to this file")
    a = ap.parse_args()
    r = run(a)
    text = json.dumps(r, indent=1)
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps(r) + "\n")
    print(text)


if __name__ == "__main__":
    main()
