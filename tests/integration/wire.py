"""Tiny raw-socket helpers for hand-built Kafka frames: encoders for the request headers, ApiVersions
and Metadata, decoders for their responses, and socket helpers that tell "answered", "closed" and
"still waiting" apart. Independent of any client library, so a test controls every byte."""
import socket
import struct
import time

API_PRODUCE = 0
API_METADATA = 3
API_API_VERSIONS = 18

UNSUPPORTED_VERSION = 35
UNKNOWN_TOPIC_OR_PARTITION = 3

# First flexible version per API (request header v2 / response header v1 from there on).
FLEXIBLE_FROM = {API_METADATA: 9, API_API_VERSIONS: 3}


class Closed(Exception):
    """The peer closed the connection (EOF or reset) before a whole frame arrived."""


# ---------------------------------------------------------------- encoders


def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string(s):
    """Classic int16-length string; None encodes as null (-1)."""
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def compact_string(s):
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def frame(payload, size=None):
    """A size-prefixed frame; size overrides the prefix (to lie about the length)."""
    return i32(len(payload) if size is None else size) + payload


def is_flexible(api_key, version):
    first = FLEXIBLE_FROM.get(api_key)
    return first is not None and version >= first


def header(api_key, version, corr, client_id="sluice-wire", flexible=None):
    """Request header v1, or v2 (an empty tagged-field section) when the API version is flexible.
    client_id is a classic string in both, as RequestHeader.json says."""
    if flexible is None:
        flexible = is_flexible(api_key, version)
    h = i16(api_key) + i16(version) + i32(corr) + string(client_id)
    return h + (uvarint(0) if flexible else b"")


def request(api_key, version, corr, body=b"", **kw):
    """A whole framed request."""
    return frame(header(api_key, version, corr, **kw) + body)


def api_versions_body(version, software=("sluice-tests", "1.0")):
    if version >= 3:
        return compact_string(software[0]) + compact_string(software[1]) + uvarint(0)
    return b""


def api_versions_request(version, corr, **kw):
    return request(API_API_VERSIONS, version, corr, api_versions_body(version), **kw)


def metadata_body(version, topics=None, allow_auto=False):
    """Metadata request body. topics=None means all topics (v0 has no null: it sends [] instead)."""
    flex = version >= 9
    out = bytearray()
    if topics is None and version == 0:
        topics = []
    if topics is None:
        out += uvarint(0) if flex else i32(-1)
    else:
        out += uvarint(len(topics) + 1) if flex else i32(len(topics))
        for t in topics:
            if version >= 10:
                out += bytes(16)  # topic id: zero = by name
            out += compact_string(t) if flex else string(t)
            if flex:
                out += uvarint(0)
    if version >= 4:
        out += i8(1 if allow_auto else 0)
    if 8 <= version <= 10:
        out += i8(0)  # include cluster authorized operations
    if version >= 8:
        out += i8(0)  # include topic authorized operations
    if flex:
        out += uvarint(0)
    return bytes(out)


def metadata_request(version, corr, topics=None, allow_auto=False, **kw):
    return request(API_METADATA, version, corr, metadata_body(version, topics, allow_auto), **kw)


# ---------------------------------------------------------------- decoders


class Reader:
    """Bounds-checked reads over one response body; raises ValueError past the end."""

    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"read of {n} bytes at {self.pos} past end {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        v, shift = 0, 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
            if shift > 35:
                raise ValueError("varint too long")

    def string(self, flex):
        if flex:
            n = self.uvarint() - 1
        else:
            n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def array_len(self, flex):
        return self.uvarint() - 1 if flex else self.i32()

    def tags(self):
        """Skips a tagged-field section; returns {tag: raw bytes}."""
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            out[tag] = self.take(self.uvarint())
        return out

    def remaining(self):
        return len(self.data) - self.pos


def parse_api_versions(body, version):
    """ApiVersionsResponse body (after the v0 response header) -> dict. Raises on bad bytes."""
    r = Reader(body)
    flex = version >= 3
    out = {"error": r.i16(), "apis": {}}
    n = r.array_len(flex)
    if n < 0 or n > 1000:
        raise ValueError(f"bad ApiKeys count {n}")
    for _ in range(n):
        key, lo, hi = r.i16(), r.i16(), r.i16()
        if flex:
            r.tags()
        out["apis"][key] = (lo, hi)
    if version >= 1:
        out["throttle_ms"] = r.i32()
    if flex:
        out["tags"] = r.tags()
    out["trailing"] = r.remaining()
    return out


def parse_metadata(body, version):
    """MetadataResponse body (after the response header) -> dict. Raises on bad bytes."""
    r = Reader(body)
    flex = version >= 9
    out = {}
    if version >= 3:
        out["throttle_ms"] = r.i32()
    brokers = []
    for _ in range(r.array_len(flex)):
        b = {"node_id": r.i32(), "host": r.string(flex), "port": r.i32()}
        if version >= 1:
            b["rack"] = r.string(flex)
        if flex:
            r.tags()
        brokers.append(b)
    out["brokers"] = brokers
    if version >= 2:
        out["cluster_id"] = r.string(flex)
    if version >= 1:
        out["controller_id"] = r.i32()
    topics = []
    for _ in range(r.array_len(flex)):
        t = {"error": r.i16(), "name": r.string(flex)}
        if version >= 10:
            t["topic_id"] = r.take(16)
        if version >= 1:
            t["internal"] = r.i8()
        parts = []
        for _ in range(r.array_len(flex)):
            p = {"error": r.i16(), "index": r.i32(), "leader": r.i32()}
            if version >= 7:
                p["leader_epoch"] = r.i32()
            p["replicas"] = [r.i32() for _ in range(r.array_len(flex))]
            p["isr"] = [r.i32() for _ in range(r.array_len(flex))]
            if version >= 5:
                p["offline"] = [r.i32() for _ in range(r.array_len(flex))]
            if flex:
                r.tags()
            parts.append(p)
        t["partitions"] = parts
        if version >= 8:
            t["authorized_ops"] = r.i32()
        if flex:
            r.tags()
        topics.append(t)
    out["topics"] = topics
    if 8 <= version <= 10:
        out["cluster_authorized_ops"] = r.i32()
    if flex:
        r.tags()
    out["trailing"] = r.remaining()
    return out


