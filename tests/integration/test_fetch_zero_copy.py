"""Fetch answers that carry many MB: record data sent with sendfile(2) straight from the segment
files (the default on a plaintext listener) and the copy path (fetch.sendfile.enable: false) give the
same bytes, across segments and partitions, pipelined on one connection, to a reader that stalls, to
a reader that hangs up mid-answer, while DeleteRecords removes the segments being sent, and when the
segments are not in the page cache. The records a Fetch returns must be exactly the bytes of the
partition's segment files (whole batches, in order), which the test reads from disk to compare.
Real broker, real sockets (kproto frames) and a real client (confluent-kafka)."""
import glob
import os
import socket
import struct
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import kproto
import wire

FETCH, LIST_OFFSETS, CREATE_TOPICS, DELETE_RECORDS = 1, 2, 19, 21
SEGMENT_BYTES = 1 << 20
RECORD = 1024
PARTITIONS = 3
PER_PARTITION = 4000  # about 4 MiB, four or five segments per partition


def create_topic(bootstrap, name, partitions=PARTITIONS, segment=SEGMENT_BYTES):
    body = kproto.request(bootstrap, CREATE_TOPICS, 7, {"Topics": [{
        "Name": name, "NumPartitions": partitions, "ReplicationFactor": 1,
        "Configs": [{"Name": "segment.bytes", "Value": str(segment)}]}],
        "timeoutMs": 30000})
    assert body["Topics"][0]["ErrorCode"] == 0, body


def produce(bootstrap, topic, partitions=PARTITIONS, count=PER_PARTITION):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all",
                  "batch.size": 64 * 1024})
    failed = []
    for i in range(count):
        for part in range(partitions):
            value = (f"{part}:{i}:".encode() * 200)[:RECORD]
            while True:
                try:
                    p.produce(topic, value, key=str(i).encode(), partition=part,
                              on_delivery=lambda err, _m: err and failed.append(err))
                    break
                except BufferError:
                    p.poll(0.1)
        p.poll(0)
    assert p.flush(60) == 0
    assert not failed, failed[:3]


def segment_bytes(data_dir, topic, partition):
    """The partition's records as they are on disk: its .log files in offset order, concatenated."""
    files = sorted(glob.glob(os.path.join(data_dir, f"{topic}-{partition}", "*.log")))
    assert files, f"no segments for {topic}-{partition}"
    return b"".join(open(f, "rb").read() for f in files), files


def fetch_fields(topic, offsets, max_bytes=64 << 20, partition_max=16 << 20):
    return {"ReplicaId": -1, "MaxWaitMs": 0, "MinBytes": 0, "MaxBytes": max_bytes,
            "IsolationLevel": 0, "SessionId": 0, "SessionEpoch": -1,
            "Topics": [{"Topic": topic, "Partitions": [
                {"Partition": p, "FetchOffset": o, "PartitionMaxBytes": partition_max}
                for p, o in offsets.items()]}],
            "ForgottenTopicsData": [], "RackId": ""}


def parts_of(body):
    out = {}
    for t in body["Responses"]:
        for p in t["Partitions"]:
            assert p["ErrorCode"] == 0, p
            out[p["PartitionIndex"]] = p
    return out


def last_offset_of(records):
    """The offset after the last batch in records (whole batches only)."""
    pos, nxt = 0, None
    while pos < len(records):
        base, length = struct.unpack_from(">qi", records, pos)
        delta = struct.unpack_from(">i", records, pos + 23)[0]
        assert pos + 12 + length <= len(records), "a partial batch"
        nxt = base + delta + 1
        pos += 12 + length
    return nxt


def read_partitions(conn, topic, partitions, max_bytes=64 << 20, partition_max=16 << 20):
    """Fetches every partition from offset 0 to its high watermark on conn; returns the bytes."""
    offsets = {p: 0 for p in range(partitions)}
    got = {p: bytearray() for p in range(partitions)}
    done = set()
    while len(done) < partitions:
        want = {p: o for p, o in offsets.items() if p not in done}
        _, body = conn.request(FETCH, 12, fetch_fields(topic, want, max_bytes, partition_max))
        for p, part in parts_of(body).items():
            records = part["Records"] or b""
            got[p] += records
            if records:
                offsets[p] = last_offset_of(records)
            if offsets[p] >= part["HighWatermark"]:
                done.add(p)
    return got


