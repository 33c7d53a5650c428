"""Hostile and odd bytes on the wire, by hand-built frames (wire.py). Every case checks three things:
the bad connection is closed without a response (or answered with the protocol's error where Kafka
answers), the broker process is still alive, and a fresh connection still gets a valid ApiVersions
answer. Also: framing edge cases that must work (1-byte writes, pipelining), bounded logging and
bounded memory under abuse. Kafka's behaviour is the reference (CLIENTS.md 4.1-4.2)."""
import os
import random
import socket
import struct
import time

import pytest

import wire
from conftest import SLUICE_BIN, broker_config

CLOSE_TIMEOUT = 3.0


# ---------------------------------------------------------------- helpers


def no_autocreate(tmp_path):
    return broker_config(os.path.join(str(tmp_path), "data")).replace(
        "auto.create.topics.enable: true", "auto.create.topics.enable: false")


def assert_still_serving(broker):
    wire.assert_still_serving(broker)


def expect_closed_without_response(broker, data, what):
    wire.expect_closed_without_response(broker.bootstrap, data, what, CLOSE_TIMEOUT)


def read_responses(sock, expected, timeout=5.0):
    """expected: list of (api_key, version, corr). Returns the bodies, checking order and corr."""
    bodies = []
    for i, (key, ver, corr) in enumerate(expected):
        try:
            got_corr, body = wire.recv_response(sock, key, ver, timeout)
        except (wire.Closed, TimeoutError) as e:
            pytest.fail(f"response {i} (api {key} v{ver} corr {corr}): {e}")
        assert got_corr == corr, f"response {i}: correlation id {got_corr}, expected {corr}"
        bodies.append(body)
    return bodies


def header_only(api_key, version, corr, client_id="bad"):
    return wire.header(api_key, version, corr, client_id=client_id, flexible=False)


# ---------------------------------------------------------------- baseline: what must work


@pytest.mark.parametrize("version", range(0, 5))
def test_api_versions_every_version(broker, version):
    r = wire.api_versions(broker.bootstrap, version=version)
    assert r["error"] == 0, r
    assert r["apis"].get(wire.API_API_VERSIONS) == (0, 4), r
    assert r["apis"].get(wire.API_METADATA) == (0, 12), r
    assert r["trailing"] == 0, r
    if version >= 1:
        assert r["throttle_ms"] == 0, r


@pytest.mark.parametrize("version", range(0, 13))
def test_metadata_every_version(broker, version):
    md = wire.metadata(broker.bootstrap, version=version)
    assert md["trailing"] == 0, md
    assert [(b["node_id"], b["host"], b["port"]) for b in md["brokers"]] == [
        (1, broker.host, broker.port)], md
    assert md["topics"] == [], md
    if version >= 1:
        assert md["controller_id"] == 1, md
    if version >= 2:
        assert md["cluster_id"], md


def test_metadata_named_missing_topic(start_broker, tmp_path):
    b = start_broker(config_text=no_autocreate(tmp_path))
    for version in (0, 1, 4, 9, 12):
        md = wire.metadata(b.bootstrap, version=version, topics=["nosuch"])
        assert len(md["topics"]) == 1, (version, md)
        t = md["topics"][0]
        assert (t["name"], t["error"], t["partitions"]) == (
            "nosuch", wire.UNKNOWN_TOPIC_OR_PARTITION, []), (version, md)


def test_null_client_id_answered(broker):
    """client_id is a nullable string: -1 is legal and must be answered."""
    with wire.connect(broker.bootstrap) as s:
        s.sendall(wire.request(wire.API_API_VERSIONS, 0, 21, client_id=None))
        s.sendall(wire.request(wire.API_METADATA, 1, 22, wire.metadata_body(1), client_id=None))
        av, md = read_responses(s, [(18, 0, 21), (3, 1, 22)])
    assert wire.parse_api_versions(av, 0)["error"] == 0
    assert wire.parse_metadata(md, 1)["controller_id"] == 1


