"""Differential tests of the data-path APIs: CreateTopics, DeleteTopics, Produce, Fetch and
ListOffsets, the same requests to Sluice and to the reference Apache Kafka 4.0.0 (shared session
fixture), the decoded answers compared field by field.

Ignored because they must differ: throttle times, topic ids (each broker's own, checked for shape),
fetch session ids, and error message texts where the two word them differently (the codes are
always compared; where the texts agree they are compared too). Versions Kafka 4.0 removed
(CreateTopics v0-1, DeleteTopics v0, ListOffsets v0, Produce v0-2) are checked against Sluice alone.

Both brokers run with auto.create.topics.enable=false and num.partitions=1. Every topic a test
creates is deleted again on both at the end of the test (the reference Kafka is shared).
Runtime: about 35 s (some 200 cases), most of it Kafka's topic creation.
"""
import os
import time
import uuid

import pytest

import kproto
import records as R
from kafka_ref import kafka_ref  # noqa: F401  (session fixture)

PRODUCE, FETCH, LIST_OFFSETS, METADATA, CREATE_TOPICS, DELETE_TOPICS = 0, 1, 2, 3, 19, 20
OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER = 1, 3, 6
MESSAGE_TOO_LARGE, INVALID_TOPIC_EXCEPTION, INVALID_REQUIRED_ACKS = 10, 17, 21
TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR = 36, 37, 38
INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG, INVALID_REQUEST = 39, 40, 42
UNSUPPORTED_FOR_MESSAGE_FORMAT, FETCH_SESSION_ID_NOT_FOUND = 43, 70
INVALID_FETCH_SESSION_EPOCH, UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_ID = 71, 75, 100
ZERO_UUID = kproto.ZERO_UUID
IGNORED = "<ignored: must differ>"
MESSAGE = "<an error message>"

# docs/compatibility.md, "topic configs listed": the topic keys only one of the two lists, and the
# default that Sluice keeps from Kafka 3.9.
KAFKA_ONLY_TOPIC_KEYS = {"compression.gzip.level", "compression.lz4.level",
                         "compression.zstd.level", "remote.log.copy.disable",
                         "remote.log.delete.on.disable"}
SLUICE_ONLY_TOPIC_KEYS = {"message.downconversion.enable", "message.timestamp.difference.max.ms"}
TOPIC_VALUE_DIFFERS = {"message.timestamp.after.max.ms"}


@pytest.fixture(scope="module")
def sluice(tmp_path_factory):
    from conftest import Broker, broker_config
    workdir = str(tmp_path_factory.mktemp("sluice-diff-data"))
    text = (broker_config(os.path.join(workdir, "data"))
            .replace("auto.create.topics.enable: true", "auto.create.topics.enable: false")
            .replace("num.partitions: 4", "num.partitions: 1"))
    b = Broker(text, workdir)
    yield b
    assert b.stop() == 0


# ---------------------------------------------------------------------------------------------
# Normalization


def normalize(value, messages=False, null_configs_as_empty=False, aborted_fix=False):
    """A copy with what must differ blanked: throttle, topic and session ids; error messages
    (messages=False: only whether there is one; True: the exact text; "ignore": not at all);
    topic and partition lists sorted (neither broker promises an order); fetched records reduced
    to their complete batches (Kafka may end with a partial batch where a limit cut one, Sluice
    sends whole batches only). null_configs_as_empty and aborted_fix even out null-versus-empty
    lists where a test asks for it."""
    kw = dict(messages=messages, null_configs_as_empty=null_configs_as_empty,
              aborted_fix=aborted_fix)
    if isinstance(value, list):
        items = [normalize(v, **kw) for v in value]
        if items and isinstance(items[0], dict):
            for key in ("Name", "Topic", "PartitionIndex", "Index", "Partition"):
                if key in items[0] and all(isinstance(i, dict) for i in items):
                    return sorted(items, key=lambda i: (i.get(key) is None, str(i.get(key))
                                                        if not isinstance(i.get(key), int)
                                                        else f"{i.get(key):012d}"))
        return items
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if k in ("ThrottleTimeMs", "TopicId", "SessionId"):
            out[k] = IGNORED
        elif k == "ErrorMessage" and messages == "ignore":
            out[k] = IGNORED
        elif k == "ErrorMessage" and not messages:
            out[k] = None if v is None else MESSAGE
        elif (k == "AbortedTransactions" and v is None and aborted_fix and
              value.get("ErrorCode")):
            out[k] = []  # see test_fetch_error_partition_aborted_transactions
        elif k == "Records" and isinstance(v, (bytes, bytearray)):
            out[k] = R.split_batches(v)
        elif k == "Configs" and v is None and null_configs_as_empty:
            out[k] = []  # see test_create_topics_error_configs_empty
        elif k == "Configs" and isinstance(v, list):
            out[k] = normalize([dict(c, Value=IGNORED) if c["Name"] in TOPIC_VALUE_DIFFERS else c
                                for c in v
                                if c["Name"] not in KAFKA_ONLY_TOPIC_KEYS | SLUICE_ONLY_TOPIC_KEYS],
                               **kw)
        else:
            out[k] = normalize(v, **kw)
    return out


def assert_same(kafka_body, sluice_body, **kw):
    k, s = normalize(kafka_body, **kw), normalize(sluice_body, **kw)
    assert s == k, f"\nkafka:  {k}\nsluice: {s}"


# ---------------------------------------------------------------------------------------------
# The two brokers side by side


