"""A small, generic Kafka wire-protocol codec for the integration tests (test code, not production).

It reads Apache Kafka 3.9's JSON message definitions from ../shared/kafka-protocol/message/ and can
encode any request (api key, version, dict of fields; the rest takes its schema default) with the
right request header, frame it, send it on a socket, read the response frame and decode the response
header and body into plain dicts. Flexible versions (compact strings/arrays/bytes, tagged fields),
nullable fields and uuids are handled. Unknown tagged fields are kept as raw bytes under "_tags".

Values in decoded dicts: ints, bools, floats, str or None for strings, bytes or None for bytes and
records, str (canonical "xxxxxxxx-xxxx-...") for uuids, lists of dicts for struct arrays.
"""
import json
import os
import re
import socket
import struct
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROTOCOL_DIR = os.path.abspath(os.path.join(ROOT, "..", "shared", "kafka-protocol"))
MESSAGE_DIR = os.path.join(PROTOCOL_DIR, "message")

ZERO_UUID = "00000000-0000-0000-0000-000000000000"


# ---------------------------------------------------------------------------------------------
# Schema loading


class Versions:
    """A version range from the JSON ("0+", "3-5", "7", "none")."""

    def __init__(self, text):
        text = (text or "none").strip()
        if text == "none":
            self.lo, self.hi = 1, 0  # empty
        elif text.endswith("+"):
            self.lo, self.hi = int(text[:-1]), 1 << 15
        elif "-" in text:
            lo, hi = text.split("-")
            self.lo, self.hi = int(lo), int(hi)
        else:
            self.lo = self.hi = int(text)

    def __contains__(self, v):
        return self.lo <= v <= self.hi

    def __repr__(self):
        return f"Versions({self.lo}-{self.hi})"


def load_json(path):
    """Kafka's schema files are JSON with whole-line // comments."""
    with open(path) as f:
        text = re.sub(r"^\s*//.*$", "", f.read(), flags=re.M)
    return json.loads(text)


class Field:
    def __init__(self, spec, structs):
        self.name = spec["name"]
        self.type = spec["type"].strip()
        self.versions = Versions(spec.get("versions"))
        self.nullable = Versions(spec.get("nullableVersions"))
        self.tag = spec.get("tag")
        self.tagged = Versions(spec.get("taggedVersions")) if self.tag is not None else Versions("none")
        self.default = spec.get("default")
        self.is_array = self.type.startswith("[]")
        self.elem = self.type[2:] if self.is_array else self.type
        self.struct_fields = None  # resolved lazily: the struct may be in commonStructs
        self._structs = structs
        if "fields" in spec:
            structs[self.elem] = [Field(f, structs) for f in spec["fields"]]

    @property
    def is_struct(self):
        return self.elem[:1].isupper()

    def fields(self):
        if self.struct_fields is None:
            self.struct_fields = self._structs[self.elem]
        return self.struct_fields

    def default_value(self, version):
        """The schema default for this field, as a Python value."""
        if self.is_array:
            return []
        d = self.default
        if isinstance(d, (bool, int, float)):
            return d
        if d == "null":
            return None
        if self.is_struct:
            return {}
        if self.elem in ("int8", "int16", "int32", "int64", "uint16", "uint32"):
            return int(d, 0) if d not in (None, "") else 0
        if self.elem == "float64":
            return float(d) if d else 0.0
        if self.elem == "bool":
            return d == "true"
        if self.elem == "string":
            return d or ""
        if self.elem == "uuid":
            return ZERO_UUID
        if self.elem in ("bytes", "records"):
            return b""
        raise ValueError(f"unknown type {self.type} for {self.name}")


class Message:
    def __init__(self, spec):
        self.name = spec["name"]
        self.api_key = spec.get("apiKey")
        self.valid = Versions(spec["validVersions"])
        self.flexible = Versions(spec.get("flexibleVersions"))
        self.structs = {}
        for s in spec.get("commonStructs", []):
            self.structs[s["name"]] = [Field(f, self.structs) for f in s["fields"]]
        self.fields = [Field(f, self.structs) for f in spec["fields"]]


_schemas = {}


def schema(api_key, kind):
    """The Message for an api key; kind is "request" or "response"."""
    if not _schemas:
        for fn in os.listdir(MESSAGE_DIR):
            if not fn.endswith(".json"):
                continue
            spec = load_json(os.path.join(MESSAGE_DIR, fn))
            if spec.get("type") in ("request", "response") and "apiKey" in spec:
                _schemas[(spec["apiKey"], spec["type"])] = Message(spec)
    return _schemas[(api_key, kind)]


