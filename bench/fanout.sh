#!/usr/bin/env bash
# Fan-out figures for docs/benchmarks.md (issue 12): tickerd in batch mode
# and Centrifugo, one after the other in the same run, each server pinned
# to core 0 with GOMAXPROCS=1 and tickload pinned to core 1; N clients x 20
# symbols of 500, one pulse (or publication per channel) per second.
#
# Usage: bash bench/fanout.sh CENTRIFUGO_BINARY [N=10000] [WINDOW=30s] [OUT_DIR]
# With PROFILE=1, tickload also writes its own CPU profile of each window
# to OUT_DIR/tickload-{tickerd,centrifugo}-N.pprof, next to its binary
# (tickload-bin) for go tool pprof.
# Centrifugo is built outside the repository (see docs/benchmarks.md).
# Everything on 127.0.0.1; every process it starts is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${1:?centrifugo binary} n=${2:-10000} window=${3:-30s} out=${4:-$(mktemp -d)}
mkdir -p "$out"
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
go build -o "$dir/tickerd" ./cmd/tickerd
go build -o "$dir/tickload" ./cmd/tickload
prof() { [ -n "${PROFILE:-}" ] && echo "-cpuprofile $out/tickload-$1-$n.pprof" || true; }
if [ -n "${PROFILE:-}" ]; then cp "$dir/tickload" "$out/tickload-bin"; fi

list=$(seq -f 'S%04g' 0 499 | paste -sd, -)
cat >"$dir/tickerd.yaml" <<YAML
listen: "127.0.0.1:18080"
source: {kind: sim, max_in_flight: 256}
schedule: "@every 1s"
symbols: [$list]
websocket: {max_clients: 20000, max_symbols_per_client: 500}
http: {max_connections: 25000}
log: {level: warn}
YAML
cat >"$dir/cf.json" <<JSON
{"client":{"insecure":true,"allowed_origins":["*"]},"http_api":{"key":"k"},"health":{"enabled":true},"http_server":{"address":"127.0.0.1","port":"18000"},"log":{"level":"error"}}
JSON

ready() { for _ in $(seq 150); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "not ready: $1" >&2; return 1; }

echo "== tickerd batch, N=$n"
taskset -c 0 env GOMAXPROCS=1 "$dir/tickerd" -config "$dir/tickerd.yaml" -config-poll 0 >"$dir/tickerd.log" 2>&1 & tp=$!; pids+=($tp)
ready http://127.0.0.1:18080/readyz
sleep 3
taskset -c 1 "$dir/tickload" -url ws://127.0.0.1:18080/ws -batch -n "$n" -k 20 -settle 5s -duration "$window" -server-pid "$tp" $(prof tickerd) -json >"$out/tickerd-$n.json"
kill "$tp"; wait "$tp" 2>/dev/null || true

echo "== centrifugo, N=$n"
taskset -c 0 env GOMAXPROCS=1 "$cf" -c "$dir/cf.json" >"$dir/cf.log" 2>&1 & cp=$!; pids+=($cp)
ready http://127.0.0.1:18000/health
taskset -c 1 "$dir/tickload" -target centrifugo -api-key k -n "$n" -k 20 -settle 5s -duration "$window" -server-pid "$cp" $(prof centrifugo) -json >"$out/centrifugo-$n.json"
kill "$cp"; wait "$cp" 2>/dev/null || true
echo "results in $out"
