"""The data path through confluent-kafka (PyPI, bundled librdkafka) as an application uses it.
Prints one JSON object on stdout.

usage: confluent_datapath.py BOOTSTRAP TOPIC MODE
  datapath  AdminClient.create_topics(TOPIC, 3 partitions); for each compression.type (none, gzip,
            snappy, lz4, zstd) a Producer with acks=all writes one record with headers to every
            partition and reports each delivery; then a Consumer with assign() and explicit
            offsets (never joining a group: test_groups.py covers groups) reads everything
            back; offsets_for_times, get_watermark_offsets and list_topics.
  admin     create_topics twice (the second must say TOPIC_ALREADY_EXISTS), list_topics,
            delete_topics twice (the second must say UNKNOWN_TOPIC_OR_PARTITION), list_topics.
"""
import json
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PARTITIONS = 3
COMMON = {"client.id": "sluice-confluent-datapath", "reconnect.backoff.max.ms": 500,
          "socket.timeout.ms": 10000}


def future_result(fut, timeout=15):
    """(None, error) on failure as {code, name}; (value, None) on success."""
    try:
        return fut.result(timeout=timeout), None
    except KafkaException as e:
        err = e.args[0]
        return None, {"code": err.code(), "name": err.name()}


def create(admin, topic):
    fut = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)],
                              operation_timeout=10, request_timeout=15)[topic]
    return future_result(fut)[1]


def delete(admin, topic):
    fut = admin.delete_topics([topic], operation_timeout=10, request_timeout=15)[topic]
    return future_result(fut)[1]


def listing(admin, topic):
    md = admin.list_topics(timeout=10)
    t = md.topics.get(topic)
    if t is None:
        return None
    return {"error": t.error.code() if t.error else 0,
            "partitions": [{"id": p.id, "leader": p.leader, "replicas": p.replicas,
                            "isrs": p.isrs}
                           for p in sorted(t.partitions.values(), key=lambda p: p.id)]}


def produce_all(bootstrap, topic, base_ts):
    reports = []

    def on_delivery(err, msg):
        reports.append({"error": err.name() if err else None, "partition": msg.partition(),
                        "offset": msg.offset(), "key": msg.key().decode()})

    i = 0
    for codec in CODECS:
        p = Producer({**COMMON, "bootstrap.servers": bootstrap, "acks": "all",
                      "compression.type": codec, "linger.ms": 0,
                      # librdkafka only turns idempotence on when asked; said here for clarity.
                      "enable.idempotence": False, "message.timeout.ms": 15000})
        for part in range(PARTITIONS):
            # A compressible value, so the codecs really compress something.
            p.produce(topic, key=f"{codec}-{part}".encode(), value=(f"{codec}:" * 50).encode(),
                      partition=part, headers=[("codec", codec.encode()), ("n", str(i).encode())],
                      timestamp=base_ts + i, on_delivery=on_delivery)
            i += 1
            p.flush(15)  # one batch per record: by-timestamp lookups are then exact
        left = p.flush(15)
        if left:
            reports.append({"error": f"{left} undelivered", "codec": codec})
    return reports


def consume(bootstrap, topic, start_offsets, want):
    c = Consumer({**COMMON, "bootstrap.servers": bootstrap,
                  # Needed by the client's config check only: assign() never joins a group and
                  # nothing is committed.
                  "group.id": "sluice-never-joined", "enable.auto.commit": False,
                  "enable.auto.offset.store": False, "fetch.wait.max.ms": 100})
    c.assign([TopicPartition(topic, p, o) for p, o in start_offsets.items()])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < want and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            got.append({"error": m.error().name()})
            continue
        got.append({"partition": m.partition(), "offset": m.offset(), "key": m.key().decode(),
                    "value": m.value().decode(), "ts": m.timestamp()[1],
                    "headers": [[k, v.decode()] for k, v in (m.headers() or [])]})
    return c, got


def datapath(bootstrap, topic):
    admin = AdminClient({**COMMON, "bootstrap.servers": bootstrap})
    base_ts = (int(time.time()) - 60) * 1000
    out = {"version": confluent_kafka.version()[0], "base_ts": base_ts,
           "create_error": create(admin, topic)}
    out["delivered"] = produce_all(bootstrap, topic, base_ts)
    total = len(CODECS) * PARTITIONS
    c, out["records"] = consume(bootstrap, topic, {p: 0 for p in range(PARTITIONS)}, total)
    out["watermarks"] = {str(p): list(c.get_watermark_offsets(TopicPartition(topic, p),
                                                              timeout=10))
                         for p in range(PARTITIONS)}
    # Record i went to partition i % 3: partition 1 holds records 1, 4, 7, 10, 13 at offsets 0-4.
    # One call per timestamp: librdkafka does not answer a list naming a partition twice.
    out["offsets_for_times"] = []
    for ts in (base_ts + 4, base_ts + 5, base_ts + 10**9):
        tp = c.offsets_for_times([TopicPartition(topic, 1, ts)], timeout=10)[0]
        out["offsets_for_times"].append([tp.offset, tp.error.name() if tp.error else None])
    c.close()
    # Explicit start offsets: partition 2 from offset 3, partition 0 from offset 4.
    c, out["from_offsets"] = consume(bootstrap, topic, {2: 3, 0: 4}, 3)
    c.close()
    out["listing"] = listing(admin, topic)
    return out


def admin_mode(bootstrap, topic):
    admin = AdminClient({**COMMON, "bootstrap.servers": bootstrap})
    out = {"create": create(admin, topic), "create_again": create(admin, topic)}
    out["listed"] = listing(admin, topic)
    out["delete"] = delete(admin, topic)
    deadline = time.monotonic() + 10
    out["listed_after_delete"] = listing(admin, topic)
    while out["listed_after_delete"] is not None and time.monotonic() < deadline:
        time.sleep(0.2)  # the reference Kafka propagates the deletion asynchronously
        out["listed_after_delete"] = listing(admin, topic)
    out["delete_again"] = delete(admin, topic)
    return out


def main():
    bootstrap, topic, mode = sys.argv[1:4]
    out = datapath(bootstrap, topic) if mode == "datapath" else admin_mode(bootstrap, topic)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