def open_fds(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:  # closed while listing
            pass
    return out


def deleted_segment_fds(pid):
    return [l for l in open_fds(pid) if l.endswith(".log (deleted)")]


@pytest.fixture(params=["sendfile", "copy"])
def mode_broker(request, start_broker):
    extra = "fetch.sendfile.enable: false\n" if request.param == "copy" else ""
    b = start_broker(extra)
    b.data_dir = os.path.join(b.workdir, "data")
    b.mode_sendfile = request.param == "sendfile"
    return b


def test_large_fetch_across_segments_and_partitions(mode_broker):
    b, topic = mode_broker, "zc-large"
    create_topic(b.bootstrap, topic)
    produce(b.bootstrap, topic)
    with kproto.Connection(b.bootstrap) as conn:
        # One request for everything (16 MiB per partition), then small steps through max.bytes.
        got = read_partitions(conn, topic, PARTITIONS)
        stepped = read_partitions(conn, topic, PARTITIONS, max_bytes=300_000, partition_max=200_000)
    for p in range(PARTITIONS):
        disk, files = segment_bytes(b.data_dir, topic, p)
        assert len(files) >= 3, f"want several segments, got {files}"
        assert bytes(got[p]) == disk, f"partition {p}: {len(got[p])} bytes vs {len(disk)} on disk"
        assert bytes(stepped[p]) == disk
    # A real consumer reads every record, in order, intact.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "zc", "enable.auto.commit": False,
                  "fetch.max.bytes": 8 << 20, "max.partition.fetch.bytes": 4 << 20})
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    seen = {p: 0 for p in range(PARTITIONS)}
    deadline = time.monotonic() + 120
    while sum(seen.values()) < PARTITIONS * PER_PARTITION:
        assert time.monotonic() < deadline, seen
        for m in c.consume(1000, 1.0):
            assert m.error() is None, m.error()
            p, i = m.partition(), seen[m.partition()]
            assert m.offset() == i and m.key() == str(i).encode()
            assert m.value() == (f"{p}:{i}:".encode() * 200)[:RECORD]
            seen[p] += 1
    c.close()


def test_pipelined_fetches_answer_in_order(mode_broker):
    b, topic = mode_broker, "zc-pipe"
    create_topic(b.bootstrap, topic)
    produce(b.bootstrap, topic, count=2000)
    disk = {p: segment_bytes(b.data_dir, topic, p)[0] for p in range(PARTITIONS)}
    requests = []
    for i in range(24):  # alternating big, small and metadata-only requests on one connection
        part, size = i % PARTITIONS, (4 << 20) if i % 2 == 0 else 5000
        requests.append((part, size))
    with kproto.Connection(b.bootstrap, timeout=60) as conn:
        payload = b"".join(
            kproto.frame(kproto.encode_request(FETCH, 12, fetch_fields(topic, {p: 0}, size, size),
                                               correlation_id=100 + i))
            for i, (p, size) in enumerate(requests))
        conn.sock.sendall(payload)
        for i, (p, size) in enumerate(requests):
            header, body = kproto.decode_response(FETCH, 12, conn.recv_frame())
            assert header["CorrelationId"] == 100 + i
            records = parts_of(body)[p]["Records"]
            assert 0 < len(records) <= max(size, 12 + struct.unpack_from(">i", records, 8)[0])
            assert disk[p].startswith(records), f"request {i}: not the partition's first bytes"


def big_fetch_frame(topic, corr=7):
    return kproto.frame(kproto.encode_request(
        FETCH, 12, fetch_fields(topic, {p: 0 for p in range(PARTITIONS)}), correlation_id=corr))


def recv_response(sock, timeout=60):
    sock.settimeout(timeout)
    size = struct.unpack(">i", wire.recv_exact(sock, 4, time.monotonic() + timeout))[0]
    payload = wire.recv_exact(sock, size, time.monotonic() + timeout)
    return kproto.decode_response(FETCH, 12, payload)


