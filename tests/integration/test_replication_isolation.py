"""A partition leader cut off from its peers (SluiceCluster(peer_proxies=True).isolate) while
clients still reach its client listener directly: it must acknowledge no acks=all write during
the cut, the majority elects a new leader that does, and after healing no replica diverges.

What is asserted, and why this way: a librdkafka producer bootstrapped only at the isolated node
still learns every broker from Metadata and follows the partition to the new leader, so its
acknowledgements during the cut come from the majority side (correct, and checked as such here by
its records' leader epochs). What proves the isolated node acknowledges nothing is a producer that
cannot follow metadata: raw Produce requests (kproto) on one connection to that node only.

Every wait polls with a generous deadline; nothing asserts a duration."""
import re
import time

import kproto
from checker import Record, check, read_back, writer_value
from cluster import SluiceCluster
from records import build_batch
from replication_load import (FAILOVER_WAIT, Writers, assert_replicas_agree, create_topic,
                              leader, poll, wait_in_sync, wait_new_leader)

CONFIG = {"default.replication.factor": 3, "min.insync.replicas": 2,
          "offsets.topic.replication.factor": 3}
TOPIC = "isolated"
PRODUCE, METADATA = 0, 3
RAW_WRITER, LONE_WRITER = 90, 91


def leader_epoch(bootstrap, topic):
    body = kproto.request(bootstrap, METADATA, 9, {"Topics": [{"Name": topic}],
                                                   "AllowAutoTopicCreation": False})
    part = body["Topics"][0]["Partitions"][0]
    return part["LeaderId"], part["LeaderEpoch"]


def batch_epochs(bootstrap):
    """{value: partition leader epoch of its batch} for every record of partition 0."""
    from confluent_kafka import Consumer, TopicPartition
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": "isolation-epochs",
                     "enable.auto.commit": False})
    try:
        _, high = cons.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
        cons.assign([TopicPartition(TOPIC, 0, 0)])
        got = {}
        deadline = time.monotonic() + 120
        # Up to the high watermark by position: control batches (Raft's leader changes) take
        # offsets but reach no consumer.
        while cons.position([TopicPartition(TOPIC, 0)])[0].offset < high:
            assert time.monotonic() < deadline, (len(got), high)
            m = cons.poll(0.5)
            if m is not None and m.error() is None:
                got[m.value()] = m.leader_epoch()
        return got
    finally:
        cons.close()


def raw_produce(conn, seq):
    """One acks=all write of writer_value(RAW_WRITER, seq) to partition 0 on conn's node only;
    returns the partition response."""
    _, body = conn.request(PRODUCE, 9, {"Acks": -1, "TimeoutMs": 3000, "TopicData": [
        {"Name": TOPIC, "PartitionData": [{"Index": 0, "Records": build_batch(
            [writer_value(RAW_WRITER, seq)])}]}]})
    return body["Responses"][0]["PartitionResponses"][0]