def test_unknown_tagged_fields_skipped(broker):
    """Flexible versions: unknown tags in the request header and body are skipped, not refused."""
    tag = wire.uvarint(1) + wire.uvarint(7) + wire.uvarint(3) + b"abc"  # one field, tag 7
    hdr = wire.header(wire.API_METADATA, 12, 31, flexible=False) + tag
    body = wire.metadata_body(12)[:-1] + tag  # replace the empty tag section at the end
    av_hdr = wire.header(wire.API_API_VERSIONS, 3, 32, flexible=False) + tag
    av_body = wire.compact_string("sluice-tests") + wire.compact_string("1.0") + tag
    with wire.connect(broker.bootstrap) as s:
        s.sendall(wire.frame(hdr + body) + wire.frame(av_hdr + av_body))
        md, av = read_responses(s, [(3, 12, 31), (18, 3, 32)])
    assert wire.parse_metadata(md, 12)["brokers"][0]["node_id"] == 1
    assert wire.parse_api_versions(av, 3)["error"] == 0


@pytest.mark.parametrize("name", ["bad name!", "", "-leading-dash"])
def test_api_versions_invalid_software_name(broker, name):
    """ApiVersions v3+ software names must match [a-zA-Z0-9](?:[a-zA-Z0-9-.]*[a-zA-Z0-9])?; Kafka
    answers INVALID_REQUEST (42) in a v3 body and keeps the connection (librdkafka then retries
    with v0)."""
    body = wire.compact_string(name) + wire.compact_string("1.0") + wire.uvarint(0)
    with wire.connect(broker.bootstrap) as s:
        s.sendall(wire.request(wire.API_API_VERSIONS, 3, 41, body))
        (av,) = read_responses(s, [(18, 3, 41)])
        r = wire.parse_api_versions(av, 3)
        assert r["error"] == 42, r
        s.sendall(wire.api_versions_request(0, 42))
        (av0,) = read_responses(s, [(18, 0, 42)])
        assert wire.parse_api_versions(av0, 0)["error"] == 0


