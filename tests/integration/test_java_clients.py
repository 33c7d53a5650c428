"""Apache Kafka 4.0.0's Java tools and AdminClient against the reference Kafka and against Sluice.

- TopicCommand --list: exit 0, no topics.
- BrokerApiVersionsCommand: lists the broker, ApiVersions and Metadata usable.
- AdminClient (java/src/AdminProbe.java, compiled here with javac): describeCluster, listTopics,
  describeFeatures. Sluice does not advertise DescribeCluster (60) yet, so the client must fall
  back to Metadata.

The jars come from build/kafka-libs (scripts/install-deps); their absence fails the tests.
"""
import json
import os
import re
import subprocess

import pytest

import kproto
from kafka_ref import (ROOT, java_cmd, kafka_ref, require_libs, sluice_module,  # noqa: F401
                       target, write_log4j2)

PROBE_SRC = os.path.join(ROOT, "tests", "integration", "java", "src", "AdminProbe.java")


@pytest.fixture(scope="session")
def tools_log4j(tmp_path_factory):
    """The tools log WARN and above to a file, keeping stdout for their real output."""
    d = tmp_path_factory.mktemp("java-tools")
    return write_log4j2(str(d / "log4j2.properties"), str(d / "tools.log"), "WARN")


@pytest.fixture(scope="session")
def admin_probe_classes(tmp_path_factory):
    cp = require_libs()
    out = str(tmp_path_factory.mktemp("admin-probe-classes"))
    r = subprocess.run(["javac", "-nowarn", "-cp", cp, "-d", out, PROBE_SRC],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    return out


def run_java(main_class, *args, log_config=None, classpath_extra=None, timeout=120):
    cmd = java_cmd(main_class, *args, log_config=log_config)
    if classpath_extra:
        i = cmd.index("-cp") + 1
        cmd[i] = classpath_extra + os.pathsep + cmd[i]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_topic_command_list(target, tools_log4j):
    r = run_java("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", target.bootstrap,
                 "--list", log_config=tools_log4j)
    assert r.returncode == 0, r.stdout + r.stderr
    # neither broker has a user topic (the shared reference may hold __consumer_offsets)
    assert [l for l in r.stdout.split() if not l.startswith("__")] == []
    assert "Exception" not in r.stderr, r.stderr


def test_broker_api_versions_command(target, tools_log4j):
    r = run_java("org.apache.kafka.tools.BrokerApiVersionsCommand", "--bootstrap-server",
                 target.bootstrap, log_config=tools_log4j)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    # One broker block: "127.0.0.1:PORT (id: 1 rack: null ...) -> ("
    heads = re.findall(r"^(\S+) \(id: (\d+) rack: (\S+?)[ )].*-> \($", out, re.M)
    assert heads == [(f"127.0.0.1:{target.port}", "1", "null")], out
    # The Java 4.0 client's maxima: ApiVersions 4, Metadata 13.
    meta_max = 13 if target.is_kafka else 12
    assert f"ApiVersions(18): 0 to 4 [usable: 4]" in out, out
    assert f"Metadata(3): 0 to {meta_max} [usable: {meta_max}]" in out, out
    if not target.is_kafka:
        advertised = kproto.request(target.bootstrap, 18, 3, {"ClientSoftwareName": "t",
                                    "ClientSoftwareVersion": "1"})["ApiKeys"]
        if not any(a["ApiKey"] == 0 for a in advertised):
            assert "Produce(0): UNSUPPORTED" in out, out


def test_admin_client_probe(target, admin_probe_classes, tools_log4j):
    r = run_java("AdminProbe", target.bootstrap, log_config=tools_log4j,
                 classpath_extra=admin_probe_classes)
    assert r.stdout.strip(), r.stderr
    got = json.loads(r.stdout)
    assert r.returncode == 0, got
    assert got["nodes"] == [{"id": 1, "host": "127.0.0.1", "port": target.port, "rack": None}]
    assert got["controller"] is not None and got["controller"]["id"] == 1
    # internal topics (the shared reference may hold __consumer_offsets) are not user topics
    assert [t for t in got["topics"] if not t.startswith("__")] == []
    if target.is_kafka:
        assert got["cluster_id"] == target.server.cluster_id
        assert "metadata.version" in got["supported_features"]
    else:
        assert isinstance(got["cluster_id"], str) and got["cluster_id"], got
        # The same cluster id as Sluice reports over Metadata.
        md = kproto.request(target.bootstrap, 3, 12, {"Topics": None})
        assert got["cluster_id"] == md["ClusterId"]
