# The front door. `make run` and `make test` are the two commands the README promises; everything
# else is for people working on Sluice.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
CONFIG ?= config/sluice.yaml
FUZZ_SECONDS ?= 10
PYTHON ?= python3

.PHONY: all deps build debug asan run test unit sim fuzz-smoke fuzz integration chart-test compat protocol docs clean check bench

all: build

deps:
	@scripts/install-deps

build:
	@cmake --preset release >/dev/null
	@cmake --build build/release -j $(JOBS)
	@cp build/release/sluice build/sluice

asan:
	@cmake --preset asan >/dev/null
	@cmake --build build/asan -j $(JOBS)

run: deps build
	@mkdir -p var
	build/sluice serve --config $(CONFIG)

# Unit tests under ASan+UBSan, the fuzz smoke runs, then the integration tests against the
# release binary with real clients.
test: deps build unit fuzz-smoke integration chart-test

unit: asan
	cd build/asan && ctest --output-on-failure -j $(JOBS)

# The Raft simulator over many more seeds than `make unit` runs (1,000), from the release build;
# a failure prints the one command that replays its seed.
SEEDS ?= 100000
SEED_FIRST ?= 1
sim:
	@cmake --preset release >/dev/null
	@cmake --build build/release -j $(JOBS) --target raft_sim
	build/release/tests/sim/raft_sim --first $(SEED_FIRST) --seeds $(SEEDS)

fuzz-smoke:
	@cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j $(JOBS)
	tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

fuzz:
	@cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j $(JOBS)
	tests/fuzz/run.sh build/fuzz $${FUZZ_SECONDS:-600}

# The whole suite runs with storage.io.backend auto (io_uring where the kernel allows it); the tests
# of the log's data path and crash recovery run a second time on the thread-pool backend.
IO_BACKEND_TESTS := tests/integration/test_crash.py tests/integration/test_produce_consume.py \
	tests/integration/test_list_offsets_timestamps.py

integration: build
	$(PYTHON) -m pytest -q tests/integration
	SLUICE_CFG_STORAGE_IO_BACKEND=sync $(PYTHON) -m pytest -q $(IO_BACKEND_TESTS)

# The Helm chart rendered offline (helm and k8s-validate from scripts/install-deps), linted and
# validated against the Kubernetes API types; a few seconds.
# build: each pod's rendered configuration is checked by `sluice serve --check`.
chart-test: build
	$(PYTHON) -m pytest -q tests/helm

# The clients' own test suites (librdkafka, franz-go, kafka-python, kcat), fetched at pinned
# versions from the package registries and run against build/sluice; SUITES=a,b picks some.
# Results: build/compat/results.md; known failures: tests/compat/known/ (docs/compatibility.md).
compat: deps build
	$(PYTHON) tests/compat/run.py $(if $(SUITES),--suites $(SUITES))

protocol:
	$(PYTHON) tools/protogen/protogen.py --schemas ../shared/kafka-protocol --out src/protocol/gen

docs: build
	build/sluice config docs > docs/configuration.md

clean:
	rm -rf build

# The performance comparison against the machine's limits and Kafka 4.0 (docs/performance.md).
bench: deps build
	scripts/bench.sh
