"""confluent-kafka-python 1.7.0's integration tests (Debian source package
`python-confluent-kafka`; PyPI's source distribution leaves the tests out).

Not runnable yet: the Debian mirror this project reaches answers 404 for the package's .orig
tarball (and its .debian tarball), so prepare() stops with that reason. When the tarball is
served, run() is to start its tests/integration suite with BROKERS=<Sluice> and a `trivup` stub
module (its fixtures import trivup only to start a cluster, which BROKERS replaces)."""
import os

from common import WORK, debian_upstream_source

NAME = "confluent-kafka-python"
VERSION = "1.7.0"
SOURCE_PACKAGE = "python-confluent-kafka"
BROKER_YAML = "auto.create.topics.enable: true\nnum.partitions: 4\n"
SRC = os.path.join(WORK, "confluent-kafka-python")


def prepare():
    debian_upstream_source(SOURCE_PACKAGE, VERSION, SRC)
    raise RuntimeError("the source arrived: the runner for its tests/integration is still to be written")


def run(broker, selected, logs):
    raise RuntimeError("not runnable: see prepare()")
