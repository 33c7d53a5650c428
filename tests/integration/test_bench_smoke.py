"""Smoke tests of the load generator tools/bench (sluice-bench, librdkafka): a short paced run
against Sluice must report consistent numbers and no errors; --idempotence must work against
Sluice and the reference Kafka. These check counts
and consistency only, never timings. Runtime: about 5 s (plus the shared Kafka's start if no other
module started it)."""
import json
import os
import subprocess

import pytest
from confluent_kafka.admin import AdminClient

from conftest import ROOT
from kafka_ref import kafka_ref  # noqa: F401 (the shared session fixture)

BENCH = os.environ.get("SLUICE_BENCH_BIN",
                       os.path.join(ROOT, "build", "release", "tools", "bench", "sluice-bench"))


def run_bench(bootstrap, *args, timeout=60):
    if not os.access(BENCH, os.X_OK):
        pytest.fail(f"{BENCH} missing: `make build` builds it", pytrace=False)
    return subprocess.run([BENCH, "--bootstrap", bootstrap, "--json", *args],
                          capture_output=True, text=True, timeout=timeout)


def describe(p):
    return f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr[-3000:]}"


def check_latency(lat):
    assert lat["count"] > 0, lat
    assert 0 < lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat


def test_paced_run_reports_consistent_numbers(broker):
    rate, warmup, duration = 2000, 0.5, 2.0
    p = run_bench(broker.bootstrap, "--topic", "bench-smoke", "--partitions", "3",
                  "--consumers", "2", "--rate", str(rate), "--duration", str(duration),
                  "--warmup", str(warmup), "--acks", "all")
    assert p.returncode == 0, describe(p)
    r = json.loads(p.stdout)
    assert r["errors"] == 0 and r["fatal"] is None, r
    assert r["partitions"] == 3 and r["record_size"] == 1024, r
    prod, cons = r["produce"], r["consume"]
    assert prod["errors"] == 0 and prod["client_errors"] == 0, prod
    assert cons["errors"] == 0 and cons["client_errors"] == 0, cons
    # Pacing bounds what can have been sent at all, whatever the machine's speed.
    assert 0 < prod["records"] <= rate * (warmup + duration) + 1, prod
    assert prod["bytes"] == prod["records"] * 1024, prod
    assert cons["bytes"] == cons["records"] * 1024, cons
    check_latency(prod["latency_ms"])
    check_latency(cons["e2e_latency_ms"])
    # Every record delivered from the window reached a consumer exactly once.
    assert cons["e2e_latency_ms"]["count"] == prod["latency_ms"]["count"], r
    assert "created topic=bench-smoke partitions=3" in broker.log_text()


def test_idempotence_works_against_sluice(broker):
    p = run_bench(broker.bootstrap, "--topic", "bench-idem", "--idempotence", "--acks", "all",
                  "--consumers", "1", "--rate", "1000", "--duration", "1", "--warmup", "0.5")
    assert p.returncode == 0, describe(p)
    r = json.loads(p.stdout)
    assert r["errors"] == 0 and r["fatal"] is None and r["idempotence"] is True, r
    check_latency(r["produce"]["latency_ms"])
    assert r["consume"]["e2e_latency_ms"]["count"] == r["produce"]["latency_ms"]["count"], r


def test_idempotence_needs_acks_all(broker):
    p = run_bench(broker.bootstrap, "--idempotence", "--acks", "1")
    assert p.returncode == 2, describe(p)
    assert "--idempotence needs --acks all" in p.stderr, describe(p)


def test_idempotence_works_against_kafka(kafka_ref):  # noqa: F811
    topic = "bench-smoke-idem"
    try:
        p = run_bench(kafka_ref.bootstrap, "--topic", topic, "--idempotence", "--acks", "all",
                      "--consumers", "1", "--rate", "1000", "--duration", "1", "--warmup", "0.5")
        assert p.returncode == 0, describe(p)
        r = json.loads(p.stdout)
        assert r["errors"] == 0 and r["idempotence"] is True, r
        check_latency(r["produce"]["latency_ms"])
        assert r["consume"]["e2e_latency_ms"]["count"] == r["produce"]["latency_ms"]["count"], r
    finally:
        admin = AdminClient({"bootstrap.servers": kafka_ref.bootstrap})
        for f in admin.delete_topics([topic], operation_timeout=10).values():
            try:
                f.result(timeout=15)
            except Exception as e:  # the run may have failed before creating it
                assert "UNKNOWN_TOPIC" in str(e), e
