"""An idempotent producer for test_idempotence.py, in confluent-kafka (librdkafka) or kafka-python
3.x: sends COUNT records, record i with value "<prefix>-<i>" to partition i % PARTITIONS, in order,
in small batches (so there are many Produce requests to break), and waits for every delivery. Prints one JSON object: the client, how many were delivered, the
delivery errors, and whether the producer really was idempotent.

usage: idempotent_producer.py confluent|kafka-python BOOTSTRAP TOPIC PARTITIONS COUNT PREFIX [RATE]
  RATE (confluent only): records per second at most, so a run can outlast broker restarts.
"""
import json
import sys
import time


def run_confluent(bootstrap, topic, partitions, count, prefix, rate=0):
    from confluent_kafka import Producer
    errors, delivered = [], []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered.append((msg.partition(), msg.offset()))

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5,
                  "batch.num.messages": 10,
                  "message.timeout.ms": 120000, "retry.backoff.ms": 50,
                  "socket.connection.setup.timeout.ms": 5000, "request.timeout.ms": 5000})
    t0 = time.monotonic()
    for i in range(count):
        if rate > 0:
            time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        while True:
            try:
                p.produce(topic, value=f"{prefix}-{i}".encode(), partition=i % partitions,
                          on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(150)
    return {"client": "confluent-kafka", "delivered": len(delivered), "errors": errors,
            "unflushed": left, "idempotent": True}


def run_kafka_python(bootstrap, topic, partitions, count, prefix, rate=0):
    from kafka import KafkaProducer
    # enable_idempotence is left at kafka-python 3.x's default (true): that is what is tested.
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=200,
                      request_timeout_ms=5000, retry_backoff_ms=50, delivery_timeout_ms=120000,
                      max_block_ms=60000)
    futures = [p.send(topic, value=f"{prefix}-{i}".encode(), partition=i % partitions)
               for i in range(count)]
    errors, delivered = [], 0
    for f in futures:
        try:
            f.get(timeout=150)
            delivered += 1
        except Exception as e:  # reported, the test asserts there are none
            errors.append(repr(e))
    idem = bool(p.config.get("enable_idempotence"))
    p.close(10)
    return {"client": "kafka-python", "delivered": delivered, "errors": errors[:5],
            "unflushed": 0, "idempotent": idem}


def main():
    which, bootstrap, topic, partitions, count, prefix = sys.argv[1:7]
    fn = run_confluent if which == "confluent" else run_kafka_python
    t0 = time.monotonic()
    rate = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    out = fn(bootstrap, topic, int(partitions), int(count), prefix, rate)
    out["seconds"] = round(time.monotonic() - t0, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
