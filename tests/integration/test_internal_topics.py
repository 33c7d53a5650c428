"""Internal topics belong to the broker: a client's Produce to __consumer_offsets is refused with
INVALID_TOPIC_EXCEPTION, as Kafka refuses it, and the coordinator's own records stay intact."""
import kproto
import records as R

FIND_COORDINATOR, PRODUCE, METADATA = 10, 0, 3


def test_produce_to_consumer_offsets_is_refused(broker):
    # Any group lookup creates __consumer_offsets (on first use, as Kafka does).
    body = kproto.request(broker.bootstrap, FIND_COORDINATOR, 3, {"Key": "g1", "KeyType": 0})
    assert body["ErrorCode"] == 0, body
    md = kproto.request(broker.bootstrap, METADATA, 12, {
        "Topics": [{"Name": "__consumer_offsets", "TopicId": None}],
        "AllowAutoTopicCreation": False})
    topic = md["Topics"][0]
    assert topic["ErrorCode"] == 0 and topic["IsInternal"], topic
    answer = kproto.request(broker.bootstrap, PRODUCE, 9, {
        "TransactionalId": None, "Acks": -1, "TimeoutMs": 5000,
        "TopicData": [{"Name": "__consumer_offsets",
                       "PartitionData": [{"Index": 0, "Records": R.build_batch([b"forged"])}]}]})
    p = answer["Responses"][0]["PartitionResponses"][0]
    assert (p["ErrorCode"], p["BaseOffset"]) == (17, -1), p
