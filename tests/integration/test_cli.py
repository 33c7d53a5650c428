"""The admin CLI (`sluice topic|group|cluster|produce|consume`, src/cli/) against a real Sluice and
against the reference Apache Kafka 4.0.0, through build/sluice as a user runs it.

- topic create/describe/list/alter-config/delete: results, JSON output, Kafka's error names on
  stderr with exit status 1; the broker's default partition count when --partitions is omitted.
- --if-not-exists / --if-exists and TOPIC_ALREADY_EXISTS exactly as Kafka's own kafka-topics.sh
  (TopicCommand from build/kafka-libs) behaves, on both brokers, in both directions.
- Differential: the same commands against Sluice and Kafka give the same JSON (ids aside).
- produce/consume round trip; keys land where Kafka's murmur2 partitioner puts them (checked with
  librdkafka's murmur2_random partitioner); headers printed.
- group describe: members, assignment, committed offsets, log end and lag after a confluent-kafka
  consumer commits, and after `sluice consume --group` commits.
- Usage errors exit 2; an unreachable or silent broker ends with a clear message by --timeout.
"""
import json
import os
import signal
import socket
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_ref import (REF_CLUSTER_ID, java_cmd, kafka_ref, sluice_module,  # noqa: F401
                       target, write_log4j2)
from conftest import SLUICE_BIN
import kafka_ref as kafka_ref_module


def cli(bootstrap, *args, stdin=None, timeout=60, env=None):
    """Runs build/sluice with the admin arguments; returns the CompletedProcess."""
    cmd = [SLUICE_BIN, *args]
    if bootstrap is not None:
        cmd += ["--bootstrap-server", bootstrap]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def cli_json(bootstrap, *args, **kw):
    r = cli(bootstrap, *args, "--output", "json", **kw)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def describe_until(bootstrap, name, ok, timeout=30):
    """Kafka applies config changes asynchronously (its brokers learn them from the metadata
    log): poll `topic describe` as a client would until ok(description) or the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        [d] = cli_json(bootstrap, "topic", "describe", name)
        if ok(d) or time.monotonic() > deadline:
            return d
        time.sleep(0.2)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module", autouse=True)
def leave_kafka_ref_clean():
    """The reference Kafka is shared by the whole session, and later differential tests compare
    its full topic and group lists with a fresh Sluice's: remove what this module created there
    (every name here starts with "cli-")."""
    yield
    ref = kafka_ref_module._shared["ref"]  # None when no test here started it
    if ref is None:
        return
    topics = [t["name"] for t in cli_json(ref.bootstrap, "topic", "list")
              if t["name"].startswith("cli-")]
    if topics:
        r = cli(ref.bootstrap, "topic", "delete", *topics, "--if-exists")
        assert r.returncode == 0, r.stderr
    admin = AdminClient({"bootstrap.servers": ref.bootstrap})
    groups = [g.group_id for g in admin.list_consumer_groups().result(timeout=30).valid
              if g.group_id.startswith("cli-")]
    if groups:
        for f in admin.delete_consumer_groups(groups).values():
            f.result(timeout=30)
    deadline = time.monotonic() + 30  # Kafka deletes asynchronously: wait until it is done
    while time.monotonic() < deadline:
        left = [t["name"] for t in cli_json(ref.bootstrap, "topic", "list")
                if t["name"].startswith("cli-")]
        if not left:
            break
        time.sleep(0.2)
    assert not left, left


@pytest.fixture(scope="session")
def tools_log4j(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-java-tools")
    return write_log4j2(str(d / "log4j2.properties"), str(d / "tools.log"), "WARN")


def kafka_topics(bootstrap, log4j, *args):
    """Kafka 4.0.0's kafka-topics.sh (TopicCommand) as the provisioning Job of Kafka charts runs it."""
    cmd = java_cmd("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", bootstrap, *args,
                   log_config=log4j)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)


def default_partitions(t):
    return 1 if t.is_kafka else 4  # kafka_ref.py and conftest.broker_config num.partitions