def test_isolated_leader_acknowledges_nothing_and_heals_without_divergence(tmp_path):
    from confluent_kafka import Producer

    with SluiceCluster(tmp_path, n=3, controllers=3, extra_config=CONFIG,
                       peer_proxies=True) as c:
        create_topic(c.bootstrap(), TOPIC, 1)
        writers = Writers(c.bootstrap(), TOPIC, 1).start()
        raw_acks, raw_during, lone_acks = [], [], []
        try:
            writers.wait_acks(200)
            old = leader(c.bootstrap(), TOPIC)
            _, old_epoch = leader_epoch(c.node(old).bootstrap, TOPIC)
            pinned = kproto.Connection(c.node(old).bootstrap, timeout=30)
            seq = 0
            # The pinned connection works before the cut: an acks=all write succeeds.
            first = raw_produce(pinned, seq)
            assert first["ErrorCode"] == 0, first
            raw_acks.append(Record(TOPIC, 0, first["BaseOffset"], b"",
                                   writer_value(RAW_WRITER, seq)))
            lone = Producer({"bootstrap.servers": c.node(old).bootstrap, "acks": "all",
                             "enable.idempotence": True, "linger.ms": 0,
                             "message.timeout.ms": 30000})

            def lone_delivered(err, msg):
                if err is None:
                    lone_acks.append((Record(msg.topic(), msg.partition(), msg.offset(), b"",
                                             msg.value()), msg.leader_epoch()))
            lone.produce(TOPIC, writer_value(LONE_WRITER, 0), partition=0,
                         on_delivery=lone_delivered)
            lone.flush(30)
            assert len(lone_acks) == 1, "the lone producer's write before the cut failed"

            c.isolate(old)
            live = [i for i in (1, 2, 3) if i != old]
            # Offer writes to the isolated node only until the majority has a new leader, and a
            # few more after that.
            new = None
            after_new = 0

            def offered_enough():
                nonlocal new, seq, after_new
                seq += 1
                raw_during.append(raw_produce(pinned, seq))
                lone.produce(TOPIC, writer_value(LONE_WRITER, seq), partition=0,
                             on_delivery=lone_delivered)
                lone.poll(0.05)
                if new is None:
                    lead, _ = leader_epoch(c.node(live[0]).bootstrap, TOPIC)
                    new = lead if lead in live else None
                else:
                    after_new += 1
                return after_new >= 5
            poll(offered_enough, FAILOVER_WAIT, "a new leader on the majority side")
            writers.wait_acks(100, partition=0)
            c.heal(old)
            wait_in_sync(c.bootstrap(), TOPIC)
            lone.flush(45)  # what it could not deliver in time failed: no acknowledgement
            pinned.close()
        finally:
            writers.stop()

        acknowledged = [r for r in raw_during if r["ErrorCode"] == 0]
        assert acknowledged == [], (
            f"the isolated node {old} acknowledged {len(acknowledged)} acks=all writes "
            f"during the cut: {acknowledged[:3]}")
        assert raw_during, "no write was offered to the isolated node"
        # The lone producer's acknowledgements after the cut were appended by a leader of a newer
        # epoch (the batch's partition leader epoch, read back): the majority's leader, found
        # through Metadata. The isolated node can lead no newer epoch without a majority's votes.
        epochs = batch_epochs(c.bootstrap())
        lone_epochs = sorted({epochs[r.value] for r, _ in lone_acks[1:]})
        print(f"isolated node {old} (epoch {old_epoch}); new leader {new}; raw answers during "
              f"the cut: {sorted({r['ErrorCode'] for r in raw_during})}; lone producer acks "
              f"{len(lone_acks)}, epochs {lone_epochs}")
        assert all(e > old_epoch for e in lone_epochs), (old_epoch, lone_epochs)
        # What the isolated node appended but could not commit is gone after healing: its
        # unreplicated tail was truncated to the new leader's log.
        offered = {writer_value(RAW_WRITER, s) for s in range(1, len(raw_during) + 1)}
        assert offered.isdisjoint(epochs), "an unacknowledged write to the isolated node survived"

        # Partition Raft traffic went through the proxies: every peer address the replica
        # managers were given is a REPLICATION proxy.
        proxies = {f"{x.replication_proxy.address}" for x in c.nodes}
        for x in c.nodes:
            dialed = re.findall(r"broker address node=\d+ listener=(\S+) host=(\S+) port=(\d+)",
                                x.log_text())
            assert dialed, f"node {x.node_id} logged no peer broker address"
            for listener, host, port in dialed:
                assert listener == "REPLICATION" and f"{host}:{port}" in proxies, (
                    x.node_id, listener, host, port, proxies)

        records = read_back(c.bootstrap(), [TOPIC])
        check(writers.acks + raw_acks + [r for r, _ in lone_acks], records).assert_clean()
        assert writers.errors == [], writers.errors[:5]
    assert_replicas_agree(c, TOPIC, 1)
