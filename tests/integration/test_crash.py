"""Crash tests: SIGKILL the broker under load and restart it on the same log.dirs; cut and corrupt
the newest segment while it is down.

(a) A producer of our own (kproto, acks=-1, several partitions, requests pipelined on one
    connection) runs while the broker is SIGKILLed at seeded random moments and restarted. At the
    end every acknowledged record is at the offset it was acknowledged at, exactly once; no payload
    appears twice in a partition; offsets are dense from 0 to the high watermark.
(b) With the broker killed, bytes are cut off the end of the newest segment (inside the last
    batch's header, inside its records, exactly at its start): the broker starts, logs a WARN
    about the cut (when there was one), every batch before the cut reads back at its offset, and
    new produces continue at the right offset.
(c) A byte flipped in the middle of a batch: the tail from that batch on is cut, the rest survives.

The seed is printed (and can be set with SLUICE_CRASH_SEED=<n>) for reproduction.
Runtime: about 8 s.
"""
import glob
import os
import random
import signal
import socket
import struct
import threading
import time

import pytest

import kproto
import records as R

PRODUCE, FETCH, LIST_OFFSETS, CREATE_TOPICS = 0, 1, 2, 19
PARTITIONS = 3
KILLS = 8


def config(log_dir, extra=""):
    return (f"node.id: 1\n"
            f"log.dirs: {log_dir}\n"
            f"listeners: PLAINTEXT://127.0.0.1:0\n"
            f"auto.create.topics.enable: false\n"
            f"num.partitions: 1\n" + extra)


def create_topic(bootstrap, name, partitions):
    body = kproto.request(bootstrap, CREATE_TOPICS, 7, {"Topics": [{
        "Name": name, "NumPartitions": partitions, "ReplicationFactor": 1}],
        "timeoutMs": 30000})
    assert body["Topics"][0]["ErrorCode"] == 0, body


def produce_fields(topic, parts, acks=-1):
    return {"TransactionalId": None, "Acks": acks, "TimeoutMs": 30000, "TopicData": [
        {"Name": topic, "PartitionData": [{"Index": p, "Records": r} for p, r in parts.items()]}]}


def produce(bootstrap, topic, partition, batch):
    body = kproto.request(bootstrap, PRODUCE, 9, produce_fields(topic, {partition: batch}))
    return body["Responses"][0]["PartitionResponses"][0]


def read_partition(bootstrap, topic, partition, limit_s=20.0):
    """Every batch from offset 0 to the high watermark (several fetches if needed)."""
    out, offset, hw = [], 0, None
    deadline = time.monotonic() + limit_s
    while hw is None or offset < hw:
        assert time.monotonic() < deadline, f"reading {topic}-{partition} stuck at {offset}"
        body = kproto.request(bootstrap, FETCH, 12, {
            "ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 0, "MaxBytes": 1 << 22,
            "SessionEpoch": -1, "Topics": [{"Topic": topic, "Partitions": [
                {"Partition": partition, "FetchOffset": offset, "PartitionMaxBytes": 1 << 22}]}]})
        p = body["Responses"][0]["Partitions"][0]
        assert p["ErrorCode"] == 0, p
        hw = p["HighWatermark"]
        batches = R.parse_batches(p["Records"])
        if not batches:
            assert offset == hw, f"no batch at {offset} below the high watermark {hw}"
            break
        for b in batches:
            assert b.base_offset == offset, f"offsets not dense: {b.base_offset} after {offset}"
            offset = b.last_offset + 1
        out += batches
    return out, hw


# ---------------------------------------------------------------------------------------------
# (a) SIGKILL under load


