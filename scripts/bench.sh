#!/usr/bin/env bash
# The whole performance comparison on this machine (`make bench`; docs/performance.md reports it):
#  1. the machine: cores, memory, disk, kernel;
#  2. its limits: fio sequential 64 KiB writes with an fdatasync every 16 (1 MiB, the issue's sync
#     cadence) and without sync, fdatasync after each write, loopback TCP bandwidth (iperf3), and
#     librdkafka's in-memory mock cluster (no disk, no broker: what the client alone can push);
#  3. Sluice (once per io backend in $BENCH_IO_BACKENDS) and the reference Kafka 4.0.0 under the
#     same sluice-bench runs (tools/bench/compare.py: 1, 100 and 1,000 partitions, consume, latency
#     at half the peak, broker CPU per GB and RSS), with perf profiles of Sluice's produce and fetch;
#  4. Sluice's start-up time with 1,000 partitions, clean and after SIGKILL (tools/bench/startup.py);
#  5. three brokers, RF=3, min.insync.replicas=2: Sluice and a three-node Kafka 4.0.0 (KRaft,
#     combined mode) under the same runs (tools/bench/replicated.py: acks=all throughput and
#     latency, unavailability after SIGKILL of a leader and after a controlled shutdown, idle RSS
#     per broker with 1,000 replicated partitions); $BENCH_REPLICATED_TARGETS picks the clusters.
# Everything lands in $BENCH_OUT (default build/bench): JSON per step and report.md. The data
# lives in $BENCH_DIR (default /tmp/sluice-bench-scratch), deleted at the end. Every process
# started here is stopped here. Takes about 20 minutes with the defaults (half of it step 5).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${BENCH_OUT:-$top/build/bench}
scratch=${BENCH_DIR:-/tmp/sluice-bench-scratch}
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-3}
# The io backends to run Sluice with (storage.io.backend); io_uring only where the tree has it.
if [ -z "${BENCH_IO_BACKENDS:-}" ]; then
    BENCH_IO_BACKENDS=sync
    [ -e "$top/src/io/disk_uring.c" ] && BENCH_IO_BACKENDS=sync,io_uring
fi
sluice_targets=$(echo "$BENCH_IO_BACKENDS" | tr ',' '\n' | sed 's/^/sluice-/' | paste -sd,)
targets=${BENCH_TARGETS:-$sluice_targets,kafka}
steps=${BENCH_STEPS:-machine,fio,iperf,mock,compare,startup,replicated}
mkdir -p "$out" "$scratch"
# SLUICE_BIN and SLUICE_BENCH_BIN pick other binaries (e.g. a build of a clean checkout).
export SLUICE_BIN=${SLUICE_BIN:-$top/build/sluice}
export SLUICE_BENCH_BIN=${SLUICE_BENCH_BIN:-$top/build/release/tools/bench/sluice-bench}
[ -x "$SLUICE_BIN" ] && [ -x "$SLUICE_BENCH_BIN" ] || { echo "bench: run 'make build' first" >&2; exit 2; }

iperf_pid=
cleanup() {
    [ -n "$iperf_pid" ] && kill "$iperf_pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT
has_step() { [[ ",$steps," == *",$1,"* ]]; }
log() { echo "bench: $*" >&2; }

if has_step machine; then
    log "machine"
    dev=$(df --output=source "$scratch" | tail -1)
    {
        echo "cpu: $(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
        echo "virtualization: $(systemd-detect-virt 2>/dev/null || echo unknown)"
        echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
        echo "kernel: $(uname -r)"
        echo "filesystem: $(df -h --output=source,fstype,size "$scratch" | tail -1 | tr -s ' ')"
        echo "disk: $(lsblk -dno NAME,SIZE,ROTA,MODEL "$dev" 2>/dev/null |
            awk '{printf "%s, %s, rotational=%s, model=%s", $1, $2, $3, ($4 == "" ? "none" : $4)}')"
        echo "sluice: $SLUICE_BIN ($("$SLUICE_BIN" --version 2>&1 | head -1)), tree at $(git -C "$top" rev-parse --short HEAD)"
        echo "java: $(java -version 2>&1 | head -1)"
        echo "librdkafka: $(pkg-config --modversion rdkafka)"
    } >"$out/machine.txt"
    cat "$out/machine.txt" >&2
fi

if has_step fio; then
    # The disk's ceiling for a durable log: every write followed by fdatasync, at two write sizes
    # (group commit makes Sluice's writes large), then the plain bandwidth without syncs.
    mkdir -p "$scratch/fio"
    run_fio() { # name args...
        local name=$1
        shift
        log "fio $name"
        fio --name="$name" --directory="$scratch/fio" --ioengine=sync --rw=write \
            --output-format=json "$@" >"$out/fio-$name.json"
        rm -f "$scratch/fio/"*
    }
    run_fio fdatasync16-64k --bs=64k --size=1g --fdatasync=16
    run_fio nosync-64k --bs=64k --size=1g
    run_fio fdatasync-16k --bs=16k --size=128m --fdatasync=1
    run_fio fdatasync-256k --bs=256k --size=512m --fdatasync=1
