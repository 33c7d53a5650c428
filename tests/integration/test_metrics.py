"""The HTTP endpoints (http.listeners): /metrics checked against what real clients did (bytes and
records in, offsets, committed offsets, lag, group members), against `promtool check metrics`,
and scraped by a real Prometheus queried over its HTTP API; /healthz and /readyz (503 while the
broker drains on SIGTERM); 404 and 405; malformed, oversized and idle HTTP connections leave the
broker serving. Every broker binds 127.0.0.1 port 0 (conftest's SLUICE_CFG_HTTP_LISTENERS)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import kproto
from conftest import wait_until

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


# kafka_exporter named two gauges ..._sum, which promtool's linter flags (it reserves the suffix
# for summaries and histograms). Dashboards query those names, so they stay: these two findings
# are expected, anything else (and any parse error: exit status 1) fails.
KAFKA_EXPORTER_LINT = {
    'kafka_consumergroup_current_offset_sum non-histogram and non-summary metrics should not have "_sum" suffix',
    'kafka_consumergroup_lag_sum non-histogram and non-summary metrics should not have "_sum" suffix',
}


def promtool_check(text):
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
    findings = set(l for l in (check.stdout + check.stderr).splitlines() if l.strip())
    assert check.returncode in (0, 3), check.stdout + check.stderr  # 1: unparseable
    assert findings <= KAFKA_EXPORTER_LINT, findings - KAFKA_EXPORTER_LINT
    assert (check.returncode == 0) == (not findings)


def get(url, timeout=10.0):
    """(status, body text) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse(text):
    """{(name, frozenset(labels)): value} of an exposition, checking every line's shape."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def value(samples, name, **labels):
    key = (name, frozenset((k, str(v)) for k, v in labels.items()))
    return samples.get(key)


def scrape(broker):
    status, text = get(broker.http_url + "/metrics")
    assert status == 200, text
    return text, parse(text)


def produce(bootstrap, topic, values, partition=None):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": "all"})
    for v in values:
        if partition is None:
            p.produce(topic, v)
        else:
            p.produce(topic, v, partition=partition)
    assert p.flush(30) == 0


def test_health_ready_and_unknown_paths(broker):
    assert broker.http_url, broker.log_text()
    assert get(broker.http_url + "/healthz") == (200, "ok\n")
    assert get(broker.http_url + "/readyz") == (200, "ready\n")
    status, body = get(broker.http_url + "/nope")
    assert status == 404 and "/metrics" in body
    req = urllib.request.Request(broker.http_url + "/metrics", data=b"x" * 100, method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        pytest.fail("POST was served")
    except urllib.error.HTTPError as e:
        assert e.code == 405
    with urllib.request.urlopen(urllib.request.Request(broker.http_url + "/metrics",
                                                       method="HEAD"), timeout=10) as r:
        assert r.status == 200 and r.read() == b""
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")


def test_metrics_follow_clients(broker):
    topic = "metrics-orders"
    values = [f"order-{i:04d}".encode() * 10 for i in range(300)]
    produce(broker.bootstrap, topic, values, partition=0)
    produce(broker.bootstrap, topic, values[:50], partition=1)

    group = "metrics-billing"
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        c.subscribe([topic])
        got = 0
        deadline = time.monotonic() + 60
        while got < 350 and time.monotonic() < deadline:
            got += len(c.consume(100, timeout=1.0))
        assert got == 350
        # Commit part of partition 0 and all of partition 1: lag 300-120 and 0.
        c.commit(offsets=[TopicPartition(topic, 0, 120), TopicPartition(topic, 1, 50)],
                 asynchronous=False)
        text, m = scrape(broker)
        assert value(m, "kafka_consumergroup_members", consumergroup=group) == 1
    finally:
        c.close()

    text, m = scrape(broker)
    assert value(m, "kafka_topic_partitions", topic=topic) == 4  # num.partitions in conftest
    assert value(m, "kafka_topic_partition_current_offset", topic=topic, partition=0) == 300
    assert value(m, "kafka_topic_partition_current_offset", topic=topic, partition=1) == 50
    assert value(m, "kafka_topic_partition_oldest_offset", topic=topic, partition=0) == 0
    assert value(m, "kafka_log_log_logendoffset", topic=topic, partition=0) == 300
    assert value(m, "kafka_log_log_numlogsegments", topic=topic, partition=0) == 1
    assert value(m, "kafka_topic_partition_leader", topic=topic, partition=0) == 1
    assert value(m, "kafka_topic_partition_under_replicated_partition", topic=topic, partition=0) == 0
    assert value(m, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) == 350
    # The log keeps the producers' batches byte for byte: bytes in == bytes on disk.
    on_disk = sum(value(m, "kafka_log_log_size", topic=topic, partition=p) for p in range(4))
    assert value(m, "kafka_server_brokertopicmetrics_bytesin_total", topic=topic) == on_disk
    assert on_disk > sum(len(v) for v in values) + sum(len(v) for v in values[:50])
    # The consumer fetched everything at least once.
    assert value(m, "kafka_server_brokertopicmetrics_bytesout_total", topic=topic) >= on_disk
    assert value(m, "kafka_consumergroup_current_offset", consumergroup=group, topic=topic,
                 partition=0) == 120
    assert value(m, "kafka_consumergroup_lag", consumergroup=group, topic=topic, partition=0) == 180
    assert value(m, "kafka_consumergroup_lag", consumergroup=group, topic=topic, partition=1) == 0
    assert value(m, "kafka_consumergroup_current_offset_sum", consumergroup=group, topic=topic) == 170
    assert value(m, "kafka_consumergroup_lag_sum", consumergroup=group, topic=topic) == 180
    assert value(m, "kafka_consumergroup_members", consumergroup=group) == 0  # closed: left
    assert value(m, "sluice_consumer_groups") >= 1
    # Requests by API and version, latency histograms, connections, storage, broker identity.
    produces = sum(v for (n, l), v in m.items()
                   if n == "kafka_network_requestmetrics_requests_total" and ("request", "Produce") in l)
    assert produces >= 2
    assert value(m, "sluice_request_duration_seconds_count", request="Produce") == produces
    assert value(m, "sluice_request_duration_seconds_bucket", request="Fetch", le="+Inf") >= 1
    assert value(m, "sluice_connections_accepted_total", listener="PLAINTEXT") >= 2
    chosen = re.search(r"storage io backend=(\S+)", broker.log_text()).group(1)
    assert chosen in ("io_uring", "sync")
    assert value(m, "sluice_storage_backend", backend=chosen) == 1
    assert value(m, "kafka_brokers") == 1
    assert value(m, "kafka_broker_info", id=1, address=broker.bootstrap) == 1
    assert value(m, "sluice_ready") == 1
    fsyncs = [v for (n, l), v in m.items() if n == "sluice_log_fsync_duration_seconds_count"]
    assert fsyncs and fsyncs[0] >= 1  # acks=all waited for fdatasync
    assert value(m, "kafka_server_delayedoperationpurgatory_purgatorysize",
                 delayedoperation="Produce") == 0


def test_label_values_escaped(broker):
    """Topic names cannot hold quotes, but group ids can hold anything: escaped, parseable."""
    group = 'we"ird\\group\nname'
    topic = "metrics-escape"
    produce(broker.bootstrap, topic, [b"x"], partition=0)
    body = kproto.request(broker.bootstrap, 8, 2, {  # OffsetCommit v2
        "GroupId": group, "GenerationIdOrMemberEpoch": -1, "MemberId": "",
        "RetentionTimeMs": -1, "Topics": [{"Name": topic, "Partitions": [
            {"PartitionIndex": 0, "CommittedOffset": 1, "CommittedMetadata": ""}]}]})
    assert body["Topics"][0]["Partitions"][0]["ErrorCode"] == 0, body
    text, m = scrape(broker)
    assert 'consumergroup="we\\"ird\\\\group\\nname"' in text
    escaped = 'we\\"ird\\\\group\\nname'
    assert value(m, "kafka_consumergroup_current_offset", consumergroup=escaped, topic=topic,
                 partition=0) == 1
    if PROMTOOL:
        promtool_check(text)


def test_promtool_check_metrics(broker):
    assert PROMTOOL, "promtool not installed (scripts/install-deps installs prometheus)"
    produce(broker.bootstrap, "metrics-lint", [b"a", b"b"], partition=0)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "metrics-lint-group",
                  "auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition("metrics-lint", 0, 0)])
        got = c.consume(2, timeout=20)
        assert len(got) == 2
        c.commit(message=got[-1], asynchronous=False)
    finally:
        c.close()
    text, m = scrape(broker)
    assert value(m, "kafka_consumergroup_lag_sum", consumergroup="metrics-lint-group",
                 topic="metrics-lint") == 0
    promtool_check(text)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_prometheus_scrapes_broker(broker, tmp_path):
    assert PROMETHEUS, "prometheus not installed (scripts/install-deps)"
    topic = "metrics-prom"
    produce(broker.bootstrap, topic, [b"p%d" % i for i in range(7)], partition=2)
    target = urllib.parse.urlparse(broker.http_url).netloc
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: sluice\n"
        f"    static_configs:\n      - targets: ['{target}']\n")
    port = free_port()
    prom = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    query = urllib.parse.quote(f'kafka_topic_partition_current_offset{{topic="{topic}"}}')
    result = []

    def answered():
        nonlocal result
        try:
            status, body = get(f"http://127.0.0.1:{port}/api/v1/query?query={query}", timeout=5)
        except OSError:
            return False
        if status != 200:
            return False
        result = json.loads(body)["data"]["result"]
        return len(result) == 4

    try:
        wait_until(answered, 90, lambda: f"Prometheus to scrape the broker: {result}")
        by_partition = {r["metric"]["partition"]: float(r["value"][1]) for r in result}
        assert by_partition == {"0": 0.0, "1": 0.0, "2": 7.0, "3": 0.0}
        assert all(r["metric"]["job"] == "sluice" for r in result)
        status, body = get(f"http://127.0.0.1:{port}/api/v1/targets")
        health = [t["health"] for t in json.loads(body)["data"]["activeTargets"]]
        assert health == ["up"], body
    finally:
        prom.send_signal(signal.SIGTERM)
        try:
            prom.wait(30)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()


def test_bad_http_requests_leave_broker_serving(broker):
    host, port = urllib.parse.urlparse(broker.http_url).netloc.rsplit(":", 1)
    # Not HTTP at all: a 400, or a close once the idle timeout (10 s) passes; never a crash.
    for junk in (b"\x00\x01\x02 GARBAGE\r\n\r\n", b"FOO BAR\r\n\r\n"):
        with socket.create_connection((host, int(port)), timeout=60) as s:
            s.sendall(junk)
            reply = s.recv(4096)
            assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply
    # Headers beyond the connection's memory bound: refused (431/413) or closed.
    with socket.create_connection((host, int(port)), timeout=10) as s:
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (256 * 1024) + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            reply = s.recv(4096)
        except ConnectionResetError:
            reply = b""
        assert reply == b"" or re.match(rb"HTTP/1\.1 4(31|13|00)", reply), reply
    # A request line that never ends.
    with socket.create_connection((host, int(port)), timeout=10) as s:
        try:
            s.sendall(b"GET /" + b"m" * (128 * 1024))
            reply = s.recv(4096)
        except (BrokenPipeError, ConnectionResetError):
            reply = b""
        assert reply == b"" or re.match(rb"HTTP/1\.1 4\d\d", reply), reply
    # Many idle connections: more than the HTTP limit, held open while Kafka and HTTP serve.
    idle = []
    try:
        for _ in range(150):
            idle.append(socket.create_connection((host, int(port)), timeout=10))
        produce(broker.bootstrap, "metrics-idle", [b"still serving"], partition=0)
    finally:
        for s in idle:
            s.close()
    wait_until(lambda: get(broker.http_url + "/healthz")[0] == 200, 30, "/healthz after idle")
    text, m = scrape(broker)
    assert value(m, "kafka_topic_partition_current_offset", topic="metrics-idle", partition=0) == 1
    assert broker.proc.poll() is None


def test_readyz_503_while_draining(start_broker):
    """A client that stops reading keeps a large Fetch answer unwritten, so the drain on SIGTERM
    lasts until its timeout: meanwhile /readyz says 503 and /healthz still 200."""
    b = start_broker()
    topic = "metrics-drain"
    chunk = b"z" * (900 * 1024)
    produce(b.bootstrap, topic, [chunk] * 24, partition=0)  # ~21 MiB, more than socket buffers
    stuck = kproto.Connection(b.bootstrap)
    try:
        stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        fields = {"ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 0, "MaxBytes": 64 << 20,
                  "IsolationLevel": 0, "Topics": [{"Topic": topic, "Partitions": [
                      {"Partition": 0, "FetchOffset": 0, "PartitionMaxBytes": 64 << 20}]}]}
        stuck.send_raw(kproto.encode_request(1, 4, fields, correlation_id=1))
        wait_until(lambda: (value(scrape(b)[1], "kafka_server_brokertopicmetrics_bytesout_total",
                                  topic=topic) or 0) > 0, 30, "the big Fetch answered")
        b.proc.send_signal(signal.SIGTERM)
        seen = []

        def stopping():
            try:
                seen.append(get(b.http_url + "/readyz", timeout=2))
            except OSError:
                return False
            return seen[-1] == (503, "stopping\n")

        wait_until(stopping, 10, lambda: f"/readyz 503 while draining: {seen[-3:]}")
        assert get(b.http_url + "/healthz", timeout=2)[0] == 200
    finally:
        stuck.close()
    assert b.proc.wait(30) == 0  # the drain ends (timeout or the client gone), a clean exit


DASHBOARD = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "grafana",
                         "sluice-dashboard.json")
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "inf", "nan"}


def dashboard_queries(node):
    """Every PromQL expression in a Grafana dashboard: panel targets and variable queries."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                yield v
            elif k == "definition" and isinstance(v, str):
                yield v
            else:
                yield from dashboard_queries(v)
    elif isinstance(node, list):
        for v in node:
            yield from dashboard_queries(v)


