"""Idempotent producers through a faulty network, against the real build/sluice: each client sends
numbered records through chaos_proxy.ChaosProxy, which (seeded) loses the answers of some Produce
requests after the broker wrote them and cuts others half-way, so the clients retry; the topic must
then hold every record exactly once, in send order per partition. The broker advertises the
proxy's address, so every Produce goes through it.

- the Java producer with its defaults (idempotent since Kafka 3.0; java/src/IdempotentProducer.java)
- confluent-kafka (librdkafka) and kafka-python 3.x (idempotent by default) with
  clients/idempotent_producer.py
- kafkajs (node/idempotent_producer.js) and franz-go (go/idempotent) with idempotence on
- kcat with -X enable.idempotence=true (without faults: kcat exits when its one connection breaks)
- the same with confluent-kafka while the broker is SIGKILLed and restarted twice on the same
  data (producer state must come back from the log), and the producer id allocation surviving
  the kills (ids are never handed out twice)
- DescribeProducers sees the producers afterwards.

What is stored is read back on a direct connection with Fetch. Runtime: 20-50 s (Java start-up,
the go build of go/idempotent when not cached, the restarts).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

import kproto
import records as R
from chaos_proxy import ChaosProxy
from conftest import Broker, broker_config
from kafka_ref import java_cmd, require_libs, write_log4j2

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "clients")
NODE_DIR = os.path.join(HERE, "node")
GO_DIR = os.path.join(HERE, "go")
JAVA_SRC = os.path.join(HERE, "java", "src", "IdempotentProducer.java")
KCAT = shutil.which("kcat")
FETCH, CREATE_TOPICS, INIT_PRODUCER_ID, DESCRIBE_PRODUCERS = 1, 19, 22, 61
PARTITIONS = 3


class ProxiedBroker:
    """A Sluice behind a ChaosProxy, advertising the proxy; restartable on the same data dir."""

    def __init__(self, workdir, seed, **proxy_kw):
        self.workdir = workdir
        self.proxy = ChaosProxy(seed, **proxy_kw)
        self.text = broker_config(os.path.join(workdir, "data"),
                                  f"advertised.listeners: PLAINTEXT://127.0.0.1:{self.proxy.port}\n")
        self.brokers = []
        self.start()

    def start(self):
        b = Broker(self.text, self.workdir)
        self.brokers.append(b)
        self.broker = b
        self.proxy.target = (b.host, b.port)
        return b

    def kill_and_restart(self):
        assert self.broker.stop(signal.SIGKILL) == -signal.SIGKILL
        return self.start()

    def close(self):
        self.proxy.stop()
        rcs = [b.stop() for b in self.brokers]
        assert all(rc in (0, -signal.SIGKILL) for rc in rcs), rcs
        assert rcs[-1] == 0, self.broker.log_text()[-3000:]


@pytest.fixture
def proxied(tmp_path, request):
    seed = int(os.environ.get("SLUICE_CHAOS_SEED", "20261128"))
    pb = ProxiedBroker(str(tmp_path), seed, fault_rate=0.3, max_faults=16, every_min=2)
    yield pb
    pb.close()


def create_topic(bootstrap, partitions=PARTITIONS):
    name = f"idem-{uuid.uuid4().hex[:8]}"
    body = kproto.request(bootstrap, CREATE_TOPICS, 7, {"Topics": [{
        "Name": name, "NumPartitions": partitions, "ReplicationFactor": 1, "Configs": []}],
        "timeoutMs": 30000})
    assert body["Topics"][0]["ErrorCode"] == 0, body
    return name


def read_partition(bootstrap, topic, partition):
    """Every record value of a partition, in offset order (direct Fetch, bounded loop)."""
    values, offset = [], 0
    for _ in range(10000):
        body = kproto.request(bootstrap, FETCH, 12, {
            "ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 0, "MaxBytes": 1 << 22,
            "SessionEpoch": -1, "Topics": [{"Topic": topic, "Partitions": [
                {"Partition": partition, "FetchOffset": offset, "PartitionMaxBytes": 1 << 22}]}]})
        p = body["Responses"][0]["Partitions"][0]
        assert p["ErrorCode"] == 0, p
        batches = R.parse_batches(p["Records"] or b"")
        for b in batches:
            assert b.base_offset == offset, (b, offset)
            values += [v.decode() for v in b.values()]
            offset = b.last_offset + 1
        if offset >= p["HighWatermark"]:
            return values
    raise AssertionError("partition read did not finish")


def check_exactly_once(bootstrap, topic, count, prefix, partitions=PARTITIONS):
    for part in range(partitions):
        got = read_partition(bootstrap, topic, part)
        want = [f"{prefix}-{i}" for i in range(part, count, partitions)]
        if got != want:
            dups = len(got) - len(set(got))
            missing = sorted(set(want) - set(got), key=lambda v: int(v.rsplit("-", 1)[1]))
            raise AssertionError(f"partition {part}: {len(got)} records, want {len(want)}; "
                                 f"duplicates {dups}, missing {missing[:10]}, "
                                 f"order ok {sorted(got, key=lambda v: int(v.rsplit('-', 1)[1])) == got}")


def describe_producers(bootstrap, topic, partitions=PARTITIONS):
    body = kproto.request(bootstrap, DESCRIBE_PRODUCERS, 0, {"Topics": [
        {"Name": topic, "PartitionIndexes": list(range(partitions))}]})
    return body["Topics"][0]["Partitions"]


def run_client(cmd, timeout=180, **kw):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{cmd[0]} timed out: {e.stdout} {e.stderr}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert p.returncode == 0 and lines, f"exit {p.returncode}\n{p.stdout}\n{p.stderr[-3000:]}"
    return json.loads(lines[-1])


def check_run(pb, out, topic, count, prefix):
    assert out["errors"] == [] and out["unflushed"] == 0, out
    assert out["delivered"] == count and out["idempotent"] is True, out
    check_exactly_once(pb.broker.bootstrap, topic, count, prefix)
    # the network really was faulty, answers included
    assert pb.proxy.faults["drop"] >= 1 and pb.proxy.faults["cut"] >= 1, \
        (pb.proxy.faults, pb.proxy.produce_seen)
    parts = describe_producers(pb.broker.bootstrap, topic)
    assert [p["ErrorCode"] for p in parts] == [0] * PARTITIONS, parts
    for p in parts:
        assert p["ActiveProducers"], parts
        assert max(x["LastSequence"] for x in p["ActiveProducers"]) >= 0, parts


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_python_clients_exactly_once_through_faults(proxied, client):
    count, prefix = 600, client
    topic = create_topic(proxied.broker.bootstrap)
    out = run_client([sys.executable, os.path.join(CLIENTS, "idempotent_producer.py"), client,
                      proxied.proxy.bootstrap, topic, str(PARTITIONS), str(count), prefix])
    check_run(proxied, out, topic, count, prefix)


def test_java_producer_defaults_exactly_once_through_faults(proxied, tmp_path):
    require_libs()
    classes = str(tmp_path / "classes")
    r = subprocess.run(["javac", "-nowarn", "-cp", require_libs(), "-d", classes, JAVA_SRC],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    log4j = write_log4j2(str(tmp_path / "log4j2.properties"), str(tmp_path / "java.log"), "WARN")
    count, prefix = 600, "java"
    topic = create_topic(proxied.broker.bootstrap)
    cmd = java_cmd("IdempotentProducer", proxied.proxy.bootstrap, topic, str(PARTITIONS),
                   str(count), prefix, log_config=log4j)
    i = cmd.index("-cp") + 1
    cmd[i] = classes + os.pathsep + cmd[i]
    out = run_client(cmd)
    check_run(proxied, out, topic, count, prefix)


def test_kafkajs_idempotent_exactly_once_through_faults(proxied):
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "kafkajs")):
        pytest.fail("kafkajs missing in tests/integration/node; run scripts/install-deps",
                    pytrace=False)
    count, prefix = 400, "kafkajs"
    topic = create_topic(proxied.broker.bootstrap)
    out = run_client(["node", os.path.join(NODE_DIR, "idempotent_producer.js"),
                      proxied.proxy.bootstrap, topic, str(PARTITIONS), str(count), prefix],
                     cwd=NODE_DIR)
    check_run(proxied, out, topic, count, prefix)


@pytest.fixture(scope="module")
def franz_idempotent(tmp_path_factory):
    if shutil.which("go") is None:
        pytest.fail("go is not installed", pytrace=False)
    exe = str(tmp_path_factory.mktemp("franz-idem") / "idempotent")
    r = subprocess.run(["go", "build", "-mod=readonly", "-o", exe, "./idempotent"], cwd=GO_DIR,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return exe


def test_franz_go_idempotent_exactly_once_through_faults(proxied, franz_idempotent):
    count, prefix = 600, "franz"
    topic = create_topic(proxied.broker.bootstrap)
    out = run_client([franz_idempotent, "-brokers", proxied.proxy.bootstrap, "-topic", topic,
                      "-partitions", str(PARTITIONS), "-count", str(count), "-prefix", prefix])
    check_run(proxied, out, topic, count, prefix)


def test_kcat_idempotent_exactly_once(proxied):
    """kcat gives up ("All broker connections are down: terminating") the moment its only broker
    connection breaks, so it runs with the proxy's faults off: an idempotent round trip, with the
    producer's state visible in DescribeProducers."""
    assert KCAT, "kcat is not installed"
    proxied.proxy.enabled = False
    count, prefix = 300, "kcat"
    topic = create_topic(proxied.broker.bootstrap, partitions=1)
    lines = "".join(f"{prefix}-{i}\n" for i in range(count))
    p = subprocess.run([KCAT, "-P", "-b", proxied.proxy.bootstrap, "-t", topic, "-p", "0",
                        "-X", "enable.idempotence=true", "-X", "linger.ms=5",
                        "-X", "batch.num.messages=7"],
                       input=lines, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    check_exactly_once(proxied.broker.bootstrap, topic, count, prefix, partitions=1)
    producers = describe_producers(proxied.broker.bootstrap, topic, 1)[0]["ActiveProducers"]
    assert [(x["ProducerEpoch"], x["LastSequence"]) for x in producers] == [(0, count - 1)], \
        producers


def test_exactly_once_across_sigkill_restarts(proxied):
    """confluent-kafka keeps sending while the broker is SIGKILLed and restarted twice (the proxy
    keeps its port, so the client just sees broken connections). Records acknowledged before a
    kill are on disk (acks=all); batches written but not answered are retried after the restart
    and must be recognised from the producer state rebuilt from the log."""
    count, prefix = 3000, "killed"  # at 600/s: the kills land mid-run
    topic = create_topic(proxied.broker.bootstrap)
    result = {}

    def produce():
        result["out"] = run_client([sys.executable, os.path.join(CLIENTS, "idempotent_producer.py"),
                                    "confluent", proxied.proxy.bootstrap, topic, str(PARTITIONS),
                                    str(count), prefix, "600"], timeout=240)

    t = threading.Thread(target=produce)
    t.start()
    ids_before = []
    for _ in range(2):
        time.sleep(1.0)
        ids_before.append(kproto.request(proxied.broker.bootstrap, INIT_PRODUCER_ID, 4, {
            "TransactionalId": None, "TransactionTimeoutMs": 60000})["ProducerId"])
        proxied.kill_and_restart()
    t.join(260)
    assert not t.is_alive(), "the producer did not finish"
    out = result["out"]
    assert out["errors"] == [] and out["delivered"] == count, out
    assert out["seconds"] > 2.0, out  # it was still sending when the broker died
    check_exactly_once(proxied.broker.bootstrap, topic, count, prefix)
    # ids handed out before a kill are never handed out again
    after = kproto.request(proxied.broker.bootstrap, INIT_PRODUCER_ID, 4, {
        "TransactionalId": None, "TransactionTimeoutMs": 60000})["ProducerId"]
    assert after > max(ids_before), (ids_before, after)
