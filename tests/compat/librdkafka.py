"""librdkafka 2.0.2's regression tests (Debian source package `librdkafka`) against Sluice.

The runner is built from the upstream tarball; each test number runs in its own test-runner
process (one failing test aborts the runner), several at once, each with a deadline. Tests flagged
local in the suite's own table (no broker involved: mock cluster, unit tests, SSL/SASL plumbing)
are not broker compatibility tests and are not run."""
import concurrent.futures
import os
import re
import time

from common import (FAIL, PASS, ROOT, SKIP, WORK, Result, debian_upstream_source, log, run_logged,
                    run_with_deadline, start_sluice, stop_sluice)

NAME = "librdkafka"
VERSION = "2.0.2"
SOURCE_PACKAGE = "librdkafka"
# What the suite expects of its broker (its own README and trivup's defaults).
BROKER_YAML = "auto.create.topics.enable: true\nnum.partitions: 4\n"
NOAUTOCREATE_YAML = "auto.create.topics.enable: false\nnum.partitions: 4\n"
TEST_TIMEOUT_S = 300
PARALLEL = 3
SRC = os.path.join(WORK, "librdkafka")
TESTS_DIR = os.path.join(SRC, "tests")
# The Kafka command-line tools some tests run (kafka-topics.sh --alter/--delete/--config,
# kafka-acls.sh), as a KAFKA_PATH-shaped folder around the Kafka 4.0 jars of build/kafka-libs.
KAFKA_TOOLS = {"kafka-topics.sh": "org.apache.kafka.tools.TopicCommand",
               "kafka-acls.sh": "org.apache.kafka.tools.AclCommand",
               "kafka-configs.sh": "kafka.admin.ConfigCommand"}
KAFKA_PATH = os.path.join(WORK, "kafka-tools")
FAILED_AT = re.compile(r"^### Test \"([^\"]+)\" failed at [^\n]*###\n(.*)$", re.M)
RESULT_ROW = re.compile(r"^\|\S*\s+(\d{4}\w*)\s+\|\s+(\w+)\s+\|\s+[\d.]+s\s+\S*\|\s*(.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m|\x1b\(B")


def prepare():
    debian_upstream_source(SOURCE_PACKAGE, VERSION, SRC)
    _write_kafka_tools()
    runner = os.path.join(TESTS_DIR, "test-runner")
    if os.path.exists(runner):
        return
    jobs = os.environ.get("JOBS", str(os.cpu_count() or 2))
    run_logged(["./configure"], SRC, os.path.join(WORK, "librdkafka-configure.log"))
    run_logged(["make", "-j", jobs, "libs"], SRC, os.path.join(WORK, "librdkafka-make.log"))
    run_logged(["make", "-j", jobs, "build"], TESTS_DIR, os.path.join(WORK, "librdkafka-tests.log"))


def _write_kafka_tools():
    libs = os.path.join(ROOT, "build", "kafka-libs")
    os.makedirs(os.path.join(KAFKA_PATH, "bin"), exist_ok=True)
    for script, main_class in KAFKA_TOOLS.items():
        path = os.path.join(KAFKA_PATH, "bin", script)
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\nexec java -Xmx256m -cp '{libs}/*' {main_class} \"$@\"\n")
        os.chmod(path, 0o755)


def broker_tests():
    """[(number, name, scenario)] for every test the suite's table flags neither local nor manual.
    The scenario is "default" (auto.create.topics.enable=true) or "noautocreate"."""
    with open(os.path.join(TESTS_DIR, "test.c")) as f:
        text = f.read()
    table = text[text.index("struct test tests[]"):]
    table = table[:table.index("{NULL}")]
    tests = []
    for m in re.finditer(r"_TEST\(\s*(\w+)\s*,\s*([^,)]*)((?:[^()]|\([^()]*\))*)\)", table):
        name, flags, rest = m.group(1), m.group(2), m.group(3)
        if "TEST_F_LOCAL" in flags or "TEST_F_MANUAL" in flags:  # manual: 8000_idle idles forever
            continue
        scenario = re.search(r'\.scenario\s*=\s*"([^"]*)"', rest)
        scenario = "default" if not scenario or "default" in scenario.group(1) else scenario.group(1)
        tests.append((name[:4], name, scenario))
    return tests


