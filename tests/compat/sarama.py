"""Sarama's functional suite (module github.com/IBM/sarama, build tag `functional`, the version
pinned in tests/compat/sarama/go.mod) against five Sluice brokers.

The suite expects what its docker compose file gives it: five brokers reached at
127.0.0.1:29091-29095 through toxiproxy proxies named kafka1..kafka5 (tests cut and slow brokers
through them), TOXIPROXY_ADDR pointing at toxiproxy's API and KAFKA_VERSION naming the broker's
version. Here the five brokers are build/sluice processes of tests/integration/cluster.py on
127.0.0.11-15 (node ids 1-5, the first three the metadata quorum's voters), each advertising its
proxy's address, and toxiproxy's server is the one scripts/install-deps builds from the Go module
proxy (pinned by the same go.mod). Its TestMain creates its topics with replication factor 3, so
the suite needs partition replication: it is not in the default gate (docs/compatibility.md)."""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import FAIL, ROOT, WORK, Result, run_go_test_binary, run_logged

sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from cluster import SluiceCluster  # noqa: E402

NAME = "sarama"
PIN_DIR = os.path.join(ROOT, "tests", "compat", "sarama")
BUILD = os.path.join(WORK, "sarama")
BINARY = os.path.join(BUILD, "sarama.test")
TOXIPROXY = os.path.join(ROOT, "build", "tools", "toxiproxy-server")
# Sluice speaks Kafka 3.9's protocol (inter.broker.protocol.version 3.9-IV0): tests that need a
# newer broker skip themselves.
KAFKA_VERSION = "3.9.0"
PROXY_PORTS = [29091, 29092, 29093, 29094, 29095]
RUN_TIMEOUT_S = 1800
BROKER_CONFIG = {"auto.create.topics.enable": True, "delete.topic.enable": True,
                 "num.partitions": 1}


def _pinned_version():
    with open(os.path.join(PIN_DIR, "go.mod")) as f:
        return re.search(r"github.com/IBM/sarama (v\S+)", f.read()).group(1)


VERSION = _pinned_version()


def prepare():
    if not os.access(TOXIPROXY, os.X_OK):
        raise RuntimeError(f"{TOXIPROXY} is missing: run scripts/install-deps")
    os.makedirs(BUILD, exist_ok=True)
    stamp = os.path.join(BUILD, "built-from.sum")
    with open(os.path.join(PIN_DIR, "go.sum")) as f:
        pins = f.read()
    package_dir = os.path.join(BUILD, "package-dir")
    if (os.path.exists(BINARY) and os.path.exists(package_dir) and os.path.exists(stamp)
            and open(stamp).read() == pins):
        return
    run_logged(["go", "test", "-c", "-tags", "functional", "-o", BINARY, "github.com/IBM/sarama"],
               PIN_DIR, os.path.join(WORK, "sarama-build.log"))
    run_logged(["go", "list", "-f", "{{.Dir}}", "github.com/IBM/sarama"], PIN_DIR, package_dir)
    with open(stamp, "w") as f:
        f.write(pins)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


class Brokers:
    """The five Sluice nodes and the toxiproxy server in front of them; what run.py calls the
    suite's broker (bootstrap, log_text(), stop())."""

    def __init__(self):
        for port in PROXY_PORTS:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    raise RuntimeError(f"127.0.0.1:{port} is in use: Sarama's suite needs "
                                       f"29091-29095 free for its toxiproxy proxies")
        self.workdir = tempfile.mkdtemp(prefix="sluice-sarama-", dir=WORK)
        self.cluster = SluiceCluster(
            self.workdir, n=5, controllers=3, extra_config=BROKER_CONFIG,
            node_config={i: {"advertised.listeners": f"PLAINTEXT://127.0.0.1:{PROXY_PORTS[i - 1]}"}
                         for i in range(1, 6)})
        self.toxiproxy_addr = f"http://127.0.0.1:{_free_port()}"
        self.toxiproxy_log = os.path.join(self.workdir, "toxiproxy.log")
        self.toxiproxy = None
        try:
            self.cluster.start_all()
            port = self.toxiproxy_addr.rsplit(":", 1)[1]
            with open(self.toxiproxy_log, "w") as out:
                self.toxiproxy = subprocess.Popen([TOXIPROXY, "-host", "127.0.0.1", "-port", port],
                                                  stdout=out, stderr=subprocess.STDOUT,
                                                  stdin=subprocess.DEVNULL)
            self._wait_toxiproxy()
            for i, listen in enumerate(PROXY_PORTS, start=1):
                _api(self.toxiproxy_addr, "POST", "/proxies",
                     {"name": f"kafka{i}", "listen": f"127.0.0.1:{listen}",
                      "upstream": self.cluster.node(i).bootstrap, "enabled": True})
        except BaseException:
            self.stop()
            raise
        self.bootstrap = ",".join(f"127.0.0.1:{p}" for p in PROXY_PORTS)

    def _wait_toxiproxy(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.toxiproxy.poll() is not None:
                raise RuntimeError(f"toxiproxy-server exited {self.toxiproxy.returncode}")
            try:
                _api(self.toxiproxy_addr, "GET", "/version")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"toxiproxy-server not answering on {self.toxiproxy_addr}")

    def log_text(self):
        parts = [f"===== {title} =====\n{text}" for title, text in self.cluster.logs()]
        if os.path.exists(self.toxiproxy_log):
            with open(self.toxiproxy_log, errors="replace") as f:
                parts.append(f"===== toxiproxy =====\n{f.read()[-20000:]}")
        return "\n".join(parts)

    def stop(self):
        """Stops toxiproxy and the brokers; returns 0, or the first broker's non-zero status."""
        if self.toxiproxy is not None and self.toxiproxy.poll() is None:
            self.toxiproxy.terminate()
            try:
                self.toxiproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.toxiproxy.kill()
                self.toxiproxy.wait()
        statuses = self.cluster.close()
        bad = [rc for rc in statuses.values() if rc != 0]
        return bad[0] if bad else 0


def start_brokers():
    return Brokers()


def run(brokers, selected, logs):
    env = {**os.environ, "TOXIPROXY_ADDR": brokers.toxiproxy_addr, "KAFKA_VERSION": KAFKA_VERSION}
    with open(os.path.join(BUILD, "package-dir")) as f:
        package_dir = f.read().strip().splitlines()[-1]
    flags = [f"-test.run=^({'|'.join(sorted(selected))})$"] if selected is not None else []
    start = time.monotonic()
    results = run_go_test_binary(BINARY, flags, package_dir, env, RUN_TIMEOUT_S,
                                 os.path.join(logs, "sarama.log"))
    if not results:
        # TestMain failed before any test ran (its topic setup): that is the suite's one result.
        with open(os.path.join(logs, "sarama.log"), errors="replace") as f:
            out = f.read()
        panic = re.search(r"^panic: (.*)$", out, re.M)
        results["TestMain"] = Result("TestMain", FAIL, time.monotonic() - start,
                                     panic.group(1) if panic else out[-300:])
    return list(results.values())

