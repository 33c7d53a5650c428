"""Consumer groups with real clients on loopback: the classic rebalance protocol, committed offsets
and their durability in __consumer_offsets.

- kafka-python 2.0.2 (Debian's /usr/bin/python3): three consumers on a 6-partition topic split it
  two each and read every record exactly once with manual commits; when one leaves, the other two
  take all six. A group consumer with auto-commit, with 2.0.2 and PyPI's 3.0.12.
- kcat -G (librdkafka 2.0.2): two balanced consumers share the partitions; a restart resumes from
  the committed offsets.
- confluent-kafka: cooperative-sticky (incremental assign/revoke callbacks); static membership
  (a member restarting with the same group.instance.id gets its partitions back, the other member
  sees no rebalance).
- Committed offsets (with metadata and leader epoch) survive a restart after SIGTERM and SIGKILL.
- Kafka 4.0's ConsoleConsumer (--group, keys and headers printed) and ConsumerGroupCommand
  (--describe with lag, --reset-offsets --to-earliest --execute, --delete).
- kafkajs (node/group_consumer.js) and franz-go (go/groups) group consumers.
- The Java consumer (java/src/GroupConsumer.java): two members split four partitions with the range
  and the cooperative-sticky assignors, and as static members (group.instance.id).
Runtime: about 70 s (measured on the 2-core dev box).
"""
import os
import shutil
import signal
import sys
import subprocess
import threading
import time
import uuid

import pytest

import kproto
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import broker_config, wait_until
from kafka_ref import java_cmd, require_libs, write_log4j2

KCAT = shutil.which("kcat")
GROUP_YAML = "group.initial.rebalance.delay.ms: 0\n"
HERE = os.path.dirname(os.path.abspath(__file__))


def create_topic(bootstrap, partitions):
    name = "g-" + uuid.uuid4().hex[:10]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        f.result(timeout=20)
    return name