class Pair:
    """The reference and Sluice, with helpers that send each the same request. Topics made
    through .create() are deleted from both by .cleanup()."""

    def __init__(self, kafka, sluice):
        self.kafka, self.sluice = kafka, sluice
        self.created = set()

    def name(self, what):
        return f"dd-{what}-{uuid.uuid4().hex[:8]}"

    def both(self, api_key, version, fields, **kw):
        k = kproto.request(self.kafka.bootstrap, api_key, version, fields, **kw)
        s = kproto.request(self.sluice.bootstrap, api_key, version, fields, **kw)
        return k, s

    def compare(self, api_key, version, fields, **kw):
        k, s = self.both(api_key, version, fields)
        assert_same(k, s, **kw)
        return k, s

    def wait_visible(self, name, ends, timeout=10.0):
        """Sluice answers acks=0/1 once written, but its high watermark is the end of what is
        fdatasync'ed (docs/architecture.md, "Visibility"): wait (bounded) until it covers the
        writes before reading back. ends: partition -> expected high watermark."""
        deadline = time.monotonic() + timeout
        fields = list_offsets_fields(name, {p: -1 for p in ends})
        while True:
            body = kproto.request(self.sluice.bootstrap, LIST_OFFSETS, 7, fields)
            got = {p["PartitionIndex"]: p["Offset"] for p in body["Topics"][0]["Partitions"]}
            if got == ends:
                return
            assert time.monotonic() < deadline, f"high watermarks {got}, want {ends}"
            time.sleep(0.01)

    def create(self, name=None, partitions=1, configs=None):
        name = name or self.name("t")
        topic = {"Name": name, "NumPartitions": partitions, "ReplicationFactor": 1,
                 "Configs": [{"Name": k, "Value": v} for k, v in (configs or {}).items()]}
        self.created.add(name)
        k, s = self.both(CREATE_TOPICS, 7, {"Topics": [topic], "timeoutMs": 30000})
        assert k["Topics"][0]["ErrorCode"] == 0, k
        assert s["Topics"][0]["ErrorCode"] == 0, s
        self.wait_ready(name, partitions)
        return name

    def wait_ready(self, name, partitions, timeout=30.0):
        """Kafka answers CreateTopics before the partitions have a leader: wait (without
        writing) until ListOffsets succeeds on each of them."""
        fields = {"ReplicaId": -1, "Topics": [{"Name": name, "Partitions": [
            {"PartitionIndex": p, "Timestamp": -1} for p in range(partitions)]}]}
        deadline = time.monotonic() + timeout
        while True:
            body = kproto.request(self.kafka.bootstrap, LIST_OFFSETS, 1, fields)
            errors = [p["ErrorCode"] for p in body["Topics"][0]["Partitions"]]
            if not any(errors):
                return
            assert time.monotonic() < deadline, f"{name} not ready on Kafka: {errors}"
            time.sleep(0.05)

    def topic_ids(self, name):
        k, s = self.both(METADATA, 12, {"Topics": [{"Name": name}]})
        return k["Topics"][0]["TopicId"], s["Topics"][0]["TopicId"]

    def produce(self, name, partition, batch, version=9, acks=-1):
        """Produces the same batch to both; they must agree and succeed. Returns the offset."""
        k, s = self.compare(PRODUCE, version, produce_fields(name, {partition: batch}, acks))
        p = k["Responses"][0]["PartitionResponses"][0]
        assert p["ErrorCode"] == 0, k
        return p["BaseOffset"]

    def cleanup(self):
        if not self.created:
            return
        fields = {"TopicNames": sorted(self.created), "TimeoutMs": 30000}
        for b in (self.kafka, self.sluice):
            body = kproto.request(b.bootstrap, DELETE_TOPICS, 5, fields)
            for r in body["Responses"]:
                assert r["ErrorCode"] in (0, UNKNOWN_TOPIC_OR_PARTITION), body


@pytest.fixture
def pair(kafka_ref, sluice):
    p = Pair(kafka_ref, sluice)
    yield p
    p.cleanup()


def produce_fields(name, parts, acks=-1, timeout=30000):
    """parts: partition -> records bytes (or a list of (partition, records) to repeat one)."""
    items = parts.items() if isinstance(parts, dict) else parts
    return {"TransactionalId": None, "Acks": acks, "TimeoutMs": timeout,
            "TopicData": [{"Name": name, "PartitionData": [{"Index": p, "Records": r}
                                                           for p, r in items]}]}


def fetch_fields(name, parts, version=12, max_bytes=1 << 20, partition_max_bytes=1 << 20,
                 min_bytes=0, max_wait=0, isolation=0, session=(0, -1), topic_id=None):
    """parts: partition -> fetch offset."""
    topic = {"Topic": name, "TopicId": topic_id or ZERO_UUID,
             "Partitions": [{"Partition": p, "FetchOffset": o, "PartitionMaxBytes":
                             partition_max_bytes, "CurrentLeaderEpoch": -1,
                             "LogStartOffset": -1, "LastFetchedEpoch": -1}
                            for p, o in parts.items()]}
    return {"ReplicaId": -1, "ReplicaState": {"ReplicaId": -1, "ReplicaEpoch": -1},
            "MaxWaitMs": max_wait, "MinBytes": min_bytes, "MaxBytes": max_bytes,
            "IsolationLevel": isolation, "SessionId": session[0], "SessionEpoch": session[1],
            "Topics": [topic], "ForgottenTopicsData": [], "RackId": ""}


def list_offsets_fields(name, parts, isolation=0, leader_epoch=-1):
    """parts: partition -> timestamp."""
    return {"ReplicaId": -1, "IsolationLevel": isolation,
            "Topics": [{"Name": name, "Partitions": [
                {"PartitionIndex": p, "Timestamp": ts, "CurrentLeaderEpoch": leader_epoch,
                 "MaxNumOffsets": 1} for p, ts in parts.items()]}]}


def topic_entry(name, partitions=1, rf=1, configs=None, assignments=None):
    return {"Name": name, "NumPartitions": partitions, "ReplicationFactor": rf,
            "Assignments": assignments or [],
            "Configs": [{"Name": k, "Value": v} for k, v in (configs or {}).items()]}


def create_fields(topics, validate_only=False):
    return {"Topics": topics, "timeoutMs": 30000, "validateOnly": validate_only}


def metadata_topic(bootstrap, name):
    return kproto.request(bootstrap, METADATA, 12, {"Topics": [{"Name": name}]})["Topics"][0]


def partition_count(bootstrap, name):
    t = metadata_topic(bootstrap, name)
    return None if t["ErrorCode"] else len(t["Partitions"])


