"""Failover of RF=3 partitions across three real build/sluice processes, under load from real
clients (confluent-kafka idempotent acks=all, kafka-python acks=all, kcat reading back), held to
"not one acknowledged record lost, duplicated or moved" by the loss checker (checker.py):

- SIGKILL the leader of a partition while writers run: every acknowledged record is present once
  at its acknowledged offset, and writes resume on the new leader;
- SIGSTOP the leader: the others elect a new one and writes resume; the stopped one comes back as
  a follower and no replica diverges;
- a rolling restart (SIGTERM, wait ready, next) of all three under load: nothing lost, and no
  write error reaches the application.

Every wait polls with a generous deadline; nothing asserts a duration."""
import signal

from checker import check, read_back
from cluster import SluiceCluster
from replication_load import (FAILOVER_WAIT, Writers, assert_replicas_agree, create_topic,
                              kcat_read, leader, poll, wait_in_sync, wait_new_leader)

CONFIG = {"default.replication.factor": 3, "min.insync.replicas": 2,
          "offsets.topic.replication.factor": 3}
TOPIC = "failover"
PARTITIONS = 3


def checked(cluster, writers, topic=TOPIC):
    """The checker's verdict on everything the writers were told, read back by a consumer; kcat
    reads the same records."""
    records = read_back(cluster.bootstrap(), [topic])
    result = check(writers.acks, records)
    result.assert_clean()
    assert sorted((r.partition, r.offset, r.value.decode()) for r in records) == \
        sorted(kcat_read(cluster.bootstrap(), topic))
    return result


def test_sigkill_leader_under_load(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3, extra_config=CONFIG) as c:
        create_topic(c.bootstrap(), TOPIC, PARTITIONS)
        writers = Writers(c.bootstrap(), TOPIC, PARTITIONS).start()
        try:
            writers.wait_acks(300, what="300 acknowledged writes before the kill")
            old = leader(c.bootstrap(), TOPIC, 0)
            c.kill(old)  # SIGKILL, writes in flight
            live = [i for i in (1, 2, 3) if i != old]
            new = wait_new_leader(c.bootstrap(live), TOPIC, 0, old)
            assert new in live
            # Writes resume on the new leader: partition 0 acknowledges again after the kill.
            writers.wait_acks(100, partition=0,
                              what="100 writes to partition 0 acknowledged by its new leader")
            c.restart(old, signal.SIGKILL)
            c.wait_ready(old)
            wait_in_sync(c.bootstrap(), TOPIC)
            writers.wait_acks(100, partition=0)
        finally:
            writers.stop()
        assert writers.errors == [], writers.errors[:5]
        result = checked(c, writers)
        assert result.acknowledged >= 500, result.summary()
    assert_replicas_agree(c, TOPIC, PARTITIONS)


def test_sigstop_leader_then_it_rejoins_as_follower(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3, extra_config=CONFIG) as c:
        create_topic(c.bootstrap(), TOPIC, PARTITIONS)
        writers = Writers(c.bootstrap(), TOPIC, PARTITIONS).start()
        try:
            writers.wait_acks(300)
            old = leader(c.bootstrap(), TOPIC, 0)
            c.kill(old, signal.SIGSTOP)
            live = [i for i in (1, 2, 3) if i != old]
            wait_new_leader(c.bootstrap(live), TOPIC, 0, old)
            writers.wait_acks(100, partition=0)
            c.kill(old, signal.SIGCONT)
            # It wakes up believing it leads: it must learn otherwise and catch up as follower.
            wait_in_sync(c.bootstrap(), TOPIC)
            writers.wait_acks(100, partition=0)
        finally:
            writers.stop()
        # The issue asks of a frozen leader that it acknowledges nothing it should not and leaves
        # no divergence (the checker and the byte comparison below); a client may see a retriable
        # error here. Seen once: kafka-python 3.0.12 surfaced NOT_LEADER_OR_FOLLOWER for a batch
        # the woken leader refused (to be understood; the rolling-restart test below still
        # requires no error at all).
        assert all(retriable(e) for e in writers.errors), writers.errors[:5]
        checked(c, writers)
    assert_replicas_agree(c, TOPIC, PARTITIONS)


def retriable(error):
    flag = getattr(error, "retriable", False)
    return flag() if callable(flag) else bool(flag)


def test_rolling_restart_under_load_loses_nothing_and_surfaces_no_error(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3, extra_config=CONFIG) as c:
        create_topic(c.bootstrap(), TOPIC, PARTITIONS)
        writers = Writers(c.bootstrap(), TOPIC, PARTITIONS).start()
        try:
            writers.wait_acks(300)
            for i in (1, 2, 3):
                status = c.stop(i)  # SIGTERM: controlled shutdown
                assert status == 0, f"node {i} exited with {status} on SIGTERM"
                c.start(i)
                c.wait_ready(i)  # /readyz: ready once its partitions caught up
                wait_in_sync(c.bootstrap(), TOPIC)
                writers.wait_acks(100,
                                  what=f"writes acknowledged after node {i} came back")
        finally:
            writers.stop()
        assert writers.errors == [], writers.errors[:5]
        checked(c, writers)
    assert_replicas_agree(c, TOPIC, PARTITIONS)


def test_every_live_node_names_the_same_new_leaders(tmp_path):
    """After the leader of partition 0 is killed, every live node's Metadata (what a client that
    asks it sees) names a live leader for every partition, and they agree."""
    with SluiceCluster(tmp_path, n=3, controllers=3, extra_config=CONFIG) as c:
        create_topic(c.bootstrap(), TOPIC, PARTITIONS)
        old = leader(c.bootstrap(), TOPIC, 0)
        c.kill(old)
        live = [i for i in (1, 2, 3) if i != old]

        def agreed():
            from replication_load import partitions
            views = [partitions(c.node(i).bootstrap, TOPIC) for i in live]
            leaders = [{p: v[0] for p, v in view.items()} for view in views]
            return (leaders[0] if all(x == leaders[0] for x in leaders) and
                    all(lead in live for lead in leaders[0].values()) else None)
        poll(agreed, FAILOVER_WAIT, "every live node naming the same live leaders")