def produce(bootstrap, topic, count, partitions, start=0):
    """count records, spread round-robin over the partitions; values are 'v<i>'."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(start, start + count):
        p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % partitions,
                  headers=[("h", f"x{i}".encode())])
    assert p.flush(30) == 0


def group_state(bootstrap, group):
    """(state, member count) from DescribeGroups v5."""
    g = kproto.request(bootstrap, 15, 5, {"Groups": [group],
                                          "IncludeAuthorizedOperations": False})["Groups"][0]
    return g["GroupState"], len(g["Members"])


@pytest.fixture
def gbroker(start_broker):
    return start_broker(GROUP_YAML)


# ---- kafka-python ---------------------------------------------------------------------------------

class KpMember:
    """One kafka-python group consumer in its own process (clients/kp_group_member.py), committing
    after every batch; what it reads and owns is followed through its stdout."""

    def __init__(self, bootstrap, group, topic, stop_file, python):
        self.stop_file = stop_file
        self.proc = subprocess.Popen(
            [python, os.path.join(HERE, "clients", "kp_group_member.py"), bootstrap,
             topic, group, stop_file], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, stdin=subprocess.DEVNULL)
        self.seen = []
        self.assigned = set()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            kind, *rest = line.split()
            if kind == "R":
                self.seen.append((int(rest[0]), int(rest[1])))
            elif kind == "A":
                self.assigned = {int(p) for p in rest[0].split(",")} if rest else set()

    def stop(self):
        open(self.stop_file, "w").close()
        self.proc.wait(20)
        self.reader.join(5)


def test_kafka_python_three_members_split_and_take_over(gbroker, tmp_path):
    """Debian's kafka-python 2.0.2: PyPI's 3.0.12 livelocks now and then right after a SyncGroup
    answer (it spins in its coordinator loop without heartbeating: a client bug, seen in its debug
    log; the broker's answers are right), so the three members run 2.0.2."""
    topic = create_topic(gbroker.bootstrap, 6)
    produce(gbroker.bootstrap, topic, 600, 6)
    members = [KpMember(gbroker.bootstrap, "kp-three", topic, str(tmp_path / f"stop{i}"),
                        "/usr/bin/python3") for i in range(3)]
    try:
        wait_until(lambda: sum(len(m.seen) for m in members) >= 600 and
                   all(len(m.assigned) == 2 for m in members), 60,
                   lambda: f"three members, 600 records: "
                           f"{[(len(m.seen), m.assigned) for m in members]}")
        seen = [x for m in members for x in m.seen]
        assert len(seen) == len(set(seen)) == 600, "every record exactly once"
        assert sorted(p for m in members for p in m.assigned) == list(range(6))
        # one leaves (LeaveGroup on close): the other two take over all six partitions
        members[0].stop()
        t0 = time.monotonic()
        wait_until(lambda: sorted(p for m in members[1:] for p in m.assigned) == list(range(6)),
                   6, "the remaining two to own all six partitions")
        took_s = time.monotonic() - t0
        produce(gbroker.bootstrap, topic, 60, 6, start=600)
        wait_until(lambda: sum(len(m.seen) for m in members) >= 660, 30, "60 more records")
        seen = [x for m in members for x in m.seen]
        assert len(set(seen)) == 660
        assert took_s < 6
    finally:
        for m in members:
            if m.proc.poll() is None:
                m.stop()


@pytest.mark.parametrize("python", ["/usr/bin/python3", sys.executable], ids=["debian", "pypi"])
def test_kafka_python_auto_commit(gbroker, tmp_path, python):
    """One kafka-python member with auto-commit: 2.0.2 (Debian) and 3.0.12 (PyPI)."""
    topic = create_topic(gbroker.bootstrap, 2)
    produce(gbroker.bootstrap, topic, 40, 2)
    script = tmp_path / "kp2.py"
    script.write_text(f"""
import sys
from kafka import KafkaConsumer
c = KafkaConsumer({topic!r}, bootstrap_servers={gbroker.bootstrap!r}, group_id="kp-debian",
                  auto_offset_reset="earliest", enable_auto_commit=True,
                  auto_commit_interval_ms=200, consumer_timeout_ms=4000)
n = sum(1 for _ in c)
c.close()  # commits
print(n)
""")
    r = subprocess.run([python, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["40"]
    c = Consumer({"bootstrap.servers": gbroker.bootstrap, "group.id": "kp-debian"})
    got = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    c.close()
    assert [tp.offset for tp in got] == [20, 20]


# ---- kcat -G --------------------------------------------------------------------------------------

def test_kcat_balanced_consumers_share_and_resume(gbroker, tmp_path):
    assert KCAT, "kcat not installed (scripts/install-deps)"
    topic = create_topic(gbroker.bootstrap, 4)
    outs = [open(tmp_path / f"kcat{i}.out", "w+") for i in range(2)]
    procs = [subprocess.Popen([KCAT, "-u", "-b", gbroker.bootstrap, "-G", "kcat-group", "-q",
                               "-f", "%p %o\n", "-X", "auto.offset.reset=earliest", topic],
                              stdout=outs[i], stderr=subprocess.DEVNULL) for i in range(2)]
    try:
        wait_until(lambda: group_state(gbroker.bootstrap, "kcat-group") == ("Stable", 2), 30,
                   "both kcat instances in the group")
        produce(gbroker.bootstrap, topic, 200, 4)

        def lines():
            return [open(tmp_path / f"kcat{i}.out").read().split("\n")[:-1] for i in range(2)]
        wait_until(lambda: sum(len(x) for x in lines()) >= 200, 30, "200 records")
        a, b = lines()
        assert a and b, "both instances got partitions"
        assert len(set(a + b)) == 200
        assert {l.split()[0] for l in a}.isdisjoint({l.split()[0] for l in b})
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)  # kcat closes the consumer: final commit
        for p in procs:
            p.wait(20)
    produce(gbroker.bootstrap, topic, 40, 4, start=200)
    r = subprocess.run([KCAT, "-b", gbroker.bootstrap, "-G", "kcat-group", "-q", "-e",
                        "-f", "%s\n", topic], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == sorted(f"v{i}" for i in range(200, 240))


# ---- confluent-kafka: cooperative-sticky and static membership ------------------------------------

class CkMember:
    def __init__(self, bootstrap, group, topic, **conf):
        self.events = []
        self.owned = set()
        c = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
             "session.timeout.ms": 10000, "heartbeat.interval.ms": 500}
        c.update(conf)
        self.consumer = Consumer(c)
        self.consumer.subscribe([topic], on_assign=self.on_assign, on_revoke=self.on_revoke)

    def on_assign(self, consumer, parts):
        self.events.append(("assign", sorted(p.partition for p in parts)))
        self.owned |= {p.partition for p in parts}

    def on_revoke(self, consumer, parts):
        self.events.append(("revoke", sorted(p.partition for p in parts)))
        self.owned -= {p.partition for p in parts}


def poll_all(members, pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in members:
            m.consumer.poll(0.05)
        if pred():
            return
    pytest.fail(f"timed out waiting for {what}: {[m.events for m in members]}")


def test_confluent_cooperative_sticky(gbroker):
    topic = create_topic(gbroker.bootstrap, 4)
    conf = {"partition.assignment.strategy": "cooperative-sticky"}
    a = CkMember(gbroker.bootstrap, "coop", topic, **conf)
    poll_all([a], lambda: a.owned == {0, 1, 2, 3}, 30, "a to own all four")
    b = CkMember(gbroker.bootstrap, "coop", topic, **conf)
    poll_all([a, b], lambda: len(a.owned) == 2 and len(b.owned) == 2, 40, "a 2/2 split")
    assert a.owned.isdisjoint(b.owned)
    # incremental: a only ever lost partitions (no revoke-everything), b only gained
    assert [e for e in a.events if e[0] == "revoke"] == [("revoke", sorted({0, 1, 2, 3} - a.owned))]
    assert all(kind == "assign" for kind, _ in b.events)
    a.consumer.close()
    b.consumer.close()


def test_confluent_static_member_rejoins_without_rebalance(gbroker):
    topic = create_topic(gbroker.bootstrap, 4)
    a = CkMember(gbroker.bootstrap, "static", topic, **{"group.instance.id": "pod-a"})
    b = CkMember(gbroker.bootstrap, "static", topic, **{"group.instance.id": "pod-b"})
    poll_all([a, b], lambda: len(a.owned) == 2 and len(b.owned) == 2, 40, "a 2/2 split")
    b_owned = set(b.owned)
    a_events = list(a.events)
    b.consumer.close()  # a static member sends no LeaveGroup
    b2 = CkMember(gbroker.bootstrap, "static", topic, **{"group.instance.id": "pod-b"})
    poll_all([a, b2], lambda: b2.owned == b_owned, 20, "pod-b to get its partitions back")
    for _ in range(20):  # and a keeps polling a while: nothing happens to it
        a.consumer.poll(0.1)
        b2.consumer.poll(0.05)
    assert a.events == a_events
    a.consumer.close()
    b2.consumer.close()


# ---- durability -----------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_committed_offsets_survive_restart(start_broker, tmp_path, sig):
    data = str(tmp_path / "data")
    text = broker_config(data, GROUP_YAML)
    b = start_broker(config_text=text)
    topic = create_topic(b.bootstrap, 3)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "durable",
                  "enable.auto.commit": False})
    parts = [TopicPartition(topic, p, 10 + p, metadata=f"meta-{p}", leader_epoch=0)
             for p in range(3)]
    c.commit(offsets=parts, asynchronous=False)
    c.close()
    assert b.stop(sig=sig) == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    b2 = start_broker(config_text=text)
    c = Consumer({"bootstrap.servers": b2.bootstrap, "group.id": "durable"})
    got = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=15)
    c.close()
    assert [(tp.partition, tp.offset, tp.metadata, tp.leader_epoch) for tp in got] == [
        (p, 10 + p, f"meta-{p}", 0) for p in range(3)]


