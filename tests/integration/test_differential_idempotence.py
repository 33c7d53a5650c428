"""Idempotent producing on the raw socket, against Sluice and the reference Apache Kafka 4.0.0:
InitProducerId v0-5 (fresh ids, KIP-360 requests with a known id and epoch, half-given id/epoch,
transactional ids), Produce with the producer ids, epochs and sequences a client would send and
with forged ones (retries of recent batches, gaps, stale and bumped epochs, ids never handed out,
retries that do not match the original), and DescribeProducers v0. The same script runs on both;
the transcripts (answers, and what each partition holds after every step) must be equal, with
producer ids replaced by their role. Kafka's answers are also pinned here, so a change on either
side shows. Runtime: about 5 s (plus the shared Kafka's start if no other module started it).
"""
import os
import time
import uuid

import pytest

import kproto
import records as R
from kafka_ref import kafka_ref  # noqa: F401  (session fixture)

PRODUCE, FETCH, LIST_OFFSETS, CREATE_TOPICS, DELETE_TOPICS = 0, 1, 2, 19, 20
INIT_PRODUCER_ID, DESCRIBE_PRODUCERS = 22, 61
NONE, UNKNOWN_TOPIC_OR_PARTITION, COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR = 0, 3, 14, 16
INVALID_REQUEST, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH = 42, 45, 47
INVALID_TRANSACTION_TIMEOUT = 50


@pytest.fixture(scope="module")
def sluice(tmp_path_factory):
    from conftest import Broker, broker_config
    workdir = str(tmp_path_factory.mktemp("sluice-idem-diff"))
    b = Broker(broker_config(os.path.join(workdir, "data")), workdir)
    yield b
    assert b.stop() == 0, b.log_text()[-3000:]


class Side:
    """One server and the topics this module created on it (deleted afterwards: Kafka is shared)."""

    def __init__(self, name, bootstrap):
        self.name, self.bootstrap = name, bootstrap
        self.topics = []

    def create(self, partitions=1):
        name = f"idem-{uuid.uuid4().hex[:10]}"
        self.topics.append(name)
        body = kproto.request(self.bootstrap, CREATE_TOPICS, 7, {"Topics": [{
            "Name": name, "NumPartitions": partitions, "ReplicationFactor": 1, "Configs": []}],
            "timeoutMs": 30000})
        assert body["Topics"][0]["ErrorCode"] == 0, body
        deadline = time.monotonic() + 30
        for part in range(partitions):  # Kafka: until every partition has its leader
            while self.end_offset(name, part) is None:
                assert time.monotonic() < deadline, f"{name} never got a leader"
                time.sleep(0.05)
        return name

    def end_offset(self, name, partition=0):
        body = kproto.request(self.bootstrap, LIST_OFFSETS, 7, {"ReplicaId": -1, "Topics": [
            {"Name": name, "Partitions": [{"PartitionIndex": partition, "Timestamp": -1}]}]})
        p = body["Topics"][0]["Partitions"][0]
        return None if p["ErrorCode"] else p["Offset"]

    def init_pid(self, version=5, tid=None, timeout_ms=60000, pid=-1, epoch=-1):
        """InitProducerId, repeated while Kafka is still fetching its first block of ids from the
        controller (COORDINATOR_LOAD_IN_PROGRESS, which clients retry)."""
        deadline = time.monotonic() + 30
        while True:
            r = kproto.request(self.bootstrap, INIT_PRODUCER_ID, version, {
                "TransactionalId": tid, "TransactionTimeoutMs": timeout_ms, "ProducerId": pid,
                "ProducerEpoch": epoch})
            if r["ErrorCode"] != COORDINATOR_LOAD_IN_PROGRESS or time.monotonic() > deadline:
                return r
            time.sleep(0.1)

    def produce(self, name, batch, version=11, acks=-1):
        body = kproto.request(self.bootstrap, PRODUCE, version, {
            "TransactionalId": None, "Acks": acks, "TimeoutMs": 30000, "TopicData": [
                {"Name": name, "PartitionData": [{"Index": 0, "Records": batch}]}]})
        return body["Responses"][0]["PartitionResponses"][0]

    def stored(self, name):
        """(high watermark, [(offset, producer id, epoch, base sequence, values)] per batch)."""
        body = kproto.request(self.bootstrap, FETCH, 12, {
            "ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 0, "MaxBytes": 1 << 24,
            "SessionEpoch": -1, "Topics": [{"Topic": name, "Partitions": [
                {"Partition": 0, "FetchOffset": 0, "PartitionMaxBytes": 1 << 24}]}]})
        p = body["Responses"][0]["Partitions"][0]
        assert p["ErrorCode"] == 0, p
        batches = R.parse_batches(p["Records"] or b"")
        return p["HighWatermark"], [(b.base_offset, b.producer_id, b.producer_epoch,
                                     b.base_sequence, b.values()) for b in batches]

    def describe(self, topics):
        return kproto.request(self.bootstrap, DESCRIBE_PRODUCERS, 0, {"Topics": [
            {"Name": t, "PartitionIndexes": parts} for t, parts in topics]})

    def cleanup(self):
        if self.topics:
            body = kproto.request(self.bootstrap, DELETE_TOPICS, 5,
                                  {"TopicNames": self.topics, "TimeoutMs": 30000})
            assert all(r["ErrorCode"] == 0 for r in body["Responses"]), body


