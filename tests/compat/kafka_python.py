"""kafka-python 2.0.2's integration tests (Debian source package `python-kafka`: PyPI's source
distribution leaves most of the test tree out) against Sluice, through kafka_python_plugin.py.
Run by Debian's /usr/bin/python3, which alone sees the python3-* packages they import."""
import os
import time
import xml.etree.ElementTree as ET

from common import FAIL, PASS, ROOT, SKIP, WORK, Result, debian_upstream_source, run_with_deadline

NAME = "kafka-python"
VERSION = "2.0.2"
SOURCE_PACKAGE = "python-kafka"
# Its fixture's broker is node 0 (tests look it up as cluster._brokers[0]).
BROKER_YAML = "node.id: 0\nauto.create.topics.enable: true\nnum.partitions: 4\n"
SRC = os.path.join(WORK, "kafka-python")
# The files whose tests talk to a broker (the rest of the tree tests the client alone).
TEST_FILES = ["test/test_admin_integration.py", "test/test_consumer_group.py",
              "test/test_consumer_integration.py", "test/test_producer.py",
              "test/test_sasl_integration.py"]
# The broker version the suite is told it runs against: kafka-python 2.0.2 infers 2.4 from the
# API versions Sluice advertises (test_kafka_version_infer checks exactly that).
KAFKA_VERSION = "2.4.0"
TEST_TIMEOUT_S = 180
RUN_TIMEOUT_S = 1200


def prepare():
    debian_upstream_source(SOURCE_PACKAGE, VERSION, SRC)


def run(broker, selected, logs):
    junit = os.path.join(logs, "junit.xml")
    if os.path.exists(junit):
        os.remove(junit)
    env = {**os.environ, "SLUICE_BOOTSTRAP": broker.bootstrap, "KAFKA_VERSION": KAFKA_VERSION,
           "PYTHONPATH": os.path.join(ROOT, "tests", "compat"), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = ["/usr/bin/python3", "-m", "pytest", "-p", "kafka_python_plugin", "-p", "no:cacheprovider",
           "-o", "addopts=", "-rs", f"--timeout={TEST_TIMEOUT_S}", f"--junitxml={junit}"]
    cmd += sorted(selected) if selected is not None else TEST_FILES
    start = time.monotonic()
    rc, out = run_with_deadline(cmd, SRC, env, RUN_TIMEOUT_S, os.path.join(logs, "pytest.log"))
    if not os.path.exists(junit):
        return [Result(f, FAIL, time.monotonic() - start, f"pytest exited {rc}: {out[-500:]}")
                for f in (selected or TEST_FILES)]
    results = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        name = f"{path}::{case.get('name')}"
        seconds = float(case.get("time", 0))
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            results.append(Result(name, FAIL, seconds, (failure.get("message") or "")[:300]))
        elif skipped is not None:
            results.append(Result(name, SKIP, seconds, skipped.get("message") or ""))
        else:
            results.append(Result(name, PASS, seconds))
    return results
