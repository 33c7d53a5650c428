"""ListOffsets by timestamp is record-exact, as in Kafka: the same multi-record batches (distinct,
out-of-order timestamps; every codec) go to Sluice and to the reference Kafka 4.0, then
confluent-kafka's offsets_for_times and raw ListOffsets v7-v9 (kproto) must get the same answers
from both, and the answers Kafka's semantics give (the first record in offset order whose timestamp
is >= the target; -3: the first record holding the largest timestamp).

Batches come from confluent-kafka (none, gzip, snappy, zstd) and, for lz4, from the Java producer
(librdkafka infers lz4 support from FindCoordinator in ApiVersions; the Java producer keeps this test
independent of that). The test reads Sluice's segment to prove the batches really are multi-record and
compressed with the codec. Topics are deleted from both brokers afterwards. About 15 s.
"""
import os
import struct
import subprocess
import time
import uuid

import confluent_kafka as ck
import pytest

import kproto
from kafka_ref import LIBS, java_cmd, start_sluice
from kafka_ref import kafka_ref  # noqa: F401  (session fixture)

LIST_OFFSETS, CREATE_TOPICS, DELETE_TOPICS = 2, 19, 20
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
# Recent enough for Kafka 4.0's message.timestamp.before/after.max.ms, and whole seconds.
T0 = (int(time.time() * 1000) - 3_600_000) // 1000 * 1000
DELTAS_A = [0, 30, 10, 50, 20]   # offsets 0-4
DELTAS_B = [1000, 1005, 1005]    # offsets 5-7: the max (T0 + 1005) first at offset 6
TIMESTAMPS = [T0 + d for d in DELTAS_A + DELTAS_B]
TARGETS = [T0 - 1, T0, T0 + 1, T0 + 11, T0 + 30, T0 + 31, T0 + 50, T0 + 51, T0 + 1001,
           T0 + 1005, T0 + 1006]

JAVA_PRODUCER = r"""
import java.util.*;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.*;
public class TsProducer {
    public static void main(String[] a) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        p.put("compression.type", a[2]);
        p.put("linger.ms", "200");
        p.put("enable.idempotence", "false");
        p.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        p.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        try (KafkaProducer<String, String> pr = new KafkaProducer<>(p)) {
            pr.partitionsFor(a[1]);
            for (String group : a[3].split(";")) {
                List<Future<RecordMetadata>> fs = new ArrayList<>();
                int i = 0;
                for (String ts : group.split(",")) {
                    fs.add(pr.send(new ProducerRecord<>(a[1], 0, Long.parseLong(ts), "key-" + i,
                            "value-" + i + "-" + "v".repeat(200))));
                    i++;
                }
                for (Future<RecordMetadata> f : fs) f.get();
            }
        }
    }
}
"""


def expected_offset(target):
    for off, ts in enumerate(TIMESTAMPS):
        if ts >= target:
            return off, ts
    return -1, -1


def max_offset():
    top = max(TIMESTAMPS)
    return TIMESTAMPS.index(top), top


@pytest.fixture(scope="module")
def sluice(tmp_path_factory):
    b = start_sluice(tmp_path_factory.mktemp("sluice-lo-ts"))
    yield b
    b.stop()


