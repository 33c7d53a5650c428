"""Differential tests for run-time topic administration: AlterConfigs (33), IncrementalAlterConfigs
(44), CreatePartitions (37) and DeleteRecords (21), the same requests to Sluice and to the
reference Apache Kafka 4.0.0, the error codes and messages compared resource by resource, and the
effects (DescribeConfigs values, Metadata partition counts, ListOffsets/Fetch after DeleteRecords)
compared too.

Deliberate differences (docs/compatibility.md) are asserted on their own, not skipped: broker
resources (Sluice has no dynamic broker configs), partition counts above Sluice's bound, and
DeleteRecords answering a repeated partition once per entry. Every topic made on the shared
reference Kafka is deleted at the end of its test. Runtime: about 10 s with Kafka running."""
import time
import uuid

import pytest

import kproto
from kafka_ref import kafka_ref, start_sluice  # noqa: F401  (session fixture)

TOPIC, BROKER = 2, 4
ALTER_CONFIGS, INCREMENTAL, CREATE_PARTITIONS, DELETE_RECORDS = 33, 44, 37, 21
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


@pytest.fixture(scope="module")
def sluice(tmp_path_factory):
    b = start_sluice(tmp_path_factory.mktemp("sluice-admin"), auto_create=False)
    yield b
    rc = b.stop()
    assert rc == 0, b.log_text()[-6000:]


@pytest.fixture
def both(sluice, kafka_ref):
    """(sluice bootstrap, kafka bootstrap) and a fresh topic-name prefix; deletes what it made."""
    prefix = "adm-" + uuid.uuid4().hex[:8]
    made = []

    def create(name, partitions=1, configs=()):
        for bs in (sluice.bootstrap, kafka_ref.bootstrap):
            r = kproto.request(bs, 19, 7, {
                "Topics": [{"Name": name, "NumPartitions": partitions, "ReplicationFactor": 1,
                            "Assignments": [],
                            "Configs": [{"Name": k, "Value": v} for k, v in configs]}],
                "TimeoutMs": 10000, "ValidateOnly": False})
            assert r["Topics"][0]["ErrorCode"] == 0, (bs, r)
        # Kafka answers CreateTopics before its brokers' metadata caches have the topic; a
        # client waits for it to appear, and so do the comparisons below.
        wait_for(lambda: known(kafka_ref.bootstrap, name, partitions), f"{name} on Kafka")
        made.append(name)
        return name

    yield sluice.bootstrap, kafka_ref.bootstrap, prefix, create
    for bs in (sluice.bootstrap, kafka_ref.bootstrap):
        if made:
            kproto.request(bs, 20, 5, {"TopicNames": made, "TimeoutMs": 10000})


def alter(bs, resources, validate_only=False, version=2):
    return kproto.request(bs, ALTER_CONFIGS, version, {
        "Resources": [{"ResourceType": t, "ResourceName": n,
                       "Configs": [{"Name": k, "Value": v} for k, v in configs]}
                      for t, n, configs in resources],
        "ValidateOnly": validate_only})["Responses"]


def incremental(bs, resources, validate_only=False, version=1):
    return kproto.request(bs, INCREMENTAL, version, {
        "Resources": [{"ResourceType": t, "ResourceName": n,
                       "Configs": [{"Name": k, "ConfigOperation": op, "Value": v}
                                   for k, op, v in configs]}
                      for t, n, configs in resources],
        "ValidateOnly": validate_only})["Responses"]


def answers(responses):
    return [(r["ResourceType"], r["ResourceName"], r["ErrorCode"], r["ErrorMessage"])
            for r in responses]


def overrides(bs, topic, keys):
    r = kproto.request(bs, 32, 4, {"Resources": [{"ResourceType": TOPIC, "ResourceName": topic,
                                                  "ConfigurationKeys": keys}],
                                   "IncludeSynonyms": False, "IncludeDocumentation": False})
    res = r["Results"][0]
    assert res["ErrorCode"] == 0, r
    return {c["Name"]: (c["Value"], c["ConfigSource"]) for c in res["Configs"]}


def same(s_bs, k_bs, fn):
    s, k = fn(s_bs), fn(k_bs)
    assert s == k, f"\nsluice: {s}\nkafka:  {k}"
    return s


def settled(s_bs, k_bs, fn, timeout=15.0):
    """same() for read-only queries after a change: Kafka applies CreatePartitions and config
    changes to its metadata cache asynchronously, so its answer is asked again until it agrees
    or the deadline passes, as a client polling for the change would."""
    s = fn(s_bs)
    deadline = time.monotonic() + timeout
    while True:
        k = fn(k_bs)
        if s == k or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert s == k, f"\nsluice: {s}\nkafka:  {k}"
    return s


