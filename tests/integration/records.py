"""Record batches (magic 2) for the integration tests: a builder and a parser in plain Python.

build_batch() lays out Kafka's record batch v2 (CLIENTS.md 4.3) with any number of records (key,
value, headers, timestamps), uncompressed or gzip, and a correct CRC-32C over attributes..end;
keyword arguments override any header field afterwards (for bad-input tests) without fixing the CRC
unless asked. parse_batches() splits a Fetch answer's records bytes into batches, checks each CRC
and decodes the records. legacy_message() builds a magic 0/1 message (CRC-32) for refusal tests.
CRC-32C is computed here from its own table (Castagnoli polynomial, reflected 0x82F63B78).
"""
import gzip
import struct
import time
import zlib

# ---------------------------------------------------------------------------------------------
# CRC-32C


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for b in bytes(data):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard check value


# ---------------------------------------------------------------------------------------------
# Varints (zigzag, as records use them)


def varint(n):
    z = (n << 1) ^ (n >> 63)
    z &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(data, pos):
    shift = z = 0
    while True:
        if pos >= len(data):
            raise ValueError("varint cut short")
        b = data[pos]
        pos += 1
        z |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")
    return (z >> 1) ^ -(z & 1), pos


def _bytes_field(b):
    if b is None:
        return varint(-1)
    b = b.encode() if isinstance(b, str) else bytes(b)
    return varint(len(b)) + b


# ---------------------------------------------------------------------------------------------
# Building

HEADER = struct.Struct(">qiibIhiqqqhii")  # base offset .. record count: 61 bytes
HEADER_BYTES = HEADER.size
LOG_OVERHEAD = 12  # base offset + length
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21
NONE, GZIP = 0, 1
TRANSACTIONAL, CONTROL = 0x10, 0x20


class Record:
    def __init__(self, value=b"", key=None, headers=(), timestamp_delta=0, offset_delta=None):
        self.key, self.value, self.headers = key, value, list(headers)
        self.timestamp_delta, self.offset_delta = timestamp_delta, offset_delta

    def encode(self, offset_delta):
        body = bytearray(b"\x00")  # attributes
        body += varint(self.timestamp_delta)
        body += varint(offset_delta if self.offset_delta is None else self.offset_delta)
        body += _bytes_field(self.key) + _bytes_field(self.value)
        body += varint(len(self.headers))
        for hk, hv in self.headers:
            body += _bytes_field(hk) + _bytes_field(hv)
        return varint(len(body)) + bytes(body)


def _as_record(r, i, base_timestamp, timestamps):
    if isinstance(r, Record):
        return r
    if isinstance(r, tuple):
        key, value = r[0], r[1]
        headers = r[2] if len(r) > 2 else ()
    else:
        key, value, headers = None, r, ()
    delta = timestamps[i] - base_timestamp if timestamps else i
    return Record(value, key, headers, delta)


def now_ms():
    return int(time.time() * 1000)


def build_batch(records, base_timestamp=None, timestamps=None, compression=NONE,
                base_offset=0, leader_epoch=-1, producer_id=-1, producer_epoch=-1,
                base_sequence=-1, attributes=0, fix_crc=True, **overrides):
    """One batch. records: values (bytes/str), (key, value[, headers]) tuples or Record objects.
    timestamps: one absolute timestamp per record (default: base_timestamp + index; the default
    base_timestamp is now: Kafka rolls and retires segments by record time, so old timestamps
    would make the reference broker behave differently).
    overrides (applied after layout): length, magic, crc, last_offset_delta, max_timestamp,
    record_count; with fix_crc=False a given crc is kept, otherwise the CRC is recomputed."""
    if timestamps:
        base_timestamp = min(timestamps)
    elif base_timestamp is None:
        base_timestamp = now_ms()
    recs = [_as_record(r, i, base_timestamp, timestamps) for i, r in enumerate(records)]
    body = b"".join(r.encode(i) for i, r in enumerate(recs))
    if compression == GZIP:
        body = gzip.compress(body, mtime=0)
    elif compression != NONE:
        raise ValueError(f"compression {compression} not built here")
    max_ts = base_timestamp + max((r.timestamp_delta for r in recs), default=0)
    fields = dict(base_offset=base_offset, length=HEADER_BYTES - LOG_OVERHEAD + len(body),
                  leader_epoch=leader_epoch, magic=2, crc=0,
                  attributes=attributes | compression, last_offset_delta=len(recs) - 1,
                  base_timestamp=base_timestamp, max_timestamp=max_ts, producer_id=producer_id,
                  producer_epoch=producer_epoch, base_sequence=base_sequence,
                  record_count=len(recs))
    explicit_crc = "crc" in overrides
    fields.update(overrides)
    order = ["base_offset", "length", "leader_epoch", "magic", "crc", "attributes",
             "last_offset_delta", "base_timestamp", "max_timestamp", "producer_id",
             "producer_epoch", "base_sequence", "record_count"]
    raw = bytearray(HEADER.pack(*(fields[k] for k in order)) + body)
    if fix_crc and not explicit_crc:
        struct.pack_into(">I", raw, CRC_OFFSET, crc32c(raw[ATTRIBUTES_OFFSET:]))
    return bytes(raw)