@pytest.fixture(scope="module")
def java_producer(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("ts-producer"))
    with open(os.path.join(d, "TsProducer.java"), "w") as f:
        f.write(JAVA_PRODUCER)
    r = subprocess.run(["javac", "-nowarn", "-cp", os.path.join(LIBS, "*"), "-d", d,
                        os.path.join(d, "TsProducer.java")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return d


def create_topic(bootstrap, name):
    topic = {"Name": name, "NumPartitions": 1, "ReplicationFactor": 1, "Configs": []}
    body = kproto.request(bootstrap, CREATE_TOPICS, 7, {"Topics": [topic], "timeoutMs": 30000})
    assert body["Topics"][0]["ErrorCode"] == 0, body
    fields = {"ReplicaId": -1, "Topics": [{"Name": name, "Partitions": [
        {"PartitionIndex": 0, "Timestamp": -1}]}]}
    deadline = time.monotonic() + 30
    while kproto.request(bootstrap, LIST_OFFSETS, 1, fields)["Topics"][0]["Partitions"][0][
            "ErrorCode"] != 0:
        assert time.monotonic() < deadline, f"{name} has no leader"
        time.sleep(0.05)


def produce_confluent(bootstrap, topic, codec):
    p = ck.Producer({"bootstrap.servers": bootstrap, "compression.type": codec,
                     "linger.ms": 200, "enable.idempotence": False})
    p.list_topics(topic, timeout=10)  # the leader known before the first record: one batch
    i = 0
    for group in (DELTAS_A, DELTAS_B):
        for d in group:
            p.produce(topic, key=f"key-{i}".encode(), value=f"value-{i}-".encode() + b"v" * 200,
                      partition=0, timestamp=T0 + d)
            i += 1
        assert p.flush(20) == 0


def produce_java(bootstrap, topic, codec, classes):
    groups = ";".join(",".join(str(T0 + d) for d in g) for g in (DELTAS_A, DELTAS_B))
    cmd = java_cmd("TsProducer", bootstrap, topic, codec, groups)
    i = cmd.index("-cp") + 1
    cmd[i] = classes + os.pathsep + cmd[i]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]


def sluice_batches(sluice, topic):
    """(codec, record count) of each batch in Sluice's segment for partition 0."""
    path = os.path.join(sluice.workdir, "data", f"{topic}-0", "00000000000000000000.log")
    with open(path, "rb") as f:
        seg = f.read()
    out, pos = [], 0
    while pos < len(seg):
        length = struct.unpack(">i", seg[pos + 8:pos + 12])[0]
        attrs = struct.unpack(">h", seg[pos + 21:pos + 23])[0]
        count = struct.unpack(">i", seg[pos + 57:pos + 61])[0]
        out.append((attrs & 7, count))
        pos += 12 + length
    return out


def list_offsets(bootstrap, topic, version, targets):
    fields = {"ReplicaId": -1, "IsolationLevel": 0, "Topics": [{"Name": topic, "Partitions": [
        {"PartitionIndex": 0, "CurrentLeaderEpoch": -1, "Timestamp": t} for t in targets]}]}
    out = []
    for t in targets:  # one partition per request: Kafka refuses a partition listed twice
        fields["Topics"][0]["Partitions"] = [
            {"PartitionIndex": 0, "CurrentLeaderEpoch": -1, "Timestamp": t}]
        p = kproto.request(bootstrap, LIST_OFFSETS, version, fields)["Topics"][0]["Partitions"][0]
        assert p["ErrorCode"] == 0, (t, p)
        out.append((p["Offset"], p["Timestamp"]))
    return out


def offsets_for_times(bootstrap, topic):
    """One call per target: a partition may appear only once in a ListOffsets request."""
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "lo-ts-" + uuid.uuid4().hex,
                     "enable.auto.commit": False})
    out = []
    try:
        for t in TARGETS:
            (tp,) = c.offsets_for_times([ck.TopicPartition(topic, 0, t)], timeout=15)
            assert tp.error is None, (t, tp)
            out.append(tp.offset)
    finally:
        c.close()
    return out


@pytest.fixture(scope="module")
def topics(kafka_ref, sluice, java_producer):
    """One topic per codec on both brokers, holding the same records; deleted afterwards."""
    names = {c: f"lo-ts-{c}-{uuid.uuid4().hex[:8]}" for c in CODECS}
    try:
        for codec, name in names.items():
            for b in (kafka_ref, sluice):
                create_topic(b.bootstrap, name)
                if codec == "lz4":
                    produce_java(b.bootstrap, name, codec, java_producer)
                else:
                    produce_confluent(b.bootstrap, name, codec)
        yield names
    finally:
        fields = {"TopicNames": sorted(names.values()), "TimeoutMs": 30000}
        for b in (kafka_ref, sluice):
            kproto.request(b.bootstrap, DELETE_TOPICS, 5, fields)


@pytest.mark.parametrize("codec", CODECS)
def test_sluice_stored_multi_record_batches(sluice, topics, codec):
    batches = sluice_batches(sluice, topics[codec])
    assert sum(n for _, n in batches) == len(TIMESTAMPS), batches
    assert any(n > 1 for _, n in batches), batches
    assert all(c == CODEC_IDS[codec] for c, _ in batches), batches


@pytest.mark.parametrize("codec", CODECS)
def test_offsets_for_times_matches_kafka(kafka_ref, sluice, topics, codec):
    want = [expected_offset(t)[0] for t in TARGETS]
    k = offsets_for_times(kafka_ref.bootstrap, topics[codec])
    s = offsets_for_times(sluice.bootstrap, topics[codec])
    assert k == want, "the reference disagrees with the test's model"
    assert s == k


@pytest.mark.parametrize("version", [7, 9])
@pytest.mark.parametrize("codec", CODECS)
def test_list_offsets_timestamps_match_kafka(kafka_ref, sluice, topics, codec, version):
    want = [expected_offset(t) for t in TARGETS]
    k = list_offsets(kafka_ref.bootstrap, topics[codec], version, TARGETS)
    s = list_offsets(sluice.bootstrap, topics[codec], version, TARGETS)
    assert k == want, "the reference disagrees with the test's model"
    assert s == k


@pytest.mark.parametrize("codec", CODECS)
def test_list_offsets_max_timestamp_matches_kafka(kafka_ref, sluice, topics, codec):
    k = list_offsets(kafka_ref.bootstrap, topics[codec], 9, [-3])
    assert k == [max_offset()], "the reference disagrees with the test's model"
    s = list_offsets(sluice.bootstrap, topics[codec], 9, [-3])
    assert s == k
