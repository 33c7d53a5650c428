"""Operating a replicated cluster (issue #14, ops): /readyz in quorum mode turns ready only once
the node has caught up (a restarted node that cannot reach a quorum stays 503, then turns 200 as
soon as a leader answers it and its log reaches the leader's high watermark); /metrics carries
Kafka's ReplicaManager and KafkaController families (names as Kafka's JMX exporter gives them)
with one active controller across the cluster, and counts under-replicated partitions while a
replica is down; SIGTERM moves every leadership of the node away before it stops serving.

Three real build/sluice processes (tests/integration/cluster.py); every wait polls with a generous
deadline, nothing asserts a duration."""
import signal
import urllib.error
import urllib.request

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

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


# ---- with replicated partitions (topics through the controller) ----

# A short session (a killed broker is fenced soon) and ISR lag (a dead replica leaves the ISR
# soon); Kafka's defaults are 9000 and 30000 ms.
CLUSTER_CONFIG = {"broker.session.timeout.ms": 4000, "broker.heartbeat.interval.ms": 500,
                  "replica.lag.time.max.ms": 3000}
TOPIC = "ops"
PARTITIONS = 6


def create_topic(cluster):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap(), "socket.timeout.ms": 10000})
    futures = admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3)], operation_timeout=30)
    futures[TOPIC].result(60)


def led_by(cluster, i):
    """The partitions of TOPIC node i leads: only a leader writes a partition's ISR gauge."""
    m = metrics(cluster, i)
    if m is None:
        return None
    prefix = f'kafka_topic_partition_in_sync_replica{{topic="{TOPIC}",partition="'
    return {int(k[len(prefix):].split('"', 1)[0]) for k in m if k.startswith(prefix)}


def leaders(cluster, nodes):
    """{partition: leader} as the leaders among nodes say, or None while one does not answer."""
    found = {}
    for i in nodes:
        led = led_by(cluster, i)
        if led is None:
            return None
        for p in led:
            found[p] = i
    return found


def wait_all_led(cluster, nodes):
    wait_until(lambda: len(leaders(cluster, nodes) or {}) == PARTITIONS, WAIT,
               lambda: f"every partition led by one of {nodes}: {leaders(cluster, nodes)}")
    return leaders(cluster, nodes)


def test_sigterm_moves_leaderships_away_before_exit(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3, extra_config=CLUSTER_CONFIG) as c:
        create_topic(c)
        by_partition = wait_all_led(c, (1, 2, 3))
        node = max((1, 2, 3), key=lambda i: sum(1 for x in by_partition.values() if x == i))
        led = sorted(p for p, i in by_partition.items() if i == node)
        assert led, by_partition
        c.kill(node, signal.SIGTERM)
        assert c.node(node).proc.wait(60) == 0
        log = c.node(node).log_text()
        assert f"controlled shutdown: resigning partition leaderships led={len(led)}" in log, log
        # no partition named it as leader any more when it stopped serving (the others had
        # elected, or a successor's election in a newer epoch was under way)
        assert "still_led=0 " in log, log
        assert log.index("still_led=0 ") < log.index("stopping: no new")
        rest = [i for i in (1, 2, 3) if i != node]
        after = wait_all_led(c, rest)
        assert all(after[p] in rest for p in led), after


def test_under_replicated_while_a_replica_is_down_and_ready_after_catching_up(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3, extra_config=CLUSTER_CONFIG) as c:
        create_topic(c)
        wait_all_led(c, (1, 2, 3))
        for i in (1, 2, 3):
            wait_until(lambda i=i: metrics(c, i)[
                "kafka_server_replicamanager_underreplicatedpartitions"] == 0, WAIT,
                f"node {i}: no under-replicated partition")
        c.kill(3, signal.SIGKILL)
        rest = (1, 2)
        wait_all_led(c, rest)

        def under_replicated():
            return sum(metrics(c, i)["kafka_server_replicamanager_underreplicatedpartitions"]
                       for i in rest)
        wait_until(lambda: under_replicated() == PARTITIONS, WAIT,
                   lambda: f"{PARTITIONS} under-replicated partitions, got {under_replicated()}")
        # the leaders that stayed saw node 3 leave their ISR (a new leader starts without it)
        assert sum(metrics(c, i)["kafka_server_replicamanager_isrshrinks_total"] for i in rest) > 0
        # writes go on with two of three; the restarted replica must catch up to be ready
        producer = Producer({"bootstrap.servers": c.bootstrap(rest), "acks": "all"})
        for n in range(200):
            producer.produce(TOPIC, value=b"x" * 1000, partition=n % PARTITIONS)
        assert producer.flush(60) == 0
        c.start(3)
        c.wait_ready(3)
        wait_until(lambda: under_replicated() == 0, WAIT,
                   lambda: f"no under-replicated partition, got {under_replicated()}")
        assert sum(metrics(c, i)["kafka_server_replicamanager_isrexpands_total"] for i in rest) > 0
