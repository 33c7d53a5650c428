"""The metadata quorum (KRaft's __cluster_metadata-0) across real build/sluice processes: they
elect one leader over their controller listeners with Kafka's Vote/BeginQuorumEpoch/Fetch
messages, survive SIGKILL and SIGSTOP of the leader, hand leadership over on SIGTERM, and answer
DescribeQuorum and DescribeCluster so Kafka 4.0's kafka-metadata-quorum.sh describes them; a
broker-only node follows the leader as an observer; Kafka's DumpLogSegments reads the log.

Every wait polls with a generous deadline (the machine is shared); nothing asserts a duration.
Each node's view comes from its /metrics (kafka_server_raft_metrics_*), the leader's from
DescribeQuorum on its controller listener."""
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

import kproto
from cluster import SluiceCluster
from conftest import wait_until
from kafka_ref import java_cmd, write_log4j2

API_DESCRIBE_QUORUM = 55
API_API_VERSIONS = 18
NOT_LEADER_OR_FOLLOWER = 6
ELECTION_WAIT = 90.0


def view(cluster, i):
    """(state, leader, epoch, high watermark) from node i's /metrics, or None if it does not
    answer (stopped, killed, starting)."""
    node = cluster.node(i)
    if not node.alive():
        return None
    try:
        with urllib.request.urlopen(f"{node.http_url}/metrics", timeout=3) as r:
            text = r.read().decode()
    except OSError:
        return None
    values, state = {}, None
    for line in text.splitlines():
        if line.startswith("kafka_server_raft_metrics_current_state{"):
            state = line.split('state="', 1)[1].split('"', 1)[0]
        elif line.startswith("kafka_server_raft_metrics_"):
            name, value = line.rsplit(" ", 1)
            values[name[len("kafka_server_raft_metrics_"):]] = int(float(value))
    if state is None:
        return None
    return state, values["current_leader"], values["current_epoch"], values["high_watermark"]


def leaders_by_epoch(cluster):
    """Every "became leader" transition in every node's log (all its starts): epoch -> node ids."""
    found = {}
    for node in cluster.nodes:
        for m in re.finditer(r"raft role node=(\d+) role=leader epoch=(\d+)", node.log_text()):
            found.setdefault(int(m.group(2)), set()).add(int(m.group(1)))
    return found


def describe_quorum(cluster, i):
    """DescribeQuorum v2 for __cluster_metadata-0 on node i's controller listener: the partition."""
    body = kproto.request(cluster.node(i).controller_address, API_DESCRIBE_QUORUM, 2, {
        "Topics": [{"TopicName": "__cluster_metadata", "Partitions": [{"PartitionIndex": 0}]}]})
    assert body["ErrorCode"] == 0, body
    return body["Topics"][0]["Partitions"][0], body


def agreed_leader(cluster, nodes):
    """The (leader, epoch) all of `nodes` report, with exactly that one as leader; else None."""
    views = [view(cluster, i) for i in nodes]
    if any(v is None for v in views):
        return None
    leaders = {(v[1], v[2]) for v in views}
    if len(leaders) != 1:
        return None
    leader, epoch = leaders.pop()
    if leader not in nodes:
        return None
    states = {i: v[0] for i, v in zip(nodes, views)}
    if states[leader] != "leader" or any(states[i] != "follower" for i in nodes if i != leader):
        return None
    return leader, epoch


def wait_agreed(cluster, nodes, what, newer_than=0):
    found = []

    def ok():
        a = agreed_leader(cluster, nodes)
        if a is not None and a[1] > newer_than:
            found.append(a)
            return True
        return False

    wait_until(ok, ELECTION_WAIT,
               lambda: f"{what}: views {[(i, view(cluster, i)) for i in nodes]}")
    return found[-1]


def wait_caught_up(cluster, leader, nodes):
    """The leader's DescribeQuorum shows every voter in `nodes` at its log end and the high
    watermark past the leader's LeaderChange record."""
    def ok():
        try:
            part, _ = describe_quorum(cluster, leader)
        except OSError:
            return False
        if part["ErrorCode"] != 0 or part["LeaderId"] != leader:
            return False
        ends = {v["ReplicaId"]: v["LogEndOffset"] for v in part["CurrentVoters"]}
        hw = part["HighWatermark"]
        return hw >= 1 and all(ends.get(i, -1) >= hw for i in nodes)

    wait_until(ok, ELECTION_WAIT, lambda: f"voters {nodes} caught up with leader {leader}")
    return describe_quorum(cluster, leader)[0]


