"""SluiceCluster(peer_proxies=True): every node's controller and inter-broker (REPLICATION)
endpoints are reached by the other nodes through a PeerProxy, and isolate(i) cuts node i off from
its peers (both ways, a black hole) while clients still reach it. The proxies are held to that with
real build/sluice processes, speaking as the nodes do (client id "sluice-<node id>", as
src/replication/peer.c sends); then the metadata quorum's leader is cut off for real: it must step
down, the majority must move on, and after healing nothing diverges.

Every wait polls with a generous deadline; nothing asserts a duration."""
import os
import socket
import time

import pytest

import kproto
from cluster import SluiceCluster
from conftest import wait_until

ELECTION_WAIT = 90.0

API_VERSIONS = 18
METADATA = 3


def answered(address, client_id, wait=10.0):
    """True if an ApiVersions request sent to address as client_id is answered within `wait`;
    False if nothing comes back (a black hole) or the connection is refused or closed."""
    try:
        with kproto.Connection(address, timeout=wait, client_id=client_id) as c:
            _, body = c.request(API_VERSIONS, 3, {"ClientSoftwareName": "t",
                                                  "ClientSoftwareVersion": "1"})
            return body["ErrorCode"] == 0
    except (socket.timeout, TimeoutError, ConnectionError, OSError):
        return False


def cut(address, client_id):
    """Nothing answers within 2 s (a black hole answers never; 2 s keeps the test short)."""
    return not answered(address, client_id, wait=2.0)


def peer(i):
    return f"sluice-{i}"


@pytest.fixture
def cluster(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3, peer_proxies=True) as c:
        yield c


def test_nodes_advertise_the_proxies_and_clients_go_direct(cluster):
    c = cluster
    for x in c.nodes:
        conf = open(x.config_path).read()
        assert f"REPLICATION://{x.replication_proxy.address}" in conf
        assert "inter.broker.listener.name: REPLICATION" in conf
    assert c.voters() == ",".join(f"{x.node_id}@{x.controller_proxy.address}" for x in c.nodes)
    # Clients keep the PLAINTEXT listener: Metadata there names the nodes' own addresses.
    body = kproto.request(c.node(1).bootstrap, METADATA, 12, {"Topics": []})
    advertised = {(b["Host"], b["Port"]) for b in body["Brokers"]}
    assert (c.node(1).host, c.node(1).client_port) in advertised
    # Every proxied endpoint answers a peer.
    for x in c.nodes:
        for proxy in (x.controller_proxy, x.replication_proxy):
            assert answered(proxy.address, peer(x.node_id % 3 + 1)), proxy.address


def test_isolate_cuts_a_node_off_both_ways_and_heal_restores(cluster):
    c = cluster
    one, two, three = c.node(1), c.node(2), c.node(3)
    # A connection open before the cut goes dark too, not only new ones.
    before = kproto.Connection(one.replication_proxy.address, timeout=3, client_id=peer(2))
    try:
        before.request(API_VERSIONS, 3, {"ClientSoftwareName": "t", "ClientSoftwareVersion": "1"})
        c.isolate(1)
        with pytest.raises((socket.timeout, TimeoutError)):
            before.request(API_VERSIONS, 3, {"ClientSoftwareName": "t",
                                             "ClientSoftwareVersion": "1"})
    finally:
        before.close()
    # Into node 1 from its peers: nothing comes back.
    assert cut(one.controller_proxy.address, peer(2))
    assert cut(one.replication_proxy.address, peer(3))
    # Out of node 1 to its peers: nothing comes back either.
    assert cut(two.controller_proxy.address, peer(1))
    assert cut(three.replication_proxy.address, peer(1))
    # Between the other two, and for clients, nothing changed.
    assert answered(two.controller_proxy.address, peer(3))
    assert answered(three.replication_proxy.address, peer(2))
    assert answered(one.bootstrap, "a-client")
    assert answered(one.replication_proxy.address, "a-client")  # not a node: never cut

    c.heal(1)
    assert answered(one.controller_proxy.address, peer(2))
    assert answered(two.replication_proxy.address, peer(1))


def test_without_proxies_the_cluster_is_configured_as_before(tmp_path):
    c = SluiceCluster(tmp_path, n=3, controllers=3)
    try:
        assert c.proxies == []
        assert c.voters() == ",".join(f"{x.node_id}@{x.host}:{x.controller_port}"
                                      for x in c.nodes)
        conf = c.node(1).config()
        assert "REPLICATION" not in conf and "advertised.listeners" not in conf
        with pytest.raises(AssertionError):
            c.isolate(1)
    finally:
        c.close()


def log_bytes(data_dir, name):
    """A replica's log segments (.log files in offset order), concatenated; None if absent."""
    d = os.path.join(data_dir, name)
    if not os.path.isdir(d):
        return None
    return b"".join(open(os.path.join(d, f), "rb").read()
                    for f in sorted(os.listdir(d)) if f.endswith(".log"))


def assert_metadata_logs_agree(cluster):
    """After the nodes stopped: every node's __cluster_metadata-0 is a prefix of the longest."""
    logs = {x.node_id: log_bytes(x.data_dir, "__cluster_metadata-0") for x in cluster.nodes}
    assert all(logs.values()), {i: b is not None for i, b in logs.items()}
    longest = max(logs.values(), key=len)
    for i, b in logs.items():
        assert longest.startswith(b), f"node {i}'s metadata log diverges from the longest"


