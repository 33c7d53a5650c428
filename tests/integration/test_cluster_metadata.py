"""Cluster metadata across three real build/sluice processes (quorum mode): every broker registers
with the active controller (the metadata quorum's leader) and appears in Metadata from any node;
topics created, grown, reconfigured and deleted through any broker are decided by the controller,
written to __cluster_metadata and seen by every node; a killed broker is fenced (it leaves
Metadata's brokers) and comes back after a restart; Kafka 4.0's kafka-topics.sh describes RF 3.

Every wait polls with a generous deadline (the machine is shared); nothing asserts a duration."""
import os
import signal
import subprocess

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic)

import wire
from cluster import SluiceCluster
from conftest import wait_until
from kafka_ref import java_cmd, write_log4j2

WAIT = 90.0
NODES = (1, 2, 3)
# a short session, so a killed broker is fenced soon (Kafka's default is 9000 ms)
CONFIG = {"broker.session.timeout.ms": 4000, "broker.heartbeat.interval.ms": 500}


_ADMINS = {}


def admin(cluster, i):
    """One AdminClient per node, kept alive (a client freed early fails its futures)."""
    key = (id(cluster), i)
    if key not in _ADMINS:
        _ADMINS[key] = AdminClient({"bootstrap.servers": cluster.node(i).bootstrap,
                                    "socket.timeout.ms": 10000})
    return _ADMINS[key]


def metadata(cluster, i, topic=None):
    """node i's Metadata answer, or None while it cannot give one."""
    try:  # a client of its own: one that saw a broker list keeps using it
        return AdminClient({"bootstrap.servers": cluster.node(i).bootstrap}).list_topics(
            topic=topic, timeout=10)
    except Exception:  # a node still joining answers without brokers: librdkafka calls it partial
        return None


def brokers_seen(cluster, i):
    md = metadata(cluster, i)
    return None if md is None else sorted(md.brokers)


def partitions_seen(cluster, i, topic):
    """{partition: (leader, replicas, isr)} of topic as node i answers, or None."""
    md = metadata(cluster, i, topic)
    if md is None or topic not in md.topics or md.topics[topic].error is not None:
        return None
    return {p: (m.leader, list(m.replicas), list(m.isrs))
            for p, m in md.topics[topic].partitions.items()}


def wait_brokers(cluster, nodes, expected):
    for i in nodes:
        wait_until(lambda i=i: brokers_seen(cluster, i) == expected, WAIT,
                   lambda i=i: f"node {i} to list brokers {expected}, got "
                               f"{brokers_seen(cluster, i)}")


def result(futures):
    return {name: f.result(60) for name, f in futures.items()}


@pytest.fixture
def cluster(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3, extra_config=CONFIG) as c:
        wait_brokers(c, NODES, [1, 2, 3])
        yield c
        for i in NODES:
            _ADMINS.pop((id(c), i), None)


def test_every_broker_in_metadata_of_every_node(cluster):
    for i in NODES:
        # each node's image catches up with the others' registrations by itself (a node is ready
        # once it is unfenced in its own view): poll
        wait_until(lambda i=i: sorted(metadata(cluster, i).brokers) == [1, 2, 3], WAIT,
                   f"node {i} to list brokers 1, 2, 3")
        md = metadata(cluster, i)
        assert sorted(md.brokers) == [1, 2, 3]
        for b in md.brokers.values():
            assert (b.host, b.port) == (cluster.node(b.id).host, cluster.node(b.id).client_port)
        assert md.controller_id in NODES
        assert md.cluster_id == metadata(cluster, 1).cluster_id  # one cluster, one id


def test_describe_cluster_from_any_broker(cluster):
    for i in NODES:
        wait_until(lambda i=i: sorted(n.id for n in admin(cluster, i).describe_cluster()
                                      .result(30).nodes) == [1, 2, 3], WAIT,
                   f"node {i} to describe brokers 1, 2, 3")
        d = admin(cluster, i).describe_cluster().result(30)
        assert sorted(n.id for n in d.nodes) == [1, 2, 3]
        assert d.controller is not None and d.controller.id in NODES
        assert d.cluster_id == metadata(cluster, 1).cluster_id


