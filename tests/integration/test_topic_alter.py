"""Run-time topic administration with real clients and tools: Kafka 4.0's ConfigCommand,
TopicCommand --alter --partitions and DeleteRecordsCommand; confluent-kafka's AdminClient
(incremental_alter_configs, alter_configs, create_partitions, delete_records); franz-go's kadm
(tests/integration/go/admin, compared with the reference Kafka). Then what Sluice alone must show:
changes applied without a restart (retention.ms, segment.bytes, max.message.bytes,
message.timestamp.type), kept across a restart (overrides, partition counts, log start offsets),
and a Fetch long poll that CreatePartitions must not lose track of.
Runtime: about 40 s (most of it the JVM tools)."""
import json
import os
import shutil
import subprocess
import threading
import time
import uuid

import pytest

import kproto
from kafka_ref import ROOT, java_cmd, kafka_ref, write_log4j2  # noqa: F401

GO_DIR = os.path.join(ROOT, "tests", "integration", "go")
FAST_RETENTION = "log.retention.check.interval.ms: 200\n"


def topic_name(tag):
    return f"alter-{tag}-{uuid.uuid4().hex[:6]}"


def create_topic(bs, name, partitions=1, configs=()):
    r = kproto.request(bs, 19, 7, {
        "Topics": [{"Name": name, "NumPartitions": partitions, "ReplicationFactor": 1,
                    "Assignments": [], "Configs": [{"Name": k, "Value": v} for k, v in configs]}],
        "TimeoutMs": 10000, "ValidateOnly": False})
    assert r["Topics"][0]["ErrorCode"] == 0, r


def delete_topic(bs, name):
    kproto.request(bs, 20, 5, {"TopicNames": [name], "TimeoutMs": 10000})


def topic_config(bs, name, key):
    r = kproto.request(bs, 32, 4, {"Resources": [{"ResourceType": 2, "ResourceName": name,
                                                  "ConfigurationKeys": [key]}],
                                   "IncludeSynonyms": False, "IncludeDocumentation": False})
    c = r["Results"][0]["Configs"][0]
    return c["Value"], c["ConfigSource"]


def partitions_of(bs, name):
    r = kproto.request(bs, 3, 12, {"Topics": [{"Name": name, "TopicId": None}],
                                   "AllowAutoTopicCreation": False,
                                   "IncludeTopicAuthorizedOperations": False})
    return len(r["Topics"][0]["Partitions"])


def earliest(bs, name, partition=0):
    r = kproto.request(bs, 2, 9, {"ReplicaId": -1, "IsolationLevel": 0, "Topics": [
        {"Name": name, "Partitions": [{"PartitionIndex": partition, "CurrentLeaderEpoch": -1,
                                       "Timestamp": -2}]}]})
    return r["Topics"][0]["Partitions"][0]["Offset"]


def incremental(bs, name, ops):
    r = kproto.request(bs, 44, 1, {"Resources": [{"ResourceType": 2, "ResourceName": name,
                                                  "Configs": [{"Name": k, "ConfigOperation": 0,
                                                               "Value": v} for k, v in ops]}],
                                   "ValidateOnly": False})
    assert r["Responses"][0]["ErrorCode"] == 0, r


def producer(bs, **extra):
    from confluent_kafka import Producer
    return Producer({"bootstrap.servers": bs, "linger.ms": 0, "enable.idempotence": False,
                     **extra})


