"""SluiceCluster: several real build/sluice processes on their own loopback addresses, configured
as one KRaft-style cluster, for the replication tests.

    with SluiceCluster(tmp_path, n=3, controllers=3) as c:   # starts all, waits until ready
        producer = Producer({"bootstrap.servers": c.bootstrap()})
        c.kill(2)                    # SIGKILL node 2 (node ids are 1..n)
        c.restart(2); c.wait_ready(2)

Node i (node.id i, 1-based) runs on 127.0.0.(10+i): Linux routes the whole 127.0.0.0/8 to lo, so
every node has an address of its own and the same ports could even repeat. Its client listener
(PLAINTEXT), controller listener (CONTROLLER, voters only: controller_port is None on a
broker-only node) and HTTP port are chosen free once, when the cluster
is made, and kept across restarts, so controller.quorum.voters (the first `controllers` nodes)
and bootstrap() stay valid. Nodes after the voters run process.roles=broker.

peer_proxies=True (off by default) puts every node's inter-node endpoints behind a PeerProxy
(tests/integration/peer_proxy.py): its controller listener (the voters list names the proxy) and
an extra REPLICATION listener, the inter.broker.listener.name, advertised at the proxy's address,
so partition replication goes through it too. Clients still reach every node directly on its
PLAINTEXT listener. isolate(i) then cuts node i off from its peers both ways (a black hole, as a
network partition), heal(i) restores it.

Each node writes its stderr to node(i).log_path (appended across restarts, one marker line per
start). When a test fails, the logs of the clusters it made (and of running clusters a fixture
made) are attached to its report (the conftest hook calls attach_logs), and every process is
stopped at the end of the `with` block or, at the latest, when the test that made it is torn down
(a cluster made by a fixture: by the fixture, or when the run ends), passed or failed."""
import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from conftest import SLUICE_BIN
from peer_proxy import PeerProxy

# Clusters not yet closed, by the test (pytest node id) that made them.
_LIVE = []
LOG_TAIL_BYTES = 20000