# ---------------------------------------------------------------------------------------------
# CreateTopics

CREATE_VERSIONS = range(2, 8)  # Kafka 4.0 removed v0-1 (KIP-896)


@pytest.mark.parametrize("version", CREATE_VERSIONS)
def test_create_topics_good(pair, version):
    name = pair.name("create")
    pair.created.add(name)
    k, s = pair.compare(CREATE_TOPICS, version, create_fields(
        [topic_entry(name, 3, 1, {"retention.ms": "123456", "cleanup.policy": "delete"})]))
    assert k["Topics"][0]["ErrorCode"] == 0
    if version >= 5:
        configs = {c["Name"]: c for c in s["Topics"][0]["Configs"]}
        assert configs["retention.ms"]["Value"] == "123456"
        assert configs["retention.ms"]["ConfigSource"] == 1  # TOPIC_CONFIG
        assert (s["Topics"][0]["NumPartitions"], s["Topics"][0]["ReplicationFactor"]) == (3, 1)
    if version >= 7:
        assert s["Topics"][0]["TopicId"] != ZERO_UUID
        assert s["Topics"][0]["TopicId"] == pair.topic_ids(name)[1]
    pair.wait_ready(name, 3)
    assert partition_count(pair.kafka.bootstrap, name) == partition_count(
        pair.sluice.bootstrap, name) == 3


@pytest.mark.parametrize("version", [4, 7])
def test_create_topics_broker_defaults(pair, version):
    """NumPartitions and ReplicationFactor -1 (v4+) take num.partitions / default rf (1 here)."""
    name = pair.name("defaults")
    pair.created.add(name)
    k, s = pair.compare(CREATE_TOPICS, version, create_fields([topic_entry(name, -1, -1)]))
    assert k["Topics"][0]["ErrorCode"] == 0
    assert partition_count(pair.kafka.bootstrap, name) == partition_count(
        pair.sluice.bootstrap, name) == 1


@pytest.mark.parametrize("version", [0, 1])
def test_create_topics_old_versions_sluice(pair, version):
    """v0-1 are gone from Kafka 4.0; Sluice keeps 3.9's range."""
    name = pair.name("old")
    pair.created.add(name)
    body = kproto.request(pair.sluice.bootstrap, CREATE_TOPICS, version,
                          create_fields([topic_entry(name, 2, 1)]))
    assert body["Topics"] == [dict({"Name": name, "ErrorCode": 0},
                                   **({"ErrorMessage": None} if version else {}))]
    assert partition_count(pair.sluice.bootstrap, name) == 2


@pytest.mark.parametrize("version", CREATE_VERSIONS)
def test_create_topics_validate_only(pair, version):
    name = pair.name("validate")
    k, s = pair.compare(CREATE_TOPICS, version,
                        create_fields([topic_entry(name, 2, 1, {"retention.ms": "1000"})], True))
    assert k["Topics"][0]["ErrorCode"] == 0
    if version >= 5:
        assert (s["Topics"][0]["NumPartitions"], s["Topics"][0]["ReplicationFactor"]) == (2, 1)
    # Nothing was created on either.
    assert partition_count(pair.kafka.bootstrap, name) is None
    assert partition_count(pair.sluice.bootstrap, name) is None


@pytest.mark.parametrize("version", CREATE_VERSIONS)
def test_create_topics_exists(pair, version):
    name = pair.create()
    k, s = pair.compare(CREATE_TOPICS, version, create_fields([topic_entry(name, 1, 1)]),
                        messages=True)
    assert k["Topics"][0]["ErrorCode"] == TOPIC_ALREADY_EXISTS
    # validate-only says so too
    k, s = pair.compare(CREATE_TOPICS, version, create_fields([topic_entry(name, 1, 1)], True),
                        messages=True)
    assert k["Topics"][0]["ErrorCode"] == TOPIC_ALREADY_EXISTS


@pytest.mark.parametrize("version", [5, 7])
def test_create_topics_error_configs_empty(pair, version):
    name = pair.create()
    k, s = pair.both(CREATE_TOPICS, version, create_fields([topic_entry(name, 1, 1)]))
    assert k["Topics"][0]["Configs"] == []
    assert_same(k, s, null_configs_as_empty=False)


@pytest.mark.parametrize("version", [2, 5, 7])
def test_create_topics_bad_names(pair, version):
    names = ["bad name!", "", ".", "..", "x" * 250, "a/b", "tab\there"]
    k, s = pair.compare(CREATE_TOPICS, version,
                        create_fields([topic_entry(n, 1, 1) for n in names]))
    assert sorted(t["ErrorCode"] for t in k["Topics"]) == [INVALID_TOPIC_EXCEPTION] * len(names)


@pytest.mark.parametrize("version", [2, 5, 7])
@pytest.mark.parametrize("partitions,rf,error", [
    (0, 1, INVALID_PARTITIONS), (-2, 1, INVALID_PARTITIONS),
    (1, 3, INVALID_REPLICATION_FACTOR), (1, 0, INVALID_REPLICATION_FACTOR),
    (1, -2, INVALID_REPLICATION_FACTOR)])
def test_create_topics_bad_counts(pair, version, partitions, rf, error):
    name = pair.name("counts")
    for validate_only in (True, False):
        k, s = pair.compare(CREATE_TOPICS, version,
                            create_fields([topic_entry(name, partitions, rf)], validate_only),
                            messages=True)
        assert k["Topics"][0]["ErrorCode"] == error
    assert partition_count(pair.sluice.bootstrap, name) is None


@pytest.mark.parametrize("version", [2, 5, 7])
@pytest.mark.parametrize("configs", [
    {"no.such.config": "1"}, {"retention.ms": "abc"}, {"cleanup.policy": "sometimes"},
    {"max.message.bytes": "-5"}, {"min.insync.replicas": "0"},
    {"message.timestamp.type": "WallClock"}], ids=lambda c: next(iter(c)))
