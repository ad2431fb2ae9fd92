#!/usr/bin/env bash
# Cluster-mode figures for docs/benchmarks.md: three tickerd instances on
# one nats-server (JetStream, file storage) and one single-process tickerd
# beside them, all polling one `tickerd sim` on loopback, S symbols pulsed
# every second. Reports each process's CPU over a window, then runs
# tickload against a follower (non-leader) instance and against the single
# process, one after the other, for collected_at -> received latency.
# LEADER_TOO=1 also runs it against the leader (whose clients are fed by
# its own watch, on the process that collects), after the follower.
#
# Usage: bash bench/cluster.sh [SYMBOLS=500] [WINDOW=20s] [CLIENTS=100]
# MAX_RPS=N spreads each pulse over time (source.max_rps) instead of one
# burst; 0 (the default) is no cap. ALONE=1 measures each deployment with
# the other out of the way: the single process is stopped (SIGSTOP) while
# tickload runs against the follower, and the cluster's processes are
# killed before it runs against the single process. Without it both
# deployments poll at the same instants (cron pulses are on the second)
# and fight over the 2 cores during every pulse. PROFILE=1 gives every
# tickerd an admin_listen (its main port + 100, which then serves /metrics
# and /readyz) and saves CPU profiles (net/http/pprof) to PROFILE_DIR
# (default /tmp/tickerd-prof): the leader's and the single process's over
# the CPU window, the leader's while tickload runs against the follower,
# and the single process's while tickload runs against it; and a 3 s
# execution trace of each (go tool trace) during its tickload run.
# PIN=1 gives the collecting side and the delivery side a core each, as
# on separate machines: the simulator, the leader (moved there once
# elected) and the single process on core 0; nats-server, the followers
# and tickload on core 1; every tickerd with GOMAXPROCS=1.
# PIN=2 is PIN=1 with the third instance (neither the leader nor the
# follower measured) moved to core 0 once the leader is known: the
# follower then shares its core only with its NATS server and its
# clients' load tool, not with another instance applying the same rounds
# at the same instants (docs/benchmarks.md, "Session 10").
# SCHED=1 records the scheduler (perf sched record -a, from Debian's
# linux-perf; needs root) for 5 s of the follower's tickload run and of the
# single process's, and prints, per process, how long its threads waited
# for a core once woken (perf's "sch delay": wakeup to running),
# p50/p90/p99/max over every wakeup. The recording costs the follower's
# p99 a few ms: compare latency from runs without it.
# The lag histograms are printed for the follower's tickload window only
# (the difference of two scrapes), and over the whole run.
# Everything on 127.0.0.1; every process it starts is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
syms=${1:-500} window=${2:-20s} clients=${3:-100}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
pin=${PIN:-0}
on() { # core: the prefix that pins a command to core when PIN is set (it execs: $! stays the command's PID)
  if [ "$pin" != 0 ]; then echo "env GOMAXPROCS=1 taskset -c $1"; fi
}

go build -o "$dir/tickerd" ./cmd/tickerd
go build -o "$dir/tickload" ./cmd/tickload
go build -o "$dir/nats-server" github.com/nats-io/nats-server/v2

$(on 1) "$dir/nats-server" -a 127.0.0.1 -p 14222 -js -sd "$dir/js" >"$dir/nats.log" 2>&1 & pids+=($!)
$(on 0) "$dir/tickerd" sim -listen 127.0.0.1:18081 >"$dir/sim.log" 2>&1 & pids+=($!)

