"""Runs confluent-kafka's AdminClient (bundled librdkafka from PyPI) against one bootstrap address and
prints what list_topics saw as one JSON object on stdout.

usage: confluent_probe.py BOOTSTRAP [TOPIC]
  Without TOPIC: two list_topics() calls (all topics). With TOPIC: list_topics(topic=TOPIC).
"""
import json
import sys

import confluent_kafka
from confluent_kafka.admin import AdminClient


def snapshot(md):
    return {
        "cluster_id": md.cluster_id,
        "controller_id": md.controller_id,
        "orig_broker_id": md.orig_broker_id,
        "orig_broker_name": md.orig_broker_name,
        "brokers": sorted(({"id": b.id, "host": b.host, "port": b.port}
                           for b in md.brokers.values()), key=lambda b: b["id"]),
        "topics": {name: {"error": (t.error.code() if t.error is not None else 0),
                          "error_str": (t.error.str() if t.error is not None else ""),
                          "partitions": len(t.partitions)}
                   for name, t in md.topics.items()},
    }


def main():
    bootstrap = sys.argv[1]
    admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "sluice-probe-confluent",
                         "reconnect.backoff.max.ms": 500, "socket.timeout.ms": 10000})
    out = {"version": confluent_kafka.__version__, "librdkafka": confluent_kafka.libversion()[0]}
    if len(sys.argv) > 2:
        out["topic"] = snapshot(admin.list_topics(topic=sys.argv[2], timeout=10))
    else:
        out["first"] = snapshot(admin.list_topics(timeout=10))
        out["second"] = snapshot(admin.list_topics(timeout=10))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
