"""kcat (librdkafka 2.0.2 from Debian) against Sluice: `-L` metadata listings, plain and JSON. kcat
sends ApiVersions v3 and Metadata v4 on every connection; -m bounds its metadata wait so a broken
broker fails fast instead of retrying for a minute."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import broker_config

KCAT = shutil.which("kcat")
pytestmark = pytest.mark.skipif(KCAT is None, reason="kcat not installed (scripts/install-deps)")


def no_autocreate_config(workdir):
    """The default test config with auto-creation off, so a missing topic stays missing whatever
    allow-auto-create flag the client sends."""
    text = broker_config(os.path.join(workdir, "data"))
    return text.replace("auto.create.topics.enable: true", "auto.create.topics.enable: false")


def kcat(bootstrap, *args, timeout=30):
    cmd = [KCAT, "-b", bootstrap, "-m", "5", "-X", "reconnect.backoff.max.ms=500", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p


def describe(p):
    return f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"


def test_list_metadata(broker):
    p = kcat(broker.bootstrap, "-L")
    assert p.returncode == 0, describe(p)
    assert f"broker 1 at {broker.host}:{broker.port}" in p.stdout, describe(p)
    assert "1 brokers:" in p.stdout, describe(p)
    assert "0 topics:" in p.stdout, describe(p)
    # The controller id is our own node id, which kcat marks on the broker line.
    assert "(controller)" in p.stdout, describe(p)


def test_list_metadata_json(broker):
    p = kcat(broker.bootstrap, "-L", "-J")
    assert p.returncode == 0, describe(p)
    md = json.loads(p.stdout)
    assert md["brokers"] == [{"id": 1, "name": f"{broker.host}:{broker.port}"}], md
    assert md["controllerid"] == 1, md
    assert md["topics"] == [], md
    assert md["originating_broker"]["id"] == 1, md


def test_missing_topic_reports_error(start_broker, tmp_path):
    b = start_broker(config_text=no_autocreate_config(str(tmp_path)))
    p = kcat(b.bootstrap, "-L", "-t", "nosuch")
    assert p.returncode == 0, describe(p)
    assert 'topic "nosuch"' in p.stdout, describe(p)
    assert "Unknown topic or partition" in p.stdout, describe(p)

    pj = kcat(b.bootstrap, "-L", "-J", "-t", "nosuch")
    assert pj.returncode == 0, describe(pj)
    md = json.loads(pj.stdout)
    assert len(md["topics"]) == 1, md
    topic = md["topics"][0]
    assert topic["topic"] == "nosuch", md
    assert "Unknown topic or partition" in topic.get("error", ""), md
    assert topic.get("partitions", []) == [], md


def test_many_sequential_listings(broker):
    """Ten kcat processes one after another: every connection setup (ApiVersions v3, Metadata v4
    twice) is served, and the broker is still alive after the clients hang up abruptly."""
    for i in range(10):
        p = kcat(broker.bootstrap, "-L", "-J")
        assert p.returncode == 0, f"run {i}: {describe(p)}"
        assert json.loads(p.stdout)["brokers"][0]["id"] == 1
    assert broker.proc.poll() is None, broker.log_text()


def test_bootstrap_to_closed_port_fails_fast():
    """Sanity check of the harness itself: with nothing listening kcat fails within -m, so the
    tests above cannot pass against a dead broker."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = kcat(f"127.0.0.1:{port}", "-L", timeout=30)
    assert p.returncode != 0, describe(p)
