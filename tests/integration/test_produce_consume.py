"""The data path through the clients people run, against the real build/sluice: records go in with
Produce and come back with Fetch and ListOffsets exactly as written (keys, values, headers,
timestamps, per-partition order, offsets from 0).

- kcat (librdkafka 2.0.2): -P with keys and headers into several partitions, -C from the
  beginning and the last 10, every codec, acks=1 and the default acks=all, -L.
- kafka-python 2.0.2 (Debian) and 3.x (PyPI): producer (acks=all and 1), consumer with assign()
  and seek_to_beginning, end/beginning offsets, offsets_for_times
  (clients/kafka_python_datapath.py).
- confluent-kafka: producer per codec with delivery reports, consumer with assign() at explicit
  offsets, offsets_for_times, watermarks, list_topics (clients/confluent_datapath.py).
- kafkajs: producer (acks -1 and 1, gzip) with admin offsets (node/produce_consume_probe.js).
- franz-go: ProduceSync per codec, kadm offsets, kgo.ConsumePartitions (go/datapath).
- Kafka 4.0.0's ConsoleProducer with keys and headers.

Consumers here assign partitions themselves (groups are covered by test_groups.py). Producers run with each client's default idempotence (the console producer
and kafka-python 3.x are idempotent by default; test_idempotence.py covers idempotence itself).
One Sluice serves the whole module; every test uses its own topic. Runtime about 20 s.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import uuid

import pytest

import kproto
from kafka_ref import (java_cmd, kafka_ref, require_libs, start_sluice,  # noqa: F401
                       write_log4j2)

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "clients")
NODE_DIR = os.path.join(HERE, "node")
GO_DIR = os.path.join(HERE, "go")
DEBIAN_PYTHON = "/usr/bin/python3"
KCAT = shutil.which("kcat")
FIND_COORDINATOR = 10


@pytest.fixture(scope="module")
def sl(tmp_path_factory):
    """One Sluice for the module (default test config: auto-create on, 4 partitions)."""
    b = start_sluice(tmp_path_factory.mktemp("sluice-datapath"))
    yield b
    rc = b.stop()
    assert rc == 0, f"sluice exited {rc}:\n{b.log_text()[-3000:]}"


def topic_name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def run(cmd, broker, timeout=60, **kw):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd)} timed out after {timeout}s\nstderr:\n{e.stderr}\n"
                    f"broker log:\n{broker.log_text()[-3000:]}")
    return p


def describe(p, broker=None):
    text = f"exit {p.returncode}\nstdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}"
    return text + (f"\nbroker log:\n{broker.log_text()[-3000:]}" if broker else "")


def json_out(p, broker):
    assert p.stdout.strip(), describe(p, broker)
    try:
        return json.loads(p.stdout)
    except ValueError:  # log lines before the JSON line
        return json.loads(p.stdout.strip().splitlines()[-1])


def batch_codecs(bootstrap, topic, partition):
    """[(base offset, codec)] of the stored batches, read with a raw Fetch v4: what the broker
    keeps, not what a client makes of it."""
    body = kproto.request(bootstrap, 1, 4, {
        "ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 0, "MaxBytes": 1 << 20,
        "Topics": [{"Topic": topic, "Partitions": [
            {"Partition": partition, "FetchOffset": 0, "PartitionMaxBytes": 1 << 20}]}]})
    part = body["Responses"][0]["Partitions"][0]
    assert part["ErrorCode"] == 0, part
    data, pos, out = part["Records"] or b"", 0, []
    while pos + 61 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        attributes = struct.unpack_from(">h", data, pos + 21)[0]
        out.append((base, attributes & 0x7))
        pos += 12 + length
    return out


def advertised(bootstrap):
    apis = kproto.request(bootstrap, 18, 3, {"ClientSoftwareName": "t",
                                             "ClientSoftwareVersion": "1"})["ApiKeys"]
    return {a["ApiKey"]: (a["MinVersion"], a["MaxVersion"]) for a in apis}


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _varint(n):
    n = (n << 1) ^ (n >> 63)  # zigzag
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def one_record_batch(value, key=None, timestamp=1_700_000_000_000):
    """A magic-2 record batch holding one record, uncompressed, no producer id: what a plain
    non-idempotent producer sends."""
    body = b"\x00" + _varint(0) + _varint(0)  # attributes, timestamp delta, offset delta
    body += _varint(-1) if key is None else _varint(len(key)) + key
    body += _varint(len(value)) + value + _varint(0)  # no headers
    record = _varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, 0, timestamp, timestamp, -1, -1, -1, 1) + record
    head = struct.pack(">ib", 0, 2)  # partition leader epoch, magic
    batch = head + struct.pack(">I", crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(batch)) + batch


def produce_raw(conn, topic, partition, value, acks=-1, version=9):
    _, body = conn.request(0, version, {"Acks": acks, "TimeoutMs": 10000, "TopicData": [
        {"Name": topic, "PartitionData": [{"Index": partition,
                                           "Records": one_record_batch(value)}]}]})
    return body["Responses"][0]["PartitionResponses"][0]


def list_offset(conn, topic, partition, timestamp=-1, version=7):
    _, body = conn.request(2, version, {"ReplicaId": -1, "IsolationLevel": 0, "Topics": [
        {"Name": topic, "Partitions": [{"PartitionIndex": partition, "Timestamp": timestamp}]}]})
    return body["Topics"][0]["Partitions"][0]


def wait_for_leaders(bootstrap, topic, timeout=10.0):
    """Kafka elects a new topic's leaders asynchronously after CreateTopics answers; Produce
    before that gets NOT_LEADER_OR_FOLLOWER. Returns the Metadata v12 topic entry."""
    deadline = time.monotonic() + timeout
    while True:
        md = kproto.request(bootstrap, 3, 12, {"Topics": [{"Name": topic, "TopicId": None}],
                                               "AllowAutoTopicCreation": False})
        t = md["Topics"][0]
        if t["ErrorCode"] == 0 and t["Partitions"] and all(
                p["ErrorCode"] == 0 and p["LeaderId"] == 1 for p in t["Partitions"]):
            return t
        assert time.monotonic() < deadline, md
        time.sleep(0.05)


@pytest.mark.parametrize("where", ["kafka", "sluice"])
def test_acks1_records_visible_when_answered(request, sl, where):
    """On a single broker Kafka moves the high watermark before it answers an acks=1 Produce, so
    a ListOffsets(latest) sent right after the answer already counts the record (read your own
    write). Sluice (storage.sync.policy=ack) answers acks=1 after the fdatasync that covers the
    record, so its high watermark covers it too. acks=all is visible at once on both."""
    target = request.getfixturevalue("kafka_ref") if where == "kafka" else sl
    topic = topic_name("acks1-visible")
    created = kproto.request(target.bootstrap, 19, 4, {"TimeoutMs": 10000, "Topics": [
        {"Name": topic, "NumPartitions": 1, "ReplicationFactor": 1}]})
    assert created["Topics"][0]["ErrorCode"] == 0, created
    wait_for_leaders(target.bootstrap, topic)
    try:
        stale = {}
        with kproto.Connection(target.bootstrap) as c:
            # Kafka's partition can still refuse (NOT_LEADER_OR_FOLLOWER) for a moment after
            # Metadata lists its leader: the first write is retried until it lands.
            deadline = time.monotonic() + 10
            while produce_raw(c, topic, 0, b"first")["ErrorCode"] != 0:
                assert time.monotonic() < deadline, "the first write never succeeded"
                time.sleep(0.05)
            for acks in (-1, 1):
                stale[acks] = 0
                for i in range(20):
                    r = produce_raw(c, topic, 0, b"v%d" % i, acks=acks)
                    assert r["ErrorCode"] == 0, r
                    if list_offset(c, topic, 0)["Offset"] != r["BaseOffset"] + 1:
                        stale[acks] += 1
        assert stale[-1] == 0, stale
        assert stale[1] == 0, stale
    finally:
        kproto.request(target.bootstrap, 20, 4, {"TopicNames": [topic], "TimeoutMs": 10000})


# ---------------------------------------------------------------------------------------------
# kcat (librdkafka 2.0.2)


def kcat(broker, *args, stdin=None, timeout=30):
    if KCAT is None:
        pytest.fail("kcat not installed (scripts/install-deps)", pytrace=False)
    cmd = [KCAT, "-b", broker.bootstrap, "-m", "5", "-X", "reconnect.backoff.max.ms=500", *args]
    return run(cmd, broker, timeout=timeout, input=stdin)


def kcat_produce(broker, topic, lines, *args):
    p = kcat(broker, "-P", "-t", topic, *args, stdin="".join(l + "\n" for l in lines))
    assert p.returncode == 0, describe(p, broker)
    assert "failed" not in p.stderr.lower(), describe(p, broker)


FORMAT = "%p|%o|%k|%s|%h\\n"


def kcat_consume(broker, topic, *args):
    p = kcat(broker, "-C", "-t", topic, "-e", "-q", "-f", FORMAT, *args)
    assert p.returncode == 0, describe(p, broker)
    rows = [l.split("|") for l in p.stdout.splitlines() if l]
    return [(int(pa), int(o), k, v, h) for pa, o, k, v, h in rows]


def test_kcat_keys_headers_partitions_round_trip(sl):
    topic = topic_name("kcat-rt")
    want = []
    for part in (0, 1, 2):
        lines = [f"key{part}.{i}:value {part}.{i}" for i in range(5)]
        kcat_produce(sl, topic, lines, "-p", str(part), "-K:", "-H", f"part={part}",
                     "-H", "app=kcat")
        want += [(part, i, f"key{part}.{i}", f"value {part}.{i}", f"part={part},app=kcat")
                 for i in range(5)]
    got = kcat_consume(sl, topic, "-o", "beginning")
    # kcat interleaves partitions; within each one the order must be the produce order.
    assert sorted(got) == sorted(want), got
    for part in (0, 1, 2):
        offsets = [o for p, o, *_ in got if p == part]
        assert offsets == list(range(5)), got
    # The topic was auto-created with num.partitions (4); partition 3 stayed empty.
    assert not [r for r in got if r[0] == 3]


def test_kcat_last_ten(sl):
    topic = topic_name("kcat-tail")
    kcat_produce(sl, topic, [f"k{i}:v{i}" for i in range(25)], "-p", "0", "-K:")
    got = kcat_consume(sl, topic, "-p", "0", "-o", "-10")
    assert [(o, k, v) for _, o, k, v, _ in got] == [(i, f"k{i}", f"v{i}") for i in range(15, 25)]


def test_kcat_every_codec(sl):
    """One codec per partition, 30 compressible records each, in one batch per kcat run."""
    topic = topic_name("kcat-codec")
    codecs = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
    for part, codec in enumerate(codecs):
        kcat_produce(sl, topic, [f"{codec}{i}:{codec * 40}{i}" for i in range(30)],
                     "-p", str(part), "-K:", "-z", codec, "-H", f"codec={codec}")
    got = kcat_consume(sl, topic, "-o", "beginning")
    want = [(part, i, f"{codec}{i}", f"{codec * 40}{i}", f"codec={codec}")
            for part, codec in enumerate(codecs) for i in range(30)]
    assert sorted(got) == sorted(want)
    # The broker stores the producer's batches as they came. librdkafka (up to 2.x) only sends
    # lz4 to a broker that advertises FindCoordinator (its "LZ4" feature dates from 0.8.2 and is
    # keyed on that API), which Sluice does since consumer groups exist.
    assert FIND_COORDINATOR in advertised(sl.bootstrap)
    lz4_sent = codecs["lz4"]
    for part, (codec, attr) in enumerate(codecs.items()):
        stored = {c for _, c in batch_codecs(sl.bootstrap, topic, part)}
        assert stored == {lz4_sent if codec == "lz4" else attr}, (codec, stored)


@pytest.mark.parametrize("acks", [None, "1"], ids=["acks-all-default", "acks-1"])
def test_kcat_acks(sl, acks):
    topic = topic_name("kcat-acks")
    extra = ["-X", f"acks={acks}"] if acks else []
    kcat_produce(sl, topic, [f"a{i}:b{i}" for i in range(10)], "-p", "1", "-K:", *extra)
    got = kcat_consume(sl, topic, "-p", "1", "-o", "beginning")
    assert [(o, k, v) for _, o, k, v, _ in got] == [(i, f"a{i}", f"b{i}") for i in range(10)]


def test_kcat_list_shows_topic(sl):
    topic = topic_name("kcat-list")
    kcat_produce(sl, topic, ["x"], "-p", "0")
    p = kcat(sl, "-L", "-t", topic)
    assert p.returncode == 0, describe(p, sl)
    assert f'topic "{topic}" with 4 partitions:' in p.stdout, describe(p)
    for part in range(4):
        assert f"partition {part}, leader 1, replicas: 1, isrs: 1" in p.stdout, describe(p)


# ---------------------------------------------------------------------------------------------
# kafka-python


@pytest.mark.parametrize("python,acks", [("debian", "all"), ("debian", "1"), ("pypi", "all"),
                                         ("pypi", "1")])
def test_kafka_python_produce_and_read_back(sl, python, acks):
    exe = DEBIAN_PYTHON if python == "debian" else sys.executable
    topic = topic_name(f"kp-{python}-{acks}")
    p = run([exe, os.path.join(CLIENTS, "kafka_python_datapath.py"), sl.bootstrap, topic, acks,
             "3", "4"], sl)
    assert p.returncode == 0, describe(p, sl)
    out = json_out(p, sl)
    if python == "debian":
        assert out["kafka_python"] == "2.0.2", out
    else:
        assert out["kafka_python"].startswith("3."), out
    base = out["base_ts"]
    sent = out["sent"]
    assert len(sent) == 12
    for i, s in enumerate(sent):
        assert (s["partition"], s["offset"]) == (i % 3, i // 3), sent
    recs = out["records"]
    assert len(recs) == 12, out
    for part in range(3):
        mine = [r for r in recs if r["partition"] == part]
        assert [r["offset"] for r in mine] == [0, 1, 2, 3], recs
        for n, r in enumerate(mine):
            i = n * 3 + part
            assert r["key"] == f"k{part}-{n}" and r["value"] == f"v{part}-{n}", r
            assert r["ts"] == base + i, r
            assert r["headers"] == [["h", f"{part}.{n}"], ["app", "kp"]], r
    assert out["end"] == {"0": 4, "1": 4, "2": 4}, out
    assert out["beginning"] == {"0": 0, "1": 0, "2": 0}, out
    times = out["offsets_for_times"]
    assert times["first"] == {"offset": 0, "ts": base}, times
    assert times["second"] == {"offset": 1, "ts": base + 3}, times
    assert times["future"] is None, times


# ---------------------------------------------------------------------------------------------
# confluent-kafka


def test_confluent_kafka_produce_codecs_and_read_back(sl):
    topic = topic_name("confluent")
    p = run([sys.executable, os.path.join(CLIENTS, "confluent_datapath.py"), sl.bootstrap, topic,
             "datapath"], sl, timeout=90)
    assert p.returncode == 0, describe(p, sl)
    out = json_out(p, sl)
    assert out["create_error"] is None, out
    codecs = ["none", "gzip", "snappy", "lz4", "zstd"]
    delivered = out["delivered"]
    assert [d["error"] for d in delivered] == [None] * 15, delivered
    # Record i: codec i // 3, partition i % 3, offset = the codec's position.
    assert [(d["partition"], d["offset"], d["key"]) for d in delivered] == [
        (i % 3, i // 3, f"{codecs[i // 3]}-{i % 3}") for i in range(15)], delivered
    base = out["base_ts"]
    recs = sorted(out["records"], key=lambda r: (r["partition"], r["offset"]))
    assert [r for r in recs if "error" in r] == [], recs
    assert [(r["partition"], r["offset"], r["key"], r["value"], r["ts"], r["headers"])
            for r in recs] == sorted(
        (i % 3, i // 3, f"{codecs[i // 3]}-{i % 3}", f"{codecs[i // 3]}:" * 50, base + i,
         [["codec", codecs[i // 3]], ["n", str(i)]]) for i in range(15))
    assert out["watermarks"] == {"0": [0, 5], "1": [0, 5], "2": [0, 5]}, out
    # Partition 1 holds records 1, 4, 7, 10, 13: base+4 is offset 1, base+5 the next (offset 2).
    assert out["offsets_for_times"] == [[1, None], [2, None], [-1, None]], out
    assert sorted((r["partition"], r["offset"]) for r in out["from_offsets"]) == [
        (0, 4), (2, 3), (2, 4)], out
    assert out["listing"] == {"error": 0, "partitions": [
        {"id": i, "leader": 1, "replicas": [1], "isrs": [1]} for i in range(3)]}, out
    # What the broker stored: each codec as sent (lz4: see test_kcat_every_codec).
    assert [c for _, c in batch_codecs(sl.bootstrap, topic, 0)] == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------------------------------------
# kafkajs


def test_kafkajs_producer_and_admin_offsets(sl):
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "kafkajs")):
        pytest.fail("kafkajs missing in tests/integration/node; run scripts/install-deps",
                    pytrace=False)
    topic = topic_name("kafkajs")
    p = run(["node", os.path.join(NODE_DIR, "produce_consume_probe.js"), sl.bootstrap, topic],
            sl, cwd=NODE_DIR, env={**os.environ, "KAFKAJS_NO_PARTITIONER_WARNING": "1"})
    out = json_out(p, sl)
    assert p.returncode == 0, describe(p, sl)
    assert out["created"] is True and out["created_again"] is False, out
    for send in ("sent_acks_all", "sent_acks_1_gzip"):
        base_offset = "0" if send == "sent_acks_all" else "2"
        assert sorted((r["partition"], r["errorCode"], r["baseOffset"]) for r in out[send]) == [
            (p, 0, base_offset) for p in range(3)], out
    assert out["offsets"] == {str(p): {"low": "0", "high": "4", "offset": "4"}
                              for p in range(3)}, out
    assert out["ts_first"] == {str(p): {"offset": "0"} for p in range(3)}, out
    assert out["ts_second_send"] == {str(p): {"offset": "2"} for p in range(3)}, out
    # No record that late: kafkajs reports the high watermark.
    assert out["ts_future"] == {str(p): {"offset": "4"} for p in range(3)}, out
    assert topic not in out["listed_after_delete"], out


# ---------------------------------------------------------------------------------------------
# franz-go


@pytest.fixture(scope="module")
def franz_datapath(tmp_path_factory):
    if shutil.which("go") is None:
        pytest.fail("go is not installed", pytrace=False)
    exe = str(tmp_path_factory.mktemp("franz-datapath") / "datapath")
    r = subprocess.run(["go", "build", "-mod=readonly", "-o", exe, "./datapath"], cwd=GO_DIR,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return exe


def test_franz_go_produce_sync_and_consume_partitions(sl, franz_datapath):
    topic = topic_name("franz")
    p = run([franz_datapath, "-brokers", sl.bootstrap, "-topic", topic, "-timeout", "30s"], sl)
    out = json_out(p, sl)
    assert p.returncode == 0, describe(p, sl)
    assert out["create_error"] == "", out
    assert out["create_again_error"].startswith("TOPIC_ALREADY_EXISTS"), out
    codecs = ["none", "gzip", "snappy", "lz4", "zstd"]
    assert [(r["partition"], r["offset"], r["key"]) for r in out["produced"]] == [
        (i % 3, i // 3, f"{codecs[i // 3]}-{i % 3}") for i in range(15)], out
    assert out["start_offsets"] == {"0": 0, "1": 0, "2": 0}, out
    assert out["end_offsets"] == {"0": 5, "1": 5, "2": 5}, out
    got = sorted((r["partition"], r["offset"], r["key"], r["value"], r["headers"]["codec"])
                 for r in out["consumed"])
    want = sorted((i % 3, i // 3, f"{codecs[i // 3]}-{i % 3}", f"{codecs[i // 3]}:" * 50,
                   codecs[i // 3]) for i in range(15) if not (i % 3 == 1 and i // 3 < 2))
    assert got == want, out
    # franz-go has no FindCoordinator rule: all five codecs are stored as sent.
    for part in range(3):
        assert [c for _, c in batch_codecs(sl.bootstrap, topic, part)] == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------------------------------------
# Kafka 4.0.0's console producer


@pytest.fixture(scope="module")
def tools_log4j(tmp_path_factory):
    d = tmp_path_factory.mktemp("java-tools-datapath")
    return write_log4j2(str(d / "log4j2.properties"), str(d / "tools.log"), "WARN")


def test_console_producer_keys_and_headers(sl, tools_log4j):
    require_libs()
    topic = topic_name("console")
    # The console producer is idempotent by default (Kafka 3.0+): InitProducerId, then batches
    # with a producer id and sequences.
    cmd = java_cmd("org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server", sl.bootstrap,
                   "--topic", topic, "--property", "parse.key=true",
                   "--property", "key.separator=:", "--property", "parse.headers=true",
                   "--producer-property", "partitioner.ignore.keys=false",
                   log_config=tools_log4j)
    lines = [f"app:console,n:{i}\tkey{i}:value {i}" for i in range(6)]
    p = run(cmd, sl, timeout=90, input="".join(l + "\n" for l in lines))
    assert p.returncode == 0, describe(p, sl)
    got = kcat_consume(sl, topic, "-o", "beginning")
    assert sorted((k, v, h) for _, _, k, v, h in got) == [
        (f"key{i}", f"value {i}", f"app=console,n={i}") for i in range(6)], got
    # Keys are hashed onto the 4 auto-created partitions; offsets are dense from 0 in each.
    for part in {r[0] for r in got}:
        offs = [o for pa, o, *_ in got if pa == part]
        assert offs == list(range(len(offs))), got
