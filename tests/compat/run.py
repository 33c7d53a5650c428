#!/usr/bin/env python3
"""The compatibility gate (`make compat`): each client library's own test suite, fetched at a
pinned version from the package registries, run against a fresh build/sluice.

Per suite: fetch and build (prepare), start Sluice with the settings the suite expects, run every
test, run the failed ones once more (a loaded machine makes some tests miss their own deadlines),
stop Sluice. A failure not in tests/compat/known/<suite>.txt fails the gate; a listed test that
passes is reported so the list can shrink. Results: build/compat/results.md (+ the per-test logs).

Usage: tests/compat/run.py [--suites a,b,...]"""
import argparse
import concurrent.futures
import importlib
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (FAIL, PASS, SKIP, WORK, SuiteReport, load_known_failures, log,  # noqa: E402
                    start_sluice, stop_sluice)

# Module per suite; DEFAULT is what `make compat` runs, the others run when named in SUITES.
ALL = ["librdkafka", "franz_go", "kafka_python", "kcat", "confluent_kafka_python", "sarama"]
# sarama needs partition replication (its topics have replication factor 3): on demand for now.
DEFAULT = ["librdkafka", "franz_go", "kafka_python", "kcat"]


def run_suite(module_name):
    suite = importlib.import_module(module_name)
    report = SuiteReport(suite.NAME, suite.VERSION)
    start = time.monotonic()
    try:
        suite.prepare()
    except Exception as e:  # a fetch or build that fails is a failed gate, with its reason
        report.error = f"prepare failed: {e}"
        report.prepare_seconds = time.monotonic() - start
        return report
    report.prepare_seconds = time.monotonic() - start
    logs = os.path.join(WORK, "logs", suite.NAME)
    os.makedirs(logs, exist_ok=True)
    start = time.monotonic()
    # A suite that needs several brokers starts them itself (sarama: five, behind toxiproxy).
    broker = (suite.start_brokers() if hasattr(suite, "start_brokers")
              else start_sluice(suite.NAME, suite.BROKER_YAML))
    try:
        log(f"{suite.NAME}: Sluice on {broker.bootstrap}")
        first = suite.run(broker, None, logs)
        # Listed tests are not retried: they fail for a missing feature, or are listed as flaky.
        known = load_known_failures(suite.NAME)
        failed = {r.name for r in first if r.status == FAIL and r.name not in known}
        retried = {}
        if failed:
            log(f"{suite.NAME}: retrying {len(failed)} failed: {' '.join(sorted(failed))}")
            retry_logs = os.path.join(logs, "retry")
            os.makedirs(retry_logs, exist_ok=True)
            retried = {r.name: r for r in suite.run(broker, failed, retry_logs)}
        for r in first:
            again = retried.get(r.name)
            if again is not None:
                again.attempts = 2
                if again.status != PASS:
                    again.detail = again.detail or r.detail
            report.results.append(again or r)
    except Exception:
        report.error = "runner error: " + traceback.format_exc()[-2000:]
    finally:
        crash = stop_sluice(broker)
        with open(os.path.join(logs, "sluice.log"), "w") as f:
            f.write(broker.log_text() + "\n")
        if crash:
            report.error = (report.error + "\n" if report.error else "") + crash
        report.run_seconds = time.monotonic() - start
    return report


def judge(report):
    """Returns (unexpected failures, listed tests that passed) against the known-failures list."""
    known = load_known_failures(report.suite)
    unexpected = [r for r in report.results if r.status == FAIL and r.name not in known]
    # A test listed as "flaky: ..." passes or fails with the machine's load: neither is news.
    fixed = [r for r in report.results
             if r.status == PASS and r.name in known and not known[r.name].startswith("flaky")]
    return known, unexpected, fixed


def write_results(reports, path):
    lines = ["# Compatibility gate results", "",
             "| suite | version | pass | fail (listed) | fail (new) | skip | prepare s | run s |",
             "|---|---|---|---|---|---|---|---|"]
    for rep in reports:
        known, unexpected, _ = judge(rep)
        n = {s: sum(1 for r in rep.results if r.status == s) for s in (PASS, FAIL, SKIP)}
        lines.append(f"| {rep.suite} | {rep.version} | {n[PASS]} | {n[FAIL] - len(unexpected)} | "
                     f"{len(unexpected)} | {n[SKIP]} | {rep.prepare_seconds:.0f} | {rep.run_seconds:.0f} |")
    for rep in reports:
        known, _, _ = judge(rep)
        lines += ["", f"## {rep.suite} {rep.version}", ""]
        if rep.error:
            lines += ["```", rep.error.strip(), "```", ""]
        lines += ["| test | result | s | tries | reason |", "|---|---|---|---|---|"]
        for r in sorted(rep.results, key=lambda r: r.name):
            reason = r.detail
            if r.status == FAIL:
                reason = f"listed: {known[r.name]}" if r.name in known else f"NEW FAILURE: {r.detail}"
            elif r.status == PASS and r.name in known and known[r.name].startswith("flaky"):
                reason = f"listed as {known[r.name]}"
            elif r.status == PASS and r.name in known:
                reason = f"listed as failing ({known[r.name]}) but passed: take it off the list"
            reason = reason.replace("|", "\\|").replace("\n", " ")[:400]
            lines.append(f"| {r.name} | {r.status} | {r.seconds:.1f} | {r.attempts} | {reason} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suites", default="", help=f"comma-separated, of {','.join(ALL)}")
    args = ap.parse_args()
    names = [s.strip().replace("-", "_") for s in args.suites.split(",") if s.strip()] or DEFAULT
    for n in names:
        if n not in ALL:
            sys.exit(f"compat: unknown suite {n!r} (known: {', '.join(ALL)})")
    os.makedirs(WORK, exist_ok=True)
    start = time.monotonic()
    # Suites run side by side, each against its own Sluice: most of their time is spent waiting
    # on client timers and timeouts, not on the CPU.
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        reports = list(pool.map(run_suite, names))
    results_path = os.path.join(WORK, "results.md")
    write_results(reports, results_path)

    ok = True
    for rep in reports:
        known, unexpected, fixed = judge(rep)
        n = {s: sum(1 for r in rep.results if r.status == s) for s in (PASS, FAIL, SKIP)}
        log(f"{rep.suite} {rep.version}: {n[PASS]} passed, {n[FAIL]} failed "
            f"({len(unexpected)} not listed), {n[SKIP]} skipped; "
            f"prepare {rep.prepare_seconds:.0f} s, run {rep.run_seconds:.0f} s")
        if rep.error:
            ok = False
            log(f"{rep.suite}: ERROR {rep.error.strip()}")
        for r in unexpected:
            ok = False
            log(f"{rep.suite}: NEW FAILURE {r.name}: {r.detail[:500]}")
        for r in fixed:
            log(f"{rep.suite}: listed as failing but passed (take it off the list): {r.name}")
        seen = {r.name for r in rep.results}
        for name in sorted(set(known) - seen):
            log(f"{rep.suite}: listed but not run: {name}")
    total = {s: sum(1 for rep in reports for r in rep.results if r.status == s) for s in (PASS, FAIL, SKIP)}
    log(f"results in {results_path}; {time.monotonic() - start:.0f} s in all")
    # The plain closing line CI reads; listed (known) failures are not counted as failures.
    unexpected_total = sum(len(judge(rep)[1]) for rep in reports)
    print(f"compat: {total[PASS]} passed, {unexpected_total} failed, "
          f"{total[SKIP] + total[FAIL] - unexpected_total} skipped")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