def test_topic_created_on_one_broker_appears_on_all(cluster):
    result(admin(cluster, 2).create_topics([NewTopic("orders", 6, 3)]))
    views = {}
    for i in NODES:
        wait_until(lambda i=i: views.setdefault(i, partitions_seen(cluster, i, "orders"))
                   or views.pop(i), WAIT, f"node {i} to see topic orders")
    assert views[1] == views[2] == views[3]
    parts = views[1]
    assert sorted(parts) == list(range(6))
    for leader, replicas, isr in parts.values():
        assert sorted(replicas) == [1, 2, 3]  # three distinct brokers
        assert leader == replicas[0] and sorted(isr) == [1, 2, 3]
    leaders = [leader for leader, _, _ in parts.values()]
    assert all(leaders.count(b) == 2 for b in NODES), leaders  # spread evenly
    # the partitions are on disk on every node (until replication narrows it to the replicas)
    for i in NODES:
        path = os.path.join(cluster.node(i).data_dir, "orders-0")
        wait_until(lambda p=path: os.path.isdir(p), WAIT, f"{path} to be created")
    # a second create is refused by the controller, whichever broker forwards it
    with pytest.raises(Exception, match="TOPIC_ALREADY_EXISTS|already exists"):
        result(admin(cluster, 3).create_topics([NewTopic("orders", 1, 3)]))
    # more replicas than brokers: the controller's answer reaches the client
    with pytest.raises(Exception, match="INVALID_REPLICATION_FACTOR|replication factor"):
        result(admin(cluster, 1).create_topics([NewTopic("wide", 1, 4)]))


def test_delete_and_create_partitions_through_any_broker(cluster):
    result(admin(cluster, 1).create_topics([NewTopic("grow", 2, 3), NewTopic("gone", 1, 3)]))
    for i in NODES:
        wait_until(lambda i=i: partitions_seen(cluster, i, "grow") is not None, WAIT,
                   f"node {i} to see grow")
    result(admin(cluster, 3).create_partitions([NewPartitions("grow", 5)]))
    for i in NODES:
        wait_until(lambda i=i: len(partitions_seen(cluster, i, "grow") or {}) == 5, WAIT,
                   f"node {i} to see 5 partitions of grow")
        # (a client may be answered by any broker: each node's own disk is polled)
        path = os.path.join(cluster.node(i).data_dir, "grow-4")
        wait_until(lambda p=path: os.path.isdir(p), WAIT, f"{path} to be created")
    with pytest.raises(Exception, match="INVALID_PARTITIONS|partitions"):
        result(admin(cluster, 2).create_partitions([NewPartitions("grow", 3)]))
    result(admin(cluster, 2).delete_topics(["gone"]))

    def gone_everywhere():
        for i in NODES:
            md = metadata(cluster, i)
            if md is None or "gone" in md.topics:
                return False
        return True
    wait_until(gone_everywhere, WAIT, "topic gone to leave every node's Metadata")
    for i in NODES:
        path = os.path.join(cluster.node(i).data_dir, "gone-0")
        wait_until(lambda p=path: not os.path.exists(p), WAIT, f"{path} to be removed")
    with pytest.raises(Exception, match="UNKNOWN_TOPIC_OR_PART"):
        result(admin(cluster, 1).delete_topics(["gone"]))


def topic_config(cluster, i, topic, key):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin(cluster, i).describe_configs([res])[res].result(30)
    return entries[key].value


