"""franz-go's `pkg/kgo` tests (Go module proxy, the franz-go pin of tests/integration/go/go.mod)
against Sluice. The package's tests are compiled from the module cache by a scratch module that
shares the integration tests' go.mod/go.sum, so there is one pin for franz-go in the repository."""
import os
import re
import shutil
import time

from common import FAIL, PASS, ROOT, SKIP, WORK, Result, run_logged, run_with_deadline

NAME = "franz-go"
PIN_DIR = os.path.join(ROOT, "tests", "integration", "go")
BROKER_YAML = "auto.create.topics.enable: true\nnum.partitions: 4\n"
BUILD = os.path.join(WORK, "franz-go")
BINARY = os.path.join(BUILD, "kgo.test")
RUN_TIMEOUT_S = 900
RESULT = re.compile(r"^--- (PASS|FAIL|SKIP): (\S+) \(([\d.]+)s\)")


def _pinned_version():
    with open(os.path.join(PIN_DIR, "go.mod")) as f:
        return re.search(r"github.com/twmb/franz-go (v\S+)", f.read()).group(1)


VERSION = _pinned_version()


def prepare():
    os.makedirs(BUILD, exist_ok=True)
    stamp = os.path.join(BUILD, "built-from.sum")
    with open(os.path.join(PIN_DIR, "go.sum")) as f:
        pins = f.read()
    if os.path.exists(BINARY) and os.path.exists(stamp) and open(stamp).read() == pins:
        return
    with open(os.path.join(PIN_DIR, "go.mod")) as f:
        gomod = re.sub(r"^module .*$", "module sluice.test/compatkgo", f.read(), count=1, flags=re.M)
    with open(os.path.join(BUILD, "go.mod"), "w") as f:
        f.write(gomod)
    shutil.copy(os.path.join(PIN_DIR, "go.sum"), os.path.join(BUILD, "go.sum"))
    run_logged(["go", "test", "-c", "-o", BINARY, "github.com/twmb/franz-go/pkg/kgo"], BUILD,
               os.path.join(WORK, "franz-go-build.log"))
    with open(stamp, "w") as f:
        f.write(pins)


def run(broker, selected, logs):
    env = {**os.environ,
           "KGO_SEEDS": broker.bootstrap,
           "KGO_TEST_RF": "1",  # one broker
           "KGO_TEST_RECORDS": "20000",  # the default 500,000 takes far too long on 2 cores
           "KGO_LOG_LEVEL": "none"}
    cmd = [BINARY, "-test.v", "-test.count=1", f"-test.timeout={RUN_TIMEOUT_S}s"]
    if selected is not None:
        cmd.append("-test.run=^(" + "|".join(sorted(selected)) + ")$")
    start = time.monotonic()
    rc, out = run_with_deadline(cmd, BUILD, env, RUN_TIMEOUT_S + 60, os.path.join(logs, "kgo.log"))
    results = {}
    for line in out.splitlines():
        m = RESULT.match(line)  # top-level tests only: subtests are indented
        if m:
            status = {"PASS": PASS, "FAIL": FAIL, "SKIP": SKIP}[m.group(1)]
            results[m.group(2)] = Result(m.group(2), status, float(m.group(3)),
                                         _reason(out, m.group(2)) if status != PASS else "")
    # A test that never reported (a panic or the deadline ended the binary) failed.
    started = re.findall(r"^=== RUN\s+(\w+)$", out, re.M)
    for name in started:
        if name not in results:
            results[name] = Result(name, FAIL, time.monotonic() - start,
                                   f"no result: the test binary exited {rc}")
    return list(results.values())


def _reason(out, name):
    """The lines the test logged under its own --- FAIL/SKIP line."""
    m = re.search(rf"^--- \w+: {re.escape(name)} .*$((?:\n\s+.*)*)", out, re.M)
    return m.group(1).strip().replace("\n", " / ")[:300] if m else ""
