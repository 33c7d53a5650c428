"""The reference Apache Kafka 4.0.0 broker for differential and client tests.

KafkaRef starts a single-node KRaft Kafka (broker + controller in one JVM) from the jars that
scripts/install-deps copied into build/kafka-libs, on 127.0.0.1 with free ports, waits until its
Metadata lists the broker, and kills its whole process group on exit (it is never left running):

    with KafkaRef(tmpdir) as k:
        k.bootstrap  # "127.0.0.1:N"

The session-scoped pytest fixture `kafka_ref` starts one for the whole test session. Missing jars
make it fail, not skip: install-deps is supposed to have installed them.
"""
import os
import signal
import socket
import subprocess
import time

import pytest

import kproto

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KAFKA_VERSION = "4.0.0"
LIBS = os.environ.get("SLUICE_KAFKA_LIBS", os.path.join(ROOT, "build", "kafka-libs"))
# 22 url-safe base64 characters, not starting with '-'.
REF_CLUSTER_ID = "SluiceRefKafka40000000"
# Short-lived JVMs (tools, probes) start faster with the C1 compiler only.
JAVA_TOOL_OPTS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"]

LOG4J2_CONFIG = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = {level}
logger.apache.name = org.apache.kafka
logger.apache.level = {level}
"""


def require_libs():
    """Fails the calling test if install-deps has not put the Kafka jars in build/kafka-libs."""
    jar = os.path.join(LIBS, f"kafka_2.13-{KAFKA_VERSION}.jar")
    tools = os.path.join(LIBS, f"kafka-tools-{KAFKA_VERSION}.jar")
    missing = [p for p in (jar, tools) if not os.path.exists(p)]
    if missing:
        pytest.fail(f"Kafka jars missing ({', '.join(missing)}); run scripts/install-deps",
                    pytrace=False)
    return os.path.join(LIBS, "*")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_log4j2(path, log_file, level="INFO"):
    with open(path, "w") as f:
        f.write(LOG4J2_CONFIG.format(log=log_file, level=level))
    return path


def java_cmd(main_class, *args, heap="256m", extra_opts=(), log_config=None):
    """A java command line on the Kafka classpath (tools and probes)."""
    cmd = ["java", f"-Xmx{heap}", *JAVA_TOOL_OPTS, *extra_opts]
    if log_config:
        cmd.append(f"-Dlog4j2.configurationFile={log_config}")
    return cmd + ["-cp", require_libs(), main_class, *args]


class KafkaRef:
    """One single-node KRaft Apache Kafka on loopback, in `workdir`."""

    def __init__(self, workdir, node_id=1, cluster_id=REF_CLUSTER_ID, extra_props=None,
                 start_timeout=90.0):
        self.workdir = os.path.abspath(str(workdir))
        self.node_id = node_id
        self.cluster_id = cluster_id
        self.extra_props = dict(extra_props or {})
        self.start_timeout = start_timeout
        self.host = "127.0.0.1"
        self.port = None
        self.controller_port = None
        self.proc = None
        self.bootstrap = None
        self.log_file = os.path.join(self.workdir, "kafka.log")
        self.out_file = os.path.join(self.workdir, "kafka.out")

    # -- configuration -----------------------------------------------------------------------

    def properties(self):
        props = {
            "process.roles": "broker,controller",
            "node.id": self.node_id,
            "controller.quorum.voters": f"{self.node_id}@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": os.path.join(self.workdir, "data"),
            "num.partitions": 1,
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            # Differential tests ask for unknown topics: they must stay unknown, as in Sluice's
            # test configuration where auto-creation is also off for those tests.
            "auto.create.topics.enable": "false",
        }
        props.update(self.extra_props)
        return props

    def _write_config(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.config_path = os.path.join(self.workdir, "server.properties")
        with open(self.config_path, "w") as f:
            for k, v in self.properties().items():
                f.write(f"{k}={v}\n")
        self.log4j_path = write_log4j2(os.path.join(self.workdir, "log4j2.properties"),
                                       self.log_file)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self):
        cp = require_libs()
        self.port, self.controller_port = free_port(), free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()
        self._write_config()
        log_opt = f"-Dlog4j2.configurationFile={self.log4j_path}"
        fmt = subprocess.run(
            ["java", "-Xmx256m", *JAVA_TOOL_OPTS, log_opt, "-cp", cp, "kafka.tools.StorageTool",
             "format", "-t", self.cluster_id, "-c", self.config_path],
            capture_output=True, text=True, timeout=120)
        if fmt.returncode != 0:
            raise RuntimeError(f"kafka storage format failed:\n{fmt.stdout}\n{fmt.stderr}")
        with open(self.out_file, "w") as out:
            self.proc = subprocess.Popen(
                ["java", "-Xmx512m", "-Xms512m", log_opt, "-cp", cp, "kafka.Kafka",
                 self.config_path],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.workdir)
        self.bootstrap = f"{self.host}:{self.port}"
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        last_err = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kafka exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                body = kproto.request(self.bootstrap, 3, 12, {"Topics": []})
                if any(b["NodeId"] == self.node_id for b in body["Brokers"]):
                    return
                last_err = f"metadata lists no broker: {body}"
            except (OSError, ValueError) as e:
                last_err = repr(e)
            time.sleep(0.25)
        raise RuntimeError(f"kafka not ready after {self.start_timeout}s ({last_err}):\n{self.tail()}")

    def tail(self, n=40):
        lines = []
        for path in (self.out_file, self.log_file):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    lines += f.read().splitlines()[-n:]
        return "\n".join(lines)

    def stop(self, timeout=20.0):
        """Stops the whole process group: SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        else:
            # The JVM is gone; make sure nothing else it started survives.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# Test modules import the fixture below, and pytest then registers one session fixture per
