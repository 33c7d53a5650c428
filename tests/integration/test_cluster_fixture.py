"""The multi-process fixture itself (cluster.py): three nodes start on 127.0.0.11-13 with their
cluster configuration, each serves real clients on its own address, a killed node comes back on the
same data and ports, a failing test gets the nodes' logs, and nothing is left running. None of this
needs the metadata quorum: until it runs, the three are independent single nodes."""
import os
import signal
import uuid

import pytest
from confluent_kafka import Consumer, Producer

import wire
from cluster import SluiceCluster, attach_logs


def round_trip(bootstrap, topic, values, expect=None):
    """Produces values (acks=all, idempotent) through bootstrap and reads the topic back from the
    start, until `expect` records (default: as many as were produced) have come."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    delivered = []
    for v in values:
        p.produce(topic, v.encode(), on_delivery=lambda err, msg: delivered.append((err, msg)))
    assert p.flush(60) == 0
    assert [e for e, _ in delivered if e is not None] == []
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    try:
        for _ in range(300):
            if len(got) >= (expect or len(values)):
                break
            m = c.poll(0.2)
            if m is not None and m.error() is None:
                got.append(m.value().decode())
    finally:
        c.close()
    return got


def test_three_nodes_start_and_serve_clients(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        assert [n.host for n in c.nodes] == ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
        assert c.bootstrap() == ",".join(f"127.0.0.{10 + i}:{c.node(i).client_port}"
                                        for i in (1, 2, 3))
        for i in (1, 2, 3):
            node = c.node(i)
            text = open(node.config_path).read()
            assert f"node.id: {i}\n" in text
            assert f"controller.quorum.voters: {c.voters()}\n" in text
            assert c.voters().count("@") == 3
            # Each node is bound on its own address, the controller listener included.
            for port in (node.client_port, node.controller_port):
                assert wire.api_versions(f"{node.host}:{port}", version=0)["error"] == 0
            # Clients are told the node's own client address, never the controller one.
            md = wire.metadata(node.bootstrap, version=1)
            mine = [b for b in md["brokers"] if b["node_id"] == i]
            assert [(b["host"], b["port"]) for b in mine] == [(node.host, node.client_port)], md
            assert all(b["port"] != node.controller_port for b in md["brokers"]), md
            values = [f"n{i}-{k}" for k in range(20)]
            assert round_trip(node.bootstrap, f"smoke-{i}", values) == values
            assert os.path.isdir(node.data_dir)
        statuses = c.close()
    assert statuses == {1: 0, 2: 0, 3: 0}, statuses


def test_broker_only_nodes_after_the_voters(tmp_path):
    with SluiceCluster(tmp_path, n=4, controllers=3) as c:
        assert "process.roles: broker\n" in open(c.node(4).config_path).read()
        assert "process.roles: broker,controller\n" in open(c.node(3).config_path).read()
        assert "4@" not in c.voters()
        assert round_trip(c.node(4).bootstrap, "on-broker-4", ["x"]) == ["x"]


def test_kill_restart_keeps_data_and_ports(tmp_path):
    with SluiceCluster(tmp_path, n=3) as c:
        node = c.node(2)
        assert round_trip(node.bootstrap, "durable", ["a", "b"]) == ["a", "b"]
        old_pid = node.proc.pid
        c.kill(2)
        assert not node.alive() and node.proc.returncode == -signal.SIGKILL
        c.restart(2)
        c.wait_ready(2)
        assert node.proc.pid != old_pid
        assert round_trip(node.bootstrap, "durable", ["c"], expect=3) == ["a", "b", "c"]
        assert node.log_text().count("===== cluster.py: start") == 2
        # SIGSTOP/SIGCONT reach the process; a stopped node still stops cleanly.
        c.kill(3, signal.SIGSTOP)
        assert c.stop(3) == 0
        assert c.stop(1) == 0
        c.start(1)
        c.wait_ready(1)
        assert c.ready(1) and not c.ready(3)


def test_failed_test_gets_logs_and_nothing_is_left_running(tmp_path):
    class Item:
        nodeid = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]

    class Report:
        failed = True
        sections = []

    procs = []
    with pytest.raises(AssertionError):
        with SluiceCluster(tmp_path, n=2, controllers=1) as c:
            procs = [n.proc for n in c.nodes]
            assert False, "a failing test body"
    assert all(p.poll() is not None for p in procs), "the with block left a node running"
    attach_logs(Item, Report)
    titles = [t for t, _ in Report.sections]
    assert titles == ["sluice node 1 (127.0.0.11) log", "sluice node 2 (127.0.0.12) log"], titles
    assert all("broker started" in text for _, text in Report.sections), Report.sections


def test_refused_configuration_is_reported_with_the_log(tmp_path):
    # Node 1 with a node.id outside the voters cannot start: wait_ready says why, at once.
    c = SluiceCluster(tmp_path, n=2, controllers=2, node_config={1: {"node.id": 9}})
    with pytest.raises(RuntimeError) as e:
        with c:
            pass
    assert "node.id 9 has the controller role" in str(e.value), e.value
    assert all(not n.alive() for n in c.nodes)


def test_teardown_stops_what_the_test_left_running_but_not_a_fixtures_cluster(tmp_path):
    import cluster as cluster_module

    class Item:
        nodeid = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]

    mine = SluiceCluster(tmp_path / "mine", n=1, controllers=0)
    mine.start_all()  # no `with`, never closed by the test
    shared = SluiceCluster(tmp_path / "shared", n=1, controllers=0)
    shared.phase = "setup"  # as if a module-scoped fixture had made it
    shared.start_all()
    try:
        cluster_module.close_test_clusters(Item)
        assert mine.closed and not mine.node(1).alive()
        assert mine not in cluster_module._LIVE
        assert not shared.closed and shared.node(1).alive() and shared.ready(1)
    finally:
        shared.close()
