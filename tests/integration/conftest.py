"""Shared fixtures: start the real build/sluice on loopback (port 0, the bound port read back from
its log) with inline YAML, and stop it afterwards. Every integration test goes through these."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SLUICE_BIN = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "build", "sluice"))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared"))
LISTENING = re.compile(r"listening name=(\S+) host=(\S+) port=(\d+)")
HTTP_LISTENING = re.compile(r"http listening host=(\S+) port=(\d+)")
# Test brokers serve HTTP on a free loopback port unless a test says otherwise (the default,
# 0.0.0.0:9644, would clash between brokers running at once).
HTTP_TEST_ENV = {"SLUICE_CFG_HTTP_LISTENERS": "http://127.0.0.1:0"}


def pytest_report_header(config):
    backend = os.environ.get("SLUICE_CFG_STORAGE_IO_BACKEND", "from the config (default auto)")
    return f"sluice storage.io.backend: {backend}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that made a SluiceCluster (cluster.py) gets its nodes' logs in the report."""
    outcome = yield
    cluster = sys.modules.get("cluster")
    if cluster is not None:
        cluster.attach_logs(item, outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Whatever cluster a test left running is stopped when the test is torn down."""
    yield
    cluster = sys.modules.get("cluster")
    if cluster is not None:
        cluster.close_test_clusters(item)


class Broker:
    """One running build/sluice process. Its stderr is collected line by line in .log_lines."""

    def __init__(self, config_text, workdir, env=None, command=None, launcher=()):
        """command: how to start it, when not `sluice serve --config <workdir>/sluice.yaml`;
        launcher: argv put in front of it (tests/seccomp/deny_io_uring)."""
        self.workdir = workdir
        self.config_path = os.path.join(workdir, "sluice.yaml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.log_lines = []
        self._lines_cond = threading.Condition()
        self.proc = subprocess.Popen(
            [*launcher, *(command or [SLUICE_BIN, "serve", "--config", self.config_path])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, **HTTP_TEST_ENV, **(env or {})}, text=True)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self.listeners = self._wait_listening()
        name, (host, port) = next(iter(self.listeners.items()))
        self.host, self.port = host, port
        self.bootstrap = f"{host}:{port}"
        http = [HTTP_LISTENING.search(l) for l in self.log_lines]
        http = [m for m in http if m]
        # The first HTTP listener's base URL (/metrics, /healthz, /readyz), None without one.
        self.http_url = f"http://{http[0].group(1)}:{http[0].group(2)}" if http else None

    def _read_stderr(self):
        for line in self.proc.stderr:
            with self._lines_cond:
                self.log_lines.append(line.rstrip("\n"))
                self._lines_cond.notify_all()

    def _wait_listening(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        found = {}
        with self._lines_cond:
            while time.monotonic() < deadline:
                for line in self.log_lines:
                    m = LISTENING.search(line)
                    if m:
                        found[m.group(1)] = (m.group(2), int(m.group(3)))
                if found and any("broker started" in l for l in self.log_lines):
                    return found
                if self.proc.poll() is not None:
                    break
                self._lines_cond.wait(0.1)
        self.stop()
        raise RuntimeError("sluice did not start:\n" + "\n".join(self.log_lines))

    def log_text(self):
        with self._lines_cond:
            return "\n".join(self.log_lines)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stops the broker and returns its exit status (never leaves it running)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return self.proc.returncode


def wait_until(pred, timeout, what):
    """Polls pred every 0.1 s until it is true; fails the test after timeout seconds, saying what
    (a string, or a callable for a message built at the time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what() if callable(what) else what}")


def broker_config(log_dir, extra=""):
    return (f"node.id: 1\n"
            f"log.dirs: {log_dir}\n"
            f"listeners: PLAINTEXT://127.0.0.1:0\n"
            f"auto.create.topics.enable: true\n"
            f"num.partitions: 4\n" + extra)


@pytest.fixture
def start_broker(tmp_path):
    """Factory: start_broker(extra_yaml="", env=None, launcher=()) -> Broker; all are stopped after
    the test. launcher: argv put before build/sluice (tests/seccomp/deny_io_uring)."""
    started = []

    def start(extra="", env=None, config_text=None, launcher=()):
        workdir = tempfile.mkdtemp(dir=tmp_path)
        text = config_text if config_text is not None else broker_config(os.path.join(workdir, "data"), extra)
        b = Broker(text, workdir, env, launcher=launcher)
        started.append(b)
        return b

    yield start
    crashed = []
    for b in started:
        rc = b.stop()
        if rc not in (0, -signal.SIGKILL) and not getattr(b, "expect_failure", False):
            crashed.append((rc, b.log_text()[-3000:]))
    assert not crashed, f"a broker did not exit cleanly: {crashed}"


@pytest.fixture
def broker(start_broker):
    """A single broker with the default test configuration."""
    return start_broker()