def _run_number(number, names, env, logs, scenario):
    start = time.monotonic()
    log_name = f"{number}.log" if scenario == "default" else f"{number}-{scenario}.log"
    rc, out = run_with_deadline(["./run-test.sh", "-Q", "-L"], TESTS_DIR,
                                {**env, "TESTS": number}, TEST_TIMEOUT_S, os.path.join(logs, log_name))
    seconds = time.monotonic() - start
    rows = {}
    for line in ANSI.sub("", out).splitlines():
        m = RESULT_ROW.match(line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3).strip())
    results = []
    for name in names:
        state, extra = rows.get(name, ("", ""))
        if rc is None:
            results.append(Result(name, FAIL, seconds, f"no result within {TEST_TIMEOUT_S} s"))
        elif state == "PASSED":
            results.append(Result(name, PASS, seconds))
        elif state == "SKIPPED":
            results.append(Result(name, SKIP, seconds, extra or "skipped by the suite"))
        elif state == "FAILED":
            results.append(Result(name, FAIL, seconds, extra[:300]))
        elif state == "" and rc == 0:
            results.append(Result(name, SKIP, seconds, "not run by the suite (flags/scenario)"))
        else:
            # A failed assertion aborts the runner before its summary: use its own message.
            failed = [m for m in FAILED_AT.finditer(ANSI.sub("", out)) if m.group(1).startswith(name)]
            why = (f"{failed[0].group(1)}: {failed[0].group(2)}" if failed
                   else ANSI.sub("", out)[-300:].replace("\n", " / "))
            results.append(Result(name, FAIL, seconds, f"runner exited {rc}: {why}"[:400]))
    return results


def _env(broker, scenario, logs):
    conf = os.path.join(logs, f"test-{scenario}.conf")
    with open(conf, "w") as f:
        f.write(f"metadata.broker.list={broker.bootstrap}\n"
                # A loaded 2-core machine is slower than the suite's reference.
                "test.timeout.multiplier=3\n"
                # Fresh topic names per run, so a retry never sees the first attempt's records.
                "test.topic.random=true\n")
    env = {**os.environ, "RDKAFKA_TEST_CONF": conf, "TEST_KAFKA_VERSION": "3.9.0",
           "TEST_SCENARIO": scenario, "KAFKA_PATH": KAFKA_PATH, "BROKERS": broker.bootstrap}
    env.pop("CI", None)  # the runner would switch its own parallelism on; we run one test each
    return env


def run(broker, selected, logs):
    """Runs the tests named in `selected` (None: all) and returns their Results. The
    "noautocreate" scenario's tests get a second Sluice with auto.create.topics.enable=false."""
    groups = {}  # (scenario, number) -> names
    for number, name, scenario in broker_tests():
        if selected is None or name in selected:
            groups.setdefault((scenario, number), []).append(name)
    scenarios = {scenario for scenario, _ in groups}
    extra = {s: start_sluice(f"librdkafka-{s}", NOAUTOCREATE_YAML) for s in scenarios if s != "default"}
    envs = {s: _env(extra.get(s, broker), s, logs) for s in scenarios}
    log(f"librdkafka: {sum(len(v) for v in groups.values())} tests in {len(groups)} runner processes")
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            futures = [pool.submit(_run_number, number, names, envs[scenario], logs, scenario)
                       for (scenario, number), names in sorted(groups.items(), key=lambda kv: kv[0][1])]
            for fut in futures:
                results.extend(fut.result())
    finally:
        for b in extra.values():
            crash = stop_sluice(b)
            if crash:
                raise RuntimeError(crash)
    return results
