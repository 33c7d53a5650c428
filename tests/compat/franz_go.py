"""franz-go's `pkg/kgo` tests (Go module proxy, the franz-go pin of tests/integration/go/go.mod)
against Sluice. The package's tests are compiled from the module cache by a scratch module that
shares the integration tests' go.mod/go.sum, so there is one pin for franz-go in the repository."""
import concurrent.futures
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
# Tests that wait for a feature Sluice lacks until their own deadline (TestTxnEtl: transactions)
# run in a binary of their own beside the others, with a shorter deadline than the whole run's.
OWN_DEADLINE_S = {"TestTxnEtl": 120}
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
    package_dir = os.path.join(BUILD, "package-dir")
    if (os.path.exists(BINARY) and os.path.exists(package_dir) and os.path.exists(stamp)
            and open(stamp).read() == pins):
        return
    with open(os.path.join(PIN_DIR, "go.mod")) as f:
        gomod = re.sub(r"^module .*$", "module sluice.test/compatkgo", f.read(), count=1, flags=re.M)
    with open(os.path.join(BUILD, "go.mod"), "w") as f:
        f.write(gomod)
    shutil.copy(os.path.join(PIN_DIR, "go.sum"), os.path.join(BUILD, "go.sum"))
    run_logged(["go", "test", "-c", "-o", BINARY, "github.com/twmb/franz-go/pkg/kgo"], BUILD,
               os.path.join(WORK, "franz-go-build.log"))
    run_logged(["go", "list", "-f", "{{.Dir}}", "github.com/twmb/franz-go/pkg/kgo"], BUILD, package_dir)
    with open(stamp, "w") as f:
        f.write(pins)


def _run_binary(pattern_flags, package_dir, env, timeout_s, log_path):
    """Runs the test binary once; returns {top-level test name: Result}."""
    cmd = [BINARY, "-test.v", "-test.count=1", f"-test.timeout={timeout_s}s"] + pattern_flags
    start = time.monotonic()
    rc, out = run_with_deadline(cmd, package_dir, env, timeout_s + 60, log_path)
    results = {}
    for line in out.splitlines():
        m = RESULT.match(line)  # top-level tests only: subtests are indented
        if m:
            status = {"PASS": PASS, "FAIL": FAIL, "SKIP": SKIP}[m.group(1)]
            results[m.group(2)] = Result(m.group(2), status, float(m.group(3)),
                                         _reason(out, m.group(2)) if status != PASS else "")
    # A test that never reported (a panic or the deadline ended the binary) failed.
    for name in re.findall(r"^=== RUN\s+(\w+)$", out, re.M):
        if name not in results:
            results[name] = Result(name, FAIL, time.monotonic() - start,
                                   f"no result within {timeout_s} s (binary exited {rc})")
    return results


def run(broker, selected, logs):
    env = {**os.environ,
           "KGO_SEEDS": broker.bootstrap,
           "KGO_TEST_RF": "1",  # one broker
           "KGO_TEST_RECORDS": "20000",  # the default 500,000 takes far too long on 2 cores
           "KGO_LOG_LEVEL": "none"}
    # As `go test` does, the binary runs in the package's own folder (a test parses config.go).
    with open(os.path.join(BUILD, "package-dir")) as f:
        package_dir = f.read().strip().splitlines()[-1]  # after any "go: downloading" lines
    alone = {n: s for n, s in OWN_DEADLINE_S.items() if selected is None or n in selected}
    main = sorted(selected - set(alone)) if selected is not None else None
    results = {}
    with concurrent.futures.ThreadPoolExecutor(1 + len(alone)) as pool:
        futures = [pool.submit(_run_binary, [f"-test.run=^{name}$"], package_dir, env, deadline,
                               os.path.join(logs, f"{name}.log"))
                   for name, deadline in alone.items()]
        if main is None or main:
            flags = ([f"-test.run=^({'|'.join(main)})$"] if main
                     else [f"-test.skip=^({'|'.join(sorted(alone))})$"] if alone else [])
            futures.append(pool.submit(_run_binary, flags, package_dir, env, RUN_TIMEOUT_S,
                                       os.path.join(logs, "kgo.log")))
        for fut in futures:
            results.update(fut.result())
    return list(results.values())


def _reason(out, name):
    """What the test logged about itself: parallel tests print their log lines just before their
    own --- FAIL/SKIP line, sequential ones just after it."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^--- \w+: {re.escape(name)} ", line):
            before, j = [], i - 1
            while j >= 0 and lines[j].startswith("    ") and not lines[j].lstrip().startswith("---"):
                before.insert(0, lines[j].strip())
                j -= 1
            after = []
            for k in range(i + 1, len(lines)):
                if not lines[k].startswith("    "):
                    break
                after.append(lines[k].strip())
            return " / ".join(before + after)[:300]
    return ""