def split_response(payload, api_key, version):
    """Splits a response payload into (correlation id, body), skipping the header's tagged fields
    when the response header is v1 (flexible, and never for ApiVersions)."""
    r = Reader(payload)
    corr = r.i32()
    if api_key != API_API_VERSIONS and is_flexible(api_key, version):
        r.tags()
    return corr, payload[r.pos:]


# ---------------------------------------------------------------- sockets


def connect(addr, timeout=5.0):
    """addr is "host:port" or (host, port). TCP_NODELAY so small writes leave at once."""
    if isinstance(addr, str):
        host, port = addr.rsplit(":", 1)
        addr = (host, int(port))
    s = socket.create_connection(addr, timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock, n, deadline):
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"waited for {n} bytes, got {len(buf)}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(buf))
        except (ConnectionResetError, BrokenPipeError) as e:
            raise Closed(f"reset after {len(buf)} of {n} bytes") from e
        except socket.timeout as e:
            raise TimeoutError(f"waited for {n} bytes, got {len(buf)}") from e
        if not chunk:
            raise Closed(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_frame(sock, timeout=5.0, max_bytes=64 << 20):
    """One response frame's payload. Raises Closed on EOF/reset, TimeoutError when nothing came."""
    deadline = time.monotonic() + timeout
    size = struct.unpack(">i", recv_exact(sock, 4, deadline))[0]
    if size < 4 or size > max_bytes:
        raise ValueError(f"response frame size {size} out of range")
    return recv_exact(sock, size, deadline)


def recv_response(sock, api_key, version, timeout=5.0):
    """(correlation id, body) of the next response on sock."""
    return split_response(recv_frame(sock, timeout), api_key, version)


def wait_closed(sock, timeout=3.0):
    """Reads until EOF or reset. Returns (closed, bytes received meanwhile); closed is False when
    the connection was still open after timeout."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, bytes(got)
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True, bytes(got)
        except socket.timeout:
            return False, bytes(got)
        if not chunk:
            return True, bytes(got)
        got += chunk


def send_all(sock, data):
    """sendall that reports a connection the peer already closed as Closed."""
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError) as e:
        raise Closed("peer closed while sending") from e


def api_versions(addr, version=0, corr=7, timeout=5.0):
    """One ApiVersions round trip on a fresh connection -> parsed response (checks the corr id)."""
    with connect(addr, timeout) as s:
        s.sendall(api_versions_request(version, corr))
        got_corr, body = recv_response(s, API_API_VERSIONS, version, timeout)
        if got_corr != corr:
            raise ValueError(f"correlation id {got_corr}, sent {corr}")
        return parse_api_versions(body, version)


def metadata(addr, version=1, topics=None, corr=9, timeout=5.0, allow_auto=False):
    with connect(addr, timeout) as s:
        s.sendall(metadata_request(version, corr, topics, allow_auto))
        got_corr, body = recv_response(s, API_METADATA, version, timeout)
        if got_corr != corr:
            raise ValueError(f"correlation id {got_corr}, sent {corr}")
        return parse_metadata(body, version)


_SANITIZED = {}


def rss_limit_kib(binary, normal_kib=64 * 1024):
    """The RSS growth a test allows: normal_kib, or 1 GiB for a sanitizer build, whose shadow memory
    and free quarantine (256 MiB by default) make RSS say little about the broker's own memory."""
    if binary not in _SANITIZED:
        try:
            with open(binary, "rb") as f:
                data = f.read()
                _SANITIZED[binary] = b"__asan_init" in data or b"AddressSanitizer" in data
        except OSError:
            _SANITIZED[binary] = False
    return 1024 * 1024 if _SANITIZED[binary] else normal_kib


def rss_kib(pid):
    """Resident set size of pid in KiB, from /proc/<pid>/status (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


# ---------------------------------------------------------------- broker-level checks


def assert_still_serving(broker, timeout=5.0):
    """The broker process is alive and a fresh client gets a well-formed ApiVersions v0 answer."""
    rc = broker.proc.poll()
    assert rc is None, f"broker exited with {rc}:\n{broker.log_text()}"
    r = api_versions(broker.bootstrap, version=0, timeout=timeout)
    assert r["error"] == 0, r
    assert API_API_VERSIONS in r["apis"] and API_METADATA in r["apis"], r


def expect_closed_without_response(addr, data, what, timeout=3.0):
    """Sends data on a fresh connection; the peer must close it and send nothing back."""
    with connect(addr) as s:
        try:
            send_all(s, data)
        except Closed:
            return  # closed while we were still writing: nothing could have been answered
        except TimeoutError as e:
            raise AssertionError(f"{what}: the peer stopped reading but did not close") from e
        closed, got = wait_closed(s, timeout)
    assert got == b"", f"{what}: expected no response, got {got[:64].hex()}"
    assert closed, f"{what}: connection still open after {timeout}s"