class Producer:
    """Pipelines produce requests (acks=-1, one batch per partition each) on one connection and
    records what was acknowledged: acked[(partition, offset)] = payload."""

    def __init__(self, topic, rng, window=6):
        self.topic, self.rng, self.window = topic, rng, window
        self.acked = {}
        self.sent = set()
        self.seq = 0
        self.requests = 0

    def next_request(self):
        parts, payloads = {}, {}
        for p in range(PARTITIONS):
            n = self.rng.randint(1, 6)
            values = []
            for _ in range(n):
                self.seq += 1
                values.append(f"p{p}-s{self.seq}-".encode() + b"x" * self.rng.randint(0, 300))
            comp = R.GZIP if self.rng.random() < 0.2 else R.NONE
            parts[p] = R.build_batch(values, compression=comp)
            payloads[p] = values
            self.sent.update((p, v) for v in values)
        return parts, payloads

    def run(self, bootstrap, stop_at):
        """Produces until the connection dies or stop_at passes. Returns (requests acked,
        requests in flight when the connection died)."""
        inflight = {}
        acked_here = 0
        try:
            with kproto.Connection(bootstrap, timeout=10.0) as c:
                while True:
                    while len(inflight) < self.window and time.monotonic() < stop_at:
                        parts, payloads = self.next_request()
                        c.correlation_id += 1
                        c.send_raw(kproto.encode_request(
                            PRODUCE, 9, produce_fields(self.topic, parts), c.correlation_id))
                        inflight[c.correlation_id] = payloads
                    if not inflight:
                        return acked_here, 0
                    header, body = kproto.decode_response(PRODUCE, 9, c.recv_frame())
                    payloads = inflight.pop(header["CorrelationId"])
                    for t in body["Responses"]:
                        for pr in t["PartitionResponses"]:
                            assert pr["ErrorCode"] == 0, pr
                            for i, v in enumerate(payloads[pr["Index"]]):
                                key = (pr["Index"], pr["BaseOffset"] + i)
                                assert key not in self.acked, f"offset {key} acknowledged twice"
                                self.acked[key] = v
                    acked_here += 1
        except (ConnectionError, OSError):
            return acked_here, len(inflight)  # killed: what is in flight is unknown


def test_sigkill_under_load_keeps_every_acknowledged_record(start_broker, tmp_path):
    seed = int(os.environ.get("SLUICE_CRASH_SEED", random.randrange(1 << 32)))
    print(f"crash test seed: SLUICE_CRASH_SEED={seed}")
    rng = random.Random(seed)
    log_dir = str(tmp_path / "data")
    # Small segments, so that kills also land around segment rolls.
    text = config(log_dir, "log.segment.bytes: 65536\n")
    broker = start_broker(config_text=text)
    topic = "crash-load"
    create_topic(broker.bootstrap, topic, PARTITIONS)
    producer = Producer(topic, rng)
    acked_per_round, inflight_at_kill = [], []
    for round_no in range(KILLS):
        delay = rng.uniform(0.05, 0.8)
        killer = threading.Timer(delay, lambda b=broker: b.proc.send_signal(signal.SIGKILL))
        killer.start()
        n, unknown = producer.run(broker.bootstrap, time.monotonic() + 5.0)
        killer.join()
        assert broker.proc.wait(10) == -signal.SIGKILL, f"seed {seed}"
        acked_per_round.append(n)
        inflight_at_kill.append(unknown)
        broker = start_broker(config_text=text)
    # A last round without a kill, then check everything.
    producer.run(broker.bootstrap, time.monotonic() + 0.3)
    assert sum(acked_per_round) > 0, f"nothing was acknowledged (seed {seed})"
    # The kills must have hit requests in flight, or the test proves little.
    assert sum(1 for n in inflight_at_kill if n) >= KILLS // 2, (seed, inflight_at_kill)
    for p in range(PARTITIONS):
        batches, hw = read_partition(broker.bootstrap, topic, p)
        stored = {}
        seen = set()
        for b in batches:
            for r in b.records:
                assert r["value"] not in seen, f"seed {seed}: {r['value'][:20]} twice in p{p}"
                assert (p, r["value"]) in producer.sent, f"seed {seed}: unknown record {r}"
                seen.add(r["value"])
                stored[r["offset"]] = r["value"]
        assert sorted(stored) == list(range(hw)), f"seed {seed}: offsets not dense in p{p}"
        for (part, offset), value in producer.acked.items():
            if part == p:
                assert stored.get(offset) == value, (
                    f"seed {seed}: acknowledged {value[:20]} at {p}/{offset}, "
                    f"found {stored.get(offset, b'<nothing>')[:20]}")
    assert "ERROR" not in broker.log_text(), broker.log_text()[-2000:]
    print(f"crash test seed {seed}: {KILLS} kills, acknowledged requests per round "
          f"{acked_per_round}, in flight at each kill {inflight_at_kill}, records acknowledged "
          f"{len(producer.acked)} of {len(producer.sent)} sent")


# ---------------------------------------------------------------------------------------------
# (b), (c) damage to the newest segment while the broker is down