def api_name(api_key):
    return schema(api_key, "request").name[: -len("Request")]


def is_flexible(api_key, version):
    return version in schema(api_key, "request").flexible


# ---------------------------------------------------------------------------------------------
# Primitive encoding


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class Reader:
    def __init__(self, data):
        self.data = memoryview(bytes(data))
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"truncated: need {n} bytes at {self.pos} of {len(self.data)}")
        b = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(">" + fmt, self.take(struct.calcsize(">" + fmt)))[0]

    def uvarint(self):
        shift = result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def remaining(self):
        return len(self.data) - self.pos


FIXED = {"int8": "b", "int16": "h", "int32": "i", "int64": "q", "uint16": "H", "uint32": "I",
         "float64": "d"}


def encode_value(f, value, version, flexible):
    """Encodes one field value (not its tag header)."""
    t = f.elem
    if f.is_array:
        if value is None:
            if version not in f.nullable:
                raise ValueError(f"{f.name} is not nullable in v{version}")
            return uvarint(0) if flexible else struct.pack(">i", -1)
        head = uvarint(len(value) + 1) if flexible else struct.pack(">i", len(value))
        return head + b"".join(encode_element(f, t, v, version, flexible) for v in value)
    return encode_element(f, t, value, version, flexible)


def encode_element(f, t, value, version, flexible):
    if t in FIXED:
        return struct.pack(">" + FIXED[t], value)
    if t == "bool":
        return b"\x01" if value else b"\x00"
    if t == "uuid":
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        return uuid.UUID(value or ZERO_UUID).bytes
    if t == "string":
        if value is None:
            return uvarint(0) if flexible else struct.pack(">h", -1)
        raw = value.encode()
        return (uvarint(len(raw) + 1) if flexible else struct.pack(">h", len(raw))) + raw
    if t in ("bytes", "records"):
        if value is None:
            return uvarint(0) if flexible else struct.pack(">i", -1)
        raw = bytes(value)
        return (uvarint(len(raw) + 1) if flexible else struct.pack(">i", len(raw))) + raw
    # A struct, either an array element or a (possibly nullable) struct field.
    if not f.is_array and version in f.nullable:
        if value is None:
            return b"\xff"
        return b"\x01" + encode_struct(f.fields(), value, version, flexible)
    return encode_struct(f.fields(), value, version, flexible)


def encode_struct(fields, values, version, flexible):
    values = values or {}
    out = bytearray()
    tagged = []
    for f in fields:
        value = values[f.name] if f.name in values else f.default_value(version)
        if f.tag is not None and version in f.tagged:
            if f.name in values and values[f.name] != f.default_value(version):
                tagged.append((f.tag, encode_value(f, values[f.name], version, True)))
            continue
        if version not in f.versions:
            continue
        out += encode_value(f, value, version, flexible)
    if flexible:
        raw = values.get("_tags", {})
        tagged += [(int(k), v) for k, v in raw.items()]
        tagged.sort()
        out += uvarint(len(tagged))
        for tag, data in tagged:
            out += uvarint(tag) + uvarint(len(data)) + data
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Primitive decoding


def decode_value(f, r, version, flexible):
    if f.is_array:
        if flexible:
            n = r.uvarint() - 1
        else:
            n = r.unpack("i")
        if n < 0:
            return None
        return [decode_element(f, f.elem, r, version, flexible) for _ in range(n)]
    return decode_element(f, f.elem, r, version, flexible)


def decode_element(f, t, r, version, flexible):
    if t in FIXED:
        return r.unpack(FIXED[t])
    if t == "bool":
        return r.take(1) != b"\x00"
    if t == "uuid":
        return str(uuid.UUID(bytes=r.take(16)))
    if t == "string":
        n = r.uvarint() - 1 if flexible else r.unpack("h")
        return None if n < 0 else r.take(n).decode()
    if t in ("bytes", "records"):
        n = r.uvarint() - 1 if flexible else r.unpack("i")
        return None if n < 0 else r.take(n)
    if not f.is_array and version in f.nullable:
        if r.unpack("b") < 0:
            return None
    return decode_struct(f.fields(), r, version, flexible)


