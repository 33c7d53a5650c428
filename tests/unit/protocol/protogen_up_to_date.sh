#!/bin/sh
# Regenerates the protocol codecs into a temporary directory and diffs them against the committed
# src/protocol/gen/. Exit 77 (CTest: skipped) when ../shared/kafka-protocol is not there.
set -eu
root=${1:-$(cd "$(dirname "$0")/../../.." && pwd)}
schemas="$root/../shared/kafka-protocol"
if [ ! -d "$schemas/message" ]; then
    echo "protogen_up_to_date: SKIPPED: $schemas not found (the Kafka JSON schemas live outside the repo)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$root/tools/protogen/protogen.py" --schemas "$schemas" --out "$tmp" >/dev/null
if ! diff -r "$root/src/protocol/gen" "$tmp" >"$tmp.diff" 2>&1; then
    head -50 "$tmp.diff"
    rm -f "$tmp.diff"
    echo "protogen_up_to_date: src/protocol/gen is stale: run 'make protocol' and commit the result"
    exit 1
fi
rm -f "$tmp.diff"
echo "protogen_up_to_date: src/protocol/gen matches tools/protogen output"
