"""franz-go's `pkg/kgo` tests (Go module proxy, the franz-go pin of tests/integration/go/go.mod)
against Sluice. The package's tests are compiled from the module cache by a scratch module that
shares the integration tests' go.mod/go.sum, so there is one pin for franz-go in the repository."""
import concurrent.futures
import os
import re
import shutil

from common import ROOT, WORK, run_go_test_binary, run_logged

NAME = "franz-go"
PIN_DIR = os.path.join(ROOT, "tests", "integration", "go")
BROKER_YAML = "auto.create.topics.enable: true\nnum.partitions: 4\n"
BUILD = os.path.join(WORK, "franz-go")
BINARY = os.path.join(BUILD, "kgo.test")
RUN_TIMEOUT_S = 900
# Tests that wait for a feature Sluice lacks until their own deadline (TestTxnEtl: transactions)
# run in a binary of their own beside the others, with a shorter deadline than the whole run's.
OWN_DEADLINE_S = {"TestTxnEtl": 120}


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
        futures = [pool.submit(run_go_test_binary, BINARY, [f"-test.run=^{name}$"], package_dir,
                               env, deadline, os.path.join(logs, f"{name}.log"))
                   for name, deadline in alone.items()]
        if main is None or main:
            flags = ([f"-test.run=^({'|'.join(main)})$"] if main
                     else [f"-test.skip=^({'|'.join(sorted(alone))})$"] if alone else [])
            futures.append(pool.submit(run_go_test_binary, BINARY, flags, package_dir, env,
                                       RUN_TIMEOUT_S, os.path.join(logs, "kgo.log")))
        for fut in futures:
            results.update(fut.result())
    return list(results.values())