def small_receive_buffer_socket(bootstrap):
    host, port = bootstrap.rsplit(":", 1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the broker's sends fill up quickly
    s.connect((host, int(port)))
    return s


def test_slow_reader_does_not_hold_up_others(mode_broker):
    b, topic = mode_broker, "zc-slow"
    create_topic(b.bootstrap, topic)
    produce(b.bootstrap, topic)
    slow = small_receive_buffer_socket(b.bootstrap)
    slow.sendall(big_fetch_frame(topic))
    time.sleep(1.0)  # the answer is now stuck behind a full socket
    for _ in range(3):  # meanwhile other clients are served, including big fetches
        wire.assert_still_serving(b)
        with kproto.Connection(b.bootstrap) as conn:
            got = read_partitions(conn, topic, PARTITIONS)
        assert bytes(got[0]) == segment_bytes(b.data_dir, topic, 0)[0]
        time.sleep(0.5)
    header, body = recv_response(slow)
    assert header["CorrelationId"] == 7
    for p, part in parts_of(body).items():
        assert part["Records"] == segment_bytes(b.data_dir, topic, p)[0][:len(part["Records"])]
        assert len(part["Records"]) > SEGMENT_BYTES // 2  # a whole segment
    slow.close()


def test_segments_deleted_while_the_answer_is_queued(mode_broker):
    b, topic = mode_broker, "zc-deleted"
    # 6 MiB segments: the answer (a segment per partition) is far more than the socket buffers
    # take, so it is still being sent when the segments go.
    create_topic(b.bootstrap, topic, segment=6 << 20)
    produce(b.bootstrap, topic, count=14000)
    before = {p: segment_bytes(b.data_dir, topic, p) for p in range(PARTITIONS)}
    slow = small_receive_buffer_socket(b.bootstrap)
    slow.sendall(big_fetch_frame(topic))
    time.sleep(1.0)
    # DeleteRecords to the high watermark: every segment but the active one goes, now.
    body = kproto.request(b.bootstrap, DELETE_RECORDS, 2, {"Topics": [{"Name": topic, "Partitions": [
        {"PartitionIndex": p, "Offset": -1} for p in range(PARTITIONS)]}], "TimeoutMs": 30000})
    for part in body["Topics"][0]["Partitions"]:
        assert part["ErrorCode"] == 0, part
    deadline = time.monotonic() + 30
    while any(os.path.exists(f) for p in range(PARTITIONS) for f in before[p][1][:-1]):
        assert time.monotonic() < deadline, "DeleteRecords left the old segments"
        time.sleep(0.1)
    if b.mode_sendfile:
        # The queued answer still holds the deleted segments open (dup'd descriptors).
        assert deleted_segment_fds(b.proc.pid), open_fds(b.proc.pid)
    header, body = recv_response(slow)
    for p, part in parts_of(body).items():
        assert len(part["Records"]) > 3 << 20  # a whole segment
        assert before[p][0].startswith(part["Records"]), f"partition {p}: not the deleted bytes"
    slow.close()
    deadline = time.monotonic() + 30
    while deleted_segment_fds(b.proc.pid):  # sent: the descriptors are closed, the space freed
        assert time.monotonic() < deadline, deleted_segment_fds(b.proc.pid)
        time.sleep(0.1)


def test_client_disconnects_mid_answer(mode_broker):
    b, topic = mode_broker, "zc-hangup"
    create_topic(b.bootstrap, topic)
    produce(b.bootstrap, topic)
    baseline = len(open_fds(b.proc.pid))
    for linger in (False, True):
        s = small_receive_buffer_socket(b.bootstrap)
        s.sendall(big_fetch_frame(topic))
        time.sleep(0.5)
        s.recv(1000)  # a little of the answer, then hang up
        if linger:  # a reset rather than a FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    wire.assert_still_serving(b)
    with kproto.Connection(b.bootstrap) as conn:
        assert bytes(read_partitions(conn, topic, 1)[0]) == segment_bytes(b.data_dir, topic, 0)[0]
    deadline = time.monotonic() + 30
    while len(open_fds(b.proc.pid)) > baseline:  # no descriptor left behind
        assert time.monotonic() < deadline, open_fds(b.proc.pid)
        time.sleep(0.1)


def test_segments_not_in_the_page_cache(start_broker):
    """Pages evicted (they are synced, so POSIX_FADV_DONTNEED drops them): the broker reads them
    through the disk backend instead of sending them from the loop, and the bytes are the same."""
    b = start_broker()
    data_dir, topic = os.path.join(b.workdir, "data"), "zc-cold"
    create_topic(b.bootstrap, topic, partitions=1)
    produce(b.bootstrap, topic, partitions=1)
    disk, files = segment_bytes(data_dir, topic, 0)
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    with kproto.Connection(b.bootstrap) as conn:
        assert bytes(read_partitions(conn, topic, 1)[0]) == disk
        assert bytes(read_partitions(conn, topic, 1)[0]) == disk  # now cached: sendfile