def test_create_topics_bad_configs(pair, version, configs):
    name = pair.name("cfg")
    k, s = pair.compare(CREATE_TOPICS, version, create_fields([topic_entry(name, 1, 1, configs)]))
    assert k["Topics"][0]["ErrorCode"] == INVALID_CONFIG
    assert partition_count(pair.sluice.bootstrap, name) is None


def test_create_topics_config_messages_match(pair):
    """Where Kafka's wording is easy to follow, Sluice's matches it exactly."""
    name = pair.name("cfgmsg")
    for configs in ({"no.such.config": "1"}, {"retention.ms": "abc"}):
        pair.compare(CREATE_TOPICS, 7, create_fields([topic_entry(name, 1, 1, configs)]),
                     messages=True)


@pytest.mark.parametrize("version", [2, 5, 7])
def test_create_topics_assignments(pair, version):
    good = pair.name("assign")
    pair.created.add(good)
    assignments = [{"PartitionIndex": 0, "BrokerIds": [1]}, {"PartitionIndex": 1,
                                                             "BrokerIds": [1]}]
    k, s = pair.compare(CREATE_TOPICS, version,
                        create_fields([topic_entry(good, -1, -1, assignments=assignments)]))
    assert k["Topics"][0]["ErrorCode"] == 0
    assert partition_count(pair.kafka.bootstrap, good) == partition_count(
        pair.sluice.bootstrap, good) == 2


@pytest.mark.parametrize("assignments,partitions,error", [
    ([{"PartitionIndex": 0, "BrokerIds": [1]}], 2, INVALID_REQUEST),
    ([{"PartitionIndex": 0, "BrokerIds": [2]}], -1, INVALID_REPLICA_ASSIGNMENT),
    ([{"PartitionIndex": 0, "BrokerIds": [1]}, {"PartitionIndex": 2, "BrokerIds": [1]}], -1,
     INVALID_REPLICA_ASSIGNMENT),
    ([{"PartitionIndex": 0, "BrokerIds": [1, 1]}], -1, INVALID_REPLICA_ASSIGNMENT),
    ([{"PartitionIndex": 0, "BrokerIds": []}], -1, INVALID_REPLICA_ASSIGNMENT),
], ids=["with-num-partitions", "unknown-broker", "gap", "same-broker-twice", "no-brokers"])
def test_create_topics_bad_assignments(pair, assignments, partitions, error):
    name = pair.name("badassign")
    k, s = pair.compare(CREATE_TOPICS, 7, create_fields(
        [topic_entry(name, partitions, -1, assignments=assignments)], True))
    assert k["Topics"][0]["ErrorCode"] == error
    assert partition_count(pair.sluice.bootstrap, name) is None


@pytest.mark.parametrize("version", [2, 7])
def test_create_topics_duplicate_in_one_request(pair, version):
    name = pair.name("dup")
    other = pair.name("dupother")
    pair.created.add(other)
    k, s = pair.compare(CREATE_TOPICS, version, create_fields(
        [topic_entry(name, 1, 1), topic_entry(other, 1, 1), topic_entry(name, 2, 1)]))
    assert {t["Name"]: t["ErrorCode"] for t in k["Topics"]} == {name: INVALID_REQUEST, other: 0}


def test_create_topics_duplicate_creates_nothing(pair):
    """What both agree on today: the duplicated name is refused and not created, the other is."""
    name, other = pair.name("dup"), pair.name("dupother")
    pair.created.add(other)
    k, s = pair.both(CREATE_TOPICS, 7, create_fields(
        [topic_entry(name, 1, 1), topic_entry(other, 1, 1), topic_entry(name, 2, 1)]))
    for body in (k, s):
        codes = {(t["Name"], t["ErrorCode"]) for t in body["Topics"]}
        assert codes == {(name, INVALID_REQUEST), (other, 0)}, body
    pair.wait_ready(other, 1)
    for b in (pair.kafka, pair.sluice):
        assert partition_count(b.bootstrap, name) is None
        assert partition_count(b.bootstrap, other) == 1


# ---------------------------------------------------------------------------------------------
# DeleteTopics


@pytest.mark.parametrize("version", range(1, 6))
def test_delete_topics_by_name(pair, version):
    name = pair.create(partitions=2)
    unknown = pair.name("nosuch")
    k, s = pair.compare(DELETE_TOPICS, version, {"TopicNames": [name, unknown],
                                                 "TimeoutMs": 30000}, messages="ignore")
    assert {r["Name"]: r["ErrorCode"] for r in k["Responses"]} == {
        name: 0, unknown: UNKNOWN_TOPIC_OR_PARTITION}
    for b in (pair.kafka, pair.sluice):
        assert partition_count(b.bootstrap, name) is None


@pytest.mark.parametrize("version", [5, 6])
def test_delete_topics_unknown_has_message(pair, version):
    unknown = pair.name("nosuch")
    fields = ({"TopicNames": [unknown]} if version < 6 else
              {"Topics": [{"Name": unknown, "TopicId": ZERO_UUID}]})
    k, s = pair.both(DELETE_TOPICS, version, dict(fields, TimeoutMs=30000))
    assert k["Responses"][0]["ErrorMessage"]
    assert_same(k, s)


def test_delete_topics_v0_sluice(pair):
    name = pair.create()
    body = kproto.request(pair.sluice.bootstrap, DELETE_TOPICS, 0,
                          {"TopicNames": [name], "TimeoutMs": 30000})
    assert body["Responses"] == [{"Name": name, "ErrorCode": 0}]
    assert partition_count(pair.sluice.bootstrap, name) is None


