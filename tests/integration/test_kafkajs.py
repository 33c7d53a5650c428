"""kafkajs 2.2.4 (tests/integration/node, installed by npm ci in scripts/install-deps) against the
reference Kafka and against Sluice: admin connect, describeCluster, listTopics, disconnect.
kafkajs negotiates ApiVersions v2 (walking down to v0 on UNSUPPORTED_VERSION) and Metadata <= v6.
"""
import json
import os
import subprocess

import pytest

import kproto
from kafka_ref import ROOT, kafka_ref, sluice_module, target  # noqa: F401

NODE_DIR = os.path.join(ROOT, "tests", "integration", "node")


def run_probe(bootstrap):
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "kafkajs")):
        pytest.fail("kafkajs missing in tests/integration/node; run scripts/install-deps",
                    pytrace=False)
    r = subprocess.run(["node", os.path.join(NODE_DIR, "admin_probe.js"), bootstrap],
                       capture_output=True, text=True, timeout=60, cwd=NODE_DIR,
                       stdin=subprocess.DEVNULL)
    assert r.stdout.strip(), r.stderr
    return r.returncode, json.loads(r.stdout), r.stderr


def test_kafkajs_admin(target):
    rc, got, stderr = run_probe(target.bootstrap)
    assert rc == 0, (got, stderr)
    assert got["connected"] is True
    assert got["brokers"] == [{"node_id": 1, "host": "127.0.0.1", "port": target.port}]
    assert got["controller"] == 1
    # internal topics (the shared reference may hold __consumer_offsets) are not user topics
    assert [t for t in got["topics"] if not t.startswith("__")] == []
    if target.is_kafka:
        assert got["cluster_id"] == target.server.cluster_id
    else:
        md = kproto.request(target.bootstrap, 3, 6, {"Topics": None})
        assert got["cluster_id"] == md["ClusterId"] and got["cluster_id"]
