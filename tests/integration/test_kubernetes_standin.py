"""A local stand-in for the chart's StatefulSet: build/sluice started as pod sl-sluice-0 the way
the pod starts, that is the chart's own setup.sh run with the environment the Downward API gives
the pod, reading the broker YAML the chart renders into its ConfigMap. Only what a laptop cannot
have is changed: the listener ports become free loopback ports, and the data directory (the PVC
mount) a temporary one. Clients resolve the pod's cluster DNS name to loopback, as cluster DNS
would resolve it to the pod.

Then topics are provisioned like the chart's provisioning Job would, and Kafka's own
kafka-topics.sh --create --if-not-exists (TopicCommand, from build/kafka-libs) must leave the
same topics as the Job's command does. Needs build/tools/helm (scripts/install-deps)."""
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

import kproto
from conftest import SLUICE_BIN, Broker
from kafka_ref import ROOT, free_port, java_cmd, write_log4j2

sys.path.insert(0, os.path.join(ROOT, "tests", "helm"))
from helmchart import NAMESPACE, RELEASE, render  # noqa: E402

SECCOMP_LAUNCHER = os.path.join(os.path.dirname(__file__), "seccomp_profile.py")
POD = f"{RELEASE}-sluice-0"
POD_DNS = f"{POD}.{RELEASE}-sluice-headless.{NAMESPACE}.svc.cluster.local"


def rewrite_ports(value, ports):
    """NAME://host:port lists with each container port replaced by its local stand-in."""
    for container_port, local in ports.items():
        value = re.sub(rf"(://[^,]*):{container_port}\b", rf"\g<1>:{local}", value)
    return value


def start_pod(rendered, workdir, launcher=()):
    """build/sluice run through the chart's setup.sh as pod POD (conftest's Broker, which stops
    it with SIGTERM as the kubelet does), under `launcher` (a command prefix that execs the rest)
    if given. Returns the Broker, with .config the YAML it read."""
    cfg = rendered.broker_config()
    ports = {9092: free_port()}
    cfg["listeners"] = rewrite_ports(cfg["listeners"], ports).replace("://:", "://127.0.0.1:")
    cfg["advertised.listeners"] = rewrite_ports(cfg["advertised.listeners"], ports)
    cfg["http.listeners"] = "http://127.0.0.1:0"
    cfg["log.dirs"] = os.path.join(workdir, "data")  # the PVC mount
    setup = os.path.join(workdir, "setup.sh")
    with open(setup, "w") as f:
        f.write(rendered.script("setup.sh"))
    # The container's environment: the Downward API's values and the chart's literal ones.
    env = {"POD_NAME": POD, "POD_NAMESPACE": NAMESPACE, "HOST_IP": "127.0.0.1",
           "SLUICE_BIN": SLUICE_BIN, "SLUICE_CONFIG": os.path.join(workdir, "sluice.yaml")}
    for e in rendered.broker_container()["env"]:
        if "value" in e:
            env[e["name"]] = e["value"]
    broker = Broker(yaml.safe_dump(cfg), workdir, env, command=[*launcher, "/bin/sh", setup])
    broker.config = cfg
    return broker


@pytest.fixture
def rendered():
    """A typical values file written for the Bitnami chart (with its provisioning topics)."""
    return render(["bitnami-typical.yaml"])


@pytest.fixture
def pod(rendered, tmp_path):
    started = start_pod(rendered, str(tmp_path))
    yield started
    assert started.stop() == 0, started.log_text()[-3000:]


@pytest.fixture
def loopback_rendered():
    """The same values, advertising loopback (listeners.advertisedListeners, the chart's override)
    for the clients that cannot be told how cluster DNS resolves: sluice's own CLI in the Job and
    the helm test pod, and Kafka's tools. They still connect only through what Metadata says."""
    return render(["bitnami-typical.yaml"], sets=["listeners.advertisedListeners=CLIENT://127.0.0.1:9092"])


@pytest.fixture
def loopback_pod(loopback_rendered, tmp_path):
    started = start_pod(loopback_rendered, str(tmp_path))
    assert started.config["advertised.listeners"] == f"CLIENT://127.0.0.1:{started.port}"
    yield started
    assert started.stop() == 0, started.log_text()[-3000:]


