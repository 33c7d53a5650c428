"""Runs kafka-python's admin client and a consumer against one bootstrap address and prints what
they saw as one JSON object on stdout. Works with Debian's kafka-python 2.0.2 (run it under
/usr/bin/python3) and with kafka-python 3.x from PyPI (run it under the tests' interpreter).

usage: kafka_python_probe.py BOOTSTRAP [admin] [consumer]
"""
import json
import logging
import sys

import kafka
from kafka import KafkaAdminClient, KafkaConsumer

MAJOR = int(kafka.__version__.split(".")[0])
TIMEOUTS = dict(request_timeout_ms=10000, reconnect_backoff_max_ms=500)
if MAJOR >= 3:
    TIMEOUTS["bootstrap_timeout_ms"] = 10000
else:
    TIMEOUTS["api_version_auto_timeout_ms"] = 5000


def version_list(v):
    return list(v) if v is not None else None


def admin_probe(bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="sluice-probe-admin", **TIMEOUTS)
    try:
        out = {"cluster": admin.describe_cluster(), "topics": sorted(admin.list_topics())}
        if MAJOR >= 3:
            out["api_version"] = version_list(admin._manager.broker_version)
        else:
            out["api_version"] = version_list(admin.config["api_version"])
        # A second call must see the same cluster (cluster id stable, same broker).
        out["cluster_again"] = admin.describe_cluster()
        return out
    finally:
        admin.close()


def consumer_probe(bootstrap):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="sluice-probe-consumer",
                             enable_auto_commit=False, **TIMEOUTS)
    try:
        out = {"topics": sorted(consumer.topics())}
        if MAJOR >= 3:
            out["api_version"] = version_list(consumer._client.check_version())
        else:
            client = consumer._client
            out["api_version"] = version_list(consumer.config["api_version"])
            out["check_version"] = version_list(client.check_version())
            # The ranges the client decoded from the broker's ApiVersions v0 response.
            out["api_versions"] = {str(k): list(v) for k, v in (client._api_versions or {}).items()}
        return out
    finally:
        consumer.close()


def main():
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    bootstrap = sys.argv[1]
    modes = sys.argv[2:] or ["admin", "consumer"]
    result = {"kafka_python": kafka.__version__, "python": sys.version.split()[0]}
    for mode in modes:
        result[mode] = {"admin": admin_probe, "consumer": consumer_probe}[mode](bootstrap)
    json.dump(result, sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
