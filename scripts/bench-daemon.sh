#!/usr/bin/env bash
# Footprint of `ananke daemon` side by side with NUT's own upsmon, both watching the same dummy UPS
# at a 1 s poll (real upsd + dummy-ups on 127.0.0.1:3493, from scripts/lab/nut-dummy.sh):
#   - resident memory (upsmon: privileged parent + unprivileged child),
#   - CPU over IDLE_SECS (default 60) of an idle watch,
#   - delay from a UPS state change (OL -> OB LB) to the decision: ananke's shutdown decision
#     (daemon-status.json) against upsmon's LOWBATT notification (its NOTIFYCMD log), TRIALS times.
# The daemon drives the simulated titan-lab (`--sim`), so its shutdown decision changes nothing real.
set -euo pipefail
cd "$(dirname "$0")/.."

IDLE_SECS=${IDLE_SECS:-60}
TRIALS=${TRIALS:-9}
export NUT_DIR=${NUT_DIR:-/tmp/ananke-bench/nut}
work=$(mktemp -d /tmp/ananke-bench.XXXXXX)
lab=scripts/lab/nut-dummy.sh
daemon_pid=""

cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  "$lab" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
upsmon_pids() { cat "$NUT_DIR/run/upsmon.lab.pids"; }
sum() { local t=0; for v in "$@"; do t=$((t + v)); done; echo "$t"; }

cargo build --release --quiet -p ananke-cli
"$lab" start-upsmon >/dev/null
"$lab" state online >/dev/null   # a previous run may have left the UPS on battery
sleep 2

# The bench config: the simulated lab's own config with both power domains on the dummy UPS
# (one upsd login) and a 1 s poll (see ananke-cli/examples/bench_config.rs).
printf 'monpass\n' > "$work/nut.password"
ANANKE_BENCH_DIR="$work" cargo run --release --quiet -p ananke-cli --example bench_config > "$work/ananke.yaml"

target/release/ananke daemon --sim titan-lab --config "$work/ananke.yaml" --state-dir "$work/state" 2>"$work/daemon.log" &
daemon_pid=$!
status="$work/state/daemon-status.json"
for _ in $(seq 100); do grep -q '"OL"' "$status" 2>/dev/null && break; sleep 0.1; done
grep -q '"OL"' "$status" || { echo "the daemon did not come up:"; cat "$work/daemon.log"; exit 1; }

mon=$(upsmon_pids | tr '\n' ' ')
echo "ananke daemon pid $daemon_pid; upsmon pids $mon"
sleep 3
echo "resident memory: ananke $(rss_kib "$daemon_pid") KiB; upsmon $(sum $(for p in $mon; do rss_kib "$p"; done)) KiB (parent + child)"

a0=$(cpu_ticks "$daemon_pid"); u0=$(sum $(for p in $mon; do cpu_ticks "$p"; done))
sleep "$IDLE_SECS"
a1=$(cpu_ticks "$daemon_pid"); u1=$(sum $(for p in $mon; do cpu_ticks "$p"; done))
hz=$(getconf CLK_TCK)
echo "CPU over ${IDLE_SECS}s idle: ananke $(( (a1 - a0) * 1000 / hz )) ms; upsmon $(( (u1 - u0) * 1000 / hz )) ms"

# The decision is the phase leaving `up` (the event list is bounded, so counting events would stall).
decided() { grep -q '"phase": "shutting-down"' "$status" 2>/dev/null; }
lowbatts() { awk '$2 == "LOWBATT" {n++} END {print n + 0}' "$NUT_DIR/run/notify.log" 2>/dev/null || echo 0; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a - b}'; }
ananke_delays=(); upsmon_delays=()
for trial in $(seq "$TRIALS"); do
  # A random phase: the loop below returns right after one of the daemon's polls, which would
  # otherwise put every change at the start of its 1 s poll period (its worst case).
  sleep "$(awk -v s="$RANDOM" 'BEGIN {srand(s); printf "%.3f", rand()}')"
  before_u=$(lowbatts)
  t0=$(now)
  "$lab" state lowbatt >/dev/null
  for _ in $(seq 3000); do decided && break; sleep 0.01; done
  ta=$(now)
  for _ in $(seq 500); do [ "$(lowbatts)" -gt "$before_u" ] && break; sleep 0.01; done
  tu=$(awk '$2 == "LOWBATT" {t = $1} END {print t}' "$NUT_DIR/run/notify.log")
  ananke_delays+=("$(minus "$ta" "$t0")"); upsmon_delays+=("$(minus "$tu" "$t0")")
  echo "trial $trial: ananke decision after ${ananke_delays[-1]} s; upsmon LOWBATT after ${upsmon_delays[-1]} s"
  "$lab" state online >/dev/null
  # Back to normal: the daemon's shutdown ends, power is stable again, the cluster comes back up.
  for _ in $(seq 600); do grep -q '"phase": "up"' "$status" && break; sleep 0.1; done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "decision delay, median of $TRIALS: ananke $(median "${ananke_delays[@]}") s; upsmon $(median "${upsmon_delays[@]}") s"