def test_delete_topics_by_id_v6(pair):
    name = pair.create(partitions=2)
    kid, sid = pair.topic_ids(name)
    assert ZERO_UUID not in (kid, sid)
    unknown_id = str(uuid.uuid4())
    unknown_name = pair.name("nosuch")
    answers = []
    for b, tid in ((pair.kafka, kid), (pair.sluice, sid)):
        answers.append(kproto.request(b.bootstrap, DELETE_TOPICS, 6, {"Topics": [
            {"Name": None, "TopicId": tid}, {"Name": None, "TopicId": unknown_id},
            {"Name": unknown_name, "TopicId": ZERO_UUID}], "TimeoutMs": 30000}))
    k, s = answers
    assert_same(k, s, messages="ignore")
    by = {(r["Name"], r["TopicId"]): r["ErrorCode"] for r in s["Responses"]}
    assert by == {(name, sid): 0, (None, unknown_id): UNKNOWN_TOPIC_ID,
                  (unknown_name, ZERO_UUID): UNKNOWN_TOPIC_OR_PARTITION}, s
    for b in (pair.kafka, pair.sluice):
        assert partition_count(b.bootstrap, name) is None


# ---------------------------------------------------------------------------------------------
# Produce

PRODUCE_VERSIONS = range(3, 12)


# Record timestamps: recent (Kafka rolls segments and applies retention by record time), fixed
# for the module so that timestamp lookups have known answers.
T0 = R.now_ms() - 3_600_000


def sample_batch(n=3, tag="x", compression=R.NONE, base_timestamp=T0):
    return R.build_batch([(f"k{i}".encode(), f"{tag}-{i}".encode() * 3, [("h", b"v")])
                          for i in range(n)], base_timestamp=base_timestamp,
                         compression=compression)


@pytest.mark.parametrize("version", PRODUCE_VERSIONS)
@pytest.mark.parametrize("acks", [1, -1])
def test_produce_multi_partition(pair, version, acks):
    a = pair.create(partitions=3)
    b = pair.create(partitions=1)
    fields = produce_fields(a, {0: sample_batch(2, "p0"), 2: sample_batch(5, "p2", R.GZIP)}, acks)
    fields["TopicData"].append({"Name": b, "PartitionData": [{"Index": 0,
                                                               "Records": sample_batch(1, "b")}]})
    k, s = pair.compare(PRODUCE, version, fields)
    offsets = {(t["Name"], p["Index"]): (p["ErrorCode"], p["BaseOffset"])
               for t in s["Responses"] for p in t["PartitionResponses"]}
    assert offsets == {(a, 0): (0, 0), (a, 2): (0, 0), (b, 0): (0, 0)}
    # A second produce continues at the next offsets.
    k, s = pair.compare(PRODUCE, version, produce_fields(a, {2: sample_batch(1, "again")}, acks))
    assert s["Responses"][0]["PartitionResponses"][0]["BaseOffset"] == 5
    # And what was stored reads back byte for byte the same on both.
    pair.wait_visible(a, {0: 2, 1: 0, 2: 6})
    pair.compare(FETCH, 12, fetch_fields(a, {0: 0, 1: 0, 2: 0}))


@pytest.mark.parametrize("version", [3, 7, 9, 11])
def test_produce_acks_zero(pair, version):
    name = pair.create(partitions=2)
    for b in (pair.kafka, pair.sluice):
        with kproto.Connection(b.bootstrap) as c:
            c.correlation_id += 1
            c.send_raw(kproto.encode_request(
                PRODUCE, version, produce_fields(name, {1: sample_batch(4, "zero")}, acks=0),
                c.correlation_id))
            # No answer to acks=0: the next request's answer is the next frame on the wire.
            _, body = c.request(METADATA, 12, {"Topics": [{"Name": name}]})
            assert body["Topics"][0]["ErrorCode"] == 0
            _, body = c.request(PRODUCE, version, produce_fields(name, {1: sample_batch(1, "one")},
                                                                 acks=1))
            assert body["Responses"][0]["PartitionResponses"][0]["BaseOffset"] == 4, b
    pair.wait_visible(name, {0: 0, 1: 5})
    pair.compare(FETCH, 12, fetch_fields(name, {0: 0, 1: 0}))


@pytest.mark.parametrize("version", [3, 8, 9, 11])
def test_produce_unknown_topic_and_partition(pair, version):
    name = pair.create(partitions=2)
    unknown = pair.name("nosuch")
    fields = produce_fields(name, {5: sample_batch(1), -1: sample_batch(1), 1: sample_batch(1)})
    fields["TopicData"].append({"Name": unknown, "PartitionData": [{"Index": 0, "Records":
                                                                     sample_batch(1)}]})
    k, s = pair.compare(PRODUCE, version, fields)
    codes = {(t["Name"], p["Index"]): p["ErrorCode"]
             for t in k["Responses"] for p in t["PartitionResponses"]}
    assert codes == {(name, 5): UNKNOWN_TOPIC_OR_PARTITION, (name, -1): UNKNOWN_TOPIC_OR_PARTITION,
                     (name, 1): 0, (unknown, 0): UNKNOWN_TOPIC_OR_PARTITION}
    assert partition_count(pair.sluice.bootstrap, unknown) is None


@pytest.mark.parametrize("version", [3, 9, 11])
@pytest.mark.parametrize("acks", [2, -2, 5])
def test_produce_invalid_acks(pair, version, acks):
    name = pair.create()
    k, s = pair.compare(PRODUCE, version, produce_fields(name, {0: sample_batch(1)}, acks))
    assert k["Responses"][0]["PartitionResponses"][0]["ErrorCode"] == INVALID_REQUIRED_ACKS
    # Nothing was stored.
    k, s = pair.compare(LIST_OFFSETS, 7, list_offsets_fields(name, {0: -1}))
    assert s["Topics"][0]["Partitions"][0]["Offset"] == 0