def produce_one(p, topic, value, partition=0, timestamp=0):
    """Produces one record (its own batch) and returns the delivery error or None. Keyed: some
    topics here are compacted, and Kafka refuses keyless records to those."""
    errors = []
    p.produce(topic, key=b"k", value=value, partition=partition, timestamp=timestamp,
              on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(10) == 0
    return errors[0]


def segment_files(broker, name, partition=0):
    d = os.path.join(broker.workdir, "data", f"{name}-{partition}")
    return sorted(f for f in os.listdir(d) if f.endswith(".log"))


# ---- Kafka's command-line tools ---------------------------------------------------------------

@pytest.fixture(scope="module")
def tools_log4j(tmp_path_factory):
    d = tmp_path_factory.mktemp("alter-tools")
    return write_log4j2(str(d / "log4j2.properties"), str(d / "tools.log"), "WARN")


def run_tool(main_class, *args, log_config=None):
    return subprocess.run(java_cmd(main_class, *args, log_config=log_config),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_kafka_tools(broker, tools_log4j, tmp_path):
    bs, name = broker.bootstrap, topic_name("tools")
    create_topic(bs, name, partitions=2)
    r = run_tool("kafka.admin.ConfigCommand", "--bootstrap-server", bs, "--alter",
                 "--entity-type", "topics", "--entity-name", name,
                 "--add-config", "retention.ms=7200000,cleanup.policy=[delete,compact]",
                 log_config=tools_log4j)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Completed updating config for topic {name}." in r.stdout
    assert topic_config(bs, name, "retention.ms") == ("7200000", 1)
    assert topic_config(bs, name, "cleanup.policy") == ("delete,compact", 1)
    r = run_tool("kafka.admin.ConfigCommand", "--bootstrap-server", bs, "--describe",
                 "--entity-type", "topics", "--entity-name", name, log_config=tools_log4j)
    assert r.returncode == 0, r.stderr
    assert "retention.ms=7200000" in r.stdout and "cleanup.policy=delete,compact" in r.stdout
    r = run_tool("kafka.admin.ConfigCommand", "--bootstrap-server", bs, "--alter",
                 "--entity-type", "topics", "--entity-name", name,
                 "--delete-config", "retention.ms", log_config=tools_log4j)
    assert r.returncode == 0, r.stdout + r.stderr
    assert topic_config(bs, name, "retention.ms") == ("604800000", 5)
    # An invalid value: the tool reports Kafka's message and fails.
    r = run_tool("kafka.admin.ConfigCommand", "--bootstrap-server", bs, "--alter",
                 "--entity-type", "topics", "--entity-name", name,
                 "--add-config", "retention.ms=soon", log_config=tools_log4j)
    assert r.returncode != 0
    assert "Invalid value soon for configuration retention.ms" in r.stdout + r.stderr

    r = run_tool("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", bs, "--alter",
                 "--topic", name, "--partitions", "5", log_config=tools_log4j)
    assert r.returncode == 0, r.stdout + r.stderr
    assert partitions_of(bs, name) == 5
    r = run_tool("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", bs, "--alter",
                 "--topic", name, "--partitions", "3", log_config=tools_log4j)
    assert r.returncode != 0
    assert "currently has 5 partition(s); 3 would not be an increase" in r.stdout + r.stderr

    p = producer(bs)
    for i in range(6):
        assert produce_one(p, name, b"x%d" % i, partition=4) is None
    spec = tmp_path / "offsets.json"
    spec.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": name, "partition": 4, "offset": 4}]}))
    r = run_tool("org.apache.kafka.tools.DeleteRecordsCommand", "--bootstrap-server", bs,
                 "--offset-json-file", str(spec), log_config=tools_log4j)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"partition: {name}-4\tlow_watermark: 4" in r.stdout
    assert earliest(bs, name, 4) == 4


# ---- confluent-kafka ---------------------------------------------------------------------------

def test_confluent_admin(broker):
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry,
                                       ConfigResource, NewPartitions)
    bs, name = broker.bootstrap, topic_name("ck")
    create_topic(bs, name, partitions=1)
    admin = AdminClient({"bootstrap.servers": bs})
    res = ConfigResource("topic", name, incremental_configs=[
        ConfigEntry("retention.ms", "90000000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)])
    for f in admin.incremental_alter_configs([res]).values():
        f.result(timeout=10)
    assert topic_config(bs, name, "cleanup.policy") == ("delete,compact", 1)
    bad = ConfigResource("topic", name, incremental_configs=[
        ConfigEntry("retention.ms", "1", incremental_operation=AlterConfigOpType.APPEND)])
    with pytest.raises(Exception) as e:
        list(admin.incremental_alter_configs([bad]).values())[0].result(timeout=10)
    assert "because its type is not LIST" in str(e.value)
    # The legacy form replaces the whole set.
    legacy = ConfigResource("topic", name, set_config={"segment.ms": "3600000"})
    for f in admin.alter_configs([legacy]).values():
        f.result(timeout=10)
    assert topic_config(bs, name, "segment.ms") == ("3600000", 1)
    assert topic_config(bs, name, "retention.ms")[1] == 5
    described = admin.describe_configs([ConfigResource("topic", name)])
    configs = list(described.values())[0].result(timeout=10)
    assert configs["segment.ms"].value == "3600000"

    for f in admin.create_partitions([NewPartitions(name, 3)], validate_only=True).values():
        f.result(timeout=10)
    assert partitions_of(bs, name) == 1
    for f in admin.create_partitions([NewPartitions(name, 3)]).values():
        f.result(timeout=10)
    assert partitions_of(bs, name) == 3
    with pytest.raises(Exception) as e:
        list(admin.create_partitions([NewPartitions(name, 2)]).values())[0].result(timeout=10)
    assert "INVALID_PARTITIONS" in str(e.value) or "would not be an increase" in str(e.value)

    p = producer(bs)
    for i in range(5):
        assert produce_one(p, name, b"y%d" % i, partition=2) is None
    futs = admin.delete_records([TopicPartition(name, 2, 3)])
    deleted = list(futs.values())[0].result(timeout=10)
    assert deleted.low_watermark == 3
    futs = admin.delete_records([TopicPartition(name, 2, 99)])
    with pytest.raises(Exception) as e:
        list(futs.values())[0].result(timeout=10)
    assert "OFFSET_OUT_OF_RANGE" in str(e.value) or "out of range" in str(e.value).lower()
    assert earliest(bs, name, 2) == 3


# ---- franz-go kadm, compared with the reference Kafka --------------------------------------------

@pytest.fixture(scope="module")
def kadm_admin(tmp_path_factory):
    if shutil.which("go") is None:
        pytest.fail("go is not installed", pytrace=False)
    exe = str(tmp_path_factory.mktemp("kadmadmin") / "kadmadmin")
    r = subprocess.run(["go", "build", "-mod=readonly", "-o", exe, "./admin"], cwd=GO_DIR,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return exe


def test_franz_go_kadm_admin(broker, kafka_ref, kadm_admin):
    seen = {}
    for who, bs in (("sluice", broker.bootstrap), ("kafka", kafka_ref.bootstrap)):
        r = subprocess.run([kadm_admin, "-brokers", bs, "-topic", topic_name("kadm"),
                            "-timeout", "60s"], capture_output=True, text=True, timeout=90,
                           stdin=subprocess.DEVNULL)
        assert r.stdout.strip(), r.stderr
        got = json.loads(r.stdout)
        assert r.returncode == 0, (who, got)
        # The topic name (in the shrink message) differs per run; everything else must match.
        got["values"]["shrink"] = got["values"]["shrink"].split(" currently has")[-1]
        seen[who] = got
    assert seen["sluice"] == seen["kafka"]
    values = seen["sluice"]["values"]
    assert values["after set cleanup.policy"] == "delete,compact (DYNAMIC_TOPIC_CONFIG)"
    assert values["partitions"] == "3"
    assert values["low watermark"] == "4"
    assert values["start offsets"] == "[0:0 1:0 2:4]"


# ---- applied without a restart, kept across one ---------------------------------------------------

def test_changes_apply_without_restart(start_broker):
    b = start_broker(FAST_RETENTION)
    bs, name = b.bootstrap, topic_name("live")
    create_topic(bs, name)
    p = producer(bs)
    old = int(time.time() * 1000) - 3_600_000  # an hour ago: inside the default 7 days
    # segment.bytes: with 1 KiB segments, each ~600-byte record batch rolls a new segment.
    incremental(bs, name, [("segment.bytes", "1024")])
    for i in range(4):
        assert produce_one(p, name, b"r" * 600, timestamp=old + i) is None
    assert len(segment_files(b, name)) >= 3
    assert earliest(bs, name) == 0
    # retention.ms: an hour-old segment is now past it; the next check (200 ms) deletes it.
    incremental(bs, name, [("segment.bytes", "1024"), ("retention.ms", "60000")])
    deadline = time.monotonic() + 10
    while earliest(bs, name) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert earliest(bs, name) == 3  # every segment but the active one
    assert len(segment_files(b, name)) == 1
    # max.message.bytes: the next Produce sees it.
    incremental(bs, name, [("max.message.bytes", "200")])
    err = produce_one(p, name, b"z" * 600)
    assert err is not None and "MSG_SIZE_TOO_LARGE" in err.name()
    incremental(bs, name, [("max.message.bytes", "2000"), ("message.timestamp.type",
                                                           "LogAppendTime")])
    before = int(time.time() * 1000)
    assert produce_one(p, name, b"now", timestamp=old) is None
    from confluent_kafka import Consumer, TopicPartition, TIMESTAMP_LOG_APPEND_TIME
    c = Consumer({"bootstrap.servers": bs, "group.id": "unused", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(name, 0, 4)])
        msg = None
        deadline = time.monotonic() + 10
        while msg is None and time.monotonic() < deadline:
            msg = c.poll(0.5)
        assert msg is not None and msg.error() is None, msg and msg.error()
        kind, ts = msg.timestamp()
        assert kind == TIMESTAMP_LOG_APPEND_TIME and ts >= before
    finally:
        c.close()


def test_changes_survive_restart(start_broker):
    first = start_broker()
    data = os.path.join(first.workdir, "data")
    bs, name = first.bootstrap, topic_name("keep")
    create_topic(bs, name, partitions=1)
    incremental(bs, name, [("retention.ms", "86400000"), ("cleanup.policy", "compact,delete")])
    r = kproto.request(bs, 37, 3, {"Topics": [{"Name": name, "Count": 3, "Assignments": None}],
                                   "TimeoutMs": 5000, "ValidateOnly": False})
    assert r["Results"][0]["ErrorCode"] == 0, r
    p = producer(bs)
    for i in range(8):
        assert produce_one(p, name, b"k%d" % i, partition=2) is None
    r = kproto.request(bs, 21, 2, {"Topics": [{"Name": name, "Partitions": [
        {"PartitionIndex": 2, "Offset": 5}]}], "TimeoutMs": 5000})
    assert r["Topics"][0]["Partitions"][0]["LowWatermark"] == 5
    assert first.stop() == 0

    from conftest import broker_config
    second = start_broker(config_text=broker_config(data))
    bs = second.bootstrap
    assert topic_config(bs, name, "retention.ms") == ("86400000", 1)
    assert topic_config(bs, name, "cleanup.policy") == ("compact,delete", 1)
    assert partitions_of(bs, name) == 3
    assert earliest(bs, name, 2) == 5
    assert os.path.exists(os.path.join(data, f"{name}-2", "log-start-offset-checkpoint"))
    assert produce_one(producer(bs), name, b"after", partition=1) is None


def test_long_poll_survives_create_partitions(broker):
    """A Fetch waiting on partition 0 while CreatePartitions moves the partition table must still
    be woken by the next append, well before its max wait."""
    bs, name = broker.bootstrap, topic_name("poll")
    create_topic(bs, name, partitions=1)
    answer = {}

    def long_poll():
        t0 = time.monotonic()
        r = kproto.request(bs, 1, 12, {
            "ReplicaId": -1, "MaxWaitMs": 8000, "MinBytes": 1, "MaxBytes": 100000,
            "IsolationLevel": 0, "SessionId": 0, "SessionEpoch": -1,
            "Topics": [{"Topic": name, "Partitions": [
                {"Partition": 0, "CurrentLeaderEpoch": -1, "FetchOffset": 0,
                 "LastFetchedEpoch": -1, "LogStartOffset": -1, "PartitionMaxBytes": 100000}]}],
            "ForgottenTopicsData": [], "RackId": ""}, timeout=20)
        answer["elapsed"] = time.monotonic() - t0
        answer["partition"] = r["Responses"][0]["Partitions"][0]

    t = threading.Thread(target=long_poll)
    t.start()
    time.sleep(0.5)  # the fetch is waiting now
    for count in (2, 9):  # the second growth moves the partition array
        r = kproto.request(bs, 37, 3, {"Topics": [{"Name": name, "Count": count,
                                                   "Assignments": None}],
                                       "TimeoutMs": 5000, "ValidateOnly": False})
        assert r["Results"][0]["ErrorCode"] == 0, r
    assert produce_one(producer(bs), name, b"wake", partition=0) is None
    t.join(20)
    assert not t.is_alive()
    assert answer["partition"]["ErrorCode"] == 0
    assert answer["partition"]["HighWatermark"] == 1
    assert answer["elapsed"] < 6, answer
    assert partitions_of(bs, name) == 9
    assert produce_one(producer(bs), name, b"new", partition=8) is None


def test_large_requests_answered_quickly(broker):
    """Repeated names are found by sorting: 20,000 copies of one resource or topic are answered
    at once, not in quadratic time; a resource with more config operations than any topic has
    keys is refused."""
    bs, name = broker.bootstrap, topic_name("big")
    create_topic(bs, name)
    t0 = time.monotonic()
    r = kproto.request(bs, 44, 1, {"Resources": [{"ResourceType": 2, "ResourceName": name,
                                                  "Configs": []}] * 20000,
                                   "ValidateOnly": True}, timeout=30)
    assert {x["ErrorCode"] for x in r["Responses"]} == {42}
    r = kproto.request(bs, 37, 3, {"Topics": [{"Name": name, "Count": 2, "Assignments": None}]
                                   * 20000, "TimeoutMs": 5000, "ValidateOnly": True}, timeout=30)
    assert r["Results"] == [{"Name": name, "ErrorCode": 42,
                             "ErrorMessage": "Duplicate topic name."}]
    ops = [{"Name": f"k{i}", "ConfigOperation": 0, "Value": "1"} for i in range(2000)]
    r = kproto.request(bs, 44, 1, {"Resources": [{"ResourceType": 2, "ResourceName": name,
                                                  "Configs": ops}], "ValidateOnly": True})
    assert r["Responses"][0]["ErrorCode"] == 42
    assert r["Responses"][0]["ErrorMessage"] == "Too many configs in one resource: at most 1024."
    assert time.monotonic() - t0 < 10