# ---- Kafka's tools --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tools_log(tmp_path_factory):
    d = tmp_path_factory.mktemp("group-tools")
    return write_log4j2(str(d / "log4j2.properties"), str(d / "tools.log"), "WARN")


def run_tool(main_class, *args, log_config, timeout=120):
    require_libs()
    return subprocess.run(java_cmd(main_class, *args, log_config=log_config),
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_console_consumer_and_consumer_group_command(gbroker, tools_log):
    topic = create_topic(gbroker.bootstrap, 2)
    produce(gbroker.bootstrap, topic, 10, 2)
    r = run_tool("org.apache.kafka.tools.consumer.ConsoleConsumer", "--bootstrap-server",
                 gbroker.bootstrap, "--topic", topic, "--group", "console", "--from-beginning",
                 "--max-messages", "6", "--property", "print.key=true", "--property",
                 "print.headers=true", "--consumer-property", "max.poll.records=3",
                 log_config=tools_log)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().split("\n")
    assert len(lines) == 6, r.stdout
    for line in lines:  # headers, key, value
        h, k, v = line.split("\t")
        assert h == f"h:x{k[1:]}" and v == f"v{k[1:]}", line
    produce(gbroker.bootstrap, topic, 4, 2, start=10)  # lag: 14 records, 6 consumed
    r = run_tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server",
                 gbroker.bootstrap, "--describe", "--group", "console", log_config=tools_log)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [l.split() for l in r.stdout.split("\n") if l.startswith("console ")]
    assert len(rows) == 2, r.stdout
    total_lag = 0
    for row in rows:  # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
        assert row[1] == topic
        assert row[4] == "7"
        assert int(row[5]) == 7 - int(row[3])
        total_lag += int(row[5])
    assert total_lag == 8
    r = run_tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server",
                 gbroker.bootstrap, "--reset-offsets", "--to-earliest", "--execute", "--group",
                 "console", "--topic", topic, log_config=tools_log)
    assert r.returncode == 0, r.stdout + r.stderr
    c = Consumer({"bootstrap.servers": gbroker.bootstrap, "group.id": "console"})
    got = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    c.close()
    assert [tp.offset for tp in got] == [0, 0]
    r = run_tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server",
                 gbroker.bootstrap, "--delete", "--group", "console", log_config=tools_log)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "successful" in r.stdout, r.stdout
    r = run_tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server",
                 gbroker.bootstrap, "--list", log_config=tools_log)
    assert "console" not in r.stdout.split()