# ---- topics ---------------------------------------------------------------------------------

def test_topic_lifecycle(target):
    name = unique("cli-life")
    r = cli(target.bootstrap, "topic", "create", name, "--partitions", "3",
            "--config", "retention.ms=123456")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Created topic {name}.\n"

    [d] = cli_json(target.bootstrap, "topic", "describe", name)
    assert d["name"] == name and not d["internal"] and len(d["topic_id"]) == 22
    assert [p["partition"] for p in d["partitions"]] == [0, 1, 2]
    for p in d["partitions"]:
        assert p["leader"] == 1 and p["replicas"] == [1] and p["isr"] == [1], p
    assert d["configs"] == {"retention.ms": "123456"}, d["configs"]

    listed = {t["name"]: t for t in cli_json(target.bootstrap, "topic", "list")}
    assert listed[name]["partitions"] == 3 and listed[name]["replication_factor"] == 1

    table = cli(target.bootstrap, "topic", "describe", name)
    assert table.returncode == 0, table.stderr
    assert f"Topic: {name}\tTopicId: {d['topic_id']}\tPartitionCount: 3" in table.stdout
    assert "Configs: retention.ms=123456" in table.stdout

    r = cli(target.bootstrap, "topic", "alter-config", name, "--set", "cleanup.policy=compact",
            "--delete", "retention.ms")
    assert r.returncode == 0, r.stderr
    d = describe_until(target.bootstrap, name, lambda d: "retention.ms" not in d["configs"])
    assert d["configs"] == {"cleanup.policy": "compact"}, d["configs"]

    r = cli(target.bootstrap, "topic", "alter-config", name, "--set", "retention.ms=banana")
    assert r.returncode == 1 and "INVALID_CONFIG" in r.stderr, r.stderr

    r = cli(target.bootstrap, "topic", "delete", name)
    assert r.returncode == 0 and r.stdout == f"Deleted topic {name}.\n", r.stderr
    deadline = time.monotonic() + 30
    while True:  # deletion may take a moment to show in Metadata
        r = cli(target.bootstrap, "topic", "describe", name)
        if r.returncode == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.returncode == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in r.stderr, r.stderr
    r = cli(target.bootstrap, "topic", "delete", name)
    assert r.returncode == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in r.stderr, r.stderr
    r = cli(target.bootstrap, "topic", "delete", name, "--if-exists")
    assert r.returncode == 0, r.stderr


def test_create_defaults_validate_only_and_errors(target):
    name = unique("cli-default")
    # No --partitions: -1 goes to the broker, which applies its num.partitions.
    created = cli_json(target.bootstrap, "topic", "create", name)
    assert created["created"] and created["partitions"] == default_partitions(target), created
    assert created["replication_factor"] == 1
    [d] = cli_json(target.bootstrap, "topic", "describe", name)
    assert len(d["partitions"]) == default_partitions(target)

    other = unique("cli-validate")
    v = cli_json(target.bootstrap, "topic", "create", other, "--partitions", "2",
                 "--validate-only")
    assert v == {"name": other, "created": False, "validate_only": True,
                 "partitions": 2, "replication_factor": 1}, v
    r = cli(target.bootstrap, "topic", "describe", other)
    assert r.returncode == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in r.stderr

    r = cli(target.bootstrap, "topic", "create", unique("cli-rf"), "--replication-factor", "3")
    assert r.returncode == 1 and "INVALID_REPLICATION_FACTOR" in r.stderr, r.stderr
    r = cli(target.bootstrap, "topic", "create", "bad/name")
    assert r.returncode == 1 and "INVALID_TOPIC_EXCEPTION" in r.stderr, r.stderr
    r = cli(target.bootstrap, "topic", "create", unique("cli-cfg"), "--config", "no.such.key=1")
    assert r.returncode == 1 and "INVALID_CONFIG" in r.stderr, r.stderr


