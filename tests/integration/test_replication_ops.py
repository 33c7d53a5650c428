"""Operating a replicated cluster (issue #14, ops): /readyz in quorum mode turns ready only once
the node has caught up (a restarted node that cannot reach a quorum stays 503, then turns 200 as
soon as a leader answers it and its log reaches the leader's high watermark), and /metrics carries
Kafka's ReplicaManager and KafkaController families (names as Kafka's JMX exporter gives them)
with one active controller across the cluster.

Three real build/sluice processes (tests/integration/cluster.py); every wait polls with a generous
deadline, nothing asserts a duration."""
import urllib.error
import urllib.request

from cluster import SluiceCluster
from conftest import wait_until

WAIT = 90.0


def readyz(cluster, i):
    """(status, body) of node i's /readyz, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{cluster.node(i).http_url}/readyz", timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None


def metrics(cluster, i):
    """{name or name{labels}: value} of node i's /metrics, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{cluster.node(i).http_url}/metrics", timeout=3) as r:
            text = r.read().decode()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_readyz_waits_for_a_quorum_then_for_catching_up(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        # Two of three voters down: the one left listens and answers /readyz but has no leader
        # to catch up from, so it is not ready.
        c.stop(2)
        c.stop(3)
        wait_until(lambda: readyz(c, 1) is not None and readyz(c, 1)[0] == 503, WAIT,
                   lambda: f"node 1 to turn unready without a quorum: {readyz(c, 1)}")
        assert "catching up: metadata log" in readyz(c, 1)[1]
        # All down, then one restarted alone: started, listening, not ready.
        c.stop(1)
        c.start(3)
        wait_until(lambda: readyz(c, 3) is not None, WAIT, "node 3 to answer /readyz")
        status, body = readyz(c, 3)
        assert status == 503 and "catching up: metadata log" in body, (status, body)
        wait_until(lambda: metrics(c, 3) is not None, WAIT, "node 3's /metrics")
        assert metrics(c, 3)["sluice_ready"] == 0
        # A majority again: a leader is elected and every node catches up from it.
        c.start(2)
        c.start(1)
        for i in (1, 2, 3):
            c.wait_ready(i)
            assert readyz(c, i) == (200, "ready\n")
            assert metrics(c, i)["sluice_ready"] == 1


def test_metrics_replication_families_and_one_active_controller(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        def active_controllers():
            views = [metrics(c, i) for i in (1, 2, 3)]
            if any(v is None for v in views):
                return None
            return sum(v["kafka_controller_kafkacontroller_activecontrollercount"] for v in views)
        wait_until(lambda: active_controllers() == 1, WAIT,
                   lambda: f"one active controller, not {active_controllers()}")
        for i in (1, 2, 3):
            m = metrics(c, i)
            for name in ("kafka_server_replicamanager_partitioncount",
                         "kafka_server_replicamanager_leadercount",
                         "kafka_server_replicamanager_underreplicatedpartitions",
                         "kafka_server_replicamanager_isrshrinks_total",
                         "kafka_server_replicamanager_isrexpands_total",
                         "kafka_controller_kafkacontroller_offlinepartitionscount"):
                assert name in m, (i, name)
            assert m["kafka_server_replicamanager_underreplicatedpartitions"] == 0
            assert m["kafka_controller_kafkacontroller_offlinepartitionscount"] == 0