list=$(seq -f 'S%04g' 0 $((syms - 1)) | paste -sd, -)
conf() { # name listen cluster-url
  cat >"$dir/$1.yaml" <<YAML
listen: "$2"
source: {kind: nasdaq, url: "http://127.0.0.1:18081", max_in_flight: 256, max_rps: ${MAX_RPS:-0}}
schedule: "@every 1s"
symbols: [$list]
websocket: {max_clients: 20000, max_symbols_per_client: 500}
log: {level: warn}
cluster: {nats_url: "$3", instance_id: "$1", lease_ttl: 3s}
YAML
  if [ "${PROFILE:-0}" = 1 ]; then echo "admin_listen: \"127.0.0.1:$(aport $1)\"" >>"$dir/$1.yaml"; fi
}
declare -A port=([a]=18091 [b]=18092 [c]=18093 [single]=18090) pid=()
aport() { # instance: the port of its /metrics, /readyz and /debug/pprof
  if [ "${PROFILE:-0}" = 1 ]; then echo $((port[$1] + 100)); else echo "${port[$1]}"; fi
}
profdir=${PROFILE_DIR:-/tmp/tickerd-prof}
[ "${PROFILE:-0}" = 1 ] && mkdir -p "$profdir"
profile() { # instance seconds file: a CPU profile, in the background
  [ "${PROFILE:-0}" = 1 ] || return 0
  curl -fsS -o "$profdir/$3" "http://127.0.0.1:$(aport $1)/debug/pprof/profile?seconds=$2" & pids+=($!)
}
for n in a b c; do conf $n 127.0.0.1:${port[$n]} nats://127.0.0.1:14222; done
conf single 127.0.0.1:${port[single]} ""
declare -A core=([a]=1 [b]=1 [c]=1 [single]=0)
for n in a b c single; do
  $(on ${core[$n]}) "$dir/tickerd" -config "$dir/$n.yaml" -config-poll 0 >"$dir/$n.log" 2>&1 & pid[$n]=$!; pids+=($!)
