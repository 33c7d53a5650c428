"""Dynamic broker configs: AlterConfigs and IncrementalAlterConfigs on the broker resources "1"
(this broker) and "" (every broker), against the reference Apache Kafka 4.0.0 (errors, validate
only, DescribeConfigs sources and synonyms after a set and after a delete, topics that inherit),
their effect on topics without overrides, restart, and Kafka 4.0's ConfigCommand.

The shared kafka_ref is left as found: every dynamic value set on it is deleted again, and its
asynchronous config propagation is waited for (bounded polls). Runtime: about 25 s (ConfigCommand
JVMs are most of it)."""
import os
import time
import uuid

import pytest

import kproto
from kafka_ref import kafka_ref  # noqa: F401  (session fixture)
from test_topic_alter import (create_topic, delete_topic, produce_one, producer, run_tool,
                              segment_files, tools_log4j)  # noqa: F401

BROKER, TOPIC = 4, 2
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def incremental(bs, res, ops, validate_only=False):
    r = kproto.request(bs, 44, 1, {"Resources": [{"ResourceType": BROKER, "ResourceName": res,
                                                  "Configs": [{"Name": n, "ConfigOperation": o,
                                                               "Value": v} for n, o, v in ops]}],
                                   "ValidateOnly": validate_only})
    x = r["Responses"][0]
    return x["ErrorCode"], x["ErrorMessage"]


def alter(bs, res, configs, validate_only=False):
    r = kproto.request(bs, 33, 2, {"Resources": [{"ResourceType": BROKER, "ResourceName": res,
                                                  "Configs": [{"Name": n, "Value": v}
                                                              for n, v in configs]}],
                                   "ValidateOnly": validate_only})
    x = r["Responses"][0]
    return x["ErrorCode"], x["ErrorMessage"]


def describe(bs, rtype, res, keys):
    r = kproto.request(bs, 32, 4, {"Resources": [{"ResourceType": rtype, "ResourceName": res,
                                                  "ConfigurationKeys": keys}],
                                   "IncludeSynonyms": True, "IncludeDocumentation": False})
    x = r["Results"][0]
    assert x["ErrorCode"] == 0, x
    return {c["Name"]: (c["Value"], c["ReadOnly"], c["ConfigSource"], c["IsSensitive"],
                        [(s["Name"], s["Value"], s["Source"]) for s in c["Synonyms"]])
            for c in x["Configs"]}


def eventually(fn, want, timeout=15.0):
    """Kafka applies config changes asynchronously (through its metadata log): poll."""
    deadline = time.monotonic() + timeout
    got = fn()
    while got != want and time.monotonic() < deadline:
        time.sleep(0.1)
        got = fn()
    return got


@pytest.fixture(scope="module")
def sluice(tmp_path_factory):
    from conftest import Broker, broker_config
    workdir = str(tmp_path_factory.mktemp("sluice-bc"))
    b = Broker(broker_config(workdir + "/data"), workdir)
    yield b
    assert b.stop() == 0


def clear(bs):
    """Deletes every dynamic value this module sets, on both resources."""
    keys = ["log.retention.ms", "message.max.bytes", "log.cleanup.policy", "log.segment.bytes",
            "log.roll.ms", "min.insync.replicas", "compression.type", "foo.bar"]
    for res in ("1", ""):
        assert incremental(bs, res, [(k, DELETE, None) for k in keys]) == (0, None)


ERROR_CASES = [
    ("1", [("log.retention.ms", SET, "abc")]),
    ("", [("log.retention.ms", SET, "abc")]),
    ("1", [("message.max.bytes", SET, "-5")]),
    ("1", [("log.cleanup.policy", SET, "foo")]),
    ("1", [("compression.type", SET, "brotli")]),
    ("1", [("log.preallocate", SET, "yes")]),
    ("1", [("log.message.timestamp.type", SET, "Foo")]),
    ("1", [("min.insync.replicas", SET, "0")]),
    ("1", [("log.retention.ms", SET, "5000"), ("node.id", SET, "3"),
           ("num.partitions", SET, "3")]),
    ("1", [("node.id", SET, "3"), ("log.retention.ms", SET, "abc")]),
    ("", [("listeners", SET, "x"), ("node.id", SET, "3")]),
    ("", [("listeners", SET, "PLAINTEXT://:1")]),
    ("1", [("log.retention.hours", SET, "1"), ("broker.rack", SET, "r")]),
    ("1", [("log.retention.ms", APPEND, "5")]),
    ("1", [("log.retention.ms", SET, " 5000 "), ("foo.bar", SET, "x")]),
    ("1", [("node.id", DELETE, None), ("foo.bar", DELETE, None)]),
    ("2", [("log.retention.ms", SET, "5")]),
    ("x", [("log.retention.ms", SET, "5")]),
]