@pytest.fixture
def stopped_log(start_broker, tmp_path):
    """Six acknowledged batches in one partition, then SIGKILL. Returns (config text, segment
    path, [(offset, count, bytes)] of the batches as stored)."""
    log_dir = str(tmp_path / "data")
    text = config(log_dir)
    broker = start_broker(config_text=text)
    create_topic(broker.bootstrap, "crash-cut", 1)
    for i in range(6):
        values = [f"batch{i}-rec{j}".encode() * (i + 1) for j in range(i % 3 + 1)]
        p = produce(broker.bootstrap, "crash-cut", 0,
                    R.build_batch(values, compression=R.GZIP if i == 4 else R.NONE))
        assert p["ErrorCode"] == 0
    before, hw = read_partition(broker.bootstrap, "crash-cut", 0)
    broker.proc.send_signal(signal.SIGKILL)
    assert broker.proc.wait(10) == -signal.SIGKILL
    segments = sorted(glob.glob(os.path.join(log_dir, "crash-cut-0", "*.log")))
    assert segments, os.listdir(log_dir)
    with open(segments[-1], "rb") as f:
        on_disk = f.read()
    assert b"".join(b.raw for b in before) == on_disk  # stored exactly as fetched
    return text, segments[-1], before


def restart_and_check(start_broker, text, survivors, cut_expected):
    broker = start_broker(config_text=text)
    batches, hw = read_partition(broker.bootstrap, "crash-cut", 0)
    assert [b.raw for b in batches] == [b.raw for b in survivors]
    end = survivors[-1].last_offset + 1 if survivors else 0
    assert hw == end
    warns = [l for l in broker.log_lines if "truncating torn or corrupt tail" in l]
    if cut_expected:
        assert len(warns) == 1 and "WARN" in warns[0], broker.log_text()
        assert f"bytes_cut={cut_expected}" in warns[0], warns
    else:
        assert not warns, warns
    p = produce(broker.bootstrap, "crash-cut", 0, R.build_batch([b"after", b"restart"]))
    assert (p["ErrorCode"], p["BaseOffset"]) == (0, end)
    batches, hw = read_partition(broker.bootstrap, "crash-cut", 0)
    assert hw == end + 2 and batches[-1].values() == [b"after", b"restart"]
    return broker


def cut_file(path, size):
    with open(path, "r+b") as f:
        f.truncate(size)


@pytest.mark.parametrize("where", ["header-after-length", "header-before-count", "records-1",
                                   "records-half", "whole-batch", "two-batches-and-a-bit"])
def test_cut_tail_of_newest_segment(start_broker, stopped_log, where):
    text, segment, before = stopped_log
    last = before[-1]
    size = os.path.getsize(segment)
    start = size - len(last.raw)
    cut_to, survivors, leftover = {
        "header-after-length": (start + 12, before[:-1], 12),
        "header-before-count": (start + R.HEADER_BYTES - 2, before[:-1], R.HEADER_BYTES - 2),
        "records-1": (size - 1, before[:-1], len(last.raw) - 1),
        "records-half": (start + (R.HEADER_BYTES + len(last.raw)) // 2, before[:-1],
                         (R.HEADER_BYTES + len(last.raw)) // 2),
        "whole-batch": (start, before[:-1], 0),
        "two-batches-and-a-bit": (start - len(before[-2].raw) + 30, before[:-2], 30),
    }[where]
    cut_file(segment, cut_to)
    restart_and_check(start_broker, text, survivors, leftover)
    assert os.path.getsize(segment) == cut_to - leftover + len(R.build_batch([b"after",
                                                                              b"restart"]))


@pytest.mark.parametrize("which,where", [(-1, "records"), (-1, "crc"), (-1, "attributes"),
                                         (-3, "records")])
def test_corrupt_byte_cuts_from_that_batch(start_broker, stopped_log, which, where):
    text, segment, before = stopped_log
    target = before[which]
    start = sum(len(b.raw) for b in before[:len(before) + which])
    pos = start + {"records": (R.HEADER_BYTES + len(target.raw)) // 2, "crc": R.CRC_OFFSET + 1,
                   "attributes": R.ATTRIBUTES_OFFSET + 1}[where]
    with open(segment, "r+b") as f:
        f.seek(pos)
        byte = f.read(1)
        f.seek(pos)
        f.write(bytes([byte[0] ^ 0x5A]))
    size = os.path.getsize(segment)
    survivors = before[:len(before) + which]
    restart_and_check(start_broker, text, survivors, size - start)


def test_clean_restart_after_kill_cuts_nothing(start_broker, stopped_log):
    """The kill alone (everything acknowledged was synced): no cut, nothing lost."""
    text, segment, before = stopped_log
    restart_and_check(start_broker, text, before, 0)