done
for n in a b c single; do
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$(aport $n)/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
done
sleep 5 # every instance has the bucket's values and a few pulses
leader=$(curl -fsS http://127.0.0.1:18091/api/cluster | sed -n 's/.*"leader":"\([^"]*\)".*/\1/p')
follower=a; [ "$leader" = a ] && follower=b
for n in a b c; do [ "$n" != "$leader" ] && [ "$n" != "$follower" ] && other=$n; done
echo "symbols=$syms leader=$leader follower=$follower other=$other window=$window pin=$pin"
if [ "$pin" != 0 ]; then taskset -a -p -c 0 "${pid[$leader]}" >/dev/null; fi
if [ "$pin" = 2 ]; then taskset -a -p -c 0 "${pid[$other]}" >/dev/null; fi
if [ "$pin" != 0 ]; then sleep 2; fi

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
secs=${window%s}
declare -A t0
for n in a b c single; do t0[$n]=$(ticks ${pid[$n]}); done
nats_pid=${pids[0]}; n0=$(ticks $nats_pid)
profile "$leader" "$secs" leader-idle.pprof
profile single "$secs" single-idle.pprof
sleep "$secs"
for n in a b c single; do
  role=follower; [ "$n" = "$leader" ] && role=leader; [ "$n" = single ] && role=single
  echo "cpu $n ($role): $(awk -v a=${t0[$n]} -v b=$(ticks ${pid[$n]}) -v s=$secs 'BEGIN{printf "%.3f", (b-a)/100/s}') cores"
done
echo "cpu nats-server: $(awk -v a=$n0 -v b=$(ticks $nats_pid) -v s=$secs 'BEGIN{printf "%.3f", (b-a)/100/s}') cores"
load() { # instance
  echo "tickload against $1:"
  local who=$leader file=leader-load.pprof prof=
  [ "$1" = single ] && who=single file=single-load.pprof
  if [ "${PROFILE:-0}" = 1 ] && [ "$1" != "$leader" ]; then
    (sleep 3; profile "$who" "$secs" "$file"
     sleep 5; curl -fsS -o "$profdir/${file%.pprof}.trace" "http://127.0.0.1:$(aport $who)/debug/pprof/trace?seconds=3"; wait) &
    prof=$!; pids+=($prof)
  fi
  $(on 1) "$dir/tickload" -url "ws://127.0.0.1:${port[$1]}/ws" -batch -n "$clients" -k 20 -settle 3s -duration "$window" -server-pid "${pid[$1]}"
  [ -z "$prof" ] || wait "$prof" || true
}
if [ "${PROFILE:-0}" = 1 ]; then sleep 2; fi # the window's profiles are in
[ "${ALONE:-0}" = 1 ] && kill -STOP "${pid[single]}"
fm0=$(curl -fsS "http://127.0.0.1:$(aport $follower)/metrics" || true)
lm0=$(curl -fsS "http://127.0.0.1:$(aport $leader)/metrics" || true)
sched_start() { # SCHED=1: record the scheduler for 5 s, starting 6 s into a tickload run
  [ "${SCHED:-0}" = 1 ] || return 0
  command -v perf >/dev/null || { echo "SCHED=1 needs perf (apt-get install linux-perf)" >&2; exit 1; }
  (sleep 6; perf sched record -a -o "$dir/sched.data" -- sleep 5 >/dev/null 2>&1) & sched=$!; pids+=($sched)
}
sched_report() { # what: each process's wakeup-to-running delays in the recording; roles from role[]
  [ "${SCHED:-0}" = 1 ] || return 0
  wait "$sched" || true
  local roles
  roles=$(for p in "${!role[@]}"; do echo "$p ${role[$p]}"; done)
  echo "wakeup to running (perf sched), 5 s of the $1's tickload run, ms:"
  # timehist: time [cpu] comm[tid/pid] wait sch-delay run; a thread of a
  # process the map does not name is tickload's if its comm says so.
  perf sched timehist -i "$dir/sched.data" 2>/dev/null | awk -v roles="$roles" '
    BEGIN { n = split(roles, r, "\n"); for (i = 1; i <= n; i++) { split(r[i], f, " "); role[f[1]] = f[2] } }
    NR > 3 && $3 !~ /^<idle>/ {
      t = $3; comm = t; sub(/\[.*/, "", comm); id = t; sub(/.*[\[\/]/, "", id); sub(/\]/, "", id)
      who = (id in role) ? role[id] : (comm == "tickload" ? "tickload" : "")
      if (who != "") print who, $5 }' |
    sort -k1,1 -k2,2g | awk '
      function out() { if (name != "") printf "  %-11s wakeups=%d p50=%.2f p90=%.2f p99=%.2f max=%.2f\n", name, k, v[int(k*.5)+1], v[int(k*.9)+1], v[int(k*.99)+1], v[k] }
      $1 != name { out(); name = $1; k = 0 } { v[++k] = $2 } END { out() }'
}
declare -A role=([${pid[$leader]}]=leader [${pid[$follower]}]=follower [${pid[$other]}]=other [$nats_pid]=nats-server [${pids[1]}]=sim)
sched_start
load $follower
sched_report follower
[ "${LEADER_TOO:-0}" = 1 ] && load $leader
quantiles() { # histogram-name: its p50, p90 and p99 in ms, interpolated in its buckets (metrics text on stdin)
  awk -v h="$1" '
    index($0, h "_bucket{le=\"") == 1 { split($0, a, "\""); le[n] = (a[2] == "+Inf") ? -1 : a[2]; c[n++] = $NF }
    END { tot = c[n-1]; if (tot == 0) { print h ": none"; exit }
      printf "%s: n=%d", h, tot
      split("0.5 0.9 0.99", qs, " ")
      for (k = 1; k <= 3; k++) { want = qs[k] * tot; lo = 0; prev = 0
        for (i = 0; i < n; i++) { if (c[i] >= want) break; lo = le[i]; prev = c[i] }
        v = (le[i] < 0) ? "inf" : sprintf("%.1f", 1000 * (lo + (le[i] - lo) * (want - prev) / (c[i] - prev)))
        printf " p%s=%s ms", qs[k] * 100, v }
      print "" }'
}
fm=$(curl -fsS "http://127.0.0.1:$(aport $follower)/metrics" || true)
lm=$(curl -fsS "http://127.0.0.1:$(aport $leader)/metrics" || true)
grep -E '^tickerd_cluster_fenced' <<<"$fm" || true
grep -E '^tickerd_cluster_(rounds|round_snapshots|compactions)' <<<"$lm" || true
since() { # before after: the metrics text after, its histogram buckets less those of before
  awk 'NR == FNR { if (index($0, "_bucket{") > 0) { k = $0; sub(/ [^ ]*$/, "", k); b[k] = $NF }; next }
    index($0, "_bucket{") > 0 { k = $0; sub(/ [^ ]*$/, "", k); print k, $NF - b[k]; next } { print }' \
    <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}
for span in run window; do
  f=$fm l=$lm
  if [ $span = window ]; then f=$(since "$fm0" "$fm") l=$(since "$lm0" "$lm"); fi
  echo "follower ($span): $(quantiles tickerd_cluster_watch_lag_seconds <<<"$f")"
  echo "follower ($span): $(quantiles tickerd_cluster_watch_store_lag_seconds <<<"$f")"
  echo "leader ($span): $(quantiles tickerd_cluster_round_send_lag_seconds <<<"$l")"
  echo "leader ($span): $(quantiles tickerd_cluster_round_ack_lag_seconds <<<"$l")"
done
if [ "${ALONE:-0}" = 1 ]; then
  for n in a b c; do kill "${pid[$n]}"; done
  kill "$nats_pid"
  kill -CONT "${pid[single]}"
  sleep 3
fi
role=([${pid[single]}]=single [${pids[1]}]=sim)
sched_start
load single
sched_report single
