#!/usr/bin/env python3
"""Runs the same sluice-bench scenarios against Sluice and the reference Apache Kafka 4.0.0 on this
machine, one broker at a time, and writes every result (sluice-bench's JSON) to one JSON file and
a Markdown table. Called by scripts/bench.sh; data lives under --workdir and is deleted after each
broker. Every broker started here is stopped here, also on errors.

Targets: sluice (storage.sync.policy ack, the default: acks=1 and acks=all answered after
fdatasync), sluice-<backend> (the same with storage.io.backend set, e.g. sluice-sync,
sluice-io_uring), sluice-copy (fetch.sendfile.enable false: the copying fetch path),
sluice-interval (Kafka's page-cache behaviour), kafka (defaults: no fsync on the produce path),
kafka-flush1 (log.flush.interval.messages=1: a flush after every append).

Scenarios (1 KiB records, issue #10): produce acks=1 and acks=all on 1, 100 and 1,000 partitions;
consume from the page cache; produce latency at half the peak acks=all rate with linger.ms=0. For
each, the broker's CPU seconds inside the measured window (utime + stime from /proc/PID/stat) and so
its CPU per GB moved; the broker's RSS idle (after start-up) and after the 1,000-partition runs.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import conftest  # noqa: E402  (Broker: build/sluice on loopback, port read back)
import kafka_ref  # noqa: E402  (KafkaRef: the reference Kafka 4.0.0 from build/kafka-libs)

BENCH = os.environ.get("SLUICE_BENCH_BIN", os.path.join(ROOT, "build", "release", "tools", "bench",
                                                     "sluice-bench"))
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "build", "sluice"))
PARTITIONS = 4
RECORD_SIZE = 1024


class BenchKafka(kafka_ref.KafkaRef):
    """KafkaRef started like Kafka's own start script: a 1 GiB heap."""

    def start(self):
        cp = kafka_ref.require_libs()
        self.port, self.controller_port = kafka_ref.free_port(), kafka_ref.free_port()
        while self.controller_port == self.port:
            self.controller_port = kafka_ref.free_port()
        self._write_config()
        log_opt = f"-Dlog4j2.configurationFile={self.log4j_path}"
        fmt = subprocess.run(
            ["java", "-Xmx256m", *kafka_ref.JAVA_TOOL_OPTS, log_opt, "-cp", cp,
             "kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", self.config_path],
            capture_output=True, text=True, timeout=120)
        if fmt.returncode != 0:
            raise RuntimeError(f"kafka storage format failed:\n{fmt.stdout}\n{fmt.stderr}")
        with open(self.out_file, "w") as out:
            self.proc = subprocess.Popen(
                ["java", "-Xmx1g", "-Xms1g", log_opt, "-cp", cp, "kafka.Kafka", self.config_path],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.workdir)
        self.bootstrap = f"{self.host}:{self.port}"
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self


def start_sluice(workdir, extra=""):
    os.makedirs(workdir, exist_ok=True)
    text = conftest.broker_config(os.path.join(workdir, "data"), extra)
    text = text.replace("auto.create.topics.enable: true", "auto.create.topics.enable: false")
    b = conftest.Broker(text, workdir)
    b.pid = b.proc.pid
    return b


def start_kafka(workdir, props=None):
    k = BenchKafka(workdir, extra_props=props or {}).start()
    k.pid = k.proc.pid
    return k


TARGETS = {
    "sluice": lambda d: start_sluice(d),
    "sluice-interval": lambda d: start_sluice(d, "storage.sync.policy: interval\n"),
    "sluice-copy": lambda d: start_sluice(d, "fetch.sendfile.enable: false\n"),
    "kafka": lambda d: start_kafka(d),
    "kafka-flush1": lambda d: start_kafka(d, {"log.flush.interval.messages": 1}),
}


def target_factory(name):
    """The start function for a target; sluice-<backend> runs Sluice with that io backend."""
    if name in TARGETS:
        return TARGETS[name]
    if name.startswith("sluice-"):
        backend = name[len("sluice-"):]
        return lambda d: start_sluice(d, f"storage.io.backend: {backend}\n")
    raise SystemExit(f"compare: unknown target {name}")


