#!/usr/bin/env bash
# The fan-out curve for docs/benchmarks.md (issue 12): bench/fanout.sh at
# several client counts (tickerd in batch mode, then Centrifugo, each
# server on core 0 with GOMAXPROCS=1, tickload on core 1), then
# docs/fanout-centrifugo.svg: p50 and p99 against clients for both, from
# collected_at, and docs/fanout-centrifugo-pulse.svg: from each pulse's
# start (Centrifugo's publications are stamped as they are posted, so its
# two charts are the same).
#
# Usage: bash bench/fanout-curve.sh CENTRIFUGO_BINARY [WINDOW=20s] [OUT_DIR] [N...]
# N defaults to 1000 2500 5000 10000. Everything on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${1:?centrifugo binary} window=${2:-20s} out=${3:-$(mktemp -d)}
shift $(($# < 3 ? $# : 3))
ns=("$@")
[ ${#ns[@]} -gt 0 ] || ns=(1000 2500 5000 10000)
mkdir -p "$out"
for n in "${ns[@]}"; do
  bash bench/fanout.sh "$cf" "$n" "$window" "$out"
done
list() { local s="" n; for n in "${ns[@]}"; do s+="${s:+,}$out/$1-$n.json"; done; echo "$s"; }
go run ./cmd/tickload plot -o docs/fanout-centrifugo.svg \
  -title "Fan-out latency, 20 of 500 symbols per client, server on one core" \
  "tickerd (batch)=$(list tickerd)" "Centrifugo=$(list centrifugo)"
go run ./cmd/tickload plot -pulse -o docs/fanout-centrifugo-pulse.svg \
  -title "Fan-out latency from each pulse's start, 20 of 500 symbols per client, server on one core" \
  "tickerd (batch)=$(list tickerd)" "Centrifugo=$(list centrifugo)"
echo "results in $out; plots in docs/fanout-centrifugo.svg and docs/fanout-centrifugo-pulse.svg"
