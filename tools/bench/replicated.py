#!/usr/bin/env python3
"""Three brokers on this machine, RF=3, min.insync.replicas=2: Sluice (three build/sluice with
controller.quorum.voters, tests/integration/cluster.py) and Apache Kafka 4.0.0 (three JVMs in
KRaft combined mode, every node a voter) measured the same way. Called by scripts/bench.sh (step
`replicated`); every process started here is stopped here, also on errors.

For each target:
- produce acks=all, 1 KiB records, on 1 and 100 partitions (sluice-bench, as compare.py runs it)
  and the produce latency (p50/p99) at half the 1-partition peak with linger.ms=0;
- unavailability after SIGKILL of a partition's leader: a producer (confluent-kafka, acks=all,
  idempotent, linger.ms=0) writes one record every few milliseconds to a 1-partition topic; the
  figure is the longest time without an acknowledgement from the kill until 2 s after the process
  is gone, i.e. from the kill to the first write acknowledged by the new leader. Then the killed
  node is restarted and the partition waits for its three in-sync replicas before the next round;
- the same after a controlled shutdown (SIGTERM of the leader; writes go on while it hands over);
- idle RSS of each broker after creating 1,000 replicated partitions (10 topics x 100).

Sluice acknowledges acks=all after fsync on a majority (its default storage.sync.policy: ack);
Kafka runs with its defaults (acknowledged when the in-sync replicas have the batch in memory, no
fsync on the produce path), as its users run it (target kafka-rf3), or with
log.flush.interval.messages=1 (target kafka-rf3-flush1: every append flushed, the like-for-like
durability; not in make bench's default targets).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare  # noqa: E402  (bench(): one sluice-bench run with the broker's CPU)
import kafka_ref  # noqa: E402  (the Kafka 4.0.0 jars and its log4j configuration)
from cluster import SluiceCluster  # noqa: E402

NODES = 3
SETUP_TIMEOUT_S = 120.0
FAILOVER_TIMEOUT_S = 60.0
WRITE_INTERVAL_S = 0.002
SLUICE_CONFIG = {
    "default.replication.factor": 3,
    "min.insync.replicas": 2,
    "offsets.topic.replication.factor": 3,
    "auto.create.topics.enable": "false",
}


# ---- the two clusters, behind one small interface: bootstrap, pid(i), kill(i, sig), restart(i)

class SluiceTarget:
    def __init__(self, workdir):
        self.cluster = SluiceCluster(workdir, n=NODES, controllers=NODES,
                                     extra_config=SLUICE_CONFIG, ready_timeout=SETUP_TIMEOUT_S)

    def start(self):
        self.cluster.__enter__()
        self.bootstrap = self.cluster.bootstrap()
        return self

    def pid(self, i):
        return self.cluster.node(i).proc.pid

    def kill(self, i, sig):
        if sig == signal.SIGKILL:
            self.cluster.kill(i)
        else:
            self.cluster.stop(i)

    def restart(self, i):
        self.cluster.start(i)
        self.cluster.wait_ready(i)

    def stop(self):
        return self.cluster.close()


class KafkaNode:
    """One Kafka 4.0.0 JVM, broker and controller in one process, on 127.0.0.(10+i)."""

    def __init__(self, workdir, node_id, cluster_id):
        self.node_id = node_id
        self.host = f"127.0.0.{10 + node_id}"
        self.port = kafka_ref.free_port()
        self.controller_port = kafka_ref.free_port()
        self.workdir = os.path.join(workdir, f"kafka{node_id}")
        self.cluster_id = cluster_id
        self.proc = None
        os.makedirs(self.workdir, exist_ok=True)
        self.config_path = os.path.join(self.workdir, "server.properties")
        self.log4j = kafka_ref.write_log4j2(os.path.join(self.workdir, "log4j2.properties"),
                                            os.path.join(self.workdir, "kafka.log"))

    def write_config(self, voters, extra=None):
        props = {
            "process.roles": "broker,controller",
            "node.id": self.node_id,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{self.host}:{self.port},"
                         f"CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": os.path.join(self.workdir, "data"),
            "default.replication.factor": 3,
            "min.insync.replicas": 2,
            "offsets.topic.replication.factor": 3,
            "transaction.state.log.replication.factor": 3,
            "transaction.state.log.min.isr": 2,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "false",
            **(extra or {}),
        }
        with open(self.config_path, "w") as f:
            f.writelines(f"{k}={v}\n" for k, v in props.items())

    def format(self):
        r = subprocess.run(kafka_ref.java_cmd("kafka.tools.StorageTool", "format", "-t",
                                              self.cluster_id, "-c", self.config_path,
                                              log_config=self.log4j),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"kafka storage format failed:\n{r.stdout}\n{r.stderr}")

    def start(self):
        cp = kafka_ref.require_libs()
        with open(os.path.join(self.workdir, "kafka.out"), "a") as out:
            # Kafka's start script gives a broker 1 GiB; three of them share this machine.
            self.proc = subprocess.Popen(
                ["java", "-Xmx1g", "-Xms1g", f"-Dlog4j2.configurationFile={self.log4j}", "-cp",
                 cp, "kafka.Kafka", self.config_path],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.workdir)

    def send(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout=60.0):
        if self.proc is None:
            return None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        return self.proc.returncode

    def signal(self, sig, timeout=60.0):
        self.send(sig)
        return self.wait(timeout)


class KafkaTarget:
    """Three Kafka JVMs; `props` are added to every node's server.properties."""

    def __init__(self, workdir, props=None):
        self.nodes = [KafkaNode(workdir, i, kafka_ref.REF_CLUSTER_ID) for i in
                      range(1, NODES + 1)]
        voters = ",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in self.nodes)
        for n in self.nodes:
            n.write_config(voters, props)
        self.bootstrap = ",".join(f"{n.host}:{n.port}" for n in self.nodes)

    def start(self):
        try:
            for n in self.nodes:
                n.format()
            for n in self.nodes:
                n.start()
            wait_brokers(self.bootstrap, NODES)
        except BaseException:
            self.stop()
            raise
        return self

    def pid(self, i):
        return self.nodes[i - 1].proc.pid

    def kill(self, i, sig):
        self.nodes[i - 1].signal(sig)

    def restart(self, i):
        self.nodes[i - 1].start()
        wait_brokers(self.bootstrap, NODES)

    def stop(self):
        for n in self.nodes:  # all at once: a last node alone cannot shut down in a controlled way
            n.send(signal.SIGTERM)
        return {n.node_id: n.wait() for n in self.nodes}


