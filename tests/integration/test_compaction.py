"""Log compaction (the log cleaner) with real clients against the real build/sluice.

- A compacted topic with small segments and a short cleaner backoff: many updates per key and some
  tombstones from confluent-kafka; once cleaned, confluent-kafka, kafka-python and kcat reading
  from the beginning see exactly the latest value per key at the offset it was produced at; the
  tombstones go once delete.retention.ms has passed; the partition's files shrink.
- __consumer_offsets: thousands of commits for a few groups shrink its partition, and the
  committed offsets read back the same after a SIGTERM restart and after a SIGKILL restart.
- SIGKILL while cleaning, several times, then a restart: nothing lost, nothing duplicated.

Everything polls with generous deadlines (no timing assertions).
"""
import glob
import os
import random
import shutil
import signal
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker, broker_config

CLEANER = "log.cleaner.backoff.ms: 100\n"
KCAT = shutil.which("kcat")


def create_compacted(bootstrap, name, **configs):
    cfg = {"cleanup.policy": "compact", "segment.bytes": "4096",
           "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "2000"}
    cfg.update({k.replace("_", "."): str(v) for k, v in configs.items()})
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, 1, 1, config=cfg)])[name].result(30)


def produce(bootstrap, topic, items):
    """items: [(key, value or None)]; returns [(offset, key, value)] as acknowledged."""
    acked = []

    def report(err, msg):
        assert err is None, err
        acked.append((msg.offset(), msg.key().decode(), None if msg.value() is None else msg.value().decode()))

    # Small batches, so the records spread over many small segments.
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True,
                  "batch.num.messages": 20})
    for key, value in items:
        p.produce(topic, key=key.encode(), value=None if value is None else value.encode(), on_delivery=report)
        p.poll(0)
    assert p.flush(60) == 0
    return sorted(acked)