fi

if has_step iperf; then
    log "iperf3 on loopback"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    iperf3 -s -B 127.0.0.1 -p "$port" -1 >/dev/null 2>&1 &
    iperf_pid=$!
    for _ in $(seq 50); do
        iperf3 -c 127.0.0.1 -p "$port" -t 5 -J >"$out/iperf3.json" 2>/dev/null && break
        sleep 0.1
    done
    wait "$iperf_pid" || true
    iperf_pid=
fi

if has_step mock; then
    # librdkafka's mock cluster: in-process, in memory, on loopback. The client's own ceiling.
    for acks in all 1; do
        log "mock cluster acks=$acks"
        "$SLUICE_BENCH_BIN" --mock-brokers 1 --json --record-size 1024 --partitions 1 \
            --acks "$acks" --duration "$duration" --warmup "$warmup" \
            >"$out/mock-acks$acks.json" 2>/dev/null || true
    done
fi

if has_step compare; then
    log "sluice-bench: $targets (duration ${duration}s, warmup ${warmup}s)"
    python3 "$top/tools/bench/compare.py" --workdir "$scratch/compare" --out "$out/compare.json" \
        --duration "$duration" --warmup "$warmup" --targets "$targets" --perf
fi

if has_step startup; then
    log "start-up with 1,000 partitions (small tails)"
    python3 "$top/tools/bench/startup.py" --workdir "$scratch/startup-small" \
        --out "$out/startup-small.json" --records 10 --value-bytes 100 >/dev/null
    rm -rf "$scratch/startup-small"
    log "start-up with 1,000 partitions (800 KB per partition; cold cache too)"
    python3 "$top/tools/bench/startup.py" --workdir "$scratch/startup-large" \
        --out "$out/startup-large.json" --records 200 --value-bytes 1000 --cold >/dev/null
    rm -rf "$scratch/startup-large"
fi

if has_step replicated; then
    log "three brokers, RF=3: ${BENCH_REPLICATED_TARGETS:-sluice-rf3,kafka-rf3}"
    python3 "$top/tools/bench/replicated.py" --workdir "$scratch/replicated" \
        --out "$out/replicated.json" --duration "$duration" --warmup "$warmup" \
        --targets "${BENCH_REPLICATED_TARGETS:-sluice-rf3,kafka-rf3}" >/dev/null
fi

python3 - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else None
lines = ["# sluice bench report", ""]
if os.path.exists(os.path.join(out, "machine.txt")):
    lines += ["```", open(os.path.join(out, "machine.txt")).read().rstrip(), "```", ""]
rows = []
for name in ("fdatasync16-64k", "nosync-64k", "fdatasync-16k", "fdatasync-256k"):
    j = load(f"fio-{name}.json")
    if j:
        w = j["jobs"][0]["write"]
        sync = j["jobs"][0].get("sync", {}).get("lat_ns", {})
        pct = sync.get("percentile", {})
        extra = (f", fdatasync p50 {pct.get('50.000000', 0) / 1e6:.2f} ms"
                 f" p99 {pct.get('99.000000', 0) / 1e6:.2f} ms") if pct else ""
        rows.append(f"| fio {name} | {w['bw_bytes'] / 2**20:.1f} MiB/s, {w['iops']:.0f} writes/s{extra} |")
j = load("iperf3.json")
if j:
    bps = j["end"]["sum_received"]["bits_per_second"]
    rows.append(f"| iperf3 loopback | {bps / 1e9:.1f} Gbit/s ({bps / 8 / 2**20:.0f} MiB/s) |")
for acks in ("all", "1"):
    j = load(f"mock-acks{acks}.json")
    if j and j.get("produce"):
        p = j["produce"]
        rows.append(f"| librdkafka mock cluster, acks={acks}, 1 partition | "
                    f"{p['records_per_s']:,.0f} rec/s, {p['mib_per_s']:.1f} MiB/s |")
if rows:
    lines += ["| limit | result |", "|---|---|", *rows, ""]
md = os.path.join(out, "compare.md")
if os.path.exists(md):
    lines += [open(md).read(), ""]
for name in ("startup-small", "startup-large"):
    j = load(f"{name}.json")
    if j:
        lines.append(f"{name}: {j['topics']} topics x {j['partitions_per_topic']} partitions, "
                     f"{j['data_bytes'] / 2**20:.0f} MiB on disk")
        for series in ("clean", "clean_cold", "after_sigkill"):
            if series in j:
                s = j[series]
                rec = [r["recovered_ms"] for r in s["runs"]]
                lines.append(f"- {series}: ready median {s['ready_ms_median']} ms "
                             f"(min {s['ready_ms_min']}, max {s['ready_ms_max']}); "
                             f"recovered logs ms {rec}")
        lines.append("")
md = os.path.join(out, "replicated.md")
if os.path.exists(md):
    lines += ["Three brokers, RF=3, min.insync.replicas=2 (tools/bench/replicated.py):", "",
              open(md).read(), ""]
open(os.path.join(out, "report.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