# ---- kafkajs and franz-go -------------------------------------------------------------------------


def committed(bootstrap, group, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    c.close()
    return [tp.offset for tp in got]


def test_kafkajs_consumer_group(gbroker):
    import json
    topic = create_topic(gbroker.bootstrap, 3)
    produce(gbroker.bootstrap, topic, 30, 3)
    r = subprocess.run(["node", os.path.join(HERE, "node", "group_consumer.js"), gbroker.bootstrap,
                        topic, "kjs", "30"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert sorted(out["values"]) == sorted(f"v{i}" for i in range(30))
    assert out["partitions"] == [0, 1, 2]
    assert committed(gbroker.bootstrap, "kjs", topic, 3) == [10, 10, 10]


@pytest.fixture(scope="module")
def franz_groups(tmp_path_factory):
    exe = str(tmp_path_factory.mktemp("franz-groups") / "groups")
    r = subprocess.run(["go", "build", "-mod=readonly", "-o", exe, "./groups"],
                       cwd=os.path.join(HERE, "go"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return exe


def test_franz_go_consumer_group(gbroker, franz_groups):
    topic = create_topic(gbroker.bootstrap, 3)
    produce(gbroker.bootstrap, topic, 30, 3)
    r = subprocess.run([franz_groups, "-brokers", gbroker.bootstrap, "-topic", topic, "-group",
                        "franz", "-count", "30"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(r.stdout.split()) == sorted(f"v{i}" for i in range(30))
    assert committed(gbroker.bootstrap, "franz", topic, 3) == [10, 10, 10]


@pytest.fixture(scope="module")
def sarama_groups(tmp_path_factory):
    exe = str(tmp_path_factory.mktemp("sarama-groups") / "sarama")
    r = subprocess.run(["go", "build", "-mod=readonly", "-o", exe, "./sarama"],
                       cwd=os.path.join(HERE, "go"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return exe


def test_sarama_consumer_group(gbroker, sarama_groups):
    """Sarama (IBM/sarama, the other Go client people run) as a group member with the range
    assignor: reads every record once, commits, leaves."""
    topic = create_topic(gbroker.bootstrap, 3)
    produce(gbroker.bootstrap, topic, 30, 3)
    r = subprocess.run([sarama_groups, "-brokers", gbroker.bootstrap, "-topic", topic, "-group",
                        "sarama", "-count", "30"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(r.stdout.split()) == sorted(f"v{i}" for i in range(30))
    assert committed(gbroker.bootstrap, "sarama", topic, 3) == [10, 10, 10]


# ---- the Java consumer ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def group_consumer_classes(tmp_path_factory):
    cp = require_libs()
    out = str(tmp_path_factory.mktemp("group-consumer-classes"))
    r = subprocess.run(["javac", "-nowarn", "-cp", cp, "-d", out,
                        os.path.join(HERE, "java", "src", "GroupConsumer.java")],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize("assignor,static", [("range", False), ("cooperative-sticky", False),
                                             ("range", True)])
def test_java_consumers_share_partitions(gbroker, tools_log, group_consumer_classes, assignor,
                                         static):
    """Two Java consumers in one group split four partitions and read every record once."""
    import json
    topic = create_topic(gbroker.bootstrap, 4)
    group = f"java-{assignor}-{static}"
    procs = []
    for i in range(2):
        cmd = java_cmd("GroupConsumer", gbroker.bootstrap, topic, group, assignor,
                       f"pod-{i}" if static else "-", "3000", log_config=tools_log)
        k = cmd.index("-cp") + 1
        cmd[k] = group_consumer_classes + os.pathsep + cmd[k]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, stdin=subprocess.DEVNULL))
    try:
        wait_until(lambda: group_state(gbroker.bootstrap, group) == ("Stable", 2), 40,
                   "both Java consumers in the group")
        if static:
            g = kproto.request(gbroker.bootstrap, 15, 5, {"Groups": [group],
                                                          "IncludeAuthorizedOperations": False})
            assert sorted(m["GroupInstanceId"] for m in g["Groups"][0]["Members"]) == [
                "pod-0", "pod-1"]
        produce(gbroker.bootstrap, topic, 80, 4)
        outs = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in procs), outs
    res = [json.loads(o.strip().split("\n")[-1]) for o, _ in outs]
    values = res[0]["values"] + res[1]["values"]
    assert sorted(values) == sorted(f"v{i}" for i in range(80)), outs
    assert len(res[0]["partitions"]) == 2 and len(res[1]["partitions"]) == 2, res
    assert committed(gbroker.bootstrap, group, topic, 4) == [20, 20, 20, 20]


def test_stable_group_survives_broker_restart(start_broker, tmp_path):
    """The group metadata record keeps members and assignments: after a broker restart (within
    the session timeout) the members carry on with no rebalance, static ones included."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = broker_config(str(tmp_path / "data"), GROUP_YAML).replace(
        "PLAINTEXT://127.0.0.1:0", f"PLAINTEXT://127.0.0.1:{port}")
    b = start_broker(config_text=text)
    topic = create_topic(b.bootstrap, 4)
    a = CkMember(b.bootstrap, "restart", topic, **{"group.instance.id": "pod-a"})
    d = CkMember(b.bootstrap, "restart", topic)
    poll_all([a, d], lambda: len(a.owned) == 2 and len(d.owned) == 2, 40, "a 2/2 split")
    events = (list(a.events), list(d.events))
    assert b.stop() == 0
    b2 = start_broker(config_text=text)
    assert group_state(b2.bootstrap, "restart") == ("Stable", 2)
    produce(b2.bootstrap, topic, 8, 4)
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 8 and time.monotonic() < deadline:
        for m in (a, d):
            msg = m.consumer.poll(0.1)
            if msg is not None and not msg.error():
                got.append(msg.value())
    assert sorted(got) == sorted(f"v{i}".encode() for i in range(8))
    assert (a.events, d.events) == events, "no rebalance"
    a.consumer.close()
    d.consumer.close()