def wait_for(cond, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def known(bs, topic, partitions):
    r = kproto.request(bs, 3, 12, {"Topics": [{"Name": topic, "TopicId": None}],
                                   "AllowAutoTopicCreation": False,
                                   "IncludeTopicAuthorizedOperations": False})
    t = r["Topics"][0]
    return t["ErrorCode"] == 0 and len(t["Partitions"]) == partitions


# ---- AlterConfigs ---------------------------------------------------------------------------

ALTER_ERROR_CASES = [
    ("bad value", lambda t: [(TOPIC, t, [("retention.ms", "abc")])]),
    ("below minimum", lambda t: [(TOPIC, t, [("retention.ms", "-5")])]),
    ("bad enum", lambda t: [(TOPIC, t, [("message.timestamp.type", "Foo")])]),
    ("bad list item", lambda t: [(TOPIC, t, [("cleanup.policy", "delete,foo")])]),
    ("unknown name", lambda t: [(TOPIC, t, [("foo.bar", "1")])]),
    ("unknown name before bad value",
     lambda t: [(TOPIC, t, [("retention.ms", "x"), ("foo.bar", "1")])]),
    ("null values", lambda t: [(TOPIC, t, [("retention.ms", None), ("segment.ms", None)])]),
    ("duplicate keys", lambda t: [(TOPIC, t, [("retention.ms", "1"), ("retention.ms", "2")])]),
    ("unknown topic", lambda t: [(TOPIC, t + "-nope", [("retention.ms", "1")])]),
    ("null before unknown topic", lambda t: [(TOPIC, t + "-nope", [("retention.ms", None)])]),
    ("default topic", lambda t: [(TOPIC, "", [("retention.ms", "1")])]),
    ("invalid name", lambda t: [(TOPIC, "a/b", [("retention.ms", "1")])]),
    ("unknown resource type", lambda t: [(1, "x", [("a", "b")])]),
    ("logger resource", lambda t: [(8, "1", [("root", "INFO")])]),
    ("broker read-only keys", lambda t: [(BROKER, "1", [("num.partitions", "3"),
                                                        ("log.dirs", "/x")])]),
    ("broker other id", lambda t: [(BROKER, "2", [("log.retention.ms", "1000")])]),
]


@pytest.mark.parametrize("case", ALTER_ERROR_CASES, ids=[c[0] for c in ALTER_ERROR_CASES])
@pytest.mark.parametrize("version", [0, 1, 2])
def test_alter_configs_errors(both, case, version):
    s_bs, k_bs, prefix, create = both
    topic = create(prefix + "-a", configs=[("retention.ms", "123456")])
    resources = case[1](topic)
    for validate_only in (False, True):
        same(s_bs, k_bs, lambda bs: answers(alter(bs, resources, validate_only, version)))
    # A failed request leaves the overrides as they were.
    settled(s_bs, k_bs, lambda bs: overrides(bs, topic, ["retention.ms"]))


def test_alter_configs_repeated_resource(sluice):
    """Difference: Kafka 4.0 fails a repeated resource with an internal error and never answers
    (IllegalStateException "Duplicate key ConfigResource" in its log); Sluice answers as Kafka's
    IncrementalAlterConfigs does."""
    name = "adm-rep-" + uuid.uuid4().hex[:6]
    msg = "Each resource must appear at most once."
    got = answers(alter(sluice.bootstrap, [(TOPIC, name, [("retention.ms", "1")])] * 2))
    assert got == [(TOPIC, name, 42, msg)] * 2


def test_alter_configs_replaces_the_whole_set(both):
    s_bs, k_bs, prefix, create = both
    topic = create(prefix + "-r", configs=[("retention.ms", "123456"), ("segment.ms", "999999")])
    keys = ["retention.ms", "segment.ms", "max.message.bytes", "cleanup.policy"]
    change = [(TOPIC, topic, [("max.message.bytes", "2000"), ("cleanup.policy", "compact,delete")])]
    same(s_bs, k_bs, lambda bs: answers(alter(bs, change, validate_only=True)))
    before = settled(s_bs, k_bs, lambda bs: overrides(bs, topic, keys))
    assert before["retention.ms"] == ("123456", 1)
    same(s_bs, k_bs, lambda bs: answers(alter(bs, change)))
    after = settled(s_bs, k_bs, lambda bs: overrides(bs, topic, keys))
    assert after["max.message.bytes"] == ("2000", 1)
    assert after["retention.ms"][1] == 5  # the override went: back to the default
    same(s_bs, k_bs, lambda bs: answers(alter(bs, [(TOPIC, topic, [])])))
    assert all(src == 5 for _, src in settled(s_bs, k_bs,
                                              lambda bs: overrides(bs, topic, keys)).values())


# ---- IncrementalAlterConfigs ------------------------------------------------------------------

INCREMENTAL_ERROR_CASES = [
    ("append to non-list", lambda t: [(TOPIC, t, [("retention.ms", APPEND, "5")])]),
    ("subtract from non-list", lambda t: [(TOPIC, t, [("retention.ms", SUBTRACT, "5")])]),
    ("bad value", lambda t: [(TOPIC, t, [("retention.ms", SET, "x")])]),
    ("bad list value", lambda t: [(TOPIC, t, [("cleanup.policy", APPEND, "foo")])]),
    ("unknown name", lambda t: [(TOPIC, t, [("foo", SET, "1")])]),
    ("unknown operation", lambda t: [(TOPIC, t, [("retention.ms", 7, "1")])]),
    ("unknown operation first", lambda t: [(TOPIC, t + "-nope", [("retention.ms", 7, "1")])]),
    ("null set", lambda t: [(TOPIC, t, [("a", SET, None), ("b", SET, None), ("c", APPEND, None),
                                        ("d", DELETE, None)])]),
    ("duplicate keys", lambda t: [(TOPIC, t, [("retention.ms", SET, "5"),
                                              ("retention.ms", DELETE, None)])]),
    ("unknown topic", lambda t: [(TOPIC, t + "-nope", [("retention.ms", SET, "1")])]),
    ("default topic", lambda t: [(TOPIC, "", [("retention.ms", SET, "1")])]),
    ("invalid name", lambda t: [(TOPIC, "a/b", [("retention.ms", SET, "1")])]),
    ("repeated resource", lambda t: [(TOPIC, t, [("retention.ms", SET, "1")]),
                                     (TOPIC, t, [("retention.ms", SET, "2")])]),
    ("broker read-only keys", lambda t: [(BROKER, "1", [("num.partitions", SET, "3"),
                                                        ("log.dirs", SET, "x")])]),
    ("broker id not a number", lambda t: [(BROKER, "x", [("log.retention.ms", SET, "5")])]),
    ("broker other id", lambda t: [(BROKER, "2", [("log.retention.ms", SET, "5")])]),
    ("broker delete", lambda t: [(BROKER, "1", [("num.partitions", DELETE, None)])]),
]


@pytest.mark.parametrize("case", INCREMENTAL_ERROR_CASES,
                         ids=[c[0] for c in INCREMENTAL_ERROR_CASES])
@pytest.mark.parametrize("version", [0, 1])
def test_incremental_alter_configs_errors(both, case, version):
    s_bs, k_bs, prefix, create = both
    topic = create(prefix + "-i", configs=[("retention.ms", "123456")])
    for validate_only in (False, True):
        same(s_bs, k_bs, lambda bs: answers(incremental(bs, case[1](topic), validate_only,
                                                        version)))
    settled(s_bs, k_bs, lambda bs: overrides(bs, topic, ["retention.ms"]))


def test_incremental_operations(both):
    s_bs, k_bs, prefix, create = both
    topic = create(prefix + "-o", configs=[("segment.ms", "999999")])
    keys = ["cleanup.policy", "retention.ms", "segment.ms"]
    steps = [
        [("cleanup.policy", APPEND, "compact,compact,delete"), ("retention.ms", SET, "5000")],
        [("cleanup.policy", SUBTRACT, "delete")],
        [("cleanup.policy", DELETE, None), ("segment.ms", DELETE, None)],
        [("cleanup.policy", SUBTRACT, "delete,foo")],    # from the default "delete": empty
        [("cleanup.policy", APPEND, "compact")],
        [("retention.ms", DELETE, None), ("no.such.key", DELETE, None)],
    ]
    seen = []
    for ops in steps:
        same(s_bs, k_bs, lambda bs: answers(incremental(bs, [(TOPIC, topic, ops)], True)))
        same(s_bs, k_bs, lambda bs: answers(incremental(bs, [(TOPIC, topic, ops)])))
        seen.append(settled(s_bs, k_bs, lambda bs: overrides(bs, topic, keys)))
    assert seen[0]["cleanup.policy"] == ("delete,compact", 1)
    assert seen[1]["cleanup.policy"] == ("compact", 1)
    assert seen[3]["cleanup.policy"] == ("", 1)
    assert seen[4]["cleanup.policy"] == ("compact", 1)
    assert seen[5]["retention.ms"][1] == 5


# ---- CreatePartitions -------------------------------------------------------------------------

def create_partitions(bs, topics, validate_only=False, version=3):
    r = kproto.request(bs, CREATE_PARTITIONS, version, {
        "Topics": [{"Name": n, "Count": c,
                    "Assignments": None if a is None else [{"BrokerIds": b} for b in a]}
                   for n, c, a in topics],
        "TimeoutMs": 10000, "ValidateOnly": validate_only})
    return [(x["Name"], x["ErrorCode"], x["ErrorMessage"]) for x in r["Results"]]


def partition_count(bs, topic):
    r = kproto.request(bs, 3, 12, {"Topics": [{"Name": topic, "TopicId": None}],
                                   "AllowAutoTopicCreation": False,
                                   "IncludeTopicAuthorizedOperations": False})
    t = r["Topics"][0]
    assert t["ErrorCode"] == 0, r
    return sorted(p["PartitionIndex"] for p in t["Partitions"])


CREATE_PARTITIONS_CASES = [
    ("same count", lambda t: [(t, 2, None)]),
    ("fewer", lambda t: [(t, 1, None)]),
    ("zero", lambda t: [(t, 0, None)]),
    ("negative", lambda t: [(t, -1, None)]),
    ("unknown topic", lambda t: [(t + "-nope", 3, None)]),
    ("invalid name", lambda t: [("a/b", 3, None)]),
    ("unregistered broker", lambda t: [(t, 3, [[2]])]),
    ("broker twice", lambda t: [(t, 3, [[1, 1]])]),
    ("too many assignments", lambda t: [(t, 3, [[1], [1]])]),
    ("too few assignments", lambda t: [(t, 4, [[1]])]),
    ("empty replica list", lambda t: [(t, 3, [[]])]),
    ("repeated name", lambda t: [(t + "-x", 3, None), (t, 3, None), (t, 4, None)]),
]


@pytest.mark.parametrize("case", CREATE_PARTITIONS_CASES,
                         ids=[c[0] for c in CREATE_PARTITIONS_CASES])
@pytest.mark.parametrize("version", [0, 3])
def test_create_partitions_errors(both, case, version):
    s_bs, k_bs, prefix, create = both
    topic = create(prefix + "-p", partitions=2)
    for validate_only in (True, False):
        same(s_bs, k_bs, lambda bs: create_partitions(bs, case[1](topic), validate_only, version))
    assert settled(s_bs, k_bs, lambda bs: partition_count(bs, topic)) == [0, 1]


def test_create_partitions_grows(both):
    s_bs, k_bs, prefix, create = both
    topic = create(prefix + "-g", partitions=2)
    same(s_bs, k_bs, lambda bs: create_partitions(bs, [(topic, 3, None)], validate_only=True))
    assert settled(s_bs, k_bs, lambda bs: partition_count(bs, topic)) == [0, 1]
    same(s_bs, k_bs, lambda bs: create_partitions(bs, [(topic, 3, [[1]])]))
    same(s_bs, k_bs, lambda bs: create_partitions(bs, [(topic, 6, None)]))
    assert settled(s_bs, k_bs, lambda bs: partition_count(bs, topic)) == list(range(6))


def test_create_partitions_beyond_sluice_bound(sluice):
    """Difference: Kafka 4.0 answers UNKNOWN_SERVER_ERROR for 100000 partitions; Sluice's bound
    (SL_TOPIC_PARTITIONS_MAX) gives INVALID_PARTITIONS with a message."""
    name = "adm-bound-" + uuid.uuid4().hex[:6]
    kproto.request(sluice.bootstrap, 19, 7, {
        "Topics": [{"Name": name, "NumPartitions": 1, "ReplicationFactor": 1, "Assignments": [],
                    "Configs": []}], "TimeoutMs": 5000, "ValidateOnly": False})
    assert create_partitions(sluice.bootstrap, [(name, 100000, None)]) == [
        (name, 37, "Number of partitions must be between 1 and 10000, got 100000.")]
    kproto.request(sluice.bootstrap, 20, 5, {"TopicNames": [name], "TimeoutMs": 5000})


# ---- DeleteRecords -----------------------------------------------------------------------------

def produce(bs, topic, count):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bs, "linger.ms": 0, "enable.idempotence": False})
    for i in range(count):
        p.produce(topic, value=b"v%03d" % i, partition=0)
        p.flush(10)  # one batch per record: offsets and segments line up on both brokers
    assert p.flush(10) == 0


