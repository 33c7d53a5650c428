"""The data path through kafka-python as an application uses it, under Debian's 2.0.2
(/usr/bin/python3) or PyPI's 3.x (this interpreter): a KafkaProducer writes keyed records with
headers and explicit timestamps to chosen partitions, then a KafkaConsumer with manually assigned
partitions (no group) reads everything back from the beginning. Prints one JSON object.

usage: kafka_python_datapath.py BOOTSTRAP TOPIC ACKS PARTITIONS PER_PARTITION
  ACKS is "all" or "1". The topic is created by the producer's Metadata request (auto-create).
"""
import json
import sys
import time

import kafka
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

# Record i gets timestamp BASE_TS + i, so offsets_for_times has known answers. A recent base: an
# old timestamp could put the data in reach of time-based retention.
BASE_TS = (int(time.time()) - 60) * 1000


def produce(bootstrap, topic, acks, partitions, per_partition):
    conf = dict(bootstrap_servers=bootstrap, acks=acks, linger_ms=0, request_timeout_ms=10000,
                max_block_ms=15000, retries=2, client_id="sluice-kafka-python-datapath")
    # kafka-python 3.x is idempotent by default (InitProducerId, sequences); 2.0.2 has no such
    # option. Both run with their defaults.
    producer = KafkaProducer(**conf)
    sent = []
    i = 0
    for n in range(per_partition):
        for p in range(partitions):
            key, value = f"k{p}-{n}".encode(), f"v{p}-{n}".encode()
            headers = [("h", f"{p}.{n}".encode()), ("app", b"kp")]
            # One record per batch (get() before the next send) so every record has its own
            # batch timestamp: by-timestamp lookups are then exact on any broker.
            md = producer.send(topic, key=key, value=value, headers=headers, partition=p,
                               timestamp_ms=BASE_TS + i).get(timeout=15)
            sent.append({"partition": md.partition, "offset": md.offset, "key": key.decode(),
                         "value": value.decode(), "ts": BASE_TS + i})
            i += 1
    producer.flush(10)
    producer.close(10)
    return sent


def consume(bootstrap, topic, partitions, want):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, client_id="sluice-kafka-python-datapath",
                             request_timeout_ms=15000, fetch_max_wait_ms=100)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    got = []
    deadline = time.monotonic() + 20
    while len(got) < want and time.monotonic() < deadline:
        for recs in consumer.poll(timeout_ms=500).values():
            for r in recs:
                got.append({"partition": r.partition, "offset": r.offset,
                            "key": r.key.decode() if r.key is not None else None,
                            "value": r.value.decode(), "ts": r.timestamp,
                            "headers": [[k, v.decode()] for k, v in r.headers]})
    out = {"records": got,
           "end": {str(tp.partition): o for tp, o in consumer.end_offsets(tps).items()},
           "beginning": {str(tp.partition): o
                         for tp, o in consumer.beginning_offsets(tps).items()}}
    # The timestamp of the second record of partition 0 and one past the last record.
    second_ts = BASE_TS + partitions
    times = {}
    for label, ts in (("second", second_ts), ("first", BASE_TS), ("future", BASE_TS + 10**9)):
        ans = consumer.offsets_for_times({TopicPartition(topic, 0): ts})
        v = ans[TopicPartition(topic, 0)]
        times[label] = None if v is None else {"offset": v.offset, "ts": v.timestamp}
    out["offsets_for_times"] = times
    consumer.close()
    return out


def main():
    bootstrap, topic, acks, partitions, per_partition = sys.argv[1:6]
    acks = "all" if acks == "all" else int(acks)
    partitions, per_partition = int(partitions), int(per_partition)
    out = {"kafka_python": kafka.__version__, "base_ts": BASE_TS}
    out["sent"] = produce(bootstrap, topic, acks, partitions, per_partition)
    out.update(consume(bootstrap, topic, partitions, partitions * per_partition))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
