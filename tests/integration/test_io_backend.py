"""storage.io.backend against the real build/sluice: which disk backend start-up picks, the one log
line that says why, and produce/consume through it. The fallback is forced the way a container's
default seccomp profile forces it: build/release/tests/seccomp/deny_io_uring (libseccomp) makes
io_uring_setup/enter/register fail with EPERM (Docker, containerd) or ENOSYS, then execs Sluice.

- auto under the filter picks sync, logs why, and serves kcat's records back exactly;
- io_uring forced under the filter refuses to start with a clear error and a nonzero exit;
- auto without the filter picks io_uring on a kernel that allows it (kernel.io_uring_disabled=0),
  and sync when configured.
Runtime a few seconds. The log and crash tests run once per backend from `make test`.
"""
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import HTTP_TEST_ENV, LISTENING, ROOT, SLUICE_BIN, broker_config

KCAT = shutil.which("kcat")
DENY = os.environ.get("SLUICE_DENY_IO_URING",
                      os.path.join(ROOT, "build", "release", "tests", "seccomp", "deny_io_uring"))
CHOICE = re.compile(r'storage io backend=(\S+) reason="([^"]*)"')
pytestmark = pytest.mark.skipif(KCAT is None, reason="kcat not installed (scripts/install-deps)")


def backend_env(value):
    return {"SLUICE_CFG_STORAGE_IO_BACKEND": value}


def choice(broker):
    found = CHOICE.findall(broker.log_text())
    assert len(found) == 1, broker.log_text()[-2000:]
    return found[0]


def io_uring_allowed_here():
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return f.read().strip() == "0"
    except FileNotFoundError:
        return True  # before Linux 6.6 nothing but seccomp can deny it


def produce_and_consume(broker, count=500):
    topic = f"io-{uuid.uuid4().hex[:8]}"
    lines = [f"k{i}:value-{i}-" + "x" * (i % 300) for i in range(count)]
    p = subprocess.run([KCAT, "-b", broker.bootstrap, "-P", "-t", topic, "-K:", "-X", "acks=all"],
                       input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([KCAT, "-b", broker.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                        "-f", "%p %k:%s\n"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    got = {}
    for line in p.stdout.splitlines():
        part, record = line.split(" ", 1)
        got.setdefault(part, []).append(record)
    assert sorted(r for rs in got.values() for r in rs) == sorted(lines)
    for records in got.values():  # per-partition order is production order
        assert records == sorted(records, key=lines.index)


@pytest.mark.parametrize("err", ["EPERM", "ENOSYS"])
def test_auto_falls_back_to_sync_under_seccomp(start_broker, err):
    assert os.access(DENY, os.X_OK), f"{DENY} missing: make build"
    b = start_broker(env=backend_env("auto"), launcher=(DENY, "--errno", err))
    backend, reason = choice(b)
    assert backend == "sync"
    expected = "Operation not permitted" if err == "EPERM" else "Function not implemented"
    assert "io_uring unusable: io_uring_setup failed" in reason and expected in reason
    assert "seccomp" in reason
    assert "backend=sync" in b.log_text()  # the log dir line agrees
    produce_and_consume(b)


def test_forced_io_uring_under_seccomp_fails_start(tmp_path):
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text(broker_config(str(tmp_path / "data")))
    p = subprocess.run([DENY, SLUICE_BIN, "serve", "--config", str(cfg)],
                       env={**os.environ, **HTTP_TEST_ENV, **backend_env("io_uring")},
                       stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, p.stderr
    assert "cannot open storage.io.backend=io_uring" in p.stderr, p.stderr
    assert "io_uring_setup failed: Operation not permitted" in p.stderr, p.stderr
    assert not LISTENING.search(p.stderr), p.stderr  # no Kafka listener ever served


@pytest.mark.skipif(not io_uring_allowed_here(), reason="kernel.io_uring_disabled is set here")
def test_auto_picks_io_uring_when_allowed(start_broker):
    b = start_broker(env=backend_env("auto"))
    backend, reason = choice(b)
    assert backend == "io_uring", reason
    assert "WRITEV/FSYNC/READ supported" in reason
    produce_and_consume(b)


def test_sync_when_configured(start_broker):
    b = start_broker(env=backend_env("sync"))
    assert choice(b) == ("sync", "configured")
    produce_and_consume(b, count=50)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 3 MiB tmpfs for a log dir (we run as root; without permission the test cannot run)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "sluice-enospc", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("backend", ["io_uring", "sync"])
def test_disk_full_fails_produce_and_keeps_acknowledged(start_broker, small_tmpfs, backend):
    """Fill the log dir's disk: producers get errors (never a false acknowledgement), the broker
    stays up and exits cleanly, and after a restart every acknowledged record reads back."""
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
    text = broker_config(str(small_tmpfs / "data"), "log.segment.bytes: 1048576\n")
    text = text.replace("num.partitions: 4", "num.partitions: 1")
    b = start_broker(config_text=text, env=backend_env(backend))
    assert choice(b)[0] == backend
    topic = f"full-{uuid.uuid4().hex[:8]}"
    acked, failed = [], []

    def report(err, msg):
        (failed if err else acked).append(msg.value() if not err else err)

    prod = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5,
                     "message.timeout.ms": 8000, "enable.idempotence": False})
    value = b"v" * 1000

    def produce(first, count):
        for i in range(first, first + count):
            while True:
                try:
                    prod.produce(topic, value=b"%06d" % i + value, on_delivery=report)
                    break
                except BufferError:
                    prod.poll(0.1)
            prod.poll(0)
        assert prod.flush(60) == 0

    produce(0, 500)  # fits: every one acknowledged
    assert len(acked) == 500 and not failed, failed[:3]
    produce(500, 6000)  # ~6 MB more into 3 MiB: some acknowledged, the rest refused
    assert failed, "the disk never filled"
    assert all(e.code() == KafkaError.KAFKA_STORAGE_ERROR or e.code() == KafkaError._MSG_TIMED_OUT
               for e in failed), failed[:3]
    assert "log dir offline" in b.log_text() and "No space left on device" in b.log_text()
    assert b.stop() == 0  # no crash, no hang
    b2 = start_broker(config_text=text, env=backend_env(backend))
    cons = Consumer({"bootstrap.servers": b2.bootstrap, "group.id": "g", "enable.auto.commit": False})
    cons.assign([TopicPartition(topic, 0, 0)])
    got = []
    end = time.monotonic() + 60
    while len(got) < len(acked) and time.monotonic() < end:
        m = cons.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    cons.close()
    assert set(acked) <= set(got), f"{len(set(acked) - set(got))} acknowledged records lost"
