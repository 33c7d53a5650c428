"""The loss checker: compares what writers were told (acknowledged records: topic, partition,
offset, key, value) with a full read-back of every partition, and reports

- lost:        acknowledged, and neither at its offset nor anywhere else in the read-back;
- moved:       acknowledged, not at its offset, but present at another offset (or partition);
- duplicated:  one writer's unique payload present at more than one offset;
- reordered:   within a partition, one writer's sequence numbers not increasing with the offset.

Values identify their writer and sequence number: writer_value(writer, seq) makes them and
parse_value reads them back (another scheme can be passed as `identify`). Records that were never
acknowledged may or may not be present (a write in flight at a crash): that is not an anomaly.

    writers = Writers(bootstrap, "t", partitions=3).start()   # idempotent acks=all producers
    ...                                                       # kill, restart, partition, heal
    writers.stop()
    result = check(writers.acks, read_back(bootstrap, ["t"]))
    result.assert_clean()          # AssertionError listing every anomaly, readable

The replication tests use it to hold Sluice to "not one acknowledged record lost, duplicated or
moved"; a test with weakened settings (acks=1, unclean election) shows that it does catch loss."""
import collections
import re
import threading
import time
from dataclasses import dataclass, field

_VALUE = re.compile(rb"^w(\d+)-s(\d+)(?:-|$)")


@dataclass(frozen=True)
class Record:
    """An acknowledged record (as a writer's delivery report gave it) or a record read back."""
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Anomaly:
    kind: str  # "lost", "moved", "duplicated", "reordered"
    topic: str
    partition: int
    offsets: tuple  # where it was acknowledged / found, per kind (see the message)
    writer: object
    seq: object
    message: str


@dataclass
class CheckResult:
    acknowledged: int = 0
    read: int = 0
    unacknowledged_present: int = 0  # writes whose ack never came but that were stored: allowed
    lost: list = field(default_factory=list)
    moved: list = field(default_factory=list)
    duplicated: list = field(default_factory=list)
    reordered: list = field(default_factory=list)

    @property
    def ok(self):
        return not (self.lost or self.moved or self.duplicated or self.reordered)

    def anomalies(self):
        return self.lost + self.moved + self.duplicated + self.reordered

    def summary(self, per_kind=20):
        lines = [f"checked {self.acknowledged} acknowledged against {self.read} read back "
                 f"({self.unacknowledged_present} unacknowledged writes present): "
                 f"{len(self.lost)} lost, {len(self.moved)} moved, "
                 f"{len(self.duplicated)} duplicated, {len(self.reordered)} reordered"]
        for kind in ("lost", "moved", "duplicated", "reordered"):
            items = getattr(self, kind)
            for a in items[:per_kind]:
                lines.append(f"  {a.message}")
            if len(items) > per_kind:
                lines.append(f"  ... and {len(items) - per_kind} more {kind}")
        return "\n".join(lines)

    def assert_clean(self):
        assert self.ok, self.summary()


def writer_value(writer, seq, size=0):
    """The value writer `writer` sends as its seq-th record: unique, parseable, padded to size."""
    head = f"w{writer}-s{seq}".encode()
    if size > len(head) + 1:
        head += b"-" + b"x" * (size - len(head) - 1)
    return head


def parse_value(value):
    """(writer, seq) of a writer_value, or None for a value of another shape."""
    m = _VALUE.match(value or b"")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _record(r):
    return r if isinstance(r, Record) else Record(*r)