@pytest.mark.parametrize("case", range(len(ERROR_CASES)))
def test_checks_match_kafka(sluice, kafka_ref, case):
    res, ops = ERROR_CASES[case]
    s = incremental(sluice.bootstrap, res, ops, validate_only=True)
    k = incremental(kafka_ref.bootstrap, res, ops, validate_only=True)
    assert s == k
    legacy = [(n, v) for n, o, v in ops if o == SET]
    if legacy and len(legacy) == len(ops):
        assert alter(sluice.bootstrap, res, legacy, True) == alter(kafka_ref.bootstrap, res,
                                                                   legacy, True)


def test_set_describe_delete_match_kafka(sluice, kafka_ref):
    s_bs, k_bs = sluice.bootstrap, kafka_ref.bootstrap
    name = "bc-" + uuid.uuid4().hex[:6]
    broker_keys = ["log.retention.ms", "log.retention.hours", "message.max.bytes",
                   "log.cleanup.policy", "num.partitions"]
    topic_keys = ["retention.ms", "max.message.bytes", "cleanup.policy", "segment.bytes"]
    try:
        for bs in (s_bs, k_bs):
            create_topic(bs, name)
            assert incremental(bs, "", [("log.retention.ms", SET, "7000"),
                                        ("message.max.bytes", SET, "2000000"),
                                        ("log.cleanup.policy", SET, "compact,delete"),
                                        ("foo.bar", SET, "x")]) == (0, None)
            assert incremental(bs, "1", [("log.retention.ms", SET, " 5000 ")]) == (0, None)
            assert alter(bs, "1", [("log.retention.ms", "6000")], validate_only=True) == (0,
                                                                                        None)
        s = describe(s_bs, BROKER, "1", broker_keys)
        assert s["log.retention.ms"][0] == "5000" and s["log.retention.ms"][2] == 2
        k = eventually(lambda: describe(k_bs, BROKER, "1", broker_keys), s)
        del s["num.partitions"], k["num.partitions"]  # set in Sluice's test file only
        assert s == k
        s = describe(s_bs, BROKER, "", None)
        assert eventually(lambda: describe(k_bs, BROKER, "", None), s) == s
        s = describe(s_bs, TOPIC, name, topic_keys)
        assert s["retention.ms"][:3] == ("5000", False, 2)
        assert eventually(lambda: describe(k_bs, TOPIC, name, topic_keys), s) == s
        # DELETE goes back a layer: this broker's value, then the cluster's, then static.
        for bs in (s_bs, k_bs):
            assert incremental(bs, "1", [("log.retention.ms", DELETE, None)]) == (0, None)
        s = describe(s_bs, BROKER, "1", ["log.retention.ms"])
        assert s["log.retention.ms"][:3] == ("7000", False, 3)
        assert eventually(lambda: describe(k_bs, BROKER, "1", ["log.retention.ms"]), s) == s
        # AlterConfigs replaces the whole layer.
        for bs in (s_bs, k_bs):
            assert alter(bs, "", [("message.max.bytes", "3000000")]) == (0, None)
        s = describe(s_bs, BROKER, "", None)
        assert list(s) == ["message.max.bytes"]
        assert eventually(lambda: describe(k_bs, BROKER, "", None), s) == s
    finally:
        for bs in (s_bs, k_bs):
            clear(bs)
            delete_topic(bs, name)
    assert eventually(lambda: describe(k_bs, BROKER, "", None), {}) == {}
    assert describe(s_bs, BROKER, "", None) == {}