def delete_records(bs, topics, version=2):
    r = kproto.request(bs, DELETE_RECORDS, version, {
        "Topics": [{"Name": n, "Partitions": [{"PartitionIndex": p, "Offset": o}
                                              for p, o in parts]} for n, parts in topics],
        "TimeoutMs": 10000})
    return sorted((t["Name"], p["PartitionIndex"], p["LowWatermark"], p["ErrorCode"])
                  for t in r["Topics"] for p in t["Partitions"])


def list_offset(bs, topic, timestamp):
    r = kproto.request(bs, 2, 9, {"ReplicaId": -1, "IsolationLevel": 0, "Topics": [
        {"Name": topic, "Partitions": [{"PartitionIndex": 0, "CurrentLeaderEpoch": -1,
                                        "Timestamp": timestamp}]}]})
    p = r["Topics"][0]["Partitions"][0]
    return p["ErrorCode"], p["Offset"]


def fetch_error(bs, topic, offset):
    r = kproto.request(bs, 1, 12, {
        "ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 0, "MaxBytes": 100000, "IsolationLevel": 0,
        "SessionId": 0, "SessionEpoch": -1, "Topics": [{"Topic": topic, "Partitions": [
            {"Partition": 0, "CurrentLeaderEpoch": -1, "FetchOffset": offset,
             "LastFetchedEpoch": -1, "LogStartOffset": -1, "PartitionMaxBytes": 100000}]}],
        "ForgottenTopicsData": [], "RackId": ""})
    p = r["Responses"][0]["Partitions"][0]
    return p["ErrorCode"], p["LogStartOffset"] if p["ErrorCode"] == 0 else None