def test_if_not_exists_like_kafka_topics(target, tools_log4j):
    """Both tools, both orders, on one topic: the same exit statuses and an unchanged topic."""
    name = unique("cli-ine")
    r = kafka_topics(target.bootstrap, tools_log4j, "--create", "--topic", name,
                     "--partitions", "2", "--if-not-exists")
    assert r.returncode == 0, r.stdout + r.stderr
    # kafka-topics.sh --create --if-not-exists on an existing topic: exit 0, nothing changed
    r = cli(target.bootstrap, "topic", "create", name, "--partitions", "5", "--if-not-exists")
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
    assert cli_json(target.bootstrap, "topic", "create", name, "--if-not-exists") == \
        {"name": name, "created": False, "validate_only": False}
    [d] = cli_json(target.bootstrap, "topic", "describe", name)
    assert len(d["partitions"]) == 2
    # without the flag both tools refuse: TopicExistsException / TOPIC_ALREADY_EXISTS
    java = kafka_topics(target.bootstrap, tools_log4j, "--create", "--topic", name)
    ours = cli(target.bootstrap, "topic", "create", name)
    assert java.returncode != 0 and "already exists" in java.stdout + java.stderr
    assert ours.returncode == 1
    assert ours.stderr.startswith("sluice: TOPIC_ALREADY_EXISTS: "), ours.stderr
    # and the other way round: created by sluice, kafka-topics --if-not-exists is satisfied
    second = unique("cli-ine2")
    assert cli(target.bootstrap, "topic", "create", second).returncode == 0
    r = kafka_topics(target.bootstrap, tools_log4j, "--create", "--topic", second,
                     "--if-not-exists")
    assert r.returncode == 0, r.stdout + r.stderr
    r = kafka_topics(target.bootstrap, tools_log4j, "--describe", "--topic", second)
    assert f"PartitionCount: {default_partitions(target)}" in r.stdout, r.stdout


def normalized_describe(bootstrap, name, ok=lambda d: True):
    d = describe_until(bootstrap, name, ok)
    d.pop("topic_id")
    for p in d["partitions"]:
        p.pop("leader_epoch")  # both start at 0, but that is not what is compared here
    return d


def test_differential_against_kafka(kafka_ref, sluice_module):
    """The same commands against both brokers give the same answers."""
    name = unique("cli-diff")
    outputs = []
    for bootstrap in (kafka_ref.bootstrap, sluice_module.bootstrap):
        created = cli_json(bootstrap, "topic", "create", name, "--partitions", "3",
                           "--config", "cleanup.policy=compact", "--config",
                           "max.message.bytes=2000000")
        created.pop("topic_id")
        described = normalized_describe(bootstrap, name)
        cli(bootstrap, "topic", "alter-config", name, "--set", "segment.ms=3600000",
            "--delete", "max.message.bytes")
        altered = normalized_describe(bootstrap, name, lambda d: "segment.ms" in d["configs"])
        errors = [cli(bootstrap, *args).stderr.split(":")[1].strip() for args in (
            ("topic", "create", name),
            ("topic", "describe", unique("missing")),
            ("topic", "create", unique("rf"), "--replication-factor", "2"),
            ("topic", "alter-config", name, "--set", "cleanup.policy=sideways"),
        )]
        cluster = cli_json(bootstrap, "cluster", "describe")
        outputs.append((created, described, altered, errors, len(cluster["brokers"]),
                        cluster["controller"]))
        assert cli(bootstrap, "topic", "delete", name).returncode == 0
    assert outputs[0] == outputs[1]
    assert outputs[0][2]["configs"] == {"cleanup.policy": "compact", "segment.ms": "3600000"}
    assert outputs[0][3] == ["TOPIC_ALREADY_EXISTS", "UNKNOWN_TOPIC_OR_PARTITION",
                             "INVALID_REPLICATION_FACTOR", "INVALID_CONFIG"]