@pytest.fixture
def cluster_dns(monkeypatch):
    """Resolves *.svc.cluster.local to loopback inside this process, as cluster DNS resolves the
    pod's name to the pod."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kw):
        if isinstance(host, str) and host.endswith(".svc.cluster.local"):
            host = "127.0.0.1"
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_pod_identity_from_ordinal_and_downward_api(pod):
    assert any(f"setup.sh: pod {POD} is node.id 0" in line for line in pod.log_lines)
    assert list(pod.listeners) == ["CLIENT"]
    md = kproto.request(pod.bootstrap, 3, 12, {"Topics": None, "AllowAutoTopicCreation": False,
                                               "IncludeTopicAuthorizedOperations": False})
    assert [(b["NodeId"], b["Host"], b["Port"]) for b in md["Brokers"]] == \
        [(0, POD_DNS, pod.port)]


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_probe_and_metrics_endpoints(pod):
    """What the kubelet's probes and Prometheus ask the pod on its HTTP port."""
    assert pod.http_url, pod.log_text()
    assert http_get(pod.http_url + "/healthz")[0] == 200  # livenessProbe
    assert http_get(pod.http_url + "/readyz")[0] == 200   # startupProbe, readinessProbe
    status, text = http_get(pod.http_url + "/metrics")    # the ServiceMonitor's endpoint
    assert status == 200 and re.search(r"^kafka_brokers 1$", text, re.M), text[:2000]


def test_produce_and_consume_through_the_pods_advertised_name(pod, cluster_dns):
    from kafka import KafkaConsumer, KafkaProducer
    topic = f"standin-{uuid.uuid4().hex[:6]}"
    # The typical Bitnami values turn auto-creation off.
    created = kproto.request(pod.bootstrap, 19, 7, {
        "Topics": [{"Name": topic, "NumPartitions": 1, "ReplicationFactor": 1, "Assignments": [],
                    "Configs": []}], "TimeoutMs": 10000, "ValidateOnly": False})
    assert created["Topics"][0]["ErrorCode"] == 0, created
    # Bootstrap through the pod's DNS name as an in-cluster client would (no Service here).
    bootstrap = f"{POD_DNS}:{pod.port}"
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        meta = producer.send(topic, b"through sl-sluice-0").get(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=20000)
    try:
        values = [m.value for m in consumer]
        assert consumer._client.cluster.brokers().pop().host == POD_DNS
    finally:
        consumer.close()
    assert values == [b"through sl-sluice-0"] and meta.offset == 0


def describe_topic(bootstrap, name):
    """(partitions, replication factor, {config: value} of the topic's own settings)."""
    md = kproto.request(bootstrap, 3, 12, {"Topics": [{"Name": name, "TopicId": kproto.ZERO_UUID}],
                                           "AllowAutoTopicCreation": False,
                                           "IncludeTopicAuthorizedOperations": False})
    t = md["Topics"][0]
    assert t["ErrorCode"] == 0, t
    rfs = {len(p["ReplicaNodes"]) for p in t["Partitions"]}
    described = kproto.request(bootstrap, 32, 4, {
        "Resources": [{"ResourceType": 2, "ResourceName": name, "ConfigurationKeys": None}],
        "IncludeSynonyms": False, "IncludeDocumentation": False})
    configs = {c["Name"]: c["Value"] for c in described["Results"][0]["Configs"]
               if c["ConfigSource"] == 1}  # TOPIC_CONFIG: set on the topic itself
    return len(t["Partitions"]), rfs.pop(), configs


def kafka_topics_create(pod, tmp_path, name, partitions, configs):
    """kafka-topics.sh --create --if-not-exists against the stand-in."""
    log4j = write_log4j2(str(tmp_path / "log4j2.properties"), str(tmp_path / "tools.log"), "WARN")
    args = ["--bootstrap-server", pod.bootstrap, "--create", "--if-not-exists", "--topic", name,
            "--partitions", str(partitions), "--replication-factor", "1"]
    for k, v in configs.items():
        args += ["--config", f"{k}={v}"]
    cmd = java_cmd("org.apache.kafka.tools.TopicCommand", *args, log_config=log4j)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