def consume_all(bootstrap, topic):
    """[(offset, key, value)] from the beginning to the high watermark (confluent-kafka)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    try:
        tp = TopicPartition(topic, 0)
        low, high = c.get_watermark_offsets(tp, timeout=30)
        c.assign([TopicPartition(topic, 0, low)])
        out = []
        deadline = time.monotonic() + 60
        position = low
        while position < high and time.monotonic() < deadline:
            msg = c.poll(1.0)
            if msg is None:
                # The tail may be compacted away: nothing left past position.
                if c.position([tp])[0].offset >= high:
                    break
                continue
            assert msg.error() is None, msg.error()
            out.append((msg.offset(), msg.key().decode(),
                        None if msg.value() is None else msg.value().decode()))
            position = msg.offset() + 1
        return out, high
    finally:
        c.close()


def latest_per_key(acked):
    latest = {}
    for offset, key, value in acked:
        latest[key] = (offset, key, value)
    return latest


def partition_bytes(broker, topic):
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(broker.workdir, "data", f"{topic}-0", "*.log")))


def wait_for(predicate, timeout=120, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def workload(keys=20, updates=30, pad=60, tombstones=5, prefix="k"):
    items = []
    for u in range(updates):
        for k in range(keys):
            items.append((f"{prefix}{k:03d}", f"v{u}-{k}-" + "x" * pad))
    for k in range(tombstones):
        items.append((f"{prefix}{k:03d}", None))
    # Distinct filler keys after the workload fill more than a segment, so every workload record
    # sits in a closed (cleanable) segment.
    for f in range(60):
        items.append((f"filler{f:03d}", "f" * pad))
    return items


def test_compacted_topic_keeps_latest_value_per_key(start_broker):
    b = start_broker(CLEANER)
    create_compacted(b.bootstrap, "kv")
    acked = produce(b.bootstrap, "kv", workload())
    offsets = [o for o, _, _ in acked]
    assert offsets == list(range(len(acked)))
    # What the records took before any cleaning (the cleaner may already be at work by now).
    raw = sum(len(k) + len(v or "") for _, k, v in acked)
    latest = latest_per_key(acked)
    live = {k: v for k, v in latest.items() if v[2] is not None}

    def compacted_without_tombstones():
        got, _ = consume_all(b.bootstrap, "kv")
        return got if got == sorted(live.values()) else None

    got = wait_for(compacted_without_tombstones, what="the latest value per key without tombstones")
    assert len(got) == len(live)
    assert "cleaned topic=kv" in b.log_text()
    after = partition_bytes(b, "kv")
    assert after < raw / 3, (raw, after)

    # kafka-python reads the same (gaps in offsets are normal for compacted topics).
    from kafka import KafkaConsumer
    kc = KafkaConsumer(bootstrap_servers=b.bootstrap, auto_offset_reset="earliest",
                       enable_auto_commit=False, consumer_timeout_ms=5000)
    tp = __import__("kafka").TopicPartition("kv", 0)
    kc.assign([tp])
    kc.seek_to_beginning(tp)
    seen = [(m.offset, m.key.decode(), m.value.decode() if m.value is not None else None) for m in kc]
    kc.close()
    assert seen == got

    if KCAT:
        out = subprocess.run([KCAT, "-C", "-b", b.bootstrap, "-t", "kv", "-p", "0", "-o", "beginning",
                              "-e", "-q", "-f", "%o %k %s\\n"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        lines = [l.split(" ", 2) for l in out.stdout.splitlines() if l]
        assert [(int(o), k, v) for o, k, v in lines] == got


def test_tombstone_kept_until_delete_retention(start_broker):
    b = start_broker(CLEANER)
    create_compacted(b.bootstrap, "tomb", delete_retention_ms=600000)
    acked = produce(b.bootstrap, "tomb", workload(keys=5, updates=20, tombstones=2))
    latest = latest_per_key(acked)

    def compacted_with_tombstones():
        got, _ = consume_all(b.bootstrap, "tomb")
        return got if got == sorted(latest.values()) else None

    got = wait_for(compacted_with_tombstones, what="the latest record per key, tombstones included")
    assert sum(1 for _, _, v in got if v is None) == 2  # delete.retention.ms is 10 minutes


def test_consumer_offsets_compacted_and_intact_after_restarts(tmp_path):
    data = str(tmp_path / "data")
    extra = CLEANER + "offsets.topic.num.partitions: 1\nlog.segment.bytes: 16384\n"
    b = Broker(broker_config(data, extra), str(tmp_path))
    try:
        create = AdminClient({"bootstrap.servers": b.bootstrap})
        create.create_topics([NewTopic("events", 3, 1)])["events"].result(30)
        groups = [f"g{i}" for i in range(3)]
        consumers = {g: Consumer({"bootstrap.servers": b.bootstrap, "group.id": g,
                                  "enable.auto.commit": False}) for g in groups}
        final = {}
        for i in range(1000):
            for g, c in consumers.items():
                offs = [TopicPartition("events", p, i * 10 + p + len(g)) for p in range(3)]
                c.commit(offsets=offs, asynchronous=False)
                final[g] = {p: i * 10 + p + len(g) for p in range(3)}
        for c in consumers.values():
            c.close()
        offsets_dir = os.path.join(data, "__consumer_offsets-0")

        def size():
            return sum(os.path.getsize(f) for f in glob.glob(os.path.join(offsets_dir, "*.log")))

        # Each commit was at least one 61-byte batch header: 3000 commits wrote > 180 KB.
        written = 3000 * 61
        wait_for(lambda: "cleaned topic=__consumer_offsets" in b.log_text(), what="offsets cleaning")
        wait_for(lambda: size() < written / 4, what="__consumer_offsets to shrink")
    finally:
        assert b.stop(signal.SIGTERM) == 0

    def committed(broker):
        out = {}
        for g in groups:
            c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": g})
            got = c.committed([TopicPartition("events", p) for p in range(3)], timeout=30)
            out[g] = {tp.partition: tp.offset for tp in got}
            c.close()
        return out

    for sig in (signal.SIGTERM, signal.SIGKILL):
        b = Broker(broker_config(data, extra), str(tmp_path))
        try:
            assert committed(b) == final
        finally:
            b.stop(sig)


def test_sigkill_while_cleaning_loses_nothing(tmp_path):
    data = str(tmp_path / "data")
    extra = "log.cleaner.backoff.ms: 10\n"
    b = Broker(broker_config(data, extra), str(tmp_path))
    create_compacted(b.bootstrap, "crash", segment_bytes=8192)
    rng = random.Random(int(os.environ.get("SLUICE_CRASH_SEED", "11")))
    print(f"seed {rng}")
    acked = {}
    logs = []
    try:
        for kill in range(5):
            items = [(f"c{rng.randrange(200):03d}", f"kill{kill}-{i}-" + "y" * 80) for i in range(1500)]
            for offset, key, value in produce(b.bootstrap, "crash", items):
                acked[offset] = (offset, key, value)
            # Kill at a random moment while the cleaner works through the new segments.
            time.sleep(rng.uniform(0.0, 0.5))
            logs.append(b.log_text())
            b.stop(signal.SIGKILL)
            b = Broker(broker_config(data, extra), str(tmp_path))
        # The restarted broker goes on cleaning what comes next.
        items = [(f"c{rng.randrange(200):03d}", f"last-{i}-" + "y" * 80) for i in range(1500)]
        for offset, key, value in produce(b.bootstrap, "crash", items):
            acked[offset] = (offset, key, value)
        expected = latest_per_key(sorted(acked.values()))
        wait_for(lambda: "cleaned topic=crash" in b.log_text(), what="a cleaning after the kills")
        got, high = consume_all(b.bootstrap, "crash")
        assert high == len(acked)
        offsets = [o for o, _, _ in got]
        assert offsets == sorted(set(offsets)), "an offset appears twice"
        for rec in got:
            assert acked[rec[0]] == rec  # every record is one acknowledged, at its offset
        assert latest_per_key(got) == expected  # nothing lost: every key's latest value is there
        assert any("cleaned topic=crash" in log for log in logs)
    finally:
        b.stop(signal.SIGTERM)