@pytest.mark.parametrize("version", [3, 8, 11])
def test_produce_message_too_large(pair, version):
    name = pair.create(configs={"max.message.bytes": "300"})
    small = sample_batch(2, "s")
    big = R.build_batch([b"v" * 400])
    assert len(small) <= 300 < len(big)
    # Sluice adds a message where Kafka sends null (docs/compatibility.md).
    k, s = pair.compare(PRODUCE, version, produce_fields(name, {0: big}), messages="ignore")
    assert k["Responses"][0]["PartitionResponses"][0]["ErrorCode"] == MESSAGE_TOO_LARGE
    if version >= 8:
        assert k["Responses"][0]["PartitionResponses"][0]["ErrorMessage"] is None
        assert "max.message.bytes" in s["Responses"][0]["PartitionResponses"][0]["ErrorMessage"]
    assert pair.produce(name, 0, small, version) == 0
    # Exactly at the limit is allowed.
    size = 300 - len(R.build_batch([b""]))
    while len(R.build_batch([b"e" * size], base_timestamp=T0)) > 300:
        size -= 1
    exact = R.build_batch([b"e" * size], base_timestamp=T0)
    assert len(exact) == 300
    assert pair.produce(name, 0, exact, version) == 2


@pytest.mark.parametrize("version", [0, 1, 2])
def test_produce_old_versions(pair, version):
    """Produce v0-2 carry magic 0/1 message sets. Kafka 4.0 closes the connection (KIP-896);
    Sluice answers UNSUPPORTED_FOR_MESSAGE_FORMAT per partition (docs/compatibility.md)."""
    name = pair.create()
    fields = produce_fields(name, {0: R.legacy_message(b"old", magic=min(version, 1))})
    with kproto.Connection(pair.kafka.bootstrap) as c:
        c.send_raw(kproto.encode_request(PRODUCE, version, fields, 1))
        assert c.is_closed_by_peer(wait=5.0)
    with kproto.Connection(pair.sluice.bootstrap) as c:
        _, body = c.request(PRODUCE, version, fields)
        p = body["Responses"][0]["PartitionResponses"][0]
        assert (p["Index"], p["ErrorCode"], p["BaseOffset"]) == (0, UNSUPPORTED_FOR_MESSAGE_FORMAT,
                                                                 -1)
        _, body = c.request(METADATA, 12, {"Topics": [{"Name": name}]})  # still usable
        assert body["Topics"][0]["ErrorCode"] == 0
    k, s = pair.compare(LIST_OFFSETS, 7, list_offsets_fields(name, {0: -1}))
    assert s["Topics"][0]["Partitions"][0]["Offset"] == 0


# ---------------------------------------------------------------------------------------------
# Fetch

FETCH_VERSIONS = range(4, 18)


@pytest.fixture
def fetch_topic(pair):
    """Partition 0: five batches (offsets 0-2, 3, 4-7 gzip, 8-9, 10), partition 1: two batches
    (0-1, 2), partition 2 empty. Identical on both brokers."""
    name = pair.create(partitions=3)
    for i, (n, comp) in enumerate([(3, R.NONE), (1, R.NONE), (4, R.GZIP), (2, R.NONE),
                                   (1, R.NONE)]):
        pair.produce(name, 0, sample_batch(n, f"p0b{i}", comp, T0 + 10 * i))
    pair.produce(name, 1, sample_batch(2, "p1a"))
    pair.produce(name, 1, sample_batch(1, "p1b"))
    return name


def fetch_both(pair, version, name, parts, **kw):
    if version >= 13:
        kid, sid = pair.topic_ids(name)
        k = kproto.request(pair.kafka.bootstrap, FETCH, version,
                           fetch_fields(name, parts, version, topic_id=kid, **kw))
        s = kproto.request(pair.sluice.bootstrap, FETCH, version,
                           fetch_fields(name, parts, version, topic_id=sid, **kw))
    else:
        k, s = pair.both(FETCH, version, fetch_fields(name, parts, version, **kw))
    assert_same(k, s)
    return k, s


def fetched(body, partition):
    for t in body["Responses"]:
        for p in t["Partitions"]:
            if p["PartitionIndex"] == partition:
                return p
    raise AssertionError(f"partition {partition} not in {body}")


@pytest.mark.parametrize("version", FETCH_VERSIONS)
def test_fetch_positions(pair, fetch_topic, version):
    name = fetch_topic
    # From 0: everything, with the high watermark.
    k, s = fetch_both(pair, version, name, {0: 0, 1: 0, 2: 0})
    p0 = fetched(s, 0)
    batches = R.parse_batches(p0["Records"])
    assert [b.base_offset for b in batches] == [0, 3, 4, 8, 10]
    assert (p0["HighWatermark"], p0["LastStableOffset"], p0.get("LogStartOffset", 0)) == (11, 11,
                                                                                            0)
    assert batches[2].values()[1] == b"p0b2-1" * 3
    assert fetched(s, 2)["Records"] == b""
    # From a batch start and from inside a batch (the whole batch that holds it comes back).
    for offset, first in ((4, 4), (6, 4), (9, 8), (10, 10)):
        k, s = fetch_both(pair, version, name, {0: offset})
        assert R.parse_batches(fetched(s, 0)["Records"])[0].base_offset == first
    # At the end: empty, no error.
    k, s = fetch_both(pair, version, name, {0: 11, 1: 3})
    assert fetched(s, 0)["Records"] == b"" and fetched(s, 0)["ErrorCode"] == 0
    # Past the end and before the start: OFFSET_OUT_OF_RANGE.
    k, s = fetch_both(pair, version, name, {0: 12, 1: -1, 2: 1})
    assert {p: fetched(s, p)["ErrorCode"] for p in range(3)} == {
        0: OFFSET_OUT_OF_RANGE, 1: OFFSET_OUT_OF_RANGE, 2: OFFSET_OUT_OF_RANGE}


