"""franz-go (kgo + kadm, pinned in tests/integration/go) against the reference Kafka and against
Sluice: tests/integration/go/main.go prints what kadm sees (brokers, cluster id, controller,
topics, each broker's ApiVersions) as JSON. It is built once per session into a temp dir.
"""
import json
import os
import shutil
import subprocess

import pytest

import kproto
from kafka_ref import ROOT, kafka_ref, sluice_module, target  # noqa: F401

GO_DIR = os.path.join(ROOT, "tests", "integration", "go")


@pytest.fixture(scope="session")
def kadm_probe(tmp_path_factory):
    if shutil.which("go") is None:
        pytest.fail("go is not installed", pytrace=False)
    exe = str(tmp_path_factory.mktemp("kadmprobe") / "kadmprobe")
    # -mod=readonly: go.mod/go.sum are the pins; module downloads come from install-deps.
    r = subprocess.run(["go", "build", "-mod=readonly", "-o", exe, "."], cwd=GO_DIR,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return exe


def test_franz_go_kadm(target, kadm_probe):
    r = subprocess.run([kadm_probe, "-brokers", target.bootstrap, "-timeout", "30s"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.stdout.strip(), r.stderr
    got = json.loads(r.stdout)
    assert r.returncode == 0, got
    assert got["brokers"] == [{"node_id": 1, "host": "127.0.0.1", "port": target.port}]
    assert got["controller"] == 1
    # internal topics (the shared reference may hold __consumer_offsets) are not user topics
    assert [t for t in got["topics"] if not t.startswith("__")] == []
    assert list(got["api_versions"]) == ["1"]
    keys = got["api_versions"]["1"]["keys"]
    assert keys["18"] == [0, 4]
    if target.is_kafka:
        assert got["cluster_id"] == target.server.cluster_id
        assert keys["3"] == [0, 13]
    else:
        md = kproto.request(target.bootstrap, 3, 12, {"Topics": None})
        assert got["cluster_id"] == md["ClusterId"] and got["cluster_id"]
        assert keys["3"] == [0, 12]
        # kadm reports exactly what Sluice advertises.
        adv = kproto.request(target.bootstrap, 18, 3, {"ClientSoftwareName": "t",
                             "ClientSoftwareVersion": "1"})["ApiKeys"]
        assert keys == {str(a["ApiKey"]): [a["MinVersion"], a["MaxVersion"]] for a in adv}
