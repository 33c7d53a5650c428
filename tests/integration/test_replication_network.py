"""SluiceCluster(peer_proxies=True): every node's controller and inter-broker (REPLICATION)
endpoints are reached by the other nodes through a PeerProxy, and isolate(i) cuts node i off from
its peers (both ways, a black hole) while clients still reach it. The replication tests that cut
a leader off rely on this; these tests hold the proxies to it with real build/sluice processes,
speaking as the nodes do (client id "sluice-<node id>", as src/replication/peer.c sends)."""
import socket

import pytest

import kproto
from cluster import SluiceCluster

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