class LeaderWatch:
    """Samples every node's view of the metadata quorum (its /metrics) whenever observe() is
    called: which nodes claimed leadership in each epoch, and any leader whose high watermark
    went backwards within its epoch. check() asserts one leader per epoch and no regression."""

    def __init__(self, cluster):
        from test_metadata_quorum import view
        self.cluster, self.view = cluster, view
        self.claims = {}     # epoch -> nodes that said they lead in it
        self.leader_hw = {}  # (node, epoch) -> the high watermark it last reported as leader
        self.regressions = []

    def observe(self):
        for x in self.cluster.nodes:
            v = self.view(self.cluster, x.node_id)
            if v is None or v[0] != "leader":
                continue
            _, _, epoch, hw = v
            self.claims.setdefault(epoch, set()).add(x.node_id)
            before = self.leader_hw.get((x.node_id, epoch), -1)
            if hw < before:
                self.regressions.append((x.node_id, epoch, before, hw))
            self.leader_hw[(x.node_id, epoch)] = hw

    def views(self):
        return [(x.node_id, self.view(self.cluster, x.node_id)) for x in self.cluster.nodes]

    def check(self):
        self.observe()
        assert all(len(nodes) == 1 for nodes in self.claims.values()), self.claims
        assert self.regressions == [], self.regressions


def test_isolated_quorum_leader_steps_down_and_rejoins_without_divergence(tmp_path):
    """The metadata quorum's leader cut off from the other voters (its controller traffic black-
    holed both ways, clients still reaching it): the other two elect a leader in a newer epoch,
    the cut-off one stops claiming leadership (check-quorum), no epoch ever has two leaders, and
    after healing it follows the new leader (pre-vote keeps it from deposing it) and its log is a
    prefix of the leader's, byte for byte."""
    from test_metadata_quorum import agreed_leader, view, wait_agreed, wait_caught_up

    with SluiceCluster(tmp_path, n=3, controllers=3, peer_proxies=True) as c:
        old, epoch = wait_agreed(c, [1, 2, 3], "the first leader")
        wait_caught_up(c, old, [1, 2, 3])
        watch = LeaderWatch(c)
        c.isolate(old)
        rest = [i for i in (1, 2, 3) if i != old]

        def moved_on():
            watch.observe()
            a = agreed_leader(c, rest)
            v = view(c, old)
            # the majority has a newer leader, and the cut-off node no longer claims to lead
            return a is not None and a[1] > epoch and v is not None and v[0] != "leader"

        wait_until(moved_on, ELECTION_WAIT,
                   lambda: f"a new leader and the old one stepping down: {watch.views()}")
        new, new_epoch = agreed_leader(c, rest)
        # Clients still reach the cut-off node.
        assert answered(c.node(old).bootstrap, "a-client")

        c.heal(old)

        def rejoined():
            watch.observe()
            a = agreed_leader(c, [1, 2, 3])
            return a is not None and a[1] >= new_epoch

        wait_until(rejoined, ELECTION_WAIT, lambda: f"all three agreeing: {watch.views()}")
        leader, final_epoch = agreed_leader(c, [1, 2, 3])
        assert (leader, final_epoch) == (new, new_epoch), (
            f"the returning node disturbed the quorum: leader {new} epoch {new_epoch} before, "
            f"{leader} epoch {final_epoch} after")
        wait_caught_up(c, leader, [1, 2, 3])
        watch.check()
    assert_metadata_logs_agree(c)


def test_isolated_follower_comes_back_without_disturbing_the_leader(tmp_path):
    """A voter that is not the leader cut off for many election timeouts: it never raises its
    epoch while it cannot win (pre-vote, KIP-996), and when the cut heals it follows the
    majority's leader in the majority's epoch instead of forcing an election."""
    from test_metadata_quorum import agreed_leader, view, wait_agreed, wait_caught_up

    with SluiceCluster(tmp_path, n=3, controllers=3, peer_proxies=True) as c:
        leader, epoch = wait_agreed(c, [1, 2, 3], "the first leader")
        wait_caught_up(c, leader, [1, 2, 3])
        watch = LeaderWatch(c)
        follower = next(i for i in (1, 2, 3) if i != leader)
        rest = [i for i in (1, 2, 3) if i != follower]
        c.isolate(follower)
        # Long enough for the cut-off node to time out (election timeout 1 s) many times over;
        # what it reports is sampled throughout.
        cut_epochs, majority = set(), None
        deadline = time.monotonic() + 8.0
        give_up = time.monotonic() + ELECTION_WAIT
        while time.monotonic() < deadline or (majority is None and time.monotonic() < give_up):
            watch.observe()
            v = view(c, follower)
            if v is not None:
                cut_epochs.add(v[2])
            majority = agreed_leader(c, rest) or majority
            time.sleep(0.2)
        assert majority is not None and cut_epochs, watch.views()
        assert max(cut_epochs) <= majority[1], (
            f"the cut-off node raised its epoch to {max(cut_epochs)} (majority at {majority})")
        c.heal(follower)

        def rejoined():
            watch.observe()
            return agreed_leader(c, [1, 2, 3]) is not None

        wait_until(rejoined, ELECTION_WAIT, lambda: f"all three agreeing: {watch.views()}")
        assert agreed_leader(c, [1, 2, 3]) == agreed_leader(c, rest) == majority, watch.views()
        wait_caught_up(c, majority[0], [1, 2, 3])
        watch.check()
    assert_metadata_logs_agree(c)