def test_topic_configs_from_any_broker(cluster):
    result(admin(cluster, 1).create_topics(
        [NewTopic("conf", 1, 3, config={"retention.ms": "123456"})]))
    for i in NODES:
        wait_until(lambda i=i: partitions_seen(cluster, i, "conf") is not None, WAIT,
                   f"node {i} to see conf")
        assert topic_config(cluster, i, "conf", "retention.ms") == "123456"
    res = ConfigResource(ConfigResource.Type.TOPIC, "conf", incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)])
    admin(cluster, 3).incremental_alter_configs([res])[res].result(30)
    for i in NODES:
        wait_until(lambda i=i: topic_config(cluster, i, "conf", "cleanup.policy") == "compact",
                   WAIT, f"node {i} to see cleanup.policy=compact")
        assert topic_config(cluster, i, "conf", "retention.ms") == "604800000"  # the default
    bad = ConfigResource(ConfigResource.Type.TOPIC, "conf", incremental_configs=[
        ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(Exception, match="INVALID_CONFIG|retention"):
        admin(cluster, 2).incremental_alter_configs([bad])[bad].result(30)


def test_killed_broker_is_fenced_and_returns(cluster):
    result(admin(cluster, 1).create_topics([NewTopic("fenced", 3, 3)]))
    cluster.kill(3, signal.SIGKILL)
    wait_brokers(cluster, (1, 2), [1, 2])

    def offline_marked():
        parts = partitions_seen(cluster, 1, "fenced")
        return parts is not None and all(leader != 3 for leader, _, _ in parts.values())
    wait_until(offline_marked, WAIT, "no partition to name the fenced broker as its leader")
    cluster.restart(3)
    cluster.wait_ready(3)
    wait_brokers(cluster, NODES, [1, 2, 3])
    # the restarted node replayed the metadata log: it knows the topic
    wait_until(lambda: partitions_seen(cluster, 3, "fenced") is not None, WAIT,
               "the restarted node to know topic fenced")


def test_kafka_topics_describe_shows_rf3(cluster, tmp_path):
    result(admin(cluster, 2).create_topics([NewTopic("described", 3, 3)]))
    for i in NODES:
        wait_until(lambda i=i: partitions_seen(cluster, i, "described") is not None, WAIT,
                   f"node {i} to see described")
    log4j = write_log4j2(str(tmp_path / "log4j2.properties"), str(tmp_path / "tool.log"))
    cmd = java_cmd("org.apache.kafka.tools.TopicCommand", "--bootstrap-server",
                   cluster.node(3).bootstrap, "--describe", "--topic", "described",
                   log_config=log4j)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ReplicationFactor: 3" in r.stdout, r.stdout
    rows = [line for line in r.stdout.splitlines() if "Partition:" in line]
    assert len(rows) == 3, r.stdout
    for row in rows:
        replicas = row.split("Replicas:")[1].split()[0]
        assert sorted(int(x) for x in replicas.split(",")) == [1, 2, 3], row


def test_leaders_reported_by_the_partitions_raft_groups(cluster):
    """Each partition's leader is its Raft group's: the leader reports its term (the leader epoch)
    with AlterPartition and every broker's Metadata names it, so acks=all writes through any
    broker reach it and read back whole."""
    result(admin(cluster, 1).create_topics([NewTopic("raftled", 3, 3)]))

    def reported():  # a Raft term is at least 1; the image starts partitions at epoch 0
        try:
            md = wire.metadata(cluster.node(2).bootstrap, version=9, topics=["raftled"])
        except OSError:
            return False
        parts = md["topics"][0]["partitions"] if md["topics"] else []
        return (len(parts) == 3 and all(p["leader"] in NODES for p in parts) and
                all(p["leader_epoch"] >= 1 for p in parts))
    wait_until(reported, WAIT, "every partition's Raft leader in Metadata")
    p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all",
                  "enable.idempotence": True})
    errors = []
    for i in range(200):
        p.produce("raftled", str(i).encode(), partition=i % 3,
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
    assert p.flush(60) == 0 and errors == []
    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "raftled",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition("raftled", i, 0) for i in range(3)])
    got = set()
    try:
        for _ in range(600):
            if len(got) == 200:
                break
            m = c.poll(0.2)
            if m is not None and m.error() is None:
                got.add(int(m.value()))
    finally:
        c.close()
    assert got == set(range(200))