def metric_names(expr):
    """The metric names a PromQL expression reads: identifiers that are not functions (followed
    by "("), keywords, label names inside {...}, by (...)/without (...) or label_values' second
    argument, nor string contents or durations."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)                      # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)                     # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_]+\s*\)", r"\1", expr)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        rest = expr[m.end():].lstrip()
        word = m.group(0)
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        if m.start() > 0 and (expr[m.start() - 1].isdigit() or expr[m.start() - 1] == "."):
            continue  # the unit of a number, 1e3
        names.add(word)
    return names


def test_metric_names_parser():
    assert metric_names('histogram_quantile(0.99, sum by (le, request) '
                        '(rate(sluice_request_duration_seconds_bucket{a="b"}[5m])))') == {
        "sluice_request_duration_seconds_bucket"}
    assert metric_names("label_values(kafka_topic_partitions, topic)") == {"kafka_topic_partitions"}
    assert metric_names('count_values("leader", x_total) / on (a) y') == {"x_total", "y"}


def test_dashboard_uses_only_exported_metrics(broker):
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    exprs = list(dashboard_queries(dashboard))
    assert len(exprs) >= 30
    used = set().union(*(metric_names(e) for e in exprs))
    # Make every family have samples: a topic, produced and fetched, and a committed group.
    topic = "metrics-dashboard"
    produce(broker.bootstrap, topic, [b"d1", b"d2", b"d3"], partition=0)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "metrics-dashboard-group",
                  "auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        msgs = c.consume(3, timeout=20)
        assert len(msgs) == 3
        c.commit(message=msgs[0], asynchronous=False)
    finally:
        c.close()
    text, samples = scrape(broker)
    exported = {name for name, _ in samples}
    missing = sorted(used - exported)
    assert not missing, f"the dashboard queries series /metrics does not export: {missing}"
    # and the kafka_exporter series the issue names are all there
    for name in ("kafka_brokers", "kafka_broker_info", "kafka_topic_partitions",
                 "kafka_topic_partition_current_offset", "kafka_topic_partition_oldest_offset",
                 "kafka_topic_partition_in_sync_replica", "kafka_topic_partition_leader",
                 "kafka_topic_partition_leader_is_preferred", "kafka_topic_partition_replicas",
                 "kafka_topic_partition_under_replicated_partition",
                 "kafka_consumergroup_current_offset", "kafka_consumergroup_current_offset_sum",
                 "kafka_consumergroup_lag", "kafka_consumergroup_lag_sum",
                 "kafka_consumergroup_members"):
        assert name in exported, name


def test_logs_json_one_object_per_line(start_broker):
    b = start_broker("log.format: json\n")
    produce(b.bootstrap, "metrics-logs", [b"x"], partition=0)
    get(b.http_url + "/healthz")
    assert b.stop() == 0
    lines = [l for l in b.log_lines if l.strip()]
    assert len(lines) >= 5
    for line in lines:
        obj = json.loads(line)  # every line is one JSON object
        assert set(obj) == {"ts", "level", "module", "msg"}, obj
        assert obj["level"] in ("debug", "info", "warn", "error")
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", obj["ts"]), obj
    modules = {json.loads(l)["module"] for l in lines}
    assert {"broker", "net", "http"} <= modules, modules


def test_logs_text_one_line_per_event(broker):
    """The default text format: time, level, module, message with key=value fields."""
    lines = [l for l in broker.log_lines if l.strip()]
    shape = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARN|ERROR) \w+ \S")
    assert lines and all(shape.match(l) for l in lines), broker.log_text()
    assert any(re.search(r" INFO http http listening host=127\.0\.0\.1 port=\d+$", l)
               for l in lines), broker.log_text()
