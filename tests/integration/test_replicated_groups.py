"""Consumer groups in a three-broker cluster (three real build/sluice processes, quorum mode):
__consumer_offsets is created through the active controller (RF=3, compacted), FindCoordinator
on any broker names the leader of the group's offsets partition with its endpoint, and when that
broker is SIGKILLed the coordinator moves to the partition's new leader with the committed
offsets intact, so a confluent-kafka group of two members resumes without losing a record.

Every wait polls with a generous deadline; nothing asserts a duration."""
import time

import kproto
from cluster import SluiceCluster
from confluent_kafka import Consumer, Producer, TopicPartition
from replication_load import FAILOVER_WAIT, SETUP_WAIT, admin, create_topic, poll

FIND_COORDINATOR = 10
CONFIG = {"default.replication.factor": 3, "min.insync.replicas": 2,
          "offsets.topic.replication.factor": 3, "offsets.topic.num.partitions": 3,
          "group.initial.rebalance.delay.ms": 0}
TOPIC = "grouped"
PARTITIONS = 4
GROUP = "replicated-group"


def find_coordinator(bootstrap):
    """(node id, host, port) of GROUP's coordinator as one broker names it with v3 and with v4
    (batched keys); None while it answers an error. Both versions must agree."""
    old = kproto.request(bootstrap, FIND_COORDINATOR, 3, {"Key": GROUP, "KeyType": 0})
    new = kproto.request(bootstrap, FIND_COORDINATOR, 4,
                         {"KeyType": 0, "CoordinatorKeys": [GROUP]})["Coordinators"][0]
    if old["ErrorCode"] != 0 or new["ErrorCode"] != 0:
        return None
    a = (old["NodeId"], old["Host"], old["Port"])
    assert a == (new["NodeId"], new["Host"], new["Port"]), (old, new)
    return a


def coordinator_everywhere(cluster, live):
    """The coordinator every live broker names, once they all name the same one."""
    answers = {find_coordinator(cluster.node(i).bootstrap) for i in live}
    if len(answers) != 1 or None in answers:
        return None
    node_id, host, port = answers.pop()
    assert f"{host}:{port}" == cluster.node(node_id).bootstrap, (node_id, host, port)
    return node_id


def produce(bootstrap, first, count):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "message.timeout.ms": 60000})
    failed = []
    for i in range(first, first + count):
        p.produce(TOPIC, key=str(i).encode(), value=str(i).encode(),
                  on_delivery=lambda err, msg: err is not None and failed.append(err))
        p.poll(0)
    assert p.flush(60) == 0
    assert failed == [], failed[:5]


def member(bootstrap):
    m = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000})
    m.subscribe([TOPIC])
    return m


def consume_until(members, seen, want, timeout, bootstrap):
    """Polls every member in turn, committing each record synchronously, until `want` values are
    all in `seen` and the group's committed offsets reach the topic's end (a commit refused by a
    rebalance or a coordinator move is made again from the members' positions)."""
    deadline = time.monotonic() + timeout
    next_check = 0.0
    while True:
        assert time.monotonic() < deadline, f"missing {sorted(want - seen, key=int)[:10]}"
        for m in members:
            msg = m.poll(0.2)
            if msg is None or msg.error() is not None:
                continue
            seen.add(msg.value().decode())
            try:
                m.commit(message=msg, asynchronous=False)
            except Exception:  # noqa: BLE001  (a rebalance or coordinator move: made again below)
                pass
        if want <= seen and time.monotonic() >= next_check:
            next_check = time.monotonic() + 1.0
            for m in members:
                try:
                    m.commit(asynchronous=False)
                except Exception:  # noqa: BLE001  (nothing assigned, or a rebalance: next round)
                    pass
            try:
                if committed(bootstrap) == end_offsets(bootstrap):
                    return
            except Exception:  # noqa: BLE001  (the coordinator moving: next round)
                pass


def committed(bootstrap):
    """GROUP's committed offsets (OffsetFetch through its coordinator) by partition."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP})
    try:
        tps = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def end_offsets(bootstrap):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP + "-probe"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1]
                for p in range(PARTITIONS)}
    finally:
        c.close()


def test_group_moves_with_its_offsets_partition_on_sigkill(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3, extra_config=CONFIG) as c:
        create_topic(c.bootstrap(), TOPIC, PARTITIONS)
        produce(c.bootstrap(), 0, 200)
        coordinator = poll(lambda: coordinator_everywhere(c, (1, 2, 3)), SETUP_WAIT,
                           "every broker naming the same coordinator")
        # __consumer_offsets came through the controller: replicated and compacted.
        md = admin(c.bootstrap()).list_topics("__consumer_offsets", timeout=10)
        offsets_topic = md.topics["__consumer_offsets"]
        assert len(offsets_topic.partitions) == 3
        assert all(len(p.replicas) == 3 for p in offsets_topic.partitions.values())

        # Two members, each bootstrapped through a different broker.
        members = [member(c.node(1).bootstrap), member(c.node(2).bootstrap)]
        try:
            seen = set()
            consume_until(members, seen, {str(i) for i in range(200)}, SETUP_WAIT, c.bootstrap())
            before = committed(c.bootstrap())
            assert before == end_offsets(c.bootstrap()), before

            c.kill(coordinator)  # SIGKILL
            live = [i for i in (1, 2, 3) if i != coordinator]
            # The live brokers name the killed one until its offsets partition elects anew.
            moved = poll(lambda: (lambda n: n if n in live else None)(
                coordinator_everywhere(c, live)), FAILOVER_WAIT,
                "the live brokers naming a new, live coordinator")
            # The committed offsets survived the move.
            after = poll(lambda: committed(c.bootstrap(live)), FAILOVER_WAIT,
                         "committed offsets from the new coordinator")
            assert after == before

            produce(c.bootstrap(live), 200, 200)
            consume_until(members, seen, {str(i) for i in range(400)}, FAILOVER_WAIT,
                          c.bootstrap(live))
            assert committed(c.bootstrap(live)) == end_offsets(c.bootstrap(live))
        finally:
            for m in members:
                m.close()