def cpu_seconds(pid):
    """utime + stime of pid, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def arg_value(args, name, default):
    return float(args[args.index(name) + 1]) if name in args else default


def bench(bootstrap, args, timeout, pid=None):
    cmd = [BENCH, "--bootstrap", bootstrap, "--json", "--record-size", str(RECORD_SIZE), *args]
    load_before = os.getloadavg()[0]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cpu = None
    if pid is not None:
        # The broker's CPU inside the measured window only (setup and warm-up excluded); the
        # window starts once the topic is ready, so give setup a second, as the tool's own clock
        # starts after it.
        warmup, duration = arg_value(args, "--warmup", 2.0), arg_value(args, "--duration", 10.0)
        time.sleep(warmup + 1.0)
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(max(duration - 1.0, 0.5))
        cpu = {"seconds": round(cpu_seconds(pid) - c0, 3), "wall_s": round(time.monotonic() - t0, 3)}
    try:
        stdout, stderr = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        stdout, stderr = p.communicate()
    # The 1-minute load average around the run: on a shared machine, other work skews numbers.
    try:
        result = json.loads(stdout)
    except ValueError:
        result = {"errors": None, "fatal": f"no JSON (exit {p.returncode}): {stderr[-500:]}"}
    result["command"] = "sluice-bench --bootstrap HOST:PORT --json " + " ".join(
        ["--record-size", str(RECORD_SIZE), *args])
    result["exit"] = p.returncode
    result["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if cpu is not None:
        result["broker_cpu"] = cpu
        moved = 0
        for side in ("produce", "consume"):
            r = result.get(side)
            if isinstance(r, dict):
                moved = max(moved, r["records_per_s"] * RECORD_SIZE)  # bytes/s in the window
        if moved:
            cpu["share"] = round(cpu["seconds"] / cpu["wall_s"], 3)  # of one core
            cpu["seconds_per_gb"] = round(cpu["share"] / (moved / 1e9), 2)
    return result


PARTITION_COUNTS = (1, 100, 1000)


def scenarios(duration, warmup):
    """(label, sluice-bench args) in run order; the latency run's rate is filled in later."""
    window = ["--duration", str(duration), "--warmup", str(warmup)]
    out = []
    for n in PARTITION_COUNTS:
        for acks in ("all", "1"):
            out.append((f"produce acks={acks} p{n}", ["--topic", f"bench-acks{acks}-p{n}",
                                                      "--acks", acks, "--partitions", str(n),
                                                      *window]))
    # Reads what the 1-partition acks=1 run just wrote (all in the page cache), for 2 s only: a
    # consumer reads 2-3x faster than a producer writes here, and must not run out of data.
    out.append(("consume p1", ["--topic", "bench-acks1-p1", "--producers", "0", "--consumers",
                               "1", "--from-beginning", "--duration", "2", "--warmup", "0"]))
    out.append(("latency acks=all p1 at half peak", ["--topic", "bench-latency", "--acks", "all",
                                                     "--partitions", "1", "-P", "linger.ms=0",
                                                     *window]))
    return out


def perf_profile(pid, seconds, out_dir):
    """perf record on the broker for `seconds`; returns the top symbols as text."""
    data = os.path.join(out_dir, "perf.data")
    rec = subprocess.run(["perf", "record", "-e", "cpu-clock", "-g", "-p", str(pid), "-o", data,
                          "--", "sleep", str(seconds)], capture_output=True, text=True,
                         timeout=seconds + 60)
    if rec.returncode != 0:
        return f"perf record failed: {rec.stderr[-500:]}"
    rep = subprocess.run(["perf", "report", "--stdio", "--no-children", "-g", "none",
                          "--sort", "dso,symbol", "--percent-limit", "0.7", "-i", data],
                         capture_output=True, text=True, timeout=300)
    # perf pads the unused sort columns with "-"; drop them.
    lines = [l.rstrip(" -") for l in rep.stdout.splitlines() if l.strip() and not l.startswith("#")]
    return "\n".join(lines[:30])