@pytest.mark.parametrize("version", [0, 1, 2])
def test_delete_records(both, version):
    s_bs, k_bs, prefix, create = both
    topic = create(prefix + "-d", partitions=2, configs=[("segment.bytes", "1000")])
    for bs in (s_bs, k_bs):
        produce(bs, topic, 20)
    steps = [
        [(topic, [(0, 5)])],                        # LW 5
        [(topic, [(0, 3)])],                        # below the start: no change
        [(topic, [(0, 21)])],                       # beyond the high watermark
        [(topic, [(0, -2)])],                       # negative, not -1
        [(topic, [(1, -1)])],                       # empty partition, to its high watermark
        [(topic, [(7, 1)]), (topic + "-nope", [(0, 1)]), ("a/b", [(0, 1)])],
        [(topic, [(0, 12)])],
    ]
    for step in steps:
        same(s_bs, k_bs, lambda bs: delete_records(bs, step, version))
    assert same(s_bs, k_bs, lambda bs: list_offset(bs, topic, -2)) == (0, 12)
    assert same(s_bs, k_bs, lambda bs: list_offset(bs, topic, -1)) == (0, 20)
    assert same(s_bs, k_bs, lambda bs: fetch_error(bs, topic, 11)) == (1, None)
    assert same(s_bs, k_bs, lambda bs: fetch_error(bs, topic, 12)) == (0, 12)
    same(s_bs, k_bs, lambda bs: delete_records(bs, [(topic, [(0, -1)])], version))
    assert same(s_bs, k_bs, lambda bs: list_offset(bs, topic, -2)) == (0, 20)
    assert same(s_bs, k_bs, lambda bs: fetch_error(bs, topic, 19)) == (1, None)


def test_delete_records_repeated_partition(sluice, kafka_ref):
    """Difference: Kafka folds a repeated partition into one answer (the last offset); Sluice
    answers each entry, in order, so the last one carries the same low watermark."""
    name = "adm-rep-" + uuid.uuid4().hex[:6]
    for bs in (sluice.bootstrap, kafka_ref.bootstrap):
        kproto.request(bs, 19, 7, {"Topics": [{"Name": name, "NumPartitions": 1,
                                               "ReplicationFactor": 1, "Assignments": [],
                                               "Configs": []}],
                                   "TimeoutMs": 5000, "ValidateOnly": False})
        produce(bs, name, 5)
    try:
        req = [(name, [(0, 2), (0, 3)])]
        assert delete_records(kafka_ref.bootstrap, req) == [(name, 0, 3, 0)]
        assert delete_records(sluice.bootstrap, req) == [(name, 0, 2, 0), (name, 0, 3, 0)]
    finally:
        for bs in (sluice.bootstrap, kafka_ref.bootstrap):
            kproto.request(bs, 20, 5, {"TopicNames": [name], "TimeoutMs": 5000})
