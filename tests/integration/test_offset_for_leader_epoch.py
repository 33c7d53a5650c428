"""OffsetForLeaderEpoch (API 23) on a single node: consumers ask it after a leader change to find
out whether the log they read was truncated (KIP-320). The answer comes from the partition's
leader-epoch-checkpoint: the latest epoch ends at the log end, an epoch above every known one is
undefined (-1, -1), and CurrentLeaderEpoch fences as in Fetch. Raw requests through kproto at the
oldest and newest versions, after real records from confluent-kafka."""
import confluent_kafka as ck

import kproto

OFFSET_FOR_LEADER_EPOCH = 23
NONE, UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH = 0, 3, 74, 75


def produce(bootstrap, topic, count):
    p = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(count):
        p.produce(topic, value=b"v%d" % i, partition=0)
    assert p.flush(30) == 0


def ask(bootstrap, version, topic, partition, leader_epoch, current_leader_epoch=-1):
    body = kproto.request(bootstrap, OFFSET_FOR_LEADER_EPOCH, version, {
        "ReplicaId": -1,
        "Topics": [{"Topic": topic, "Partitions": [{
            "Partition": partition, "CurrentLeaderEpoch": current_leader_epoch,
            "LeaderEpoch": leader_epoch}]}]})
    [t] = body["Topics"]
    assert t["Topic"] == topic
    [p] = t["Partitions"]
    assert p["Partition"] == partition
    return p


def test_end_offsets_of_epochs(broker):
    produce(broker.bootstrap, "ofle", 7)
    # the only epoch (0) is the latest: it ends at the log end
    p = ask(broker.bootstrap, 4, "ofle", 0, 0)
    assert (p["ErrorCode"], p["LeaderEpoch"], p["EndOffset"]) == (NONE, 0, 7)
    p = ask(broker.bootstrap, 4, "ofle", 0, 0, current_leader_epoch=0)
    assert (p["ErrorCode"], p["EndOffset"]) == (NONE, 7)
    # an epoch this log never had above its latest: undefined
    p = ask(broker.bootstrap, 4, "ofle", 0, 3)
    assert (p["ErrorCode"], p["LeaderEpoch"], p["EndOffset"]) == (NONE, -1, -1)
    # an empty partition has no epochs yet
    p = ask(broker.bootstrap, 4, "ofle", 1, 0)
    assert (p["ErrorCode"], p["LeaderEpoch"], p["EndOffset"]) == (NONE, -1, -1)
    # v0 carries only the end offset
    p = ask(broker.bootstrap, 0, "ofle", 0, 0)
    assert (p["ErrorCode"], p["EndOffset"]) == (NONE, 7)


def test_errors(broker):
    produce(broker.bootstrap, "ofle-errors", 1)
    assert ask(broker.bootstrap, 4, "ofle-errors", 0, 0, current_leader_epoch=1)["ErrorCode"] == \
        UNKNOWN_LEADER_EPOCH
    assert ask(broker.bootstrap, 4, "no-such-topic", 0, 0)["ErrorCode"] == \
        UNKNOWN_TOPIC_OR_PARTITION
    assert ask(broker.bootstrap, 4, "ofle-errors", 99, 0)["ErrorCode"] == \
        UNKNOWN_TOPIC_OR_PARTITION
    # a consumer with an older epoch than the leader's is fenced: not possible on one node with
    # epoch 0 except with a negative current epoch, which means "not known" and is not fenced
    assert ask(broker.bootstrap, 4, "ofle-errors", 0, 0, current_leader_epoch=-1)["ErrorCode"] == NONE


def test_advertised(broker):
    body = kproto.request(broker.bootstrap, 18, 3, {"ClientSoftwareName": "t",
                                                    "ClientSoftwareVersion": "1"})
    keys = {k["ApiKey"]: (k["MinVersion"], k["MaxVersion"]) for k in body["ApiKeys"]}
    assert keys[OFFSET_FOR_LEADER_EPOCH] == (0, 4)