def run_in_image(script, pod):
    """A container script of the chart (the Job's, the helm test pod's) with the image's PATH
    (sluice on it) and SLUICE_BOOTSTRAP at the stand-in, as the client Service would be."""
    env = {"PATH": f"{os.path.dirname(SLUICE_BIN)}:{os.environ['PATH']}",
           "SLUICE_BOOTSTRAP": pod.bootstrap}
    return subprocess.run(["/bin/sh", "-ec", script], env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def provisioning_script(rendered):
    job = rendered.get("Job", f"{RELEASE}-sluice-provisioning")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    return job["spec"]["template"]["spec"]["containers"][0]["args"][0]


ORDERS = (6, 1, {"retention.ms": "604800000", "cleanup.policy": "delete"})


def test_provisioning_job_creates_the_topics_and_reruns_cleanly(loopback_rendered, loopback_pod):
    pod = loopback_pod
    script = provisioning_script(loopback_rendered)
    r = run_in_image(script, pod)
    assert r.returncode == 0, r.stdout + r.stderr
    assert describe_topic(pod.bootstrap, "orders") == ORDERS
    assert describe_topic(pod.bootstrap, "payments") == (3, 1, {})
    # helm upgrade runs the hook again: existing topics are not an error and stay as they are
    r = run_in_image(script, pod)
    assert r.returncode == 0, r.stdout + r.stderr
    assert describe_topic(pod.bootstrap, "orders") == ORDERS


def test_kafka_topics_create_if_not_exists_matches_the_job(loopback_rendered, loopback_pod, tmp_path):
    """An operator's existing topic-init Job runs Kafka's kafka-topics.sh --create
    --if-not-exists against the Service instead: the same topic comes out as from the chart's
    Job, a rerun (the next helm upgrade) succeeds and changes nothing even when it asks for other
    settings, and either tool leaves a topic the other created alone."""
    pod = loopback_pod
    name = f"orders-{uuid.uuid4().hex[:6]}"
    r = kafka_topics_create(pod, tmp_path, name, 6, ORDERS[2])
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Created topic {name}." in r.stdout
    assert describe_topic(pod.bootstrap, name) == ORDERS
    r = kafka_topics_create(pod, tmp_path, name, 3, {"retention.ms": "1000"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert describe_topic(pod.bootstrap, name) == ORDERS

    # The chart's Job creates its own orders: the same topic as Kafka's tool made.
    script = provisioning_script(loopback_rendered)
    r = run_in_image(script, pod)
    assert r.returncode == 0, r.stdout + r.stderr
    assert describe_topic(pod.bootstrap, "orders") == describe_topic(pod.bootstrap, name)
    # The Job on the topic kafka-topics.sh created, and kafka-topics.sh on the Job's: no change.
    r = run_in_image(script.replace("create 'orders'", f"create '{name}'"), pod)
    assert r.returncode == 0, r.stdout + r.stderr
    assert describe_topic(pod.bootstrap, name) == ORDERS
    r = kafka_topics_create(pod, tmp_path, "orders", 2, {})
    assert r.returncode == 0, r.stdout + r.stderr
    assert describe_topic(pod.bootstrap, "orders") == ORDERS


def test_helm_test_pod_script(loopback_rendered, loopback_pod):
    """What `helm test` runs in its pod, against the stand-in."""
    pod = loopback_pod
    test_pod = next(p for p in loopback_rendered.all("Pod")
                    if p["metadata"]["annotations"].get("helm.sh/hook") == "test")
    r = run_in_image(test_pod["spec"]["containers"][0]["args"][0], pod)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"produced and consumed one record through {pod.bootstrap}" in r.stdout



def test_io_uring_under_the_charts_seccomp_profile(tmp_path):
    """With ioUringSeccomp.enabled the pod runs under the chart's seccomp profile
    (files/seccomp-io-uring.json), which seccomp_profile.py installs as runc does. The broker, told
    to use io_uring (it refuses to start where io_uring is denied), starts on it and stores and
    serves a record; the profile still denies what it is there to deny (unshare here)."""
    rendered = render(sets=["ioUringSeccomp.enabled=true", "config.storage\\.io\\.backend=io_uring",
                            "listeners.advertisedListeners=CLIENT://127.0.0.1:9092"])
    assert rendered.broker_config()["storage.io.backend"] == "io_uring"
    profile = tmp_path / "sluice-io-uring.json"
    profile.write_text(rendered.get("ConfigMap", f"{RELEASE}-sluice-seccomp")["data"]["sluice-io-uring.json"])
    launcher = [sys.executable, SECCOMP_LAUNCHER, str(profile)]
    denied = subprocess.run([*launcher, sys.executable, "-c",
                             "import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
                             "print(libc.unshare(0x20000), ctypes.get_errno())"],  # CLONE_NEWNS
                            capture_output=True, text=True, timeout=60)
    assert denied.stdout.split() == ["-1", "1"], denied.stdout + denied.stderr  # EPERM
    workdir = tmp_path / "pod"
    workdir.mkdir()
    pod = start_pod(rendered, str(workdir), launcher=launcher)
    try:
        assert 'storage io backend=io_uring' in pod.log_text()
        kcat = ["kcat", "-b", pod.bootstrap, "-t", "uring", "-p", "0"]
        r = subprocess.run([*kcat, "-P", "-X", "topic.request.required.acks=-1"], input="on io_uring\n",
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([*kcat, "-C", "-o", "beginning", "-c", "1", "-e", "-q"],
                           capture_output=True, text=True, timeout=60)
        assert r.stdout == "on io_uring\n", r.stderr
    finally:
        assert pod.stop() == 0, pod.log_text()[-3000:]
