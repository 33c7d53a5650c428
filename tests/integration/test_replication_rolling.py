"""A rolling restart (SIGTERM, wait until /readyz, next) of all three nodes of a cluster: each
exits cleanly, the metadata quorum always comes back to one leader that all three follow, no epoch
ever has two leaders, no leader's high watermark goes backwards, and afterwards every node's
__cluster_metadata-0 is a prefix of the longest, byte for byte.

Every wait polls with a generous deadline; nothing asserts a duration."""
from cluster import SluiceCluster
from conftest import wait_until
from test_metadata_quorum import agreed_leader, view, wait_caught_up
from test_replication_network import log_bytes

ELECTION_WAIT = 90.0


def test_rolling_restart_of_the_quorum(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        claims = {}     # epoch -> nodes that said they lead in it
        leader_hw = {}  # (node, epoch) -> the high watermark it last reported as leader
        regressions = []

        def observe():
            for i in (1, 2, 3):
                v = view(c, i)
                if v is None or v[0] != "leader":
                    continue
                state, _, epoch, hw = v
                claims.setdefault(epoch, set()).add(i)
                if hw < leader_hw.get((i, epoch), -1):
                    regressions.append((i, epoch, leader_hw[(i, epoch)], hw))
                leader_hw[(i, epoch)] = hw

        def agreed():
            observe()
            return agreed_leader(c, [1, 2, 3]) is not None

        def describe():
            return f"views {[(i, view(c, i)) for i in (1, 2, 3)]}"

        wait_until(agreed, ELECTION_WAIT, describe)
        for i in (1, 2, 3):
            observe()
            assert c.stop(i) == 0, f"node {i} did not exit cleanly on SIGTERM"
            c.start(i)
            c.wait_ready(i)
            wait_until(agreed, ELECTION_WAIT, describe)
            leader, _ = agreed_leader(c, [1, 2, 3])
            wait_caught_up(c, leader, [1, 2, 3])
        observe()
        assert all(len(nodes) == 1 for nodes in claims.values()), claims
        assert regressions == [], regressions
    logs = {x.node_id: log_bytes(x.data_dir, "__cluster_metadata-0") for x in c.nodes}
    assert all(logs.values()), {i: b is not None for i, b in logs.items()}
    longest = max(logs.values(), key=len)
    for i, b in logs.items():
        assert longest.startswith(b), f"node {i}'s metadata log diverges from the longest"