def _show(value, limit=40):
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def check(acknowledged, read_back, identify=parse_value):
    """acknowledged, read_back: iterables of Record (or 5-tuples in Record's order)."""
    acks = [_record(r) for r in acknowledged]
    records = [_record(r) for r in read_back]
    result = CheckResult(acknowledged=len(acks), read=len(records))
    at = {(r.topic, r.partition, r.offset): r for r in records}
    where = collections.defaultdict(list)  # value -> [(topic, partition, offset)] read back
    for r in records:
        where[r.value].append((r.topic, r.partition, r.offset))

    acked_values = set()
    for a in acks:
        acked_values.add(a.value)
        ident = identify(a.value) or (None, None)
        stored = at.get((a.topic, a.partition, a.offset))
        if (stored is not None and stored.value == a.value and
                (stored.key or b"") == (a.key or b"")):
            continue
        elsewhere = [w for w in where.get(a.value, []) if w != (a.topic, a.partition, a.offset)]
        there = ("nothing" if stored is None else
                 f"{_show(stored.value)!r} (key {_show(stored.key)!r})")
        if elsewhere:
            result.moved.append(Anomaly(
                "moved", a.topic, a.partition, (a.offset,) + tuple(o for _, _, o in elsewhere),
                *ident,
                f"moved: {_show(a.value)!r} acknowledged at {a.topic}-{a.partition}@{a.offset} "
                f"is at {', '.join(f'{t}-{p}@{o}' for t, p, o in elsewhere)}; at its offset: "
                f"{there}"))
        else:
            result.lost.append(Anomaly(
                "lost", a.topic, a.partition, (a.offset,), *ident,
                f"lost: {_show(a.value)!r} acknowledged at {a.topic}-{a.partition}@{a.offset}; "
                f"read back there: {there}"))

    for value, places in where.items():
        if value not in acked_values:
            result.unacknowledged_present += 1
        ident = identify(value)
        if ident is None or len(places) < 2:
            continue
        places = sorted(places)
        result.duplicated.append(Anomaly(
            "duplicated", places[0][0], places[0][1], tuple(o for _, _, o in places), *ident,
            f"duplicated: writer {ident[0]}'s record {ident[1]} ({_show(value)!r}) is at "
            f"{', '.join(f'{t}-{p}@{o}' for t, p, o in places)}"))

    by_partition = collections.defaultdict(list)
    for r in records:
        by_partition[(r.topic, r.partition)].append(r)
    for (topic, partition), rs in sorted(by_partition.items()):
        last = {}  # writer -> (seq, offset) of the highest sequence seen so far
        seen = set()
        for r in sorted(rs, key=lambda r: r.offset):
            ident = identify(r.value)
            if ident is None:
                continue
            writer, seq = ident
            if ident in seen:
                continue  # a duplicate, reported as such
            seen.add(ident)
            before = last.get(writer)
            if before is not None and seq < before[0]:
                result.reordered.append(Anomaly(
                    "reordered", topic, partition, (before[1], r.offset), writer, seq,
                    f"reordered: in {topic}-{partition} writer {writer}'s record {seq} is at "
                    f"offset {r.offset}, after its record {before[0]} at offset {before[1]}"))
                continue
            last[writer] = (seq, r.offset)
    return result


class Writers:
    """n confluent-kafka producers (idempotent, acks=all unless `config` says otherwise), each in
    its own thread, writing writer_value(w, seq) round robin over the topic's partitions until
    stopped; .acks holds every acknowledged Record (what check() takes), .errors the deliveries
    that failed (not acknowledged, so allowed to be missing)."""

    def __init__(self, bootstrap, topic, partitions, n=3, config=None, size=64):
        self.bootstrap, self.topic, self.partitions = bootstrap, topic, partitions
        self.config, self.size = dict(config or {}), size
        self.acks, self.errors = [], []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(w,), daemon=True)
                        for w in range(n)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def run(self, writer):
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True,
                      "acks": "all", "linger.ms": 5, "message.timeout.ms": 120000,
                      "reconnect.backoff.max.ms": 500, **self.config})
        key = f"writer-{writer}".encode()

        def delivered(err, msg):
            with self.lock:
                if err is not None:
                    self.errors.append(err)
                else:
                    self.acks.append(Record(msg.topic(), msg.partition(), msg.offset(), key,
                                            msg.value()))

        seq = 0
        while not self.stopping.is_set():
            try:
                # Round robin over the partitions, so each writer's sequence is checked in all.
                p.produce(self.topic, writer_value(writer, seq, size=self.size), key=key,
                          partition=seq % self.partitions, on_delivery=delivered)
                seq += 1
            except BufferError:
                pass
            p.poll(0.002)
        p.flush(120)

    def count(self):
        with self.lock:
            return len(self.acks)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(180)
        assert not any(t.is_alive() for t in self.threads), "a writer did not finish"


def read_back(bootstrap, topics, timeout=120.0, config=None):
    """Every record of every partition of `topics`, from the log start to the high watermark
    (taken when the read starts), as Records. Fails if it cannot finish within timeout."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sluice-checker",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True, **(config or {})})
    try:
        md = c.list_topics(timeout=30)
        ends, assignment = {}, []
        for topic in topics:
            t = md.topics.get(topic)
            if t is None or t.error is not None:
                raise KafkaException(f"cannot read back {topic}: {t.error if t else 'no such topic'}")
            for p in t.partitions:
                low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
                if high > low:
                    ends[(topic, p)] = high
                    assignment.append(TopicPartition(topic, p, low))
        c.assign(assignment)
        records = []
        done = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(ends):
            if time.monotonic() > deadline:
                raise TimeoutError(f"read back incomplete after {timeout}s: "
                                   f"{sorted(set(ends) - done)} not finished")
            m = c.poll(0.5)
            if m is None:
                continue
            tp = (m.topic(), m.partition())
            if m.error() is not None:
                if m.error().code() == KafkaError._PARTITION_EOF:
                    if c.position([TopicPartition(*tp)])[0].offset >= ends[tp]:
                        done.add(tp)
                    continue
                raise KafkaException(m.error())
            if m.offset() < ends[tp]:
                records.append(Record(m.topic(), m.partition(), m.offset(), m.key() or b"",
                                      m.value() or b""))
            if m.offset() + 1 >= ends[tp]:
                done.add(tp)
        return records
    finally:
        c.close()