TARGETS = {
    "sluice-rf3": SluiceTarget,
    "kafka-rf3": KafkaTarget,
    # Every append flushed, as Sluice's acks=all is fsync'd: the like-for-like durability.
    "kafka-rf3-flush1": lambda d: KafkaTarget(d, {"log.flush.interval.messages": 1}),
}


# ---- cluster helpers through the Kafka API (the same for both targets)

def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def wait_brokers(bootstrap, count, timeout=SETUP_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            md = admin(bootstrap).list_topics(timeout=5)
            if len(md.brokers) >= count:
                return
            last = f"{len(md.brokers)} brokers"
        except KafkaException as e:
            last = repr(e)
        time.sleep(0.5)
    raise RuntimeError(f"{count} brokers not registered after {timeout}s ({last})")


def create_topics(bootstrap, names, partitions):
    client = admin(bootstrap)  # kept until the futures are done: dropping it cancels them
    futures = client.create_topics(
        [NewTopic(n, partitions, 3, config={"min.insync.replicas": "2"}) for n in names],
        request_timeout=SETUP_TIMEOUT_S)
    for f in futures.values():
        f.result(timeout=SETUP_TIMEOUT_S)
    wait_in_sync(bootstrap, names)


def wait_in_sync(bootstrap, names, timeout=SETUP_TIMEOUT_S):
    """Until every partition of the topics has a leader and three in-sync replicas."""
    deadline = time.monotonic() + timeout
    pending = None
    while time.monotonic() < deadline:
        try:
            md = admin(bootstrap).list_topics(timeout=10)
            pending = [f"{n}-{p}" for n in names
                       for p, pm in (md.topics[n].partitions.items() if n in md.topics else
                                     [(-1, None)])
                       if pm is None or pm.leader < 0 or len(pm.isrs) < NODES]
            if not pending:
                return
        except KafkaException as e:
            pending = repr(e)
        time.sleep(0.5)
    raise RuntimeError(f"partitions not fully in sync after {timeout}s: {str(pending)[:300]}")


def leader_of(bootstrap, topic, partition=0, timeout=SETUP_TIMEOUT_S):
    """The partition's leader as Metadata names it, polled until it names one."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            md = admin(bootstrap).list_topics(topic, timeout=10)
            pm = md.topics[topic].partitions.get(partition)
            if pm is not None and pm.leader >= 0:
                return pm.leader
            last = md.topics[topic].error
        except KafkaException as e:
            last = repr(e)
        time.sleep(0.5)
    raise RuntimeError(f"{topic}-{partition} has no leader after {timeout}s ({last})")


# ---- measurements

def unavailability(target, topic, sig):
    """The longest time without an acknowledged write to a 1-partition topic, from sending sig to
    its leader until 2 s after that process has exited (for SIGKILL: from the kill to the first
    acknowledgement, necessarily by the new leader; for SIGTERM it also covers the handover while
    the old leader shuts down). The node is restarted and back in sync before this returns."""
    acked = []  # monotonic times of successful deliveries
    errors = []
    lock = threading.Lock()

    def report(err, _msg):
        now = time.monotonic()
        with lock:
            if err is None:
                acked.append(now)
            else:
                errors.append(str(err))

    p = Producer({"bootstrap.servers": target.bootstrap, "acks": "all",
                  "enable.idempotence": True, "linger.ms": 0, "message.timeout.ms": 120000,
                  "retry.backoff.ms": 50, "topic.metadata.refresh.interval.ms": 1000})
    leader = leader_of(target.bootstrap, topic)
    signalled = threading.Thread(target=target.kill, args=(leader, sig), daemon=True)
    kill_at = exited_at = None
    seq = 0
    try:
        warm_until = time.monotonic() + 2.0
        deadline = warm_until + FAILOVER_TIMEOUT_S
        while time.monotonic() < deadline:
            now = time.monotonic()
            if kill_at is None and now >= warm_until:
                kill_at = time.monotonic()
                signalled.start()  # SIGTERM waits for the exit: writes go on meanwhile
            if kill_at is not None and exited_at is None and not signalled.is_alive():
                exited_at = time.monotonic()
            if exited_at is not None and now > exited_at + 2.0:
                with lock:
                    if acked and acked[-1] > exited_at:
                        break
            try:
                p.produce(topic, f"r{seq}".encode(), on_delivery=report)
                seq += 1
            except BufferError:
                pass
            p.poll(WRITE_INTERVAL_S)
        p.flush(30)
    finally:
        if kill_at is not None:
            signalled.join(120)
            target.restart(leader)
    wait_in_sync(target.bootstrap, [topic])
    with lock:
        points = [kill_at] + sorted(a for a in acked if a > kill_at)
    recovered = exited_at is not None and points[-1] > exited_at
    gap = max(b - a for a, b in zip(points, points[1:])) if len(points) > 1 else None
    return {"leader": leader, "seconds": round(gap, 3) if recovered else None,
            "process_exit_s": None if exited_at is None else round(exited_at - kill_at, 3),
            "errors": errors[:5], "error_count": len(errors)}


def rss_mib(pid):
    return compare.rss_mib(pid)


def run_target(name, workdir, duration, warmup, rounds, partitions_for_rss):
    d = os.path.join(workdir, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    target = TARGETS[name](d).start()
    results = {}
    try:
        window = ["--duration", str(duration), "--warmup", str(warmup)]
        timeout = duration + warmup + 300
        for n in (1, 100):
            topic = f"rf3-acksall-p{n}"
            create_topics(target.bootstrap, [topic], n)
            label = f"produce acks=all p{n}"
            print(f"replicated: {name}: {label}", file=sys.stderr, flush=True)
            results[label] = compare.bench(target.bootstrap, ["--topic", topic, "--acks", "all",
                                                              "--partitions", str(n), *window],
                                           timeout)
        peak = (results["produce acks=all p1"].get("produce") or {}).get("records_per_s", 0)
        rate = int(peak / 2)
        if rate > 0:
            create_topics(target.bootstrap, ["rf3-latency"], 1)
            label = f"latency acks=all p1 at half peak ({rate}/s)"
            print(f"replicated: {name}: {label}", file=sys.stderr, flush=True)
            results[label] = compare.bench(
                target.bootstrap, ["--topic", "rf3-latency", "--acks", "all", "--partitions",
                                   "1", "-P", "linger.ms=0", "--rate", str(rate), *window],
                timeout)
        create_topics(target.bootstrap, ["rf3-failover"], 1)
        for what, sig in (("sigkill", signal.SIGKILL), ("controlled_shutdown", signal.SIGTERM)):
            runs = []
            for r in range(rounds):
                print(f"replicated: {name}: unavailability after {what}, round {r + 1}",
                      file=sys.stderr, flush=True)
                runs.append(unavailability(target, "rf3-failover", sig))
            secs = [x["seconds"] for x in runs if x["seconds"] is not None]
            results[f"unavailability_{what}"] = {
                "runs": runs, "median_s": statistics.median(secs) if secs else None,
                "max_s": max(secs) if secs else None}
        print(f"replicated: {name}: {partitions_for_rss} replicated partitions for RSS",
              file=sys.stderr, flush=True)
        topics = [f"rf3-rss-{i:02d}" for i in range(partitions_for_rss // 100)]
        create_topics(target.bootstrap, topics, 100)
        time.sleep(10)  # idle: let start-up work and replica fetch sessions settle
        results["rss_idle_1000_partitions_mib"] = {i: rss_mib(target.pid(i))
                                                   for i in range(1, NODES + 1)}
        results["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    except Exception as e:  # noqa: BLE001  (a target that cannot run reports why; the next runs)
        results["fatal"] = f"{type(e).__name__}: {e}"[:2000]
        print(f"replicated: {name}: {results['fatal']}", file=sys.stderr, flush=True)
    finally:
        results["exit"] = target.stop()
        shutil.rmtree(d, ignore_errors=True)
    return results


def markdown(all_results):
    rows = ["| target | scenario | result | errors | load avg (1 min) before, after |",
            "|---|---|---|---|---|"]
    for target, res in all_results.items():
        for label, r in res.items():
            if isinstance(r, dict) and "errors" in r and label.startswith(("produce", "latency")):
                rows.append(f"| {target} | {label} | {compare.cell(r, 'produce')} "
                            f"| {r.get('errors')}{' (' + r['fatal'] + ')' if r.get('fatal') else ''} "
                            f"| {r.get('loadavg_1m', '—')} |")
    rows += ["", "| target | unavailability after SIGKILL of the leader (median, max; runs) "
             "| after a controlled shutdown (median, max; runs) "
             "| idle RSS per broker, 1,000 RF=3 partitions | failure |", "|---|---|---|---|---|"]
    for target, res in all_results.items():
        cells = []
        for what in ("sigkill", "controlled_shutdown"):
            u = res.get(f"unavailability_{what}")
            cells.append("—" if not u else
                         f"{u['median_s']} s, {u['max_s']} s; "
                         f"{[x['seconds'] for x in u['runs']]}")
        rss = res.get("rss_idle_1000_partitions_mib")
        rss_text = "—" if not rss else ", ".join(f"{v} MiB" for v in rss.values())
        rows.append(f"| {target} | {cells[0]} | {cells[1]} | {rss_text} "
                    f"| {res.get('fatal', '') or ''} |")
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--out", required=True, help="results JSON; a .md table is written beside it")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=3, help="failovers measured per kind")
    ap.add_argument("--rss-partitions", type=int, default=1000)
    ap.add_argument("--targets", default=",".join(TARGETS))
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally blocks
    results = {}
    for name in a.targets.split(","):
        if name not in TARGETS:
            sys.exit(f"replicated: unknown target {name} (known: {', '.join(TARGETS)})")
        results[name] = run_target(name, a.workdir, a.duration, a.warmup, a.rounds,
                                   a.rss_partitions)
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)
    table = markdown(results)
    with open(os.path.splitext(a.out)[0] + ".md", "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