def decode_struct(fields, r, version, flexible):
    out = {}
    by_tag = {}
    for f in fields:
        if f.tag is not None and version in f.tagged:
            by_tag[f.tag] = f
            out[f.name] = f.default_value(version)
        elif version in f.versions:
            out[f.name] = decode_value(f, r, version, flexible)
    if flexible:
        for _ in range(r.uvarint()):
            tag, size = r.uvarint(), r.uvarint()
            data = r.take(size)
            if tag in by_tag:
                out[by_tag[tag].name] = decode_value(by_tag[tag], Reader(data), version, True)
            else:
                out.setdefault("_tags", {})[tag] = data
    return out


# ---------------------------------------------------------------------------------------------
# Messages and headers


def request_header_version(api_key, version):
    if api_key == 7 and version == 0:
        return 0  # ControlledShutdown v0 only
    return 2 if is_flexible(api_key, version) else 1


def response_header_version(api_key, version):
    if api_key == 18:
        return 0  # ApiVersions always answers with header v0 (KIP-511)
    return 1 if is_flexible(api_key, version) else 0


def encode_body(api_key, version, fields, kind="request"):
    msg = schema(api_key, kind)
    return encode_struct(msg.fields, fields, version, version in msg.flexible)


def decode_body(api_key, version, data, kind="response"):
    """Decodes a body; raises ValueError if bytes are left over (a framing/layout mismatch)."""
    msg = schema(api_key, kind)
    r = Reader(data)
    out = decode_struct(msg.fields, r, version, version in msg.flexible)
    if r.remaining():
        raise ValueError(f"{r.remaining()} trailing bytes after {msg.name} v{version}")
    return out


def encode_request(api_key, version, fields=None, correlation_id=1, client_id="kproto",
                   body_version=None, header_version=None):
    """The request payload (without the size prefix). body_version lets a test send a header
    that claims one version with a body laid out as another (e.g. ApiVersions v7)."""
    hv = request_header_version(api_key, version) if header_version is None else header_version
    head = struct.pack(">hhi", api_key, version, correlation_id)
    if hv >= 1:
        head += encode_element(None, "string", client_id, version, False)
    if hv >= 2:
        head += uvarint(0)
    bv = version if body_version is None else body_version
    return head + encode_body(api_key, bv, fields or {})


def decode_response(api_key, version, payload, header_version=None, body_version=None):
    """Splits a response payload into ({"CorrelationId", ...}, body dict)."""
    hv = response_header_version(api_key, version) if header_version is None else header_version
    r = Reader(payload)
    header = {"CorrelationId": r.unpack("i")}
    if hv >= 1:
        for _ in range(r.uvarint()):
            r.uvarint()
            r.take(r.uvarint())
    rest = r.take(r.remaining())
    return header, decode_body(api_key, version if body_version is None else body_version, rest)


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


# ---------------------------------------------------------------------------------------------
# Connections


class Connection:
    """One TCP connection to a broker. Use as a context manager."""

    def __init__(self, host, port=None, timeout=10.0, client_id="kproto"):
        if port is None:
            host, port = host.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.client_id = client_id
        self.correlation_id = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send_raw(self, payload):
        self.sock.sendall(frame(payload))

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    def recv_frame(self):
        size = struct.unpack(">i", self.recv_exact(4))[0]
        return self.recv_exact(size)

    def is_closed_by_peer(self, wait=2.0):
        """True if the peer closed the connection (EOF) within `wait` seconds without sending."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def request(self, api_key, version, fields=None, **kw):
        """Sends one request and returns (response header dict, response body dict). Keyword
        arguments: body_version / header_version (request side), resp_body_version /
        resp_header_version (response side)."""
        self.correlation_id += 1
        cid = self.correlation_id
        payload = encode_request(api_key, version, fields, cid, self.client_id,
                                 kw.get("body_version"), kw.get("header_version"))
        self.send_raw(payload)
        header, body = decode_response(api_key, version, self.recv_frame(),
                                       kw.get("resp_header_version"), kw.get("resp_body_version"))
        if header["CorrelationId"] != cid:
            raise ValueError(f"correlation id {header['CorrelationId']} != {cid}")
        return header, body


def request(bootstrap, api_key, version, fields=None, **kw):
    """One request on a fresh connection; returns the decoded body."""
    with Connection(bootstrap) as c:
        return c.request(api_key, version, fields, **kw)[1]