@pytest.fixture(scope="module")
def sides(sluice, kafka_ref):  # noqa: F811
    s = {"sluice": Side("sluice", sluice.bootstrap), "kafka": Side("kafka", kafka_ref.bootstrap)}
    yield s
    for side in s.values():
        side.cleanup()


def init_shape(r):
    """An InitProducerId answer with the id itself replaced by whether it is a real one."""
    return (r["ErrorCode"], r["ProducerId"] >= 0, r["ProducerEpoch"])


def init_transcript(side):
    out = []
    for v in range(6):
        out.append(("v", v, init_shape(side.init_pid(version=v))))
    fresh = side.init_pid()
    assert fresh["ErrorCode"] == NONE and fresh["ProducerId"] >= 0, fresh
    # KIP-360 request from an idempotent producer that knows its id and epoch: a new id, epoch 0.
    for v in (3, 4, 5):
        again = side.init_pid(version=v, pid=fresh["ProducerId"], epoch=fresh["ProducerEpoch"])
        out.append(("known", v, init_shape(again), again["ProducerId"] != fresh["ProducerId"]))
        out.append(("id-only", v, side.init_pid(version=v, pid=fresh["ProducerId"])))
        out.append(("epoch-only", v, side.init_pid(version=v, epoch=3)))
        out.append(("forged", v, init_shape(side.init_pid(version=v, pid=1 << 40, epoch=7))))
    out.append(("empty-tid", side.init_pid(tid="")))
    out.append(("tid-timeout-0", side.init_pid(tid="t-" + uuid.uuid4().hex[:6], timeout_ms=0)))
    out.append(("tid-timeout-big", side.init_pid(tid="t-" + uuid.uuid4().hex[:6],
                                                  timeout_ms=900001)))
    return out


def test_init_producer_id_matches_kafka(sides):
    s, k = init_transcript(sides["sluice"]), init_transcript(sides["kafka"])
    assert s == k
    for v in range(6):
        assert ("v", v, (NONE, True, 0)) in k
    for v in (3, 4, 5):
        assert ("known", v, (NONE, True, 0), True) in k
        bad = {"ThrottleTimeMs": 0, "ErrorCode": INVALID_REQUEST, "ProducerId": -1,
               "ProducerEpoch": -1}
        assert ("id-only", v, bad) in k and ("epoch-only", v, bad) in k
    named = {step[0]: step[1] for step in k if len(step) == 2}
    assert named["empty-tid"]["ErrorCode"] == INVALID_REQUEST
    assert named["tid-timeout-0"]["ErrorCode"] == INVALID_TRANSACTION_TIMEOUT
    assert named["tid-timeout-big"]["ErrorCode"] == INVALID_TRANSACTION_TIMEOUT


def test_ids_are_unique_and_grow(sides):
    ids = [sides["sluice"].init_pid(version=v % 6)["ProducerId"] for v in range(50)]
    assert len(set(ids)) == 50 and ids == sorted(ids), ids


def test_transactional_id_is_not_served(sides):
    """Sluice has no transactions and answers NOT_COORDINATOR, as Kafka 4.0 does for a
    transactional id until its transaction coordinator is set up (FindCoordinator creates
    __transaction_state); once it is, Kafka hands out an id (docs/compatibility.md). Sluice's
    FindCoordinator answers COORDINATOR_NOT_AVAILABLE for transactional ids, so clients stop
    before this."""
    tid = "t-" + uuid.uuid4().hex[:8]
    k = sides["kafka"].init_pid(tid=tid)
    assert k["ErrorCode"] in (NONE, NOT_COORDINATOR), k
    s = sides["sluice"].init_pid(tid=tid)
    assert s == {"ThrottleTimeMs": 0, "ErrorCode": NOT_COORDINATOR, "ProducerId": -1,
                 "ProducerEpoch": -1}, s