def test_effect_on_topics_and_restart(start_broker):
    first = start_broker()
    bs, name = first.bootstrap, "bc-eff-" + uuid.uuid4().hex[:6]
    data = os.path.join(first.workdir, "data")
    create_topic(bs, name)
    p = producer(bs)
    assert produce_one(p, name, b"x" * 3000) is None
    assert incremental(bs, "", [("message.max.bytes", SET, "1000")]) == (0, None)
    err = produce_one(p, name, b"x" * 3000)
    assert err is not None and "MSG_SIZE_TOO_LARGE" in err.name()
    assert incremental(bs, "1", [("message.max.bytes", SET, "100000"),
                                 ("log.segment.bytes", SET, "1024")]) == (0, None)
    for _ in range(3):
        assert produce_one(p, name, b"y" * 3000) is None
    assert len(segment_files(first, name)) >= 3
    assert first.stop() == 0

    from conftest import broker_config
    second = start_broker(config_text=broker_config(data))
    bs = second.bootstrap
    d = describe(bs, BROKER, "1", ["message.max.bytes", "log.segment.bytes"])
    assert d["message.max.bytes"][:3] == ("100000", False, 2)
    assert d["message.max.bytes"][4] == [("message.max.bytes", "100000", 2),
                                         ("message.max.bytes", "1000", 3),
                                         ("message.max.bytes", "1048588", 5)]
    assert describe(bs, TOPIC, name, ["max.message.bytes"])["max.message.bytes"][:3] == (
        "100000", False, 2)
    p = producer(bs)
    assert produce_one(p, name, b"z" * 3000) is None
    # Deleting this broker's value falls back to the cluster-wide one.
    assert incremental(bs, "1", [("message.max.bytes", DELETE, None)]) == (0, None)
    err = produce_one(p, name, b"z" * 3000)
    assert err is not None and "MSG_SIZE_TOO_LARGE" in err.name()
    assert incremental(bs, "", [("message.max.bytes", DELETE, None)]) == (0, None)
    assert produce_one(p, name, b"z" * 3000) is None
    assert describe(bs, BROKER, "1", ["message.max.bytes"])["message.max.bytes"][2] == 5


def test_config_command(broker, tools_log4j):  # noqa: F811
    bs = broker.bootstrap
    cmd = ["kafka.admin.ConfigCommand", "--bootstrap-server", bs, "--entity-type", "brokers"]
    r = run_tool(*cmd, "--entity-name", "1", "--alter", "--add-config",
                 "log.retention.ms=5000,log.cleanup.policy=[compact,delete]",
                 log_config=tools_log4j)
    assert r.returncode == 0, r.stderr
    r = run_tool(*cmd, "--entity-default", "--alter", "--add-config", "message.max.bytes=2000000",
                 log_config=tools_log4j)
    assert r.returncode == 0, r.stderr
    d = describe(bs, BROKER, "1", ["log.retention.ms", "log.cleanup.policy",
                                   "message.max.bytes"])
    assert d["log.retention.ms"][:3] == ("5000", False, 2)
    assert d["log.cleanup.policy"][:3] == ("compact,delete", False, 2)
    assert d["message.max.bytes"][:3] == ("2000000", False, 3)
    r = run_tool(*cmd, "--entity-name", "1", "--describe", log_config=tools_log4j)
    assert r.returncode == 0, r.stderr
    assert "log.retention.ms=5000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:" \
           "log.retention.ms=5000" in r.stdout, r.stdout
    r = run_tool(*cmd, "--entity-name", "1", "--alter", "--add-config", "num.partitions=3",
                 log_config=tools_log4j)
    assert r.returncode != 0
    assert "Cannot update these configs dynamically: Set(num.partitions)" in r.stdout + r.stderr
    r = run_tool(*cmd, "--entity-name", "1", "--alter", "--delete-config",
                 "log.retention.ms,log.cleanup.policy", log_config=tools_log4j)
    assert r.returncode == 0, r.stderr
    r = run_tool(*cmd, "--entity-default", "--alter", "--delete-config", "message.max.bytes",
                 log_config=tools_log4j)
    assert r.returncode == 0, r.stderr
    d = describe(bs, BROKER, "1", ["log.retention.ms", "message.max.bytes"])
    assert d["message.max.bytes"][2] == 5 and d["log.retention.ms"][2] != 2
    assert describe(bs, BROKER, "", None) == {}
