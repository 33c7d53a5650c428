"""Python clients against Sluice: Debian's kafka-python 2.0.2 (under /usr/bin/python3), kafka-python
3.x and confluent-kafka from PyPI (under this interpreter). Each client runs as a subprocess helper
from clients/ that prints JSON, so a hung client costs a timeout, not the test session."""
import json
import os
import re
import subprocess
import sys

import pytest

import wire
from conftest import broker_config

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "clients")
DEBIAN_PYTHON = "/usr/bin/python3"
REQUIREMENTS = os.path.join(HERE, "..", "requirements.txt")


def pinned(name):
    with open(REQUIREMENTS) as f:
        for line in f:
            m = re.match(rf"^{re.escape(name)}==(\S+)", line.strip())
            if m:
                return m.group(1)
    return None


def run_probe(python, script, *args, broker=None, timeout=60):
    cmd = [python, os.path.join(CLIENTS, script), *args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd)} timed out after {timeout}s\nstderr:\n{e.stderr}\n"
                    f"broker log:\n{broker.log_text() if broker else ''}")
    assert p.returncode == 0, (f"{' '.join(cmd)} exited {p.returncode}\nstderr:\n{p.stderr[-4000:]}\n"
                               f"broker log:\n{broker.log_text() if broker else ''}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def has_module(python, module):
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


# kafka-python 2.0.2's broker version inference (conn.py _infer_broker_version_from_api_versions,
# as listed in CLIENTS.md 4.1 item 5): the first (key, version) the broker's range contains wins.
KAFKA_PYTHON_2_0_2_GUESSES = [
    ((2, 5, 0), 29, 2),   # DescribeAcls v2
    ((2, 4, 0), 0, 8),    # Produce v8
    ((2, 3, 0), 1, 11),   # Fetch v11
    ((2, 2, 0), 2, 5),    # ListOffsets v5
    ((2, 1, 0), 1, 10),   # Fetch v10
    ((2, 0, 0), 1, 8),    # Fetch v8
    ((1, 1, 0), 1, 7),    # Fetch v7
    ((1, 0, 0), 3, 5),    # Metadata v5
    ((0, 11, 0), 3, 4),   # Metadata v4
    ((0, 10, 2), 9, 2),   # OffsetFetch v2
    ((0, 10, 1), 3, 2),   # Metadata v2
]


def expected_kafka_python_guess(apis):
    for version, key, v in KAFKA_PYTHON_2_0_2_GUESSES:
        if key in apis and apis[key][0] <= v <= apis[key][1]:
            return list(version)
    return [0, 10, 0]


def normalized_brokers(brokers):
    """kafka-python 2.0.2 says node_id, 3.x says broker_id."""
    return sorted(({"id": b.get("node_id", b.get("broker_id")), "host": b["host"], "port": b["port"]}
                   for b in brokers), key=lambda b: b["id"])


def check_cluster(cluster, broker):
    assert normalized_brokers(cluster["brokers"]) == [
        {"id": 1, "host": broker.host, "port": broker.port}], cluster
    assert cluster["controller_id"] == 1, cluster
    assert isinstance(cluster["cluster_id"], str) and cluster["cluster_id"], cluster


@pytest.fixture
def debian_kafka_python():
    if not os.path.exists(DEBIAN_PYTHON) or not has_module(DEBIAN_PYTHON, "kafka"):
        pytest.fail("Debian python3-kafka is missing: scripts/install-deps installs it")


def test_debian_kafka_python_admin(broker, debian_kafka_python):
    out = run_probe(DEBIAN_PYTHON, "kafka_python_probe.py", broker.bootstrap, "admin", broker=broker)
    assert out["kafka_python"] == "2.0.2", out
    admin = out["admin"]
    check_cluster(admin["cluster"], broker)
    assert admin["cluster_again"]["cluster_id"] == admin["cluster"]["cluster_id"], admin
    assert admin["topics"] == [], admin


def test_debian_kafka_python_consumer_version_probe(broker, debian_kafka_python):
    """The consumer's startup sends ApiVersions v0 with Metadata v0 right behind it on one socket,
    and guesses the broker version from the ranges: it must have decoded exactly the ranges the
    broker advertises and guessed what its own table says for them."""
    out = run_probe(DEBIAN_PYTHON, "kafka_python_probe.py", broker.bootstrap, "consumer",
                    broker=broker)
    consumer = out["consumer"]
    assert consumer["topics"] == [], consumer

    advertised = wire.api_versions(broker.bootstrap, version=0)["apis"]
    decoded = {int(k): tuple(v) for k, v in consumer["api_versions"].items()}
    assert decoded == advertised, consumer
    guess = expected_kafka_python_guess(advertised)
    assert consumer["api_version"] == guess, (consumer, advertised)
    assert consumer["check_version"] == guess, (consumer, advertised)
    # Metadata 0-12 alone already makes it a >= 1.0 broker (Metadata v5 in range), which selects
    # record format v2 and the modern request versions.
    assert tuple(consumer["api_version"]) >= (1, 0, 0), consumer


def test_pypi_kafka_python_admin_and_consumer(broker):
    out = run_probe(sys.executable, "kafka_python_probe.py", broker.bootstrap, "admin", "consumer",
                    broker=broker)
    want = pinned("kafka-python")
    assert want is None or out["kafka_python"] == want, out
    admin = out["admin"]
    check_cluster(admin["cluster"], broker)
    assert admin["cluster_again"]["cluster_id"] == admin["cluster"]["cluster_id"], admin
    assert admin["topics"] == [], admin
    assert out["consumer"]["topics"] == [], out
    # Its own inference table says at least 1.0 for Metadata 0-12; both clients agree.
    assert tuple(admin["api_version"]) >= (1, 0), out
    assert out["consumer"]["api_version"] == admin["api_version"], out


def test_confluent_kafka_list_topics(broker):
    out = run_probe(sys.executable, "confluent_probe.py", broker.bootstrap, broker=broker)
    want = pinned("confluent-kafka")
    assert want is None or out["version"] == want, out
    for call in ("first", "second"):
        md = out[call]
        assert md["brokers"] == [{"id": 1, "host": broker.host, "port": broker.port}], md
        assert md["controller_id"] == 1, md
        assert md["cluster_id"], md
        assert md["topics"] == {}, md
        # Answered by the bootstrap connection or, once the broker list is known, by broker 1.
        assert md["orig_broker_name"] in (f"{broker.host}:{broker.port}/bootstrap",
                                          f"{broker.host}:{broker.port}/1"), md
        assert md["orig_broker_id"] in (-1, 1), md
    assert out["first"]["cluster_id"] == out["second"]["cluster_id"], out


def test_confluent_kafka_missing_topic(start_broker, tmp_path):
    text = broker_config(os.path.join(str(tmp_path), "data")).replace(
        "auto.create.topics.enable: true", "auto.create.topics.enable: false")
    b = start_broker(config_text=text)
    out = run_probe(sys.executable, "confluent_probe.py", b.bootstrap, "nosuch", broker=b)
    topics = out["topic"]["topics"]
    assert list(topics) == ["nosuch"], out
    assert topics["nosuch"]["error"] == wire.UNKNOWN_TOPIC_OR_PARTITION, out
    assert topics["nosuch"]["partitions"] == 0, out


def test_cluster_id_agrees_across_clients_and_versions(broker, debian_kafka_python):
    """One broker, one cluster id: what librdkafka, kafka-python and every raw Metadata version
    from 2 to 12 report is the same string."""
    conf = run_probe(sys.executable, "confluent_probe.py", broker.bootstrap, broker=broker)
    kp = run_probe(DEBIAN_PYTHON, "kafka_python_probe.py", broker.bootstrap, "admin", broker=broker)
    ids = {conf["first"]["cluster_id"], kp["admin"]["cluster"]["cluster_id"]}
    for v in range(2, 13):
        ids.add(wire.metadata(broker.bootstrap, version=v)["cluster_id"])
    assert len(ids) == 1, ids