def test_cluster_describe(target):
    c = cli_json(target.bootstrap, "cluster", "describe")
    assert c["controller"] == 1
    assert c["brokers"] == [{"id": 1, "host": "127.0.0.1", "port": target.port, "rack": None}]
    if target.is_kafka:
        assert c["cluster_id"] == REF_CLUSTER_ID
    else:
        assert isinstance(c["cluster_id"], str) and len(c["cluster_id"]) == 22
    table = cli(target.bootstrap, "cluster", "describe")
    assert table.returncode == 0
    assert table.stdout.startswith(f"Cluster ID: {c['cluster_id']}\nController: 1\n")
    assert f"1       127.0.0.1  {target.port}" in table.stdout, table.stdout


# ---- produce and consume ----------------------------------------------------------------------

def test_produce_consume_round_trip(target):
    name = unique("cli-pc")
    assert cli(target.bootstrap, "topic", "create", name, "--partitions", "3").returncode == 0
    lines = [f"key{i}:value {i}" for i in range(40)]
    out = cli_json(target.bootstrap, "produce", name, "--key-separator", ":",
                   stdin="\n".join(lines) + "\n")
    assert out["records"] == 40 and sum(p["records"] for p in out["partitions"]) == 40

    # Where librdkafka's murmur2 partitioner (= the Java client's) puts the same keys.
    expected = {}
    delivered = []
    p = Producer({"bootstrap.servers": target.bootstrap, "partitioner": "murmur2_random"})
    check = unique("cli-murmur")
    assert cli(target.bootstrap, "topic", "create", check, "--partitions", "3").returncode == 0
    for i in range(40):
        p.produce(check, key=f"key{i}", value=b"x",
                  on_delivery=lambda err, msg: delivered.append((err, msg)))
    p.flush(30)
    for err, msg in delivered:
        assert err is None
        expected[msg.key().decode()] = msg.partition()

    records = []
    r = cli(target.bootstrap, "consume", name, "--from-beginning", "--max-messages", "40",
            "--output", "json", "--timeout", "20000")
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        records.append(json.loads(line))
    assert len(records) == 40 and "Processed a total of 40 messages" in r.stderr
    assert sorted(rec["value"] for rec in records) == sorted(l.split(":", 1)[1] for l in lines)
    for rec in records:
        assert rec["partition"] == expected[rec["key"]], rec
    # per partition, offsets come in order from 0
    for part in range(3):
        offs = [rec["offset"] for rec in records if rec["partition"] == part]
        assert offs == list(range(len(offs)))

    # text output: --print-offsets/--print-keys, and --partition picks one partition
    r = cli(target.bootstrap, "consume", name, "--from-beginning", "--partition", "0",
            "--print-keys", "--print-offsets", "--timeout", "1500")
    assert r.returncode == 0, r.stderr
    part0 = sorted((rec["offset"], rec["key"], rec["value"]) for rec in records
                   if rec["partition"] == 0)
    assert r.stdout.splitlines() == [f"0/{o}\t{k}\t{v}" for o, k, v in part0]


def test_consume_headers_null_and_unkeyed(target):
    name = unique("cli-hdr")
    assert cli(target.bootstrap, "topic", "create", name, "--partitions", "1").returncode == 0
    p = Producer({"bootstrap.servers": target.bootstrap})
    p.produce(name, key=b"k", value=b"v1", headers=[("h1", b"a"), ("h2", None)])
    p.produce(name, value=None)
    p.flush(30)
    r = cli(target.bootstrap, "produce", name, "--acks", "1", stdin="plain\n\nlast")
    assert r.returncode == 0 and "Produced 3 records" in r.stderr, r.stderr
    r = cli(target.bootstrap, "consume", name, "--from-beginning", "--max-messages", "5",
            "--print-keys", "--print-headers")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["k\th1:a,h2:null\tv1", "null\tNO_HEADERS\tnull",
                                     "null\tNO_HEADERS\tplain", "null\tNO_HEADERS\t",
                                     "null\tNO_HEADERS\tlast"]
    recs = [json.loads(l) for l in cli(target.bootstrap, "consume", name, "--from-beginning",
                                       "--max-messages", "2", "--output", "json").stdout.splitlines()]
    assert recs[0]["headers"] == [{"key": "h1", "value": "a"}, {"key": "h2", "value": None}]
    assert recs[1]["key"] is None and recs[1]["value"] is None


