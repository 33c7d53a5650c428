"""kcat 1.7.1's own tests (Debian source package `kafkacat`) against Sluice: kcat is built from
that source against Debian's librdkafka, and each tests/NNNN-*.sh script runs with BROKERS set."""
import os
import re
import time

from common import FAIL, PASS, SKIP, WORK, Result, debian_upstream_source, run_logged, run_with_deadline

NAME = "kcat"
VERSION = "1.7.1"
SOURCE_PACKAGE = "kafkacat"
BROKER_YAML = "auto.create.topics.enable: true\nnum.partitions: 4\n"
SRC = os.path.join(WORK, "kcat")
TEST_TIMEOUT_S = 120
SKIPPED = re.compile(r"TEST SKIPPED: (.*)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def prepare():
    debian_upstream_source(SOURCE_PACKAGE, VERSION, SRC)
    if not os.path.exists(os.path.join(SRC, "kcat")):
        run_logged(["./configure"], SRC, os.path.join(WORK, "kcat-configure.log"))
        run_logged(["make"], SRC, os.path.join(WORK, "kcat-make.log"))


def run(broker, selected, logs):
    tests_dir = os.path.join(SRC, "tests")
    scripts = sorted(f for f in os.listdir(tests_dir) if re.match(r"^\d{4}-.*\.sh$", f))
    results = []
    for script in scripts:
        name = script[:-3]
        if selected is not None and name not in selected:
            continue
        start = time.monotonic()
        # kcat picks producer mode when stdin is not a terminal; the scripts were written at one
        # (their consumers are started without -C), so they get a pseudo-terminal as stdin.
        controller, terminal = os.openpty()
        try:
            rc, out = run_with_deadline(["bash", script], tests_dir,
                                        {**os.environ, "BROKERS": broker.bootstrap}, TEST_TIMEOUT_S,
                                        os.path.join(logs, f"{name}.log"), stdin=terminal)
        finally:
            os.close(terminal)
            os.close(controller)
        seconds = time.monotonic() - start
        text = ANSI.sub("", out)
        skipped = SKIPPED.search(text)
        if rc == 0 and skipped:
            results.append(Result(name, SKIP, seconds, skipped.group(1).strip()))
        elif rc == 0:
            results.append(Result(name, PASS, seconds))
        else:
            why = "timed out" if rc is None else f"exited {rc}"
            results.append(Result(name, FAIL, seconds, f"{why}: {text[-300:]}".replace("\n", " / ")))
    return results
