"""Partition replication's data path with three real build/sluice processes (the controller
places a topic created with replication factor 3; each partition is a Raft group over its
replicas): idempotent acks=all writers with confluent-kafka, a consumer reading from the leader,
SIGKILL of a partition's leader while the writers run, writes resuming on the new leader, and the
loss checker (checker.py) finding every acknowledged record once, at its acknowledged offset.
Also the answers a follower gives (NOT_LEADER_OR_FOLLOWER with the current leader, KIP-951) and
OffsetForLeaderEpoch across a leader change. No timing assertions: every wait polls with a
generous deadline. The wider failover suite is test_replication*.py."""
import signal
import time

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

import kproto
from checker import Writers, check, read_back
from cluster import SluiceCluster

PRODUCE, OFFSET_FOR_LEADER_EPOCH = 0, 23
NOT_LEADER_OR_FOLLOWER = 6
TOPIC = "replicated"


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def create_topic(cluster, partitions):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    fs = admin.create_topics([NewTopic(TOPIC, partitions, replication_factor=3,
                                       config={"min.insync.replicas": "2"})])
    fs[TOPIC].result(60)


def leaders(cluster, nodes):
    """{partition: (leader, replicas, isr)} as a live node's Metadata says."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap(nodes)})
    t = admin.list_topics(TOPIC, timeout=30).topics.get(TOPIC)
    if t is None or t.error is not None:
        return None
    return {p: (m.leader, list(m.replicas), list(m.isrs)) for p, m in t.partitions.items()}


def all_led(cluster, nodes, partitions, avoid=None):
    got = leaders(cluster, nodes)
    if not got or len(got) != partitions:
        return None
    if any(lead < 0 or lead == avoid or len(isr) < 2 for lead, _, isr in got.values()):
        return None
    return got


def test_acks_all_survives_sigkill_of_the_leader(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        create_topic(c, partitions=3)
        placed = wait_for(lambda: all_led(c, [1, 2, 3], 3), 90, "every partition led, ISR >= 2")
        for lead, replicas, _ in placed.values():
            assert sorted(replicas) == [1, 2, 3]
        writers = Writers(c.bootstrap(), TOPIC, partitions=3).start()
        wait_for(lambda: writers.count() >= 300, 120, "acknowledged writes before the kill")
        victim = placed[0][0]
        c.kill(victim, signal.SIGKILL)
        alive = [i for i in (1, 2, 3) if i != victim]
        before = writers.count()
        # a new leader for every partition the victim led, and writes acknowledged again
        wait_for(lambda: all_led(c, alive, 3, avoid=victim), 90, "new leaders without the victim")
        wait_for(lambda: writers.count() >= before + 300, 120, "writes resumed on the new leaders")
        writers.stop()
        result = check(writers.acks, read_back(c.bootstrap(alive), [TOPIC]))
        result.assert_clean()
        assert len(writers.acks) >= before + 300


def test_follower_answers_not_leader_with_the_leader(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        create_topic(c, partitions=1)
        placed = wait_for(lambda: all_led(c, [1, 2, 3], 1), 90, "the partition led")
        assert placed[0][0] in (1, 2, 3)

        def follower_answer():
            """(node, answer) from a node that does not lead the partition now and knows who
            does: it applied the metadata that placed the partition, and heard from the leader
            (its BeginQuorumEpoch or a fetch). Leadership may move meanwhile (preferred leaders),
            so every node is asked."""
            for node in (1, 2, 3):
                body = kproto.request(c.node(node).bootstrap, PRODUCE, 10, {
                    "Acks": -1, "TimeoutMs": 5000,
                    "TopicData": [{"Name": TOPIC, "PartitionData": [{"Index": 0,
                                                                      "Records": None}]}]})
                part = body["Responses"][0]["PartitionResponses"][0]
                if part["ErrorCode"] == NOT_LEADER_OR_FOLLOWER and part["CurrentLeader"]:
                    return node, part
            return None

        follower, part = wait_for(follower_answer, 60, "a follower that knows the leader")
        assert part["CurrentLeader"]["LeaderId"] in [i for i in (1, 2, 3) if i != follower]
        assert part["CurrentLeader"]["LeaderEpoch"] >= 1
        p = ck.Producer({"bootstrap.servers": c.bootstrap(), "acks": "all",
                         "enable.idempotence": True})
        for i in range(10):
            p.produce(TOPIC, value=b"v%d" % i, partition=0)
        assert p.flush(60) == 0

        # OffsetForLeaderEpoch: the current leader's epoch ends at its log end
        p = ck.Producer({"bootstrap.servers": c.bootstrap(), "acks": "all",
                         "enable.idempotence": True})
        for i in range(10):
            p.produce(TOPIC, value=b"v%d" % i, partition=0)
        assert p.flush(60) == 0

        def end_of_current_epoch():
            # leadership may move meanwhile (preferred leaders): ask whoever leads now
            now = follower_answer()
            if now is None:
                return None
            lead = now[1]["CurrentLeader"]["LeaderId"]
            epoch = now[1]["CurrentLeader"]["LeaderEpoch"]
            answer = kproto.request(c.node(lead).bootstrap, OFFSET_FOR_LEADER_EPOCH, 4, {
                "ReplicaId": -1, "Topics": [{"Topic": TOPIC, "Partitions": [{
                    "Partition": 0, "CurrentLeaderEpoch": epoch, "LeaderEpoch": epoch}]}]})
            got = answer["Topics"][0]["Partitions"][0]
            ok = got["ErrorCode"] == 0 and got["LeaderEpoch"] == epoch
            return got if ok else None

        got = wait_for(end_of_current_epoch, 60, "the current leader's answer")
        assert got["EndOffset"] >= 10