def test_produce_errors(target):
    r = cli(target.bootstrap, "produce", unique("cli-none"), stdin="x\n")
    assert r.returncode == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in r.stderr, r.stderr
    name = unique("cli-pe")
    assert cli(target.bootstrap, "topic", "create", name, "--partitions", "1").returncode == 0
    r = cli(target.bootstrap, "produce", name, "--key-separator", ":", stdin="a:b\nnokey\n")
    assert r.returncode == 1 and "no key separator" in r.stderr and "line 2" in r.stderr
    r = cli(target.bootstrap, "produce", name, "--partition", "7", stdin="x\n")
    assert r.returncode == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in r.stderr, r.stderr


# ---- groups ---------------------------------------------------------------------------------

def wait_group_state(bootstrap, group, state, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        d = cli_json(bootstrap, "group", "describe", group)
        if d["state"] == state or time.monotonic() > deadline:
            return d
        time.sleep(0.2)


def test_group_describe_lag(target):
    name, group = unique("cli-lag"), unique("cli-group")
    assert cli(target.bootstrap, "topic", "create", name, "--partitions", "2").returncode == 0
    assert cli(target.bootstrap, "produce", name, "--partition", "0",
               stdin="".join(f"a{i}\n" for i in range(10))).returncode == 0
    assert cli(target.bootstrap, "produce", name, "--partition", "1",
               stdin="".join(f"b{i}\n" for i in range(5))).returncode == 0

    c = Consumer({"bootstrap.servers": target.bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "client.id": "lag-checker"})
    try:
        c.subscribe([name])
        got, deadline = 0, time.monotonic() + 60
        while got < 15 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got += 1
        assert got == 15
        c.commit(offsets=[TopicPartition(name, 0, 4), TopicPartition(name, 1, 5)],
                 asynchronous=False)
        d = wait_group_state(target.bootstrap, group, "Stable")
        assert d["state"] == "Stable" and d["protocol_type"] == "consumer", d
        [member] = d["members"]
        assert member["client_id"] == "lag-checker"
        assert sorted((a["topic"], a["partition"]) for a in member["assignment"]) == \
            [(name, 0), (name, 1)]
        assert d["offsets"] == [
            {"topic": name, "partition": 0, "committed_offset": 4, "log_end_offset": 10,
             "lag": 6, "member_id": member["member_id"]},
            {"topic": name, "partition": 1, "committed_offset": 5, "log_end_offset": 5,
             "lag": 0, "member_id": member["member_id"]},
        ]
        table = cli(target.bootstrap, "group", "describe", group)
        assert table.returncode == 0, table.stderr
        header, row0, row1 = table.stdout.splitlines()[1:4]
        assert header.split() == ["TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
                                  "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"]
        assert row0.split()[:5] == [name, "0", "4", "10", "6"]
        assert row1.split()[:5] == [name, "1", "5", "5", "0"]
        groups = {g["group"]: g for g in cli_json(target.bootstrap, "group", "list")}
        assert groups[group]["protocol_type"] == "consumer"
        assert groups[group]["state"] == "Stable"
    finally:
        c.close()


def test_consume_group_commits(target):
    name, group = unique("cli-cg"), unique("cli-cgroup")
    assert cli(target.bootstrap, "topic", "create", name, "--partitions", "1").returncode == 0
    assert cli(target.bootstrap, "produce", name,
               stdin="".join(f"m{i}\n" for i in range(12))).returncode == 0
    r = cli(target.bootstrap, "consume", name, "--group", group, "--from-beginning",
            "--max-messages", "7")
    assert r.returncode == 0 and r.stdout.splitlines() == [f"m{i}" for i in range(7)], r.stderr
    d = cli_json(target.bootstrap, "group", "describe", group)
    assert d["members"] == []
    assert [(o["committed_offset"], o["log_end_offset"], o["lag"]) for o in d["offsets"]] == \
        [(7, 12, 5)]
    # the next run starts at the committed offset
    r = cli(target.bootstrap, "consume", name, "--group", group, "--timeout", "1500")
    assert r.returncode == 0 and r.stdout.splitlines() == [f"m{i}" for i in range(7, 12)]
    d = cli_json(target.bootstrap, "group", "describe", group)
    assert [o["lag"] for o in d["offsets"]] == [0]
    r = cli(target.bootstrap, "group", "describe", unique("cli-nogroup"))
    assert r.returncode == 1 and "GROUP_ID_NOT_FOUND" in r.stderr, r.stderr


# ---- usage and connection errors ----------------------------------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["topic"], "unknown command"),
    (["topic", "create"], "missing NAME"),
    (["topic", "create", "t", "--partitions", "zero"], "--partitions"),
    (["topic", "list", "--output", "xml"], "table or json"),
    (["topic", "list", "--if-exists"], "does not apply"),
    (["topic", "alter-config", "t"], "--set"),
    (["consume", "t", "--max-messages", "-1"], "--max-messages"),
    (["topic", "list", "--bootstrap-server", "localhost"], "host:port"),
])
def test_usage_errors(args, needle):
    r = cli(None, *args)
    assert r.returncode == 2, r
    assert needle in r.stderr and "usage:" in r.stderr, r.stderr
    assert r.stdout == ""


