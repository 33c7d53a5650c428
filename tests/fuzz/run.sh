#!/usr/bin/env bash
# Runs every fuzz target in BUILD_DIR for SECONDS each, from a copy of its checked-in corpus (so the
# corpus in git only grows when someone adds a regression input on purpose).
set -euo pipefail
build_dir=${1:?build dir}
seconds=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
status=0
for bin in "$build_dir"/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin"); target=${name#fuzz_}
    work=$(mktemp -d)
    [ -d "$here/corpus/$target" ] && cp -r "$here/corpus/$target/." "$work/"
    dict=(); [ -f "$here/kafka.dict" ] && dict=(-dict="$here/kafka.dict")
    echo "fuzz: $name for ${seconds}s"
    if ! "$bin" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
            -print_final_stats=1 "$work" >"$work.log" 2>&1; then
        echo "fuzz: $name FAILED"; tail -n 60 "$work.log"; status=1
    else
        grep -E 'stat::number_of_executed_units' "$work.log" || true
    fi
    rm -rf "$work" "$work.log"
done
exit $status
