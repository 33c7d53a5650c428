"""Topic lifecycle through the tools and clients that manage topics, against the real build/sluice
(and, where the answer is Kafka's to give, the reference Kafka 4.0.0 too):

- Kafka 4.0.0's TopicCommand as a Kubernetes init Job runs it: --create --if-not-exists twice,
  --describe, --create on an existing topic (fails), --delete, --list.
- confluent-kafka's AdminClient: create twice (TOPIC_ALREADY_EXISTS), delete twice.
- CreateTopics twice on the wire; delete and re-create with another partition count (a new topic
  id, offsets from 0 again); auto-creation on (Metadata and Produce create with num.partitions)
  and off (unknown topic errors, kcat fails fast); a topic and its data survive a restart.

One Sluice serves the module except where a test needs its own configuration or data dir.
Runtime about 40 s (mostly the JVM starts of TopicCommand, against both brokers).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

import kproto
from conftest import Broker, broker_config
from kafka_ref import java_cmd, kafka_ref, start_sluice, write_log4j2  # noqa: F401
from test_produce_consume import (kcat, kcat_consume, kcat_produce, list_offset, produce_raw,
                                  wait_for_leaders)

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "clients")
TOPIC_ALREADY_EXISTS = 36
UNKNOWN_TOPIC_OR_PARTITION = 3


@pytest.fixture(scope="module")
def sl(tmp_path_factory):
    b = start_sluice(tmp_path_factory.mktemp("sluice-topics"))
    yield b
    rc = b.stop()
    assert rc == 0, f"sluice exited {rc}:\n{b.log_text()[-3000:]}"


@pytest.fixture(params=["kafka", "sluice"])
def server(request):
    return request.getfixturevalue("kafka_ref" if request.param == "kafka" else "sl")


@pytest.fixture(scope="module")
def tools_log4j(tmp_path_factory):
    d = tmp_path_factory.mktemp("java-tools-topics")
    return write_log4j2(str(d / "log4j2.properties"), str(d / "tools.log"), "WARN")


def topic_name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def describe(p):
    return f"exit {p.returncode}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"


def metadata_topic(bootstrap, topic, auto=False):
    md = kproto.request(bootstrap, 3, 12, {"Topics": [{"Name": topic, "TopicId": None}],
                                           "AllowAutoTopicCreation": auto})
    return md["Topics"][0]


def create_topic(bootstrap, topic, partitions, configs=()):
    body = kproto.request(bootstrap, 19, 5, {"TimeoutMs": 10000, "Topics": [
        {"Name": topic, "NumPartitions": partitions, "ReplicationFactor": 1,
         "Configs": [{"Name": k, "Value": v} for k, v in configs]}]})
    return body["Topics"][0]


def delete_topic(bootstrap, topic):
    body = kproto.request(bootstrap, 20, 4, {"TopicNames": [topic], "TimeoutMs": 10000})
    return body["Responses"][0]["ErrorCode"]


def wait_gone(bootstrap, topic, timeout=10.0):
    """Kafka applies a deletion asynchronously; Sluice at once."""
    deadline = time.monotonic() + timeout
    while metadata_topic(bootstrap, topic)["ErrorCode"] != UNKNOWN_TOPIC_OR_PARTITION:
        assert time.monotonic() < deadline, f"{topic} still listed after {timeout}s"
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# Kafka's TopicCommand, as an init Job uses it


def topic_command(server, log4j, *args):
    cmd = java_cmd("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", server.bootstrap,
                   *args, log_config=log4j)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_topic_command_init_job(server, tools_log4j):
    topic = topic_name("initjob")
    create = ["--create", "--if-not-exists", "--topic", topic, "--partitions", "3",
              "--replication-factor", "1", "--config", "retention.ms=604800000"]
    first = topic_command(server, tools_log4j, *create)
    assert first.returncode == 0, describe(first)
    assert first.stdout.strip() == f"Created topic {topic}.", describe(first)
    # The Job re-runs on every deploy: the second run is a silent no-op.
    again = topic_command(server, tools_log4j, *create)
    assert again.returncode == 0, describe(again)
    assert "Created" not in again.stdout and "Error" not in again.stdout + again.stderr, \
        describe(again)

    d = topic_command(server, tools_log4j, "--describe", "--topic", topic)
    assert d.returncode == 0, describe(d)
    lines = d.stdout.strip().splitlines()
    head = lines[0].split("\t")
    assert head[0] == f"Topic: {topic}" and head[1].startswith("TopicId: "), describe(d)
    assert head[2:] == ["PartitionCount: 3", "ReplicationFactor: 1",
                        "Configs: retention.ms=604800000"], describe(d)
    assert len(lines) == 4, describe(d)
    for p, line in enumerate(lines[1:]):
        # ELR columns: empty on Kafka 4.0 (DescribeTopicPartitions), "N/A" on Sluice, which
        # does not have that API yet, so the tool falls back to Metadata.
        fields = line.strip().split("\t")[:5]
        assert fields == [f"Topic: {topic}", f"Partition: {p}", "Leader: 1", "Replicas: 1",
                          "Isr: 1"], describe(d)

    dup = topic_command(server, tools_log4j, "--create", "--topic", topic, "--partitions", "3",
                        "--replication-factor", "1")
    assert dup.returncode != 0, describe(dup)
    assert f"Topic '{topic}' already exists." in dup.stdout + dup.stderr, describe(dup)

    gone = topic_command(server, tools_log4j, "--delete", "--topic", topic)
    assert gone.returncode == 0, describe(gone)
    wait_gone(server.bootstrap, topic)
    listed = topic_command(server, tools_log4j, "--list")
    assert listed.returncode == 0, describe(listed)
    assert topic not in listed.stdout.split(), describe(listed)


# ---------------------------------------------------------------------------------------------
# confluent-kafka AdminClient


def test_confluent_admin_create_delete(server):
    topic = topic_name("cf-admin")
    p = subprocess.run([sys.executable, os.path.join(CLIENTS, "confluent_datapath.py"),
                        server.bootstrap, topic, "admin"], capture_output=True, text=True,
                       timeout=90)
    assert p.returncode == 0, describe(p)
    out = json.loads(p.stdout)
    assert out["create"] is None, out
    assert out["create_again"] == {"code": TOPIC_ALREADY_EXISTS, "name": "TOPIC_ALREADY_EXISTS"}
    assert out["listed"] == {"error": 0, "partitions": [
        {"id": i, "leader": 1, "replicas": [1], "isrs": [1]} for i in range(3)]}, out
    assert out["delete"] is None, out
    assert out["listed_after_delete"] is None, out
    assert out["delete_again"]["code"] == UNKNOWN_TOPIC_OR_PARTITION, out


# ---------------------------------------------------------------------------------------------
# The lifecycle on the wire


def test_create_twice(server):
    topic = topic_name("twice")
    try:
        assert create_topic(server.bootstrap, topic, 2)["ErrorCode"] == 0
        again = create_topic(server.bootstrap, topic, 2)
        assert again["ErrorCode"] == TOPIC_ALREADY_EXISTS, again
        assert again["ErrorMessage"] == f"Topic '{topic}' already exists.", again
    finally:
        delete_topic(server.bootstrap, topic)


def test_delete_and_recreate_with_other_partition_count(sl):
    topic = topic_name("recreate")
    assert create_topic(sl.bootstrap, topic, 3)["ErrorCode"] == 0
    old = metadata_topic(sl.bootstrap, topic)
    kcat_produce(sl, topic, [f"old{i}" for i in range(5)], "-p", "2")
    assert delete_topic(sl.bootstrap, topic) == 0
    assert metadata_topic(sl.bootstrap, topic)["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION

    assert create_topic(sl.bootstrap, topic, 5)["ErrorCode"] == 0
    new = metadata_topic(sl.bootstrap, topic)
    assert new["ErrorCode"] == 0 and len(new["Partitions"]) == 5, new
    assert new["TopicId"] != old["TopicId"], (old, new)
    with kproto.Connection(sl.bootstrap) as c:
        for p in range(5):
            assert list_offset(c, topic, p)["Offset"] == 0, p
            assert list_offset(c, topic, p, timestamp=-2)["Offset"] == 0, p
    kcat_produce(sl, topic, ["new0", "new1"], "-p", "2")
    assert [(p, o, v) for p, o, _, v, _ in kcat_consume(sl, topic, "-o", "beginning")] == [
        (2, 0, "new0"), (2, 1, "new1")]


def test_auto_create_on_metadata_and_produce(sl):
    """Metadata asking for auto-creation creates the topic with num.partitions (4). Sluice answers
    that first Metadata with the new topic already there (Kafka 4.0 says UNKNOWN_TOPIC_OR_PARTITION
    once and lists it from the next request). Unlike Kafka, a Produce to an unknown topic creates it
    too (docs/configuration.md auto.create.topics.enable)."""
    by_metadata = topic_name("auto-md")
    t = metadata_topic(sl.bootstrap, by_metadata, auto=True)
    assert t["ErrorCode"] == 0 and len(t["Partitions"]) == 4, t
    assert metadata_topic(sl.bootstrap, by_metadata)["TopicId"] == t["TopicId"]
    # Asking without the flag does not create.
    plain = topic_name("auto-no")
    assert metadata_topic(sl.bootstrap, plain)["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION
    assert metadata_topic(sl.bootstrap, plain)["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION

    by_produce = topic_name("auto-produce")
    with kproto.Connection(sl.bootstrap) as c:
        r = produce_raw(c, by_produce, 3, b"first")
        assert r["ErrorCode"] == 0 and r["BaseOffset"] == 0, r
    t = metadata_topic(sl.bootstrap, by_produce)
    assert t["ErrorCode"] == 0 and len(t["Partitions"]) == 4, t
    # kcat's producer (Metadata with auto-creation, then Produce) on a fresh name.
    by_kcat = topic_name("auto-kcat")
    kcat_produce(sl, by_kcat, ["a", "b"], "-p", "1")
    assert len(metadata_topic(sl.bootstrap, by_kcat)["Partitions"]) == 4


def no_autocreate_text(workdir):
    # The default test config sets auto.create.topics.enable already, and a repeated key is a
    # config error, so the value is replaced rather than appended.
    return broker_config(os.path.join(workdir, "data")).replace(
        "auto.create.topics.enable: true", "auto.create.topics.enable: false")


@pytest.mark.parametrize("where", ["kafka", "sluice"])
def test_auto_create_off(request, start_broker, tmp_path, where):
    """The reference Kafka runs with auto-creation off too: both must refuse the same way."""
    if where == "kafka":
        b = request.getfixturevalue("kafka_ref")
    else:
        b = start_broker(config_text=no_autocreate_text(str(tmp_path)))
    topic = topic_name("noauto")
    t = metadata_topic(b.bootstrap, topic, auto=True)
    assert t["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION and t["Partitions"] == [], t
    with kproto.Connection(b.bootstrap) as c:
        r = produce_raw(c, topic, 0, b"x")
        assert r["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION, r
    # kcat gives up within its short message timeout and says why.
    start = time.monotonic()
    p = kcat(b, "-P", "-t", topic, "-X", "message.timeout.ms=3000",
             "-X", "topic.metadata.propagation.max.ms=1000", stdin="x\n")
    assert time.monotonic() - start < 20
    assert p.returncode != 0, describe(p)
    assert "Unknown topic or partition" in p.stderr, describe(p)
    assert metadata_topic(b.bootstrap, topic)["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION


def start_on(log_dir, workdir):
    """A broker on an explicit log dir (so a second one can reopen the first one's data)."""
    return Broker(broker_config(log_dir), tempfile.mkdtemp(dir=workdir))


def test_topic_and_data_survive_restart(tmp_path):
    data = str(tmp_path / "data")
    topic = topic_name("restart")
    b = start_on(data, str(tmp_path))
    try:
        created = create_topic(b.bootstrap, topic, 3, [("retention.ms", "604800000")])
        assert created["ErrorCode"] == 0, created
        before = metadata_topic(b.bootstrap, topic)
        for p in range(3):
            kcat_produce(b, topic, [f"k{p}.{i}:v{p}.{i}" for i in range(4)], "-p", str(p),
                         "-K:", "-H", f"p={p}")
        written = kcat_consume(b, topic, "-o", "beginning")
        assert len(written) == 12
    finally:
        rc = b.stop()
    assert rc == 0, b.log_text()[-3000:]

    b2 = start_on(data, str(tmp_path))
    try:
        after = metadata_topic(b2.bootstrap, topic)
        assert after["ErrorCode"] == 0, after
        assert after["TopicId"] == before["TopicId"], (before, after)
        assert len(after["Partitions"]) == 3, after
        assert sorted(kcat_consume(b2, topic, "-o", "beginning")) == sorted(written)
        cfg = kproto.request(b2.bootstrap, 32, 4, {"Resources": [
            {"ResourceType": 2, "ResourceName": topic, "ConfigurationKeys": ["retention.ms"]}]})
        entry = cfg["Results"][0]["Configs"][0]
        assert (entry["Name"], entry["Value"]) == ("retention.ms", "604800000"), cfg
        # Appends continue where the first broker stopped.
        kcat_produce(b2, topic, ["k:after"], "-p", "1", "-K:")
        assert [(o, v) for p, o, _, v, _ in kcat_consume(b2, topic, "-p", "1", "-o", "-1")] == [
            (4, "after")]
    finally:
        rc = b2.stop()
    assert rc == 0, b2.log_text()[-3000:]


def test_delete_right_after_acks1_produce(start_broker):
    b = start_broker()
    topic = topic_name("del-acks1")
    assert create_topic(b.bootstrap, topic, 1)["ErrorCode"] == 0
    with kproto.Connection(b.bootstrap) as c:
        assert produce_raw(c, topic, 0, b"x", acks=1)["ErrorCode"] == 0
        _, body = c.request(20, 4, {"TopicNames": [topic], "TimeoutMs": 10000})
        assert body["Responses"][0]["ErrorCode"] == 0, body
    time.sleep(0.5)
    assert b.proc.poll() is None, b.log_text()[-3000:]
    assert metadata_topic(b.bootstrap, topic)["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION
    # Re-created, it starts empty: nothing of the old partition directory comes back.
    assert create_topic(b.bootstrap, topic, 1)["ErrorCode"] == 0
    with kproto.Connection(b.bootstrap) as c:
        assert list_offset(c, topic, 0)["Offset"] == 0