def test_help_and_env_bootstrap(sluice_module):
    r = cli(None, "topic", "create", "--help")
    assert r.returncode == 0 and "sluice topic create NAME" in r.stdout
    r = cli(None, "cluster", "describe", "--output", "json",
            env={"SLUICE_BOOTSTRAP": sluice_module.bootstrap})
    assert r.returncode == 0 and json.loads(r.stdout)["brokers"][0]["port"] == sluice_module.port


def test_unreachable_broker_times_out():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = cli(f"127.0.0.1:{port}", "topic", "list", "--timeout", "1200", timeout=60)
    assert r.returncode == 1
    assert f"cannot connect to 127.0.0.1:{port} within 1200 ms" in r.stderr, r.stderr


def test_silent_broker_times_out():
    """A listener that accepts but never answers: the request times out, it does not hang."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        r = cli(f"127.0.0.1:{port}", "topic", "list", "--timeout", "1000", timeout=60)
    assert r.returncode == 1
    assert f"timed out after 1000 ms waiting for ApiVersions from 127.0.0.1:{port}" in r.stderr, \
        r.stderr


def test_dead_bootstrap_server_is_skipped(sluice_module):
    """With several bootstrap servers, a refusing one does not use up the deadline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    r = cli(f"127.0.0.1:{dead},{sluice_module.bootstrap}", "cluster", "describe", "--output",
            "json", "--timeout", "20000")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["brokers"][0]["port"] == sluice_module.port


def test_consume_stops_on_sigint_and_commits(sluice_module):
    bootstrap = sluice_module.bootstrap
    name, group = unique("cli-int"), unique("cli-intgroup")
    assert cli(bootstrap, "topic", "create", name, "--partitions", "1").returncode == 0
    assert cli(bootstrap, "produce", name, stdin="".join(f"r{i}\n" for i in range(6))).returncode == 0
    proc = subprocess.Popen([SLUICE_BIN, "consume", name, "--group", group, "--from-beginning",
                             "--bootstrap-server", bootstrap],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(6)]
        assert lines == [f"r{i}" for i in range(6)]
        time.sleep(0.3)  # now waiting in a Fetch for records that do not come
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Processed a total of 6 messages" in err
    d = cli_json(bootstrap, "group", "describe", group)
    assert [(o["committed_offset"], o["lag"]) for o in d["offsets"]] == [(6, 0)]