def test_concurrent_clients(broker):
    """16 clients at once, 50 round trips each, alternating ApiVersions and Metadata."""
    import threading
    errors = []

    def client(n):
        try:
            with wire.connect(broker.bootstrap) as s:
                for i in range(50):
                    corr = n * 1000 + i
                    if i % 2:
                        s.sendall(wire.metadata_request(12, corr))
                        got, body = wire.recv_response(s, 3, 12)
                        assert wire.parse_metadata(body, 12)["brokers"][0]["port"] == broker.port
                    else:
                        s.sendall(wire.api_versions_request(i % 5, corr))
                        got, body = wire.recv_response(s, 18, i % 5)
                        assert wire.parse_api_versions(body, i % 5)["error"] == 0
                    assert got == corr, (got, corr)
        except Exception as e:
            errors.append(f"client {n}: {e!r}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert not errors, errors


# ---------------------------------------------------------------- lying or broken framing


@pytest.mark.parametrize("size", [0x7FFFFFFF, 0x40000000, 104857600 + 1])
def test_size_prefix_over_limit_closes(broker, size):
    """Above socket.request.max.bytes (default 100 MiB): closed at once, nothing allocated."""
    rss0 = wire.rss_kib(broker.proc.pid)
    expect_closed_without_response(broker, struct.pack(">i", size) + b"\x00" * 64, f"size {size:#x}")
    assert wire.rss_kib(broker.proc.pid) - rss0 < wire.rss_limit_kib(SLUICE_BIN, 16 * 1024)
    assert_still_serving(broker)


@pytest.mark.parametrize("size", [-1, -0x80000000, -8])
def test_negative_size_prefix_closes(broker, size):
    expect_closed_without_response(broker, struct.pack(">i", size) + b"\x00" * 16, f"size {size}")
    assert_still_serving(broker)


def test_zero_size_prefix_closes(broker):
    expect_closed_without_response(broker, struct.pack(">i", 0) + b"\x00" * 16, "size 0")
    assert_still_serving(broker)


@pytest.mark.parametrize("payload", [
    b"\x00\x12\x00",                        # size 3: not even api key + version + corr id
    b"\x00\x12\x00\x00\x00\x00\x00",        # size 7: corr id cut short
    b"\x00\x12\x00\x00\x00\x00\x00\x01",    # size 8: no client id length
    b"\x00\x12\x00\x00\x00\x00\x00\x01\x00\x09ab",  # client id says 9 bytes, 2 follow
], ids=["size3", "size7", "size8-no-client-id", "client-id-overrun"])
def test_truncated_header_closes(broker, payload):
    expect_closed_without_response(broker, wire.frame(payload), f"header {payload.hex()}")
    assert_still_serving(broker)


# ---------------------------------------------------------------- unknown or unsupported APIs


@pytest.mark.parametrize("api_key", [-1, 7, 1000, 32767])
def test_unknown_api_key_closes_without_response(broker, api_key):
    """Kafka: InvalidRequestException in the header parse, connection closed, no response."""
    data = wire.frame(header_only(api_key, 0, 42))
    expect_closed_without_response(broker, data, f"api key {api_key}")
    assert_still_serving(broker)


@pytest.mark.parametrize("version", [13, 100, 32767, -1])
def test_unsupported_metadata_version_closes(broker, version):
    data = wire.frame(header_only(wire.API_METADATA, version, 43) + wire.i32(-1) + b"\x00\x00\x00")
    expect_closed_without_response(broker, data, f"Metadata v{version}")
    assert_still_serving(broker)


@pytest.mark.parametrize("version,body", [(7, b""), (5, b"\x00"), (7, b"\xff" * 40), (32767, b"")])
def test_api_versions_too_new_answers_unsupported_version(broker, version, body):
    """Kafka answers any ApiVersions version above its max without parsing the body: a v0 body
    (error 35, only the ApiVersions entry 18: 0-4, no throttle time) under a v0 header, and the
    connection stays usable."""
    with wire.connect(broker.bootstrap) as s:
        s.sendall(wire.request(wire.API_API_VERSIONS, version, 0x01020304, body, flexible=True))
        payload = wire.recv_frame(s, 5.0)
        expected = wire.i32(0x01020304) + bytes.fromhex("0023" "00000001" "0012" "0000" "0004")
        assert payload == expected, f"got {payload.hex()}, expected {expected.hex()}"
        # The client retries with a version the broker knows, on the same connection.
        s.sendall(wire.api_versions_request(3, 5))
        corr, body = wire.recv_response(s, wire.API_API_VERSIONS, 3, 5.0)
        assert corr == 5
        assert wire.parse_api_versions(body, 3)["error"] == 0
    assert_still_serving(broker)


# ---------------------------------------------------------------- bodies that do not decode

GARBAGE_METADATA = {
    # v1: topic count 0x7fffffff and nothing after it
    "v1-huge-count": (1, wire.i32(0x7FFFFFFF)),
    # v0: one topic whose name claims 500 bytes, 3 follow
    "v0-name-overrun": (0, wire.i32(1) + wire.i16(500) + b"abc"),
    # v1: a name with length -5 (only -1 could mean null, and names are not nullable before v10)
    "v1-negative-name-length": (1, wire.i32(1) + wire.i16(-5)),
    # v4: topics null, then the body ends before AllowAutoTopicCreation
    "v4-missing-bool": (4, wire.i32(-1)),
    # v9 (flexible): compact array count 2^32-1 in a 5-byte varint
    "v9-huge-compact-count": (9, b"\xff\xff\xff\xff\x0f"),
    # v12: a varint that never ends
    "v12-endless-varint": (12, b"\xff" * 12),
    # v9: tagged field section claiming a 1000-byte field, 2 bytes follow
    "v9-tag-overrun": (9, wire.uvarint(1) + wire.uvarint(0) + wire.uvarint(1000) + b"xx"),
}


@pytest.mark.parametrize("case", sorted(GARBAGE_METADATA))
def test_metadata_garbage_body_closes(broker, case):
    version, body = GARBAGE_METADATA[case]
    data = wire.frame(wire.header(wire.API_METADATA, version, 44) + body)
    expect_closed_without_response(broker, data, f"Metadata {case}")
    assert_still_serving(broker)


def test_random_bytes(start_broker, tmp_path):
    """Seeded random junk: unframed bytes on 300 connections, then 200 frames whose size prefix is
    right but whose content is random (mostly API 3 and 18 headers). Each framed one must be answered
    (with its correlation id) or closed within a few seconds; none may hang or kill the broker."""
    seed = 20261128
    rng = random.Random(seed)
    b = start_broker(config_text=no_autocreate(tmp_path))
    for i in range(300):
        junk = rng.randbytes(rng.randint(1, 512))
        with wire.connect(b.bootstrap) as s:
            try:
                s.sendall(junk)
            except OSError:
                pass
    assert_still_serving(b)

    hung = []
    for i in range(200):
        key = rng.choice([wire.API_METADATA, wire.API_API_VERSIONS, rng.randint(-32768, 32767)])
        version = rng.randint(-2, 15)
        corr = rng.randint(-2**31, 2**31 - 1)
        payload = struct.pack(">hhi", key, version, corr) + rng.randbytes(rng.randint(0, 300))
        with wire.connect(b.bootstrap) as s:
            try:
                s.sendall(wire.frame(payload))
                resp = wire.recv_frame(s, CLOSE_TIMEOUT)
            except wire.Closed:
                continue
            except TimeoutError:
                hung.append((i, payload[:24].hex()))
                if len(hung) >= 3:
                    break
                continue
            assert struct.unpack(">i", resp[:4])[0] == corr, (
                f"seed {seed} frame {i}: answered with corr {resp[:4].hex()}, sent {corr}")
    assert not hung, f"seed {seed}: frames neither answered nor closed: {hung}"
    assert_still_serving(b)

    # Mutated valid requests (byte flips, cuts, inserts, lying lengths) on reused connections.
    valid = [wire.api_versions_request(v, 0)[4:] for v in range(5)]
    valid += [wire.metadata_request(v, 0, topics=t)[4:] for v in range(13) for t in (None, ["a", "bc"])]
    answered = closed = 0
    conn = None
    try:
        for i in range(3000):
            p = bytearray(rng.choice(valid))
            for _ in range(rng.randint(1, 3)):
                op, j = rng.random(), rng.randrange(8, len(p)) if len(p) > 8 else len(p)
                if op < 0.5 and j < len(p):
                    p[j] = rng.randrange(256)
                elif op < 0.7:
                    del p[j:]
                elif op < 0.85:
                    p[j:j] = rng.randbytes(rng.randint(1, 8))
                else:
                    p[j:j + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\0\0\0"])
            if len(p) < 8:
                continue
            struct.pack_into(">i", p, 4, i)  # a fresh correlation id
            if conn is None:
                conn = wire.connect(b.bootstrap)
            try:
                wire.send_all(conn, wire.frame(bytes(p)))
                resp = wire.recv_frame(conn, CLOSE_TIMEOUT)
            except wire.Closed:
                closed += 1
                conn.close()
                conn = None
                continue
            except TimeoutError:
                pytest.fail(f"seed {seed} mutation {i}: neither answered nor closed: {bytes(p).hex()}")
            assert struct.unpack(">i", resp[:4])[0] == i, f"seed {seed} mutation {i}: wrong corr"
            answered += 1
    finally:
        if conn is not None:
            conn.close()
    assert answered > 0 and closed > 0, (answered, closed)
    assert_still_serving(b)


# ---------------------------------------------------------------- framing that must work


def test_request_split_into_one_byte_writes(broker):
    reqs = (wire.api_versions_request(3, 11) + wire.metadata_request(9, 12)
            + wire.api_versions_request(0, 13))
    with wire.connect(broker.bootstrap) as s:
        for i in range(len(reqs)):
            s.sendall(reqs[i:i + 1])
            time.sleep(0.001)
        av3, md9, av0 = read_responses(s, [(18, 3, 11), (3, 9, 12), (18, 0, 13)])
    assert wire.parse_api_versions(av3, 3)["error"] == 0
    assert wire.parse_metadata(md9, 9)["brokers"][0]["port"] == broker.port
    assert wire.parse_api_versions(av0, 0)["apis"][3] == (0, 12)


def test_pipelined_api_versions_answered_in_order(broker):
    """50 ApiVersions requests of mixed versions in one write: 50 answers, in order."""
    expected = [(wire.API_API_VERSIONS, i % 5, 1000 + i) for i in range(50)]
    data = b"".join(wire.api_versions_request(v, c) for _, v, c in expected)
    with wire.connect(broker.bootstrap) as s:
        s.sendall(data)
        bodies = read_responses(s, expected, timeout=10.0)
    for (_, v, c), body in zip(expected, bodies):
        r = wire.parse_api_versions(body, v)
        assert r["error"] == 0 and r["trailing"] == 0, (v, c, r)


def test_pipelined_beyond_in_flight_limit(broker):
    """400 requests in one write, more than a connection may have in flight: the broker must
    pause reading, not drop or reorder anything."""
    expected = []
    for i in range(400):
        expected.append((3, 12, i) if i % 3 == 0 else (18, i % 5, i))
    data = b"".join(wire.metadata_request(v, c) if k == 3 else wire.api_versions_request(v, c)
                    for k, v, c in expected)
    with wire.connect(broker.bootstrap) as s:
        s.sendall(data)
        bodies = read_responses(s, expected, timeout=10.0)
    assert len(bodies) == 400


def test_large_frame_in_random_chunks(broker):
    """A ~1 MiB Metadata request between two small ones, written in random-sized pieces (seeded),
    so the frame boundaries fall anywhere: all three answered, in order."""
    rng = random.Random(7)
    names = [f"big-{i:05d}-" + "x" * 200 for i in range(5000)]
    data = (wire.api_versions_request(0, 1) + wire.metadata_request(4, 2, topics=names)
            + wire.api_versions_request(2, 3))
    assert len(data) > 1 << 20
    with wire.connect(broker.bootstrap) as s:
        pos = 0
        while pos < len(data):
            n = rng.choice([1, 3, 7, rng.randint(1, 70000)])
            s.sendall(data[pos:pos + n])
            pos += n
        av0, md, av2 = read_responses(s, [(18, 0, 1), (3, 4, 2), (18, 2, 3)], timeout=10.0)
    m = wire.parse_metadata(md, 4)
    assert sorted(t["name"] for t in m["topics"]) == names
    assert wire.parse_api_versions(av2, 2)["error"] == 0


def test_metadata_duplicate_topic_names(start_broker, tmp_path):
    """Kafka collects the requested names into a set: a name asked twice is answered once."""
    b = start_broker(config_text=no_autocreate(tmp_path))
    md = wire.metadata(b.bootstrap, version=1, topics=["dup", "dup", "other"])
    assert sorted(t["name"] for t in md["topics"]) == ["dup", "other"], md


def test_kafka_python_probe_pattern(broker):
    """kafka-python's startup: ApiVersions v0 and Metadata v0 (topics [] = all) in one write."""
    data = wire.api_versions_request(0, 1, client_id="kafka-python-2.0.2") + \
        wire.metadata_request(0, 2, topics=[], client_id="kafka-python-2.0.2")
    with wire.connect(broker.bootstrap) as s:
        s.sendall(data)
        av, md = read_responses(s, [(18, 0, 1), (3, 0, 2)])
    assert wire.parse_api_versions(av, 0)["error"] == 0
    m = wire.parse_metadata(md, 0)
    assert [(x["node_id"], x["host"], x["port"]) for x in m["brokers"]] == [
        (1, broker.host, broker.port)], m
    assert m["topics"] == [] and m["trailing"] == 0, m


def test_unsupported_api_versions_then_metadata_pipelined(broker):
    """An UNSUPPORTED_VERSION answer does not close: the request behind it is answered too."""
    data = wire.request(wire.API_API_VERSIONS, 9, 1, flexible=True) + wire.metadata_request(1, 2)
    with wire.connect(broker.bootstrap) as s:
        s.sendall(data)
        av, md = read_responses(s, [(18, 0, 1), (3, 1, 2)])
    assert wire.parse_api_versions(av, 0) == {"error": 35, "apis": {18: (0, 4)}, "trailing": 0}
    assert wire.parse_metadata(md, 1)["controller_id"] == 1


def test_answered_before_close_for_bad_request_behind(broker):
    """A good request followed by an unknown API key in the same write: the good one is answered
    first, then the connection is closed (CLIENTS.md 4.1: answer ApiVersions before closing)."""
    data = wire.api_versions_request(0, 1) + wire.frame(header_only(1000, 0, 2))
    with wire.connect(broker.bootstrap) as s:
        s.sendall(data)
        (av,) = read_responses(s, [(18, 0, 1)])
        assert wire.parse_api_versions(av, 0)["error"] == 0
        closed, got = wire.wait_closed(s, CLOSE_TIMEOUT)
    assert got == b"" and closed, f"after the bad request: closed={closed} got={got[:32].hex()}"
    assert_still_serving(broker)


# ---------------------------------------------------------------- abuse: logging and memory


def bad_frames():
    """One of each kind of bad connection, cycled by the abuse test."""
    return [
        struct.pack(">i", 0x7FFFFFFF) + b"\x00" * 8,
        struct.pack(">i", -1) + b"\x00" * 8,
        wire.frame(header_only(1000, 0, 1)),
        wire.frame(header_only(wire.API_METADATA, 13, 1)),
        wire.frame(wire.header(wire.API_METADATA, 1, 1) + wire.i32(0x7FFFFFFF)),
    ]


def test_abuse_keeps_logs_and_memory_bounded(broker):
    """500 bad connections produce a bounded number of log lines (rate limited, not one per frame),
    and neither they nor 50 connections that each claim a 96 MiB frame (below the 100 MiB limit)
    and send 1 KiB grow the broker's RSS by more than 64 MiB."""
    pid = broker.proc.pid
    assert_still_serving(broker)
    rss0 = wire.rss_kib(pid)
    lines0 = len(broker.log_lines)
    frames = bad_frames()
    still_open = 0
    for i in range(500):
        with wire.connect(broker.bootstrap) as s:
            try:
                wire.send_all(s, frames[i % len(frames)])
            except wire.Closed:
                continue
            closed, got = wire.wait_closed(s, CLOSE_TIMEOUT)
            still_open += 0 if closed else 1
            assert got == b"", f"bad frame {i % len(frames)} answered: {got[:32].hex()}"
            if still_open >= 3:
                break
    assert still_open == 0, f"{still_open} bad connections were not closed"
    assert_still_serving(broker)
    time.sleep(0.3)  # let the stderr reader catch up
    new_lines = broker.log_lines[lines0:]
    assert len(new_lines) >= 1, "500 bad connections and not one log line about them"
    assert len(new_lines) <= 100, (f"{len(new_lines)} log lines for 500 bad connections "
                                   "(expected rate limiting); first ones:\n" + "\n".join(new_lines[:20]))

    socks = []
    try:
        for _ in range(50):
            s = wire.connect(broker.bootstrap)
            socks.append(s)
            s.sendall(struct.pack(">i", 96 << 20) + wire.header(wire.API_METADATA, 1, 1) + b"\x00" * 1024)
        time.sleep(0.5)
        rss_claims = wire.rss_kib(pid)
        assert_still_serving(broker)
    finally:
        for s in socks:
            s.close()
    time.sleep(0.3)
    rss1 = wire.rss_kib(pid)
    limit = wire.rss_limit_kib(SLUICE_BIN)
    assert rss_claims - rss0 < limit, f"RSS {rss0} -> {rss_claims} KiB with 50 open 96 MiB claims"
    assert rss1 - rss0 < limit, f"RSS {rss0} -> {rss1} KiB after the abuse"
    assert_still_serving(broker)


def test_client_that_never_reads(broker):
    """A client pipelines requests and never reads: once the socket buffers are full the broker
    must stop reading from it (bounded memory: it may not queue responses without limit) and keep
    serving others; once the client reads, every whole request is answered, in order."""
    pid = broker.proc.pid
    rss0 = wire.rss_kib(pid)
    chunk = b"".join(wire.metadata_request(12, i) for i in range(1000))
    sent, blocked = 0, False
    with wire.connect(broker.bootstrap) as s:
        s.settimeout(0.5)
        deadline = time.monotonic() + 10.0
        try:
            while sent < 1_000_000 and time.monotonic() < deadline:
                s.sendall(chunk)
                sent += 1000
        except socket.timeout:
            blocked = True  # the broker stopped reading (a part of the last chunk may be sent)
        rss_blocked = wire.rss_kib(pid)
        t = time.monotonic()
        wire.assert_still_serving(broker)
        assert time.monotonic() - t < 2.0
        assert rss_blocked - rss0 < wire.rss_limit_kib(SLUICE_BIN), f"RSS {rss0} -> {rss_blocked} KiB, {sent} requests"
        assert blocked, f"{sent} requests ({sent * len(chunk) // 1000} bytes) and never pushed back"
        # Read back the requests that certainly went out whole, in order.
        for i in range(sent):
            payload = wire.recv_frame(s, 10.0)
            corr = struct.unpack(">i", payload[:4])[0]
            assert corr == i % 1000, f"response {i} has correlation id {corr}"
    wire.assert_still_serving(broker)