def test_three_voters_elect_exactly_one_leader(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        leader, epoch = wait_agreed(c, [1, 2, 3], "one leader for all three")
        assert epoch >= 1
        part = wait_caught_up(c, leader, [1, 2, 3])
        assert sorted(v["ReplicaId"] for v in part["CurrentVoters"]) == [1, 2, 3]
        assert part["LeaderEpoch"] == epoch
        # the leader's first batch (its LeaderChange control record) is committed everywhere
        assert part["HighWatermark"] >= 1
        # DescribeQuorum v2 names each voter's controller endpoint
        _, body = describe_quorum(c, leader)
        endpoints = {n["NodeId"]: (n["Listeners"][0]["Host"], n["Listeners"][0]["Port"])
                     for n in body["Nodes"]}
        assert endpoints == {i: (c.node(i).host, c.node(i).controller_port) for i in (1, 2, 3)}
        # a follower does not describe the quorum: it is not the leader (as KRaft answers)
        follower = next(i for i in (1, 2, 3) if i != leader)
        fpart, _ = describe_quorum(c, follower)
        assert fpart["ErrorCode"] == NOT_LEADER_OR_FOLLOWER


def test_sigkill_leader_elects_another_and_it_rejoins_as_follower(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        old, epoch = wait_agreed(c, [1, 2, 3], "the first leader")
        wait_caught_up(c, old, [1, 2, 3])
        c.kill(old)
        rest = [i for i in (1, 2, 3) if i != old]
        new, new_epoch = wait_agreed(c, rest, "a new leader among the two left", newer_than=epoch)
        assert new != old
        # the new leader commits its own LeaderChange with the one other voter
        part = wait_caught_up(c, new, rest)
        assert part["HighWatermark"] >= 2
        c.restart(old)
        c.wait_ready(old)
        leader, e = wait_agreed(c, [1, 2, 3], "the restarted node following", newer_than=epoch)
        assert e >= new_epoch
        part = wait_caught_up(c, leader, [1, 2, 3])
        ends = {v["ReplicaId"]: v["LogEndOffset"] for v in part["CurrentVoters"]}
        assert ends[old] >= 2
        by_epoch = leaders_by_epoch(c)
        assert all(len(nodes) == 1 for nodes in by_epoch.values()), by_epoch


def test_a_minority_never_elects_and_a_majority_again_does(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        leader, epoch = wait_agreed(c, [1, 2, 3], "the first leader")
        alone = next(i for i in (1, 2, 3) if i != leader)
        others = [i for i in (1, 2, 3) if i != alone]
        for i in others:
            c.kill(i)
        # however long it tries (several election timeouts here), one voter of three never leads
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            v = view(c, alone)
            assert v is None or v[0] != "leader", v
            time.sleep(0.2)
        c.restart(others[0])
        c.wait_ready(others[0])
        pair = sorted([alone, others[0]])
        wait_agreed(c, pair, "a leader once a majority is back", newer_than=epoch)


def test_sigterm_leader_resigns_and_exits_cleanly(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        old, epoch = wait_agreed(c, [1, 2, 3], "the first leader")
        wait_caught_up(c, old, [1, 2, 3])
        assert c.stop(old) == 0
        log = c.node(old).log_text()
        assert "resigning metadata quorum leadership" in log
        assert "metadata quorum stopped" in log
        rest = [i for i in (1, 2, 3) if i != old]
        new, _ = wait_agreed(c, rest, "a leader after the handover", newer_than=epoch)
        assert new != old
        # the survivors heard the resignation (EndQuorumEpoch), not only missing fetches
        assert any(f"leader resigned node={i} leader={old} epoch={epoch}" in c.node(i).log_text()
                   for i in rest), [c.node(i).log_text()[-3000:] for i in rest]


def test_sigstop_leader_is_replaced_and_steps_down_after_sigcont(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        old, epoch = wait_agreed(c, [1, 2, 3], "the first leader")
        wait_caught_up(c, old, [1, 2, 3])
        claims = {}  # epoch -> nodes that said they lead in it

        def record():
            for i in (1, 2, 3):
                v = view(c, i)
                if v is not None and v[0] == "leader":
                    claims.setdefault(v[2], set()).add(i)

        c.kill(old, signal.SIGSTOP)
        rest = [i for i in (1, 2, 3) if i != old]

        def new_leader():
            record()
            a = agreed_leader(c, rest)
            return a is not None and a[1] > epoch

        wait_until(new_leader, ELECTION_WAIT, "a new leader while the old one is stopped")
        c.kill(old, signal.SIGCONT)

        def all_agree():
            record()
            a = agreed_leader(c, [1, 2, 3])
            return a is not None and a[1] > epoch

        wait_until(all_agree, ELECTION_WAIT, "the old leader stepping down after SIGCONT")
        record()
        assert all(len(nodes) == 1 for nodes in claims.values()), claims
        by_epoch = leaders_by_epoch(c)
        assert all(len(nodes) == 1 for nodes in by_epoch.values()), by_epoch


def test_broker_only_node_observes_the_leader(tmp_path):
    """Node 4 (process.roles: broker) is no voter: it finds the leader by asking the voters, follows
    it (and its log), never campaigns, and finds the next leader after the first is killed."""
    with SluiceCluster(tmp_path, n=4, controllers=3) as c:
        leader, epoch = wait_agreed(c, [1, 2, 3], "one leader of the voters")

        def observing(lead, ep):
            v = view(c, 4)
            return v is not None and v[0] == "follower" and v[1] == lead and v[2] == ep and v[3] >= 1

        wait_until(lambda: observing(leader, epoch), ELECTION_WAIT,
                   lambda: f"node 4 following {leader} in epoch {epoch}: {view(c, 4)}")
        c.kill(leader)
        rest = [i for i in (1, 2, 3) if i != leader]
        new, new_epoch = wait_agreed(c, rest, "a new leader", newer_than=epoch)
        wait_until(lambda: observing(new, new_epoch), ELECTION_WAIT,
                   lambda: f"node 4 following {new} in epoch {new_epoch}: {view(c, 4)}")
        assert "role=candidate" not in c.node(4).log_text()


def test_single_voter_quorum(tmp_path):
    with SluiceCluster(tmp_path, n=1, controllers=1) as c:
        leader, epoch = wait_agreed(c, [1], "a one-voter quorum electing itself")
        assert leader == 1 and epoch >= 1
        part = wait_caught_up(c, 1, [1])
        assert part["HighWatermark"] >= 1
        assert c.stop(1) == 0
    # Kafka's own tool reads the log: the first batch is a valid LeaderChange control batch
    d = os.path.join(c.node(1).data_dir, "__cluster_metadata-0")
    with open(os.path.join(d, "quorum-state")) as f:
        assert '"leaderId":1' in f.read()
    log4j = write_log4j2(os.path.join(str(tmp_path), "log4j2.properties"),
                         os.path.join(str(tmp_path), "tool.log"))
    dump = java_cmd("kafka.tools.DumpLogSegments", "--cluster-metadata-decoder", "--files",
                    os.path.join(d, "00000000000000000000.log"), log_config=log4j)
    r = subprocess.run(dump, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "isControl: true" in r.stdout and "isvalid: true" in r.stdout, r.stdout
    assert "controlType: LEADER_CHANGE(2)" in r.stdout, r.stdout


def test_raft_apis_only_on_the_controller_listener(tmp_path):
    with SluiceCluster(tmp_path, n=1, controllers=1) as c:
        wait_agreed(c, [1], "a leader")
        node = c.node(1)
        client = kproto.request(node.bootstrap, API_API_VERSIONS, 3, {
            "ClientSoftwareName": "t", "ClientSoftwareVersion": "1"})
        keys = {k["ApiKey"] for k in client["ApiKeys"]}
        assert not keys & {52, 53, 54, 55}, keys
        controller = kproto.request(node.controller_address, API_API_VERSIONS, 3, {
            "ClientSoftwareName": "t", "ClientSoftwareVersion": "1"})
        keys = {k["ApiKey"] for k in controller["ApiKeys"]}
        assert {1, 18, 52, 53, 54, 55, 60} <= keys, keys
        # a client listener refuses DescribeQuorum by closing the connection, as Kafka's
        # listeners do with an API they do not enable
        with kproto.Connection(node.bootstrap) as conn:
            conn.send_raw(kproto.encode_request(API_DESCRIBE_QUORUM, 1, {"Topics": []}))
            assert conn.is_closed_by_peer(wait=10)


@pytest.mark.parametrize("what", ["--status", "--replication"])
def test_kafka_metadata_quorum_tool_describes_it(tmp_path, what):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        leader, epoch = wait_agreed(c, [1, 2, 3], "one leader")
        wait_caught_up(c, leader, [1, 2, 3])
        log4j = write_log4j2(os.path.join(str(tmp_path), "log4j2.properties"),
                             os.path.join(str(tmp_path), "tool.log"))
        follower = next(i for i in (1, 2, 3) if i != leader)
        cmd = java_cmd("org.apache.kafka.tools.MetadataQuorumCommand", "--bootstrap-controller",
                       c.node(follower).controller_address, "describe", what, log_config=log4j)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr
        out = r.stdout
        if what == "--status":
            fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
            assert int(fields["LeaderId"]) == leader
            assert int(fields["LeaderEpoch"]) == epoch
            assert int(fields["HighWatermark"]) >= 1
            for i in (1, 2, 3):
                assert f"CONTROLLER://{c.node(i).host}:{c.node(i).controller_port}" in out
        else:
            rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
            status = {int(r[0]): r[-1] for r in rows}
            assert status == {i: ("Leader" if i == leader else "Follower") for i in (1, 2, 3)}


def test_metadata_log_dir_chooses_the_log_dir(tmp_path):
    dirs = [os.path.join(str(tmp_path), "a"), os.path.join(str(tmp_path), "b")]
    config = {1: {"log.dirs": ",".join(dirs), "metadata.log.dir": dirs[1]}}
    with SluiceCluster(tmp_path, n=1, controllers=1, node_config=config) as c:
        wait_agreed(c, [1], "a leader")
        assert os.path.exists(os.path.join(dirs[1], "__cluster_metadata-0", "quorum-state"))
        assert not os.path.exists(os.path.join(dirs[0], "__cluster_metadata-0"))


def test_metadata_log_dir_outside_log_dirs_is_refused(tmp_path):
    config = {1: {"metadata.log.dir": os.path.join(str(tmp_path), "elsewhere")}}
    c = SluiceCluster(tmp_path, n=1, controllers=1, node_config=config)
    try:
        node = c.start(1)
        assert node.proc.wait(60) == 2
        assert "metadata.log.dir" in node.log_text() and "is not one of log.dirs" in node.log_text()
    finally:
        c.close()


def meta_cluster_id(node):
    with open(os.path.join(node.data_dir, "meta.properties")) as f:
        for line in f:
            if line.startswith("cluster.id="):
                return line.strip().split("=", 1)[1]
    raise AssertionError(f"no cluster.id in node {node.node_id}'s meta.properties")


def test_one_cluster_id_and_a_stranger_is_kept_out(tmp_path):
    """Nodes configured with the same voters format their empty dirs with one cluster id (no
    format step); a voter whose dirs carry another cluster's id is refused at start, and one
    formatted for another cluster (cluster.id) is answered INCONSISTENT_CLUSTER_ID and never
    counts: the other two lead and commit without it."""
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        leader, epoch = wait_agreed(c, [1, 2, 3], "one leader for all three")
        wait_caught_up(c, leader, [1, 2, 3])
        ids = {meta_cluster_id(c.node(i)) for i in (1, 2, 3)}
        assert len(ids) == 1, ids
        (cluster_id,) = ids
        stranger = next(i for i in (1, 2, 3) if i != leader)
        assert c.stop(stranger) == 0
        # the same dir under another cluster.id: refused, naming both ids
        other = "AAAAAAAAAAAAAAAAAAAAAg"
        c.node_config[stranger] = {"cluster.id": other}
        c.start(stranger)
        rc = c.node(stranger).proc.wait(60)
        assert rc != 0
        log = c.node(stranger).log_text()
        assert "log dir belongs to another cluster" in log and cluster_id in log and other in log
        # a fresh dir formatted for the other cluster: started, but kept out of the quorum
        shutil.rmtree(c.node(stranger).data_dir)
        started = c.node(stranger).log_text().count("broker started")
        c.start(stranger)
        # (never ready: /readyz waits for a registration no controller of its cluster can give)
        wait_until(lambda: c.node(stranger).log_text().count("broker started") > started,
                   ELECTION_WAIT, "the stranger to start")
        assert meta_cluster_id(c.node(stranger)) == other
        # INCONSISTENT_CLUSTER_ID (104) from the others, logged by the stranger
        wait_until(lambda: "error_code=104" in c.node(stranger).log_text(), ELECTION_WAIT,
                   lambda: "the stranger to be told its cluster id is wrong")
        rest = [i for i in (1, 2, 3) if i != stranger]
        new_leader, _ = wait_agreed(c, rest, "the two of the cluster still agree")
        # the stranger never follows the cluster's leader nor receives a byte of its log
        time.sleep(2)
        state, its_leader, _, its_hw = view(c, stranger)
        assert its_leader != new_leader and its_hw <= 0, (state, its_leader, its_hw)