# importing module; this reference count makes them all share one JVM.
_shared = {"ref": None, "users": 0, "failed": None}


@pytest.fixture(scope="session")
def kafka_ref(tmp_path_factory):
    """One reference Kafka 4.0.0 for the whole session."""
    require_libs()
    if _shared["failed"]:
        pytest.fail(f"reference Kafka did not start: {_shared['failed']}", pytrace=False)
    if _shared["ref"] is None:
        try:
            _shared["ref"] = KafkaRef(tmp_path_factory.mktemp("kafka-ref")).start()
        except Exception as e:  # one failed start is enough: don't retry per module
            _shared["failed"] = str(e)
            raise
    _shared["users"] += 1
    try:
        yield _shared["ref"]
    finally:
        _shared["users"] -= 1
        if _shared["users"] == 0:
            _shared["ref"].stop()
            _shared["ref"] = None


def start_sluice(workdir, auto_create=True):
    """A Sluice (conftest.Broker, default test configuration) that a module-scoped fixture can
    share between tests; the caller stops it."""
    from conftest import Broker, broker_config
    workdir = str(workdir)
    text = broker_config(os.path.join(workdir, "data"))
    if not auto_create:
        text = text.replace("auto.create.topics.enable: true", "auto.create.topics.enable: false")
    return Broker(text, workdir)


@pytest.fixture(scope="module")
def sluice_module(tmp_path_factory):
    """One Sluice shared by the tests of a module."""
    b = start_sluice(tmp_path_factory.mktemp("sluice"))
    yield b
    b.stop()


@pytest.fixture(params=["kafka", "sluice"])
def target(request):
    """Each client test runs against the reference Kafka and against Sluice; .name says which."""
    t = request.getfixturevalue("kafka_ref" if request.param == "kafka" else "sluice_module")
    return Target(request.param, t)


class Target:
    def __init__(self, name, server):
        self.name = name
        self.server = server
        self.bootstrap = server.bootstrap
        self.host, self.port = server.host, server.port
        self.is_kafka = name == "kafka"