@pytest.mark.parametrize("version", [4, 7, 11, 12, 13, 15, 17])
def test_fetch_limits(pair, fetch_topic, version):
    name = fetch_topic
    first = len(sample_batch(3, "p0b0"))
    # max_bytes smaller than the first batch: the whole first batch still comes back.
    k, s = fetch_both(pair, version, name, {0: 0, 1: 0}, max_bytes=10)
    assert [b.base_offset for b in R.parse_batches(fetched(s, 0)["Records"])] == [0]
    assert fetched(s, 1)["Records"] == b""
    # max_bytes that fits two batches and a bit.
    k, s = fetch_both(pair, version, name, {0: 0}, max_bytes=first + 100)
    assert len(R.parse_batches(fetched(s, 0)["Records"])) == 2
    # partition_max_bytes below the batch sizes: the first partition gets its first batch, the
    # next one no complete batch.
    k, s = fetch_both(pair, version, name, {0: 0, 1: 0}, partition_max_bytes=10)
    assert [b.base_offset for b in R.parse_batches(fetched(s, 0)["Records"])] == [0]
    assert R.parse_batches(fetched(s, 1)["Records"]) == []
    # The order of the request decides who gets the budget (partition 1 asked first).
    fields_parts = {1: 0, 0: 0}
    k, s = fetch_both(pair, version, name, fields_parts, max_bytes=10)
    assert [b.base_offset for b in R.parse_batches(fetched(s, 1)["Records"])] == [0]
    assert R.parse_batches(fetched(s, 0)["Records"]) == []


@pytest.mark.parametrize("version", [4, 11, 12, 17])
def test_fetch_min_bytes_waits(pair, fetch_topic, version):
    name = fetch_topic
    took = {}
    for label, b in (("kafka", pair.kafka), ("sluice", pair.sluice)):
        t0 = time.monotonic()
        kw = {}
        if version >= 13:
            kw["topic_id"] = pair.topic_ids(name)[label == "sluice"]
        body = kproto.request(b.bootstrap, FETCH, version, fetch_fields(
            name, {0: 11}, version, min_bytes=1000, max_wait=400, **kw))
        took[label] = time.monotonic() - t0
        assert fetched(body, 0)["Records"] == b"" and fetched(body, 0)["ErrorCode"] == 0
    # Both waited for (about) max_wait, loosely.
    assert all(0.3 <= t < 3.0 for t in took.values()), took
    # Data already there: min_bytes 1 answers at once.
    for b in (pair.kafka, pair.sluice):
        t0 = time.monotonic()
        kw = {"topic_id": pair.topic_ids(name)[b is pair.sluice]} if version >= 13 else {}
        body = kproto.request(b.bootstrap, FETCH, version, fetch_fields(
            name, {0: 0}, version, min_bytes=1, max_wait=5000, **kw))
        assert time.monotonic() - t0 < 2.0
        assert len(R.parse_batches(fetched(body, 0)["Records"])) == 5


@pytest.mark.parametrize("version", [13, 15, 17])
def test_fetch_unknown_topic_id(pair, fetch_topic, version):
    unknown = str(uuid.uuid4())
    k, s = pair.both(FETCH, version, fetch_fields("", {0: 0}, version, topic_id=unknown))
    assert_same(k, s)
    assert fetched(s, 0)["ErrorCode"] == UNKNOWN_TOPIC_ID
    assert s["Responses"][0]["TopicId"] == unknown