def restamp_crc(batch):
    """The batch with its CRC recomputed over what it holds now."""
    raw = bytearray(batch)
    struct.pack_into(">I", raw, CRC_OFFSET, crc32c(raw[ATTRIBUTES_OFFSET:]))
    return bytes(raw)


def legacy_message(value, key=None, magic=1, offset=0, timestamp=None):
    """A one-message magic 0 or 1 message set (CRC-32 as those formats use)."""
    def b(x):
        return struct.pack(">i", -1) if x is None else struct.pack(">i", len(x)) + bytes(x)
    body = struct.pack(">bb", magic, 0)
    if magic == 1:
        body += struct.pack(">q", now_ms() if timestamp is None else timestamp)
    body += b(key) + b(value)
    msg = struct.pack(">I", zlib.crc32(body)) + body
    return struct.pack(">qi", offset, len(msg)) + msg


# ---------------------------------------------------------------------------------------------
# Parsing


class Batch:
    """A parsed batch: header fields as attributes, .records a list of dicts, .raw its bytes."""

    def __repr__(self):
        return (f"Batch(base_offset={self.base_offset}, count={self.record_count}, "
                f"len={len(self.raw)})")

    @property
    def last_offset(self):
        return self.base_offset + self.last_offset_delta

    def values(self):
        return [r["value"] for r in self.records]


def parse_batch(raw, check_crc=True):
    if len(raw) < HEADER_BYTES:
        raise ValueError(f"batch of {len(raw)} bytes is shorter than its header")
    b = Batch()
    (b.base_offset, b.length, b.leader_epoch, b.magic, b.crc, b.attributes, b.last_offset_delta,
     b.base_timestamp, b.max_timestamp, b.producer_id, b.producer_epoch, b.base_sequence,
     b.record_count) = HEADER.unpack_from(raw)
    b.raw = bytes(raw)
    if b.magic != 2:
        raise ValueError(f"magic {b.magic}")
    if len(raw) != b.length + LOG_OVERHEAD:
        raise ValueError(f"length {b.length} does not match {len(raw)} bytes")
    if check_crc and crc32c(raw[ATTRIBUTES_OFFSET:]) != b.crc:
        raise ValueError(f"bad CRC in batch at offset {b.base_offset}")
    body = bytes(raw[HEADER_BYTES:])
    codec = b.attributes & 0x7
    if codec == GZIP:
        body = gzip.decompress(body)
    elif codec != NONE:
        raise ValueError(f"compression {codec} not parsed here")
    b.records = []
    pos = 0
    for _ in range(b.record_count):
        size, pos = read_varint(body, pos)
        end = pos + size
        rec = {"attributes": body[pos]}
        pos += 1
        ts_delta, pos = read_varint(body, pos)
        off_delta, pos = read_varint(body, pos)
        rec["timestamp"] = b.base_timestamp + ts_delta
        rec["offset"] = b.base_offset + off_delta
        for name in ("key", "value"):
            n, pos = read_varint(body, pos)
            rec[name] = None if n < 0 else body[pos:pos + n]
            pos += max(n, 0)
        nh, pos = read_varint(body, pos)
        rec["headers"] = []
        for _ in range(nh):
            kn, pos = read_varint(body, pos)
            hk = body[pos:pos + kn].decode()
            pos += kn
            vn, pos = read_varint(body, pos)
            hv = None if vn < 0 else body[pos:pos + vn]
            pos += max(vn, 0)
            rec["headers"].append((hk, hv))
        if pos != end:
            raise ValueError(f"record size {size} does not match its fields")
        b.records.append(rec)
    if pos != len(body):
        raise ValueError(f"{len(body) - pos} bytes after the last record")
    return b


def split_batches(data, allow_partial=True):
    """Raw batch byte strings in a records blob. A partial batch at the end (Kafka may return
    one when a limit cuts it) is dropped when allow_partial, as clients do."""
    out, pos = [], 0
    data = bytes(data or b"")
    while pos < len(data):
        if len(data) - pos < LOG_OVERHEAD:
            break
        length = struct.unpack_from(">i", data, pos + 8)[0]
        end = pos + LOG_OVERHEAD + length
        if end > len(data):
            if not allow_partial:
                raise ValueError(f"partial batch at {pos}")
            break
        out.append(data[pos:end])
        pos = end
    return out


def parse_batches(data, check_crc=True):
    return [parse_batch(raw, check_crc) for raw in split_batches(data)]
