"""pytest plugin for kafka-python 2.0.2's own integration tests: their fixtures start a ZooKeeper
and a Kafka from a downloaded distribution; this hands them the running Sluice instead
(SLUICE_BOOTSTRAP=host:port). Everything else in their fixtures (topic creation through Metadata
auto-creation or CreateTopics, the clients they build) runs unchanged.

Loaded with `-p kafka_python_plugin` from the suite's source folder (tests/compat/kafka_python.py)."""
import os

import pytest
import test.fixtures as fixtures


class _NoZookeeper:
    """Sluice keeps its metadata itself; the suite's `zookeeper` fixture only passes this along."""
    host, port = "127.0.0.1", 0

    def close(self):
        pass


class SluiceKafkaFixture(fixtures.KafkaFixture):
    """The suite's KafkaFixture for an already-running Sluice: open/close start and stop nothing."""

    @classmethod
    def instance(cls, broker_id, zookeeper, zk_chroot=None, host=None, port=None,
                 transport="PLAINTEXT", replicas=1, partitions=2, sasl_mechanism=None,
                 auto_create_topic=True, tmp_dir=None):
        if transport != "PLAINTEXT" or sasl_mechanism is not None:
            pytest.skip(f"needs a {transport} listener with SASL {sasl_mechanism}: Sluice has no SASL/SSL yet")
        if broker_id != 0:
            pytest.skip("needs more than one broker: Sluice runs a single node until replication")
        if replicas != 1:
            pytest.skip(f"needs replication factor {replicas}: single node")
        sluice_host, sluice_port = os.environ["SLUICE_BOOTSTRAP"].rsplit(":", 1)
        fixture = cls(sluice_host, int(sluice_port), broker_id, zookeeper, zk_chroot or "sluice",
                      replicas=replicas, partitions=partitions, transport=transport,
                      auto_create_topic=auto_create_topic, tmp_dir=tmp_dir)
        fixture.open()
        return fixture

    def open(self):
        (self._client,) = self.get_clients(1, client_id="_internal_client")
        self.running = True

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        self.running = False


fixtures.ZookeeperFixture.instance = classmethod(lambda cls: _NoZookeeper())
fixtures.KafkaFixture.instance = SluiceKafkaFixture.instance