def produce_transcript(side, ts):
    """The scripted Produce sequence; ts is the base timestamp (the same on both sides)."""
    topic = side.create()
    a = side.init_pid()["ProducerId"]
    roles = {a: "A", -1: "none", 1 << 40: "forged"}

    def batch(pid, epoch, seq, values, t=0):
        return R.build_batch(values, base_timestamp=ts + t, producer_id=pid,
                             producer_epoch=epoch, base_sequence=seq)

    steps = [
        ("a0", batch(a, 0, 0, [b"a0", b"a1", b"a2"])),
        ("a0-again", batch(a, 0, 0, [b"a0", b"a1", b"a2"])),
        ("a3", batch(a, 0, 3, [b"a3", b"a4"], 1)),
        ("a0-third-time", batch(a, 0, 0, [b"a0", b"a1", b"a2"])),
        ("a3-again", batch(a, 0, 3, [b"a3", b"a4"], 1)),
        ("a3-shorter", batch(a, 0, 3, [b"a3"], 1)),
        ("gap", batch(a, 0, 10, [b"gap"], 2)),
        ("behind", batch(a, 0, 1, [b"behind"], 2)),
        ("a5", batch(a, 0, 5, [b"a5"], 3)),
        ("bump-not-zero", batch(a, 1, 6, [b"bump"], 4)),
        ("bump", batch(a, 1, 0, [b"b0", b"b1"], 4)),
        ("stale-epoch", batch(a, 0, 6, [b"stale"], 5)),
        ("stale-epoch-retry", batch(a, 0, 5, [b"a5"], 3)),
        ("bump-again", batch(a, 1, 0, [b"b0", b"b1"], 4)),
        ("forged-id", batch(1 << 40, 3, 7, [b"f7"], 6)),
        ("forged-next", batch(1 << 40, 3, 8, [b"f8"], 6)),
        ("forged-gap", batch(1 << 40, 3, 100, [b"f100"], 6)),
        ("seq-wrap", batch(a, 1, 2147483647, [b"w"], 7)),
        ("plain", batch(-1, -1, -1, [b"plain"], 8)),
    ]
    out = []
    for name, raw in steps:
        r = side.produce(topic, raw)
        out.append((name, r["ErrorCode"], r["BaseOffset"], r["LogAppendTimeMs"],
                    r["LogStartOffset"], r["ErrorMessage"]))
        hw, stored = side.stored(topic)
        out.append((name, "stored", hw,
                    [(o, roles.get(p, p), e, s, v) for o, p, e, s, v in stored]))
    d = side.describe([(topic, [0, 7]), ("no-such-" + topic, [0])])
    for t in d["Topics"]:
        t["Name"] = "topic" if t["Name"] == topic else "missing"
        for p in t["Partitions"]:
            p["ActiveProducers"] = sorted(
                (dict(x, ProducerId=roles.get(x["ProducerId"], x["ProducerId"]))
                 for x in p["ActiveProducers"]), key=lambda x: x["ProducerId"])
    out.append(("describe", d))
    return out


def test_produce_with_producer_ids_matches_kafka(sides):
    ts = R.now_ms()
    k = produce_transcript(sides["kafka"], ts)
    s = produce_transcript(sides["sluice"], ts)
    diffs = [(ks, ss) for ks, ss in zip(k, s) if ks != ss]
    assert diffs == [] and len(s) == len(k), "\n".join(f"kafka  {a}\nsluice {b}" for a, b in diffs)
    answers = {step[0]: step[1:] for step in k if step[1] != "stored"}
    assert answers["a0-again"][:2] == (NONE, 0)          # the original's offset
    assert answers["a0-third-time"][:2] == (NONE, 0)
    assert answers["a3-again"][:2] == (NONE, 3)
    assert answers["gap"][0] == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert answers["bump-not-zero"][0] == OUT_OF_ORDER_SEQUENCE_NUMBER
    assert answers["stale-epoch"][0] == INVALID_PRODUCER_EPOCH
    assert answers["forged-id"][:2] == (NONE, 8)         # Kafka accepts an unknown id
    final = [step for step in k if step[1] == "stored"][-1]
    assert final[2] == 11, final                         # every record stored once


def test_describe_producers_shape(sides):
    """DescribeProducers on a partition no idempotent producer wrote to, and Kafka's errors."""
    out = {}
    for name, side in sides.items():
        topic = side.create(partitions=2)
        d = side.describe([(topic, [1, 0, 2])])
        parts = d["Topics"][0]["Partitions"]
        out[name] = [(p["PartitionIndex"], p["ErrorCode"], p["ErrorMessage"],
                      p["ActiveProducers"]) for p in parts]
    assert out["sluice"] == out["kafka"]
    assert out["kafka"] == [(1, NONE, None, []), (0, NONE, None, []),
                            (2, UNKNOWN_TOPIC_OR_PARTITION, None, [])]