def _free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _yaml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _current_test():
    """(pytest node id, phase: "setup", "call" or "teardown") of the running test, or (None, None)
    outside pytest."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    if not current:
        return None, None
    nodeid, _, phase = current.rpartition(" ")
    return nodeid, phase.strip("()")


class SluiceNode:
    """One node of the cluster: its addresses, files and (while running) its process."""

    def __init__(self, cluster, node_id):
        self.cluster = cluster
        self.node_id = node_id
        self.host = f"127.0.0.{10 + node_id}"
        self.client_port = _free_port(self.host)
        # Only a controller has a controller listener (KRaft refuses one on a broker-only node).
        self.controller_port = None
        while self.is_controller and self.controller_port in (None, self.client_port):
            self.controller_port = _free_port(self.host)
        self.http_port = _free_port(self.host)
        while self.http_port in (self.client_port, self.controller_port):
            self.http_port = _free_port(self.host)
        # With peer_proxies: the inter-broker listener, reached by peers through a proxy.
        self.replication_port = None
        while cluster.peer_proxies and self.replication_port in (
                None, self.client_port, self.controller_port, self.http_port):
            self.replication_port = _free_port(self.host)
        self.controller_proxy = None
        self.replication_proxy = None
        self.workdir = os.path.join(cluster.workdir, f"node{node_id}")
        self.data_dir = os.path.join(self.workdir, "data")
        self.config_path = os.path.join(self.workdir, "sluice.yaml")
        self.log_path = os.path.join(self.workdir, "sluice.log")
        self.proc = None
        self.starts = 0
        os.makedirs(self.workdir, exist_ok=True)

    @property
    def is_controller(self):
        return self.node_id <= self.cluster.controllers

    @property
    def bootstrap(self):
        return f"{self.host}:{self.client_port}"

    @property
    def controller_address(self):
        """Where the other nodes reach this node's controller listener (its proxy, if any)."""
        if self.controller_proxy is not None:
            return self.controller_proxy.address
        return f"{self.host}:{self.controller_port}"

    @property
    def http_url(self):
        return f"http://{self.host}:{self.http_port}"

    def config(self):
        settings = {
            "node.id": self.node_id,
            "log.dirs": self.data_dir,
            "listeners": f"PLAINTEXT://{self.host}:{self.client_port}" +
                         (f",CONTROLLER://{self.host}:{self.controller_port}"
                          if self.is_controller else ""),
        }
        if self.cluster.controllers > 0:
            settings["process.roles"] = "broker,controller" if self.is_controller else "broker"
            settings["controller.quorum.voters"] = self.cluster.voters()
        # controllers=0: independent single nodes (no voters, Sluice's default roles)
        if self.replication_proxy is not None:
            settings["listeners"] += f",REPLICATION://{self.host}:{self.replication_port}"
            settings["advertised.listeners"] = (f"PLAINTEXT://{self.bootstrap},"
                                                f"REPLICATION://{self.replication_proxy.address}")
            settings["inter.broker.listener.name"] = "REPLICATION"
            settings["listener.security.protocol.map"] = (
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,REPLICATION:PLAINTEXT")
        settings.update(self.cluster.extra_config)
        settings.update(self.cluster.node_config.get(self.node_id, {}))
        return "".join(f"{k}: {_yaml_value(v)}\n" for k, v in settings.items())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class SluiceCluster:
    """n build/sluice processes; the first `controllers` are the voters. extra_config: keys set on
    every node (they win over the fixture's own); node_config: {node_id: {key: value}} per node;
    env: extra environment for every process; peer_proxies: see the module's docstring."""

    def __init__(self, tmp_path, n=3, controllers=3, extra_config=None, node_config=None, env=None,
                 ready_timeout=90.0, peer_proxies=False):
        assert 1 <= n <= 200, n
        assert 0 <= controllers <= n, (controllers, n)
        self.workdir = os.path.join(str(tmp_path), "cluster")
        self.n = n
        self.controllers = controllers
        self.extra_config = dict(extra_config or {})
        self.node_config = dict(node_config or {})
        self.env = dict(env or {})
        self.ready_timeout = ready_timeout
        # Made in a test's body: that test owns it (stopped at its teardown at the latest). Made
        # in a fixture (setup): the fixture owns it, and it may serve several tests.
        self.owner, self.phase = _current_test()
        self.peer_proxies = peer_proxies
        self.nodes = [SluiceNode(self, i) for i in range(1, n + 1)]
        self.closed = False
        # Node ids cut off from their peers (isolate/heal), shared by every proxy.
        self.isolated = set()
        self._proxy_lock = threading.Lock()
        self.proxies = []
        if peer_proxies:
            for x in self.nodes:
                if x.is_controller:
                    x.controller_proxy = PeerProxy(x.node_id, (x.host, x.controller_port),
                                                   self.isolated, self._proxy_lock)
                    self.proxies.append(x.controller_proxy)
                x.replication_proxy = PeerProxy(x.node_id, (x.host, x.replication_port),
                                                self.isolated, self._proxy_lock)
                self.proxies.append(x.replication_proxy)
        _LIVE.append(self)

    # ---- addresses

    def node(self, i):
        """Node i, by node id (1..n)."""
        if not 1 <= i <= self.n:
            raise IndexError(f"node {i}: node ids are 1..{self.n}")
        return self.nodes[i - 1]

    def voters(self):
        return ",".join(f"{x.node_id}@{x.controller_address}" for x in self.nodes if x.is_controller)

    def bootstrap(self, nodes=None):
        """bootstrap.servers for clients: every node's client listener (or those of `nodes`)."""
        ids = nodes if nodes is not None else range(1, self.n + 1)
        return ",".join(self.node(i).bootstrap for i in ids)

    # ---- network faults (peer_proxies=True)

    def isolate(self, i):
        """Cuts node i off from every other node, both ways (its controller and replication
        traffic is black-holed); clients still reach it."""
        assert self.peer_proxies, "isolate() needs SluiceCluster(peer_proxies=True)"
        self.node(i)
        with self._proxy_lock:
            self.isolated.add(i)

    def heal(self, i=None):
        """Ends the isolation of node i (of every node if None); the connections black-holed so
        far are closed, so the nodes reconnect."""
        with self._proxy_lock:
            if i is None:
                self.isolated.clear()
            else:
                self.isolated.discard(i)
        for proxy in self.proxies:
            proxy.heal()

    # ---- processes

    def start(self, i):
        """Starts node i (it must not be running); does not wait (see wait_ready)."""
        node = self.node(i)
        assert not node.alive(), f"node {i} is already running"
        with open(node.config_path, "w") as f:
            f.write(node.config())
        node.starts += 1
        env = {**os.environ, **self.env,
               # The file's http.listeners would lose to a test-wide override: set it here.
               "SLUICE_CFG_HTTP_LISTENERS": f"http://{node.host}:{node.http_port}"}
        with open(node.log_path, "a") as log:
            log.write(f"===== cluster.py: start {node.starts} of node {i} at "
                      f"{time.strftime('%H:%M:%S')} =====\n")
            log.flush()
            node.proc = subprocess.Popen([SLUICE_BIN, "serve", "--config", node.config_path],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=env)
        return node

    def start_all(self):
        for node in self.nodes:
            if not node.alive():
                self.start(node.node_id)
        self.wait_all_ready()

    def ready(self, i):
        node = self.node(i)
        if not node.alive():
            return False
        try:
            with urllib.request.urlopen(f"{node.http_url}/readyz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, i, timeout=None):
        """Polls node i's /readyz until it answers 200; raises with its log if the process exits
        or the deadline passes."""
        node = self.node(i)
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        while time.monotonic() < deadline:
            if self.ready(i):
                return node
            if node.proc is None or node.proc.poll() is not None:
                rc = None if node.proc is None else node.proc.returncode
                raise RuntimeError(f"node {i} is not running (exit status {rc}):\n"
                                   f"{node.log_text()[-LOG_TAIL_BYTES:]}")
            time.sleep(0.1)
        raise RuntimeError(f"node {i} not ready after {timeout or self.ready_timeout}s:\n"
                           f"{node.log_text()[-LOG_TAIL_BYTES:]}")

    def wait_all_ready(self, timeout=None):
        for node in self.nodes:
            if node.proc is not None:
                self.wait_ready(node.node_id, timeout)

    def kill(self, i, sig=signal.SIGKILL):
        """Sends sig to node i. SIGKILL (the default) also waits for the process to be gone;
        other signals (SIGSTOP, SIGCONT, SIGTERM) return at once."""
        node = self.node(i)
        assert node.proc is not None, f"node {i} was never started"
        if node.proc.poll() is None:
            node.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            node.proc.wait(30)
        return node

    def stop(self, i, timeout=30.0):
        """SIGTERM, then waits for the exit; returns the exit status (SIGKILL after timeout, and
        then the status says so: -9)."""
        node = self.node(i)
        if node.proc is None:
            return None
        if node.proc.poll() is None:
            node.proc.send_signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            node.proc.send_signal(signal.SIGTERM)
            try:
                node.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
        return node.proc.returncode

    def restart(self, i, sig=signal.SIGTERM):
        """Stops node i (SIGTERM and wait, or kill with sig=SIGKILL) if it runs, then starts it
        again on the same data, ports and configuration. Does not wait for ready."""
        node = self.node(i)
        if node.alive():
            if sig == signal.SIGKILL:
                self.kill(i)
            else:
                self.stop(i)
        return self.start(i)

    def close(self):
        """Stops every node (SIGTERM, then SIGKILL if one hangs). Returns {node_id: exit status}."""
        statuses = {}
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGCONT)
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.proc is None:
                continue
            try:
                node.proc.wait(30)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
            statuses[node.node_id] = node.proc.returncode
        for proxy in self.proxies:
            proxy.stop()
        self.closed = True
        return statuses

    def logs(self):
        """Every node's log, for a failure report: [(title, text)]."""
        return [(f"sluice node {x.node_id} ({x.host}) log", x.log_text()[-LOG_TAIL_BYTES:])
                for x in self.nodes if x.starts > 0]

    def __enter__(self):
        try:
            self.start_all()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        if exc_type is not None and self.owner is None:
            # Outside pytest nobody attaches the logs: print them.
            for title, text in self.logs():
                print(f"----- {title} -----\n{text}", file=sys.stderr)
        return False


def attach_logs(item, report):
    """conftest's makereport hook: a failed phase of a test gets the logs of the clusters it made
    and of the fixture-made clusters still running (which it may have used)."""
    if not report.failed:
        return
    for cluster in _LIVE:
        if cluster.owner == item.nodeid or (cluster.phase == "setup" and not cluster.closed):
            for title, text in cluster.logs():
                report.sections.append((title, text))


def close_test_clusters(item):
    """conftest's teardown hook: stops the clusters the test's body made and left running, and
    forgets every closed one. A cluster a fixture made is the fixture's to stop."""
    for cluster in list(_LIVE):
        if cluster.owner == item.nodeid and cluster.phase == "call" and not cluster.closed:
            cluster.close()
        if cluster.closed:
            _LIVE.remove(cluster)


@atexit.register
def _close_all():
    """Nothing outlives the test run, whoever forgot to stop it."""
    for cluster in _LIVE:
        if not cluster.closed:
            cluster.close()
