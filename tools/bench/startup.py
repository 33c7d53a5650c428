#!/usr/bin/env python3
"""Start-up time of Sluice with many partitions: creates --topics x --partitions partitions,
produces a few records to each, stops cleanly, then measures time-to-ready (from exec to the
`broker started` log line) for clean restarts and for restarts after SIGKILL (recovery scans the
newest segments). Writes JSON and prints a summary. Called by scripts/bench.sh; every broker it
starts is stopped (or killed, on purpose) before it returns.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SLUICE = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "build", "sluice"))
LISTENING = re.compile(r"listening name=\S+ host=(\S+) port=(\d+)")
RECOVERED = re.compile(r"recovered logs topics=(\d+) ms=(\d+)")
CLEAN = re.compile(r"opened log dir path=\S+ clean_shutdown=(\w+)")


class Timed:
    """One build/sluice process; .ready_s is exec to `broker started`, read from its stderr."""

    def __init__(self, config_path, timeout=120.0):
        self.lines = []
        self.ready = threading.Event()
        t0 = time.monotonic()
        self.proc = subprocess.Popen([SLUICE, "serve", "--config", config_path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.ready_s = None
        self._reader = threading.Thread(target=self._read, args=(t0,), daemon=True)
        self._reader.start()
        if not self.ready.wait(timeout) or self.ready_s is None:
            self.stop(signal.SIGKILL)
            raise RuntimeError("sluice did not start:\n" + "\n".join(self.lines[-30:]))
        text = "\n".join(self.lines)
        self.recovered_ms = int(RECOVERED.search(text).group(2))
        self.recovered_topics = int(RECOVERED.search(text).group(1))
        self.clean = CLEAN.search(text).group(1)
        host, port = LISTENING.search(text).groups()
        self.bootstrap = f"{host}:{port}"

    def _read(self, t0):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if "broker started" in line and self.ready_s is None:
                self.ready_s = time.monotonic() - t0
                self.ready.set()
        self.ready.set()  # exited early: the waiter sees ready_s is None

    def stop(self, sig=signal.SIGTERM, timeout=60.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode


def drop_caches():
    """Empties the page cache (root only) so the next start reads from the disk."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def create_and_fill(bootstrap, topics, partitions, records, value_bytes):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [f"startup-{i:03d}" for i in range(topics)]
    futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names],
                                  request_timeout=60)
    for f in futures.values():
        f.result(timeout=60)
    produce(bootstrap, names, partitions, records, value_bytes)
    return names


def produce(bootstrap, names, partitions, records, value_bytes):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 20})
    value = os.urandom(value_bytes)
    for n in names:
        for part in range(partitions):
            for _ in range(records):
                for _attempt in range(600):  # a full local queue drains as deliveries arrive
                    try:
                        p.produce(n, value, partition=part)
                        break
                    except BufferError:
                        p.poll(0.1)
                else:
                    raise RuntimeError("producer queue stayed full for 60 s")
        p.poll(0)
    left = p.flush(120)
    if left:
        raise RuntimeError(f"{left} records undelivered")


def summary(runs):
    ready = [r["ready_ms"] for r in runs]
    return {"runs": runs, "ready_ms_median": statistics.median(ready),
            "ready_ms_min": min(ready), "ready_ms_max": max(ready)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--topics", type=int, default=100)
    ap.add_argument("--partitions", type=int, default=10)
    ap.add_argument("--records", type=int, default=10, help="records per partition per round")
    ap.add_argument("--value-bytes", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cold", action="store_true",
                    help="also time clean starts after dropping the page cache (root)")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    cfg = os.path.join(a.workdir, "sluice.yaml")
    with open(cfg, "w") as f:
        f.write(f"node.id: 1\nlog.dirs: {os.path.join(a.workdir, 'data')}\n"
                "listeners: PLAINTEXT://127.0.0.1:0\nhttp.listeners: http://127.0.0.1:0\n"
                "auto.create.topics.enable: false\n")
    b = Timed(cfg)
    try:
        names = create_and_fill(b.bootstrap, a.topics, a.partitions, a.records, a.value_bytes)
    finally:
        first_rc = b.stop()
    result = {"topics": a.topics, "partitions_per_topic": a.partitions,
              "records_per_partition_per_round": a.records, "value_bytes": a.value_bytes,
              "first_stop_exit": first_rc}
    for series in ("clean", "clean_cold") if a.cold else ("clean",):
        runs = []
        for _ in range(a.rounds):
            if series == "clean_cold":
                drop_caches()
            b = Timed(cfg)
            runs.append({"ready_ms": round(b.ready_s * 1000, 1), "recovered_ms": b.recovered_ms,
                         "topics": b.recovered_topics, "clean_shutdown": b.clean,
                         "exit": b.stop()})
        result[series] = summary(runs)
    unclean = []
    b = Timed(cfg)
    for _ in range(a.rounds):
        produce(b.bootstrap, names, a.partitions, a.records, a.value_bytes)  # the newest segments have a tail
        b.stop(signal.SIGKILL)
        b = Timed(cfg)
        unclean.append({"ready_ms": round(b.ready_s * 1000, 1), "recovered_ms": b.recovered_ms,
                        "topics": b.recovered_topics, "clean_shutdown": b.clean})
    result["last_stop_exit"] = b.stop()
    result["data_bytes"] = sum(os.path.getsize(os.path.join(d, f))
                               for d, _, fs in os.walk(os.path.join(a.workdir, "data"))
                               for f in fs)
    result["after_sigkill"] = summary(unclean)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "runs"}
                      if isinstance(v, dict) else v for k, v in result.items()}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
