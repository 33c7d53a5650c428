"""Deleting and re-creating a topic while clients produce to it and long-poll it: the broker must
keep serving (no request may touch a deleted topic's freed state), answer with Kafka's retriable
errors during the change, and exit cleanly afterwards (the fixture checks the exit status)."""
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import wire

ROUNDS = 5


def test_delete_and_recreate_under_load(broker):
    bs = broker.bootstrap
    admin = AdminClient({"bootstrap.servers": bs})
    stop = threading.Event()
    delivered = []

    def produce():
        p = Producer({"bootstrap.servers": bs, "linger.ms": 1, "message.timeout.ms": 3000,
                      "log_level": 0})
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                p.produce("churn", b"x" * 100,
                          on_delivery=lambda e, m: delivered.append(e is None))
            except BufferError:
                p.poll(0.01)
            p.poll(0)
        p.flush(5)

    def consume():
        c = Consumer({"bootstrap.servers": bs, "group.id": "never-joined",
                      "enable.auto.commit": False, "fetch.wait.max.ms": 500,
                      "topic.metadata.refresh.interval.ms": 200, "log_level": 0})
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            c.assign([TopicPartition("churn", p, 0) for p in range(3)])
            for _ in range(10):
                c.poll(0.05)
        c.close()

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    try:
        for r in range(ROUNDS):
            fut = admin.create_topics([NewTopic("churn", 3, 1)])["churn"]
            try:
                fut.result(10)
            except Exception as e:  # the producer may have auto-created it already
                assert "already exists" in str(e), e
            if r == 0:
                for t in threads:
                    t.start()
            time.sleep(0.8)
            admin.delete_topics(["churn"])["churn"].result(10)
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            if t.is_alive():
                t.join(40)
    assert broker.proc.poll() is None, broker.log_text()[-3000:]
    assert any(delivered), "nothing was ever produced"
    wire.assert_still_serving(broker)
    assert "PANIC" not in broker.log_text()


def test_delete_while_a_fetch_waits_on_an_empty_partition(broker):
    """A Fetch long-polling an empty partition is answered at once when its topic is deleted, and
    may finish (dropping its reference to the topic) inside the deletion itself: the topic must
    outlive the deletion's own loop (franz-go's kgo tests found it freed under that loop)."""
    bs = broker.bootstrap
    admin = AdminClient({"bootstrap.servers": bs})
    for rnd in range(3):
        topic = f"quiet-{rnd}"
        admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(10)
        c = Consumer({"bootstrap.servers": bs, "group.id": "never-joined", "log_level": 0,
                      "enable.auto.commit": False, "fetch.wait.max.ms": 10000})
        c.assign([TopicPartition(topic, p, 0) for p in range(2)])
        deadline = time.monotonic() + 3  # a second or more: the fetch is parked by then
        while time.monotonic() < deadline:
            c.poll(0.2)
        admin.delete_topics([topic])[topic].result(10)
        c.close()
        assert broker.proc.poll() is None, broker.log_text()[-3000:]
    wire.assert_still_serving(broker)
    assert "PANIC" not in broker.log_text()
