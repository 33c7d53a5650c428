"""A rolling restart (SIGTERM, wait until /readyz, next) of all three nodes of a cluster: each
exits cleanly, the metadata quorum always comes back to one leader that all three follow, no epoch
ever has two leaders, no leader's high watermark goes backwards, and afterwards every node's
__cluster_metadata-0 is a prefix of the longest, byte for byte.

Every wait polls with a generous deadline; nothing asserts a duration."""
from cluster import SluiceCluster
from conftest import wait_until
from test_metadata_quorum import agreed_leader, wait_caught_up
from test_replication_network import LeaderWatch, assert_metadata_logs_agree

ELECTION_WAIT = 90.0


def test_rolling_restart_of_the_quorum(tmp_path):
    with SluiceCluster(tmp_path, n=3, controllers=3) as c:
        watch = LeaderWatch(c)

        def agreed():
            watch.observe()
            return agreed_leader(c, [1, 2, 3]) is not None

        wait_until(agreed, ELECTION_WAIT, lambda: f"one leader: {watch.views()}")
        for i in (1, 2, 3):
            watch.observe()
            assert c.stop(i) == 0, f"node {i} did not exit cleanly on SIGTERM"
            c.start(i)
            c.wait_ready(i)
            wait_until(agreed, ELECTION_WAIT, lambda: f"one leader after node {i}'s restart: "
                                                      f"{watch.views()}")
            leader, _ = agreed_leader(c, [1, 2, 3])
            wait_caught_up(c, leader, [1, 2, 3])
        watch.check()
    assert_metadata_logs_agree(c)
