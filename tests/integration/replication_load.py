"""Load and inspection helpers for the replication tests (test_replication_*.py): writers with
real clients that record every acknowledgement for the loss checker, and polls of the cluster's
view (leaders, in-sync replicas, coordinators) through the Kafka API as a client sees it.

Every wait polls with a generous deadline and fails with what it last saw; nothing measures time.
"""
import os
import subprocess
import threading
import time

import pytest

import checker
from checker import Record, writer_value

SETUP_WAIT = 90.0      # topic creation, replicas in sync
FAILOVER_WAIT = 90.0   # a new leader and acknowledged writes on it
READ_WAIT = 120.0


def poll(pred, timeout, what):
    """pred() until it returns something truthy (returned); pytest.fail after timeout with the
    last value or exception."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = pred()
            if value:
                return value
            last = value
        except Exception as e:  # noqa: BLE001  (a node down mid-poll: keep polling)
            last = repr(e)
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {str(last)[:500]})")


def admin(bootstrap):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap, name, partitions, replication_factor=3, config=None, replicas=3):
    """CreateTopics, then waits until every partition has a leader and `replicas` in-sync
    replicas."""
    from confluent_kafka.admin import NewTopic
    client = admin(bootstrap)  # kept until the future is done: dropping it cancels the future
    new = NewTopic(name, partitions, replication_factor, config=dict(config or {}))
    client.create_topics([new], request_timeout=60)[name].result(60)
    wait_in_sync(bootstrap, name, replicas)


def partitions(bootstrap, topic):
    """{partition: (leader, replicas, isrs)} as a client's Metadata says."""
    md = admin(bootstrap).list_topics(topic, timeout=10)
    t = md.topics[topic]
    if t.error is not None:
        raise RuntimeError(f"{topic}: {t.error}")
    return {p: (pm.leader, list(pm.replicas), list(pm.isrs)) for p, pm in t.partitions.items()}


def wait_in_sync(bootstrap, topic, replicas=3, timeout=SETUP_WAIT):
    def ok():
        parts = partitions(bootstrap, topic)
        return parts if parts and all(lead >= 0 and len(isr) >= replicas
                                      for lead, _, isr in parts.values()) else None
    return poll(ok, timeout, f"every partition of {topic} led, with {replicas} in sync")


def leader(bootstrap, topic, partition=0):
    lead = partitions(bootstrap, topic)[partition][0]
    assert lead >= 0, f"{topic}-{partition} has no leader"
    return lead


def wait_new_leader(bootstrap, topic, partition, old, timeout=FAILOVER_WAIT):
    """Polls Metadata (from any live node in bootstrap) until the partition has a leader other
    than `old`."""
    def ok():
        lead = partitions(bootstrap, topic)[partition][0]
        return lead if lead >= 0 and lead != old else None
    return poll(ok, timeout, f"a leader of {topic}-{partition} other than node {old}")


class Writers(checker.Writers):
    """checker.Writers' idempotent acks=all confluent-kafka producers (`confluent` of them) plus
    `kafka_python` kafka-python producers (acks as `config["acks"]`, default all; retries), all
    writing writer_value(w, seq) round robin over the partitions until stopped; .acks holds every
    acknowledged Record (with the offset the client was told), .errors every error a delivery
    surfaced to the application."""

    def __init__(self, bootstrap, topic, n_partitions, confluent=2, kafka_python=1, config=None):
        super().__init__(bootstrap, topic, n_partitions, n=confluent, config=config)
        first = confluent
        self.threads += [threading.Thread(target=self.run_kafka_python, args=(first + w,),
                                          daemon=True) for w in range(kafka_python)]

    def _delivered(self, key, md=None, value=None, err=None):
        with self.lock:
            if err is not None:
                self.errors.append(err)
            else:
                self.acks.append(Record(md.topic, md.partition, md.offset, key, value))

    def run_kafka_python(self, writer):
        from kafka import KafkaProducer
        acks = self.config.get("acks", "all")
        p = KafkaProducer(bootstrap_servers=self.bootstrap.split(","),
                          acks="all" if acks in ("all", "-1", -1) else int(acks), retries=100,
                          retry_backoff_ms=200, request_timeout_ms=10000, linger_ms=5,
                          max_in_flight_requests_per_connection=1, metadata_max_age_ms=2000,
                          delivery_timeout_ms=120000)
        key = f"writer-{writer}".encode()
        seq = 0
        pending = []
        try:
            while not self.stopping.is_set():
                value = writer_value(writer, seq, size=self.size)
                f = p.send(self.topic, value, key=key, partition=seq % self.partitions)
                f.add_callback(lambda md, v=value: self._delivered(key, md, v))
                f.add_errback(lambda e: self._delivered(key, err=e))
                pending.append(f)
                seq += 1
                if len(pending) >= 50:  # bounded in flight: wait for the oldest
                    try:
                        pending.pop(0).get(timeout=150)
                    except Exception:  # noqa: BLE001  (the errback recorded it)
                        pass
                time.sleep(0.005)
            p.flush(150)
        finally:
            p.close(30)

    def count(self, partition=None):
        with self.lock:
            return sum(1 for a in self.acks if partition is None or a.partition == partition)

    def wait_acks(self, n, partition=None, timeout=FAILOVER_WAIT, what=None):
        """Polls until n more writes (to `partition`, if given) are acknowledged than when
        called."""
        base = self.count(partition)
        poll(lambda: self.count(partition) >= base + n or None, timeout,
             what or f"{n} more acknowledged writes (partition {partition}; {base} before)")


def kcat_read(bootstrap, topic):
    """Every record of the topic as kcat (librdkafka's command-line client) reads it:
    [(partition, offset, value)]; a second reader beside checker.read_back."""
    out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-o",
                          "beginning", "-f", "%p %o %s\\n"], capture_output=True, timeout=READ_WAIT)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-2000:]
    rows = []
    for line in out.stdout.decode(errors="replace").splitlines():
        p, o, v = line.split(" ", 2)
        rows.append((int(p), int(o), v))
    return rows


def partition_log_bytes(data_dir, topic, partition):
    """The concatenated .log segment files of one replica, in offset order (after the node
    stopped): replicas of one Raft group hold the same batches, byte for byte, up to their ends."""
    d = os.path.join(data_dir, f"{topic}-{partition}")
    if not os.path.isdir(d):
        return None
    data = b""
    for name in sorted(f for f in os.listdir(d) if f.endswith(".log")):
        with open(os.path.join(d, name), "rb") as f:
            data += f.read()
    return data


def assert_replicas_agree(cluster, topic, n_partitions):
    """After the nodes stopped cleanly: for every partition, each replica's log is a prefix of
    the longest (no divergent data anywhere; a tail not yet fetched at shutdown is allowed)."""
    for p in range(n_partitions):
        logs = {x.node_id: partition_log_bytes(x.data_dir, topic, p) for x in cluster.nodes}
        logs = {i: b for i, b in logs.items() if b is not None}
        assert len(logs) >= 2, f"{topic}-{p}: replicas on disk: {sorted(logs)}"
        longest = max(logs.values(), key=len)
        for i, b in logs.items():
            assert longest.startswith(b), (
                f"{topic}-{p}: node {i}'s log ({len(b)} bytes) diverges from the longest "
                f"({len(longest)} bytes) at byte "
                f"{next(k for k in range(len(b)) if b[k] != longest[k])}")