def run_target(name, workdir, duration, warmup, profile, only=None):
    d = os.path.join(workdir, name)
    shutil.rmtree(d, ignore_errors=True)
    broker = target_factory(name)(d)
    results = {}
    try:
        timeout = duration + warmup + 300
        time.sleep(1.0)
        results["rss_idle_mib"] = rss_mib(broker.pid)
        for label, args in scenarios(duration, warmup):
            if only and not re.search(only, label):
                continue
            if label.startswith("latency"):
                peak = (results.get("produce acks=all p1") or {}).get("produce") or {}
                rate = int(peak.get("records_per_s", 0) / 2)
                if rate <= 0:
                    continue
                args = [*args, "--rate", str(rate)]
                label = f"{label} ({rate}/s)"
            print(f"compare: {name}: {label}", file=sys.stderr, flush=True)
            results[label] = bench(broker.bootstrap, args, timeout, broker.pid)
            if label == "produce acks=1 p1000":
                results["rss_1000_partitions_mib"] = rss_mib(broker.pid)
        if profile:
            print(f"compare: {name}: produce acks=1 under perf", file=sys.stderr, flush=True)
            args = ["--topic", "bench-perf", "--acks", "1", "--partitions", str(PARTITIONS),
                    "--duration", str(duration), "--warmup", "2"]
            p = subprocess.Popen([BENCH, "--bootstrap", broker.bootstrap, "--json", *args],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            time.sleep(2)
            results["perf"] = perf_profile(broker.pid, max(duration - 1, 1), d)
            out, _ = p.communicate(timeout=duration + 120)
            results["produce acks=1 under perf"] = json.loads(out) if out else {}
            # The fetch path: a consumer reading what the acks=1 run just wrote.
            print(f"compare: {name}: consume under perf", file=sys.stderr, flush=True)
            args = ["--topic", "bench-perf", "--producers", "0", "--consumers", "1",
                    "--from-beginning", "--duration", "5", "--warmup", "0"]
            p = subprocess.Popen([BENCH, "--bootstrap", broker.bootstrap, "--json", *args],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            time.sleep(1)
            results["perf consume"] = perf_profile(broker.pid, 3, d)
            out, _ = p.communicate(timeout=120)
            results["consume under perf"] = json.loads(out) if out else {}
    finally:
        rc = broker.stop()
        results["broker_exit"] = rc
        shutil.rmtree(d, ignore_errors=True)
    return results


def cell(r, key):
    if not isinstance(r, dict) or r.get(key) is None:
        return "—"
    s = r[key]
    lat = s.get("latency_ms") or s.get("e2e_latency_ms")
    text = f"{s['records_per_s']:,.0f} rec/s, {s['mib_per_s']:.1f} MiB/s"
    if lat and lat["count"]:
        text += f"; p50 {lat['p50']:.1f} / p99 {lat['p99']:.1f} / p99.9 {lat['p999']:.1f} ms"
    return text


def markdown(all_results):
    rows = ["| target | scenario | result | broker CPU (share of a core; s/GB) | errors "
            "| load avg (1 min) before, after |", "|---|---|---|---|---|---|"]
    for target, res in all_results.items():
        for label, r in res.items():
            if not isinstance(r, dict) or "errors" not in r:
                continue
            key = "consume" if label.startswith("consume") else "produce"
            text = cell(r, key)
            if label.startswith("e2e"):
                text = "produce " + cell(r, "produce") + "<br>end-to-end " + cell(r, "consume")
            errs = r.get("errors")
            if r.get("fatal"):
                errs = f"{errs} ({r['fatal']})"
            load = r.get("loadavg_1m", "—")
            cpu = r.get("broker_cpu") or {}
            cpu_text = (f"{cpu['share'] * 100:.0f} %; {cpu['seconds_per_gb']:.2f} s/GB"
                        if "seconds_per_gb" in cpu else "—")
            rows.append(f"| {target} | {label} | {text} | {cpu_text} | {errs} | {load} |")
    rows.append("")
    rows.append("| target | RSS idle | RSS after the 1,000-partition runs |")
    rows.append("|---|---|---|")
    for target, res in all_results.items():
        rows.append(f"| {target} | {res.get('rss_idle_mib', '—')} MiB "
                    f"| {res.get('rss_1000_partitions_mib', '—')} MiB |")
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--out", required=True, help="results JSON; a .md table is written beside it")
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--only", help="run only the scenarios whose label matches this regex")
    ap.add_argument("--perf", action="store_true",
                    help="profile Sluice's acks=1 and consume runs with perf")
    a = ap.parse_args()
    for path in (BENCH, SLUICE):
        if not os.access(path, os.X_OK):
            sys.exit(f"compare: {path} missing; run `make build`")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally blocks
    results = {}
    for name in a.targets.split(","):
        results[name] = run_target(name, a.workdir, a.duration, a.warmup,
                                   a.perf and name.startswith("sluice"), a.only)
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)
    with open(os.path.splitext(a.out)[0] + ".md", "w") as f:
        f.write(markdown(results))
        for name, res in results.items():
            for key, what in (("perf", "produce acks=1"), ("perf consume", "consume")):
                if key in res:
                    f.write(f"\nperf ({name}, {what}), top symbols:\n\n```\n{res[key]}\n```\n")


if __name__ == "__main__":
    main()