@pytest.mark.parametrize("version", [4, 9, 12])
def test_fetch_unknown_topic_and_partition(pair, fetch_topic, version):
    k, s = pair.both(FETCH, version, fetch_fields(pair.name("nosuch"), {0: 0}, version))
    assert_same(k, s)
    assert fetched(s, 0)["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION
    k, s = fetch_both(pair, version, fetch_topic, {7: 0, 0: 11})
    assert fetched(s, 7)["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION


@pytest.mark.parametrize("version", [4, 11, 12, 17])
def test_fetch_read_committed(pair, fetch_topic, version):
    k, s = fetch_both(pair, version, fetch_topic, {0: 0, 1: 0}, isolation=1)
    assert fetched(s, 0)["LastStableOffset"] == 11


@pytest.mark.parametrize("version", [7, 11, 12, 17])
def test_fetch_sessions(pair, fetch_topic, version):
    name = fetch_topic
    # Epoch 0 asks for a new session: Kafka makes one (id > 0), Sluice declines (id 0, allowed
    # by KIP-227); the rest of the answer is the same (a full fetch).
    k, s = fetch_both(pair, version, name, {0: 0}, session=(0, 0))
    assert k["SessionId"] > 0 and s["SessionId"] == 0
    # Epoch -1: no session on either.
    k, s = fetch_both(pair, version, name, {0: 0}, session=(0, -1))
    assert k["SessionId"] == s["SessionId"] == 0
    # An id neither knows.
    k, s = fetch_both(pair, version, name, {0: 0}, session=(123456789, 1))
    assert s["ErrorCode"] == FETCH_SESSION_ID_NOT_FOUND and s["Responses"] == []


@pytest.mark.parametrize("version", [7, 12, 17])
def test_fetch_close_unknown_session(pair, fetch_topic, version):
    k, s = fetch_both(pair, version, fetch_topic, {0: 0}, session=(123456789, -1))
    assert k["ErrorCode"] == 0 and k["SessionId"] == 0


@pytest.mark.parametrize("version", [7, 12, 17])
def test_fetch_incremental_without_session(pair, fetch_topic, version):
    k, s = fetch_both(pair, version, fetch_topic, {0: 0}, session=(0, 3))
    assert k["ErrorCode"] == FETCH_SESSION_ID_NOT_FOUND


@pytest.mark.parametrize("version", [4, 12, 13])
def test_fetch_error_partition_aborted_transactions(pair, fetch_topic, version):
    kid, sid = pair.topic_ids(fetch_topic)
    answers = [kproto.request(b.bootstrap, FETCH, version,
                              fetch_fields(fetch_topic, {9: 0}, version, topic_id=tid))
               for b, tid in ((pair.kafka, kid), (pair.sluice, sid))]
    assert fetched(answers[0], 9)["AbortedTransactions"] == []
    assert_same(*answers, aborted_fix=False)


# ---------------------------------------------------------------------------------------------
# ListOffsets

LIST_VERSIONS = range(1, 10)  # Kafka 4.0 removed v0
# Single-record batches, timestamps not in offset order (offset 2 has the largest).
STAMPS = [T0 + 100, T0 + 300, T0 + 900, T0 + 500, T0 + 700]


@pytest.fixture
def timed_topic(pair):
    name = pair.create(partitions=2)
    for i, ts in enumerate(STAMPS):
        pair.produce(name, 0, R.build_batch([f"r{i}".encode()], base_timestamp=ts))
    return name


@pytest.mark.parametrize("version", LIST_VERSIONS)
def test_list_offsets_special(pair, timed_topic, version):
    specials = [-1, -2] + ([-3] if version >= 7 else []) + ([-4] if version >= 8 else [])
    for ts in specials:
        for part in (0, 1):
            k, s = pair.compare(LIST_OFFSETS, version, list_offsets_fields(timed_topic,
                                                                           {part: ts}))
            p = s["Topics"][0]["Partitions"][0]
            assert p["ErrorCode"] == 0
            expected = {-1: 5, -2: 0, -3: 2, -4: 0}[ts] if part == 0 else \
                {-1: 0, -2: 0, -3: -1, -4: 0}[ts]
            assert p["Offset"] == expected, (ts, part, p)
            if ts == -3 and part == 0:
                assert p["Timestamp"] == T0 + 900


@pytest.mark.parametrize("version", LIST_VERSIONS)
def test_list_offsets_by_timestamp(pair, timed_topic, version):
    # First offset whose timestamp is >= the target: exact hits, between, before all, after all.
    cases = {T0: 0, T0 + 100: 0, T0 + 101: 1, T0 + 300: 1, T0 + 301: 2, T0 + 600: 2,
             T0 + 900: 2, T0 + 901: -1}
    for ts, offset in cases.items():
        k, s = pair.compare(LIST_OFFSETS, version, list_offsets_fields(timed_topic, {0: ts}))
        p = s["Topics"][0]["Partitions"][0]
        assert (p["ErrorCode"], p["Offset"]) == (0, offset), (ts, p)


def test_list_offsets_v0_sluice(pair, timed_topic):
    body = kproto.request(pair.sluice.bootstrap, LIST_OFFSETS, 0,
                          list_offsets_fields(timed_topic, {0: -1}))
    p = body["Topics"][0]["Partitions"][0]
    assert (p["ErrorCode"], p["OldStyleOffsets"]) == (0, [5])


@pytest.fixture
def multi_record_topic(pair):
    name = pair.create()
    pair.produce(name, 0, R.build_batch([b"a", b"b", b"c"],
                                        timestamps=[T0 + 10, T0 + 20, T0 + 30]))
    pair.produce(name, 0, R.build_batch([b"d", b"e"], timestamps=[T0 + 40, T0 + 50]))
    return name


def test_list_offsets_multi_record_batches_agree_on_batch_edges(pair, multi_record_topic):
    """Targets at or before a batch's first record find the same offset today (the timestamp
    answered differs: see the record-granular test below)."""
    for ts, offset in {T0: 0, T0 + 10: 0, T0 + 31: 3, T0 + 40: 3, T0 + 51: -1}.items():
        k, s = pair.both(LIST_OFFSETS, 7, list_offsets_fields(multi_record_topic, {0: ts}))
        assert (k["Topics"][0]["Partitions"][0]["Offset"] ==
                s["Topics"][0]["Partitions"][0]["Offset"] == offset), (ts, k, s)
    pair.compare(LIST_OFFSETS, 7, list_offsets_fields(multi_record_topic, {0: T0 + 51}))


@pytest.mark.parametrize("ts", [T0 + 10, T0 + 20, T0 + 25, T0 + 40, T0 + 50, -3])
def test_list_offsets_multi_record_batches_record_granular(pair, multi_record_topic, ts):
    pair.compare(LIST_OFFSETS, 8, list_offsets_fields(multi_record_topic, {0: ts}))


@pytest.mark.parametrize("version", [1, 4, 9])
def test_list_offsets_unknown(pair, timed_topic, version):
    unknown = pair.name("nosuch")
    k, s = pair.compare(LIST_OFFSETS, version, list_offsets_fields(unknown, {0: -1}))
    assert s["Topics"][0]["Partitions"][0]["ErrorCode"] == UNKNOWN_TOPIC_OR_PARTITION
    k, s = pair.compare(LIST_OFFSETS, version, list_offsets_fields(timed_topic, {2: -1, 0: -2}))
    codes = {p["PartitionIndex"]: p["ErrorCode"] for p in s["Topics"][0]["Partitions"]}
    assert codes == {2: UNKNOWN_TOPIC_OR_PARTITION, 0: 0}


@pytest.mark.parametrize("version", [4, 7, 9])
def test_list_offsets_leader_epoch(pair, timed_topic, version):
    """Both start partitions at leader epoch 0 and never move it on one node, so only the
    'newer than mine' check can be provoked: UNKNOWN_LEADER_EPOCH. (FENCED_LEADER_EPOCH needs an
    older epoch than the current one, i.e. a leader change.)"""
    for epoch, error in ((-1, 0), (0, 0), (1, UNKNOWN_LEADER_EPOCH), (7, UNKNOWN_LEADER_EPOCH)):
        k, s = pair.compare(LIST_OFFSETS, version,
                            list_offsets_fields(timed_topic, {0: -1}, leader_epoch=epoch))
        p = s["Topics"][0]["Partitions"][0]
        assert p["ErrorCode"] == error, (epoch, p)
        if not error:
            assert p["LeaderEpoch"] == 0


@pytest.mark.parametrize("version", [9, 12, 17])
def test_fetch_leader_epoch(pair, fetch_topic, version):
    for epoch, error in ((-1, 0), (0, 0), (1, UNKNOWN_LEADER_EPOCH)):
        kw = {}
        fields = lambda tid: fetch_fields(fetch_topic, {0: 0}, version, topic_id=tid)  # noqa
        kid, sid = pair.topic_ids(fetch_topic)
        answers = []
        for b, tid in ((pair.kafka, kid), (pair.sluice, sid)):
            f = fields(tid)
            f["Topics"][0]["Partitions"][0]["CurrentLeaderEpoch"] = epoch
            answers.append(kproto.request(b.bootstrap, FETCH, version, f, **kw))
        assert_same(*answers)
        assert fetched(answers[1], 0)["ErrorCode"] == error
