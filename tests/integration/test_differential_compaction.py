"""Differential tests for what compaction changes at the API: the same requests to Sluice and to
the reference Apache Kafka 4.0.0, answers compared.

- DeleteTopics of __consumer_offsets (made by a FindCoordinator first, as on first group use):
  Kafka 4.0 deletes it (no refusal for internal topics in KRaft mode), and so does Sluice; the
  next group use makes it again on both.
- Produce of a keyless record to a cleanup.policy=compact topic: both refuse the batch with the same
  error code (INVALID_RECORD, 87).
Runtime: a few seconds with the reference Kafka running."""
import time
import uuid

import pytest

import kproto
import records as R
from kafka_ref import KafkaRef, kafka_ref, require_libs, start_sluice  # noqa: F401  (session fixture)

PRODUCE, METADATA, FIND_COORDINATOR, CREATE_TOPICS, DELETE_TOPICS = 0, 3, 10, 19, 20


@pytest.fixture(scope="module")
def sluice(tmp_path_factory):
    b = start_sluice(tmp_path_factory.mktemp("sluice-compaction"), auto_create=False)
    yield b
    assert b.stop() == 0, b.log_text()[-6000:]


def offsets_topic_exists(bs):
    body = kproto.request(bs, METADATA, 12, {"Topics": [{"TopicId": bytes(16), "Name": "__consumer_offsets"}],
                                             "AllowAutoTopicCreation": False,
                                             "IncludeTopicAuthorizedOperations": False})
    return body["Topics"][0]["ErrorCode"] == 0


def make_offsets_topic(bs):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = kproto.request(bs, FIND_COORDINATOR, 4, {"KeyType": 0, "CoordinatorKeys": ["g-" + uuid.uuid4().hex]})
        if body["Coordinators"][0]["ErrorCode"] == 0 and offsets_topic_exists(bs):
            return
        time.sleep(0.5)
    raise AssertionError(f"{bs}: __consumer_offsets was not created")


def test_delete_consumer_offsets_like_kafka(sluice, tmp_path):
    """Kafka 4.0 (KRaft) does not refuse it: DeleteTopics of __consumer_offsets succeeds, a second
    one answers UNKNOWN_TOPIC_OR_PARTITION, and the next group use makes the topic again. Sluice
    answers the same. A Kafka of its own: the session's shared one must keep its coordinator."""
    require_libs()
    with KafkaRef(tmp_path / "kafka-private") as own:
        answers = {"kafka": delete_offsets_twice(own.bootstrap)}
    answers["sluice"] = delete_offsets_twice(sluice.bootstrap)
    assert answers["sluice"] == answers["kafka"] == [(5, 0), (6, 3)], answers


def delete_offsets_twice(bs):
    """DeleteTopics v5 then v6 of __consumer_offsets: [(version, error code)]; made again after."""
    make_offsets_topic(bs)
    got = []
    for version in (5, 6):
        fields = ({"TopicNames": ["__consumer_offsets"], "TimeoutMs": 10000} if version < 6 else
                  {"Topics": [{"Name": "__consumer_offsets", "TopicId": bytes(16)}], "TimeoutMs": 10000})
        r = kproto.request(bs, DELETE_TOPICS, version, fields)["Responses"][0]
        got.append((version, r["ErrorCode"]))
    make_offsets_topic(bs)  # the next group use makes it again
    return got


def test_keyless_record_to_compacted_topic_refused(sluice, kafka_ref):
    name = "cmp-" + uuid.uuid4().hex[:8]
    codes = []
    for bs in (sluice.bootstrap, kafka_ref.bootstrap):
        body = kproto.request(bs, CREATE_TOPICS, 7, {
            "Topics": [{"Name": name, "NumPartitions": 1, "ReplicationFactor": 1, "Assignments": [],
                        "Configs": [{"Name": "cleanup.policy", "Value": "compact"}]}],
            "TimeoutMs": 10000, "ValidateOnly": False})
        assert body["Topics"][0]["ErrorCode"] == 0, body
        batch = R.build_batch([b"no key"])
        deadline = time.monotonic() + 30
        while True:
            body = kproto.request(bs, PRODUCE, 9, {
                "TransactionalId": None, "Acks": -1, "TimeoutMs": 10000,
                "TopicData": [{"Name": name, "PartitionData": [{"Index": 0, "Records": batch}]}]})
            p = body["Responses"][0]["PartitionResponses"][0]
            if p["ErrorCode"] not in (3, 5, 6) or time.monotonic() > deadline:  # not ready yet
                break
            time.sleep(0.3)
        codes.append(p["ErrorCode"])
        kproto.request(bs, DELETE_TOPICS, 5, {"TopicNames": [name], "TimeoutMs": 10000})
    assert codes[0] == codes[1] == 87, codes
