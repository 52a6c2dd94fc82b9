#!/usr/bin/env bash
# Footprint of `ananke daemon` side by side with NUT's own upsmon, both watching the same dummy UPS
# at a 1 s poll (real upsd + dummy-ups on 127.0.0.1:3493, from scripts/lab/nut-dummy.sh):
#   - resident memory (upsmon: privileged parent + unprivileged child),
#   - CPU time over IDLE_SECS (default 60) of an idle watch, ROUNDS (default 3) windows in a row,
#     read from /proc/PID/task/*/schedstat (nanoseconds, every thread), not from the 10 ms ticks of
#     /proc/PID/stat; the medians over the windows are printed at the end,
#   - delay from a UPS state change (OL -> OB LB) to the decision: ananke's shutdown decision
#     (daemon-status.json) against upsmon's LOWBATT notification (its NOTIFYCMD log), TRIALS times.
#     The driver re-reads its .dev file every second, so every delay starts with a uniform share
#     of a second. A poller (upsmon; the daemon with WATCH=upsd) then waits a uniform share of its
#     own 1 s poll, set by its phase against the driver's: each trial restarts both after a random
#     pause, so every trial draws fresh phases (for upsmon, the pause is after the old one exits:
#     it exits at the end of its current sleep). With WATCH=driver the daemon does not poll: the
#     driver pushes the change to it as it publishes it.
# The daemon drives the simulated titan-lab (`--sim`), so its shutdown decision changes nothing real.
# WATCH=driver (the default) has the daemon read the UPS through the driver's own socket
# (`power_domains.ups.driver_socket`: pushed changes, no poll); WATCH=upsd has it poll upsd at 1 s,
# as upsmon does. Set ANANKE_POLL (e.g. 500ms) to run the daemon at another poll interval.
set -euo pipefail
cd "$(dirname "$0")/.."

IDLE_SECS=${IDLE_SECS:-60}
ROUNDS=${ROUNDS:-3}
TRIALS=${TRIALS:-15}
POLL=${ANANKE_POLL:-1s}
WATCH=${WATCH:-driver}
export NUT_DIR=${NUT_DIR:-/tmp/ananke-bench/nut}
work=$(mktemp -d /tmp/ananke-bench.XXXXXX)
lab=scripts/lab/nut-dummy.sh
daemon_pid=""

stop_daemon() {
  [ -n "$daemon_pid" ] || return 0
  pkill -TERM -P "$daemon_pid" 2>/dev/null || true   # a shutdown/startup run it started
  kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
}
cleanup() {
  stop_daemon
  "$lab" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# CPU time in ns of every thread of the given processes.
cpu_ns() { cat $(for p in "$@"; do echo /proc/"$p"/task/*/schedstat; done) 2>/dev/null | awk '{t += $1} END {printf "%d", t}'; }
upsmon_pids() { cat "$NUT_DIR/run/upsmon.lab.pids"; }
sum() { local t=0; for v in "$@"; do t=$((t + v)); done; echo "$t"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b - a) / 1e6}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mean() { printf '%s\n' "$@" | awk '{t += $1} END {printf "%.3f", t / NR}'; }
pause() { sleep "$(awk -v s="$RANDOM" 'BEGIN {srand(s); printf "%.3f", rand()}')"; }

cargo build --profile dist --quiet -p ananke-cli   # the shipped profile: fat LTO, one unit
"$lab" start-upsmon >/dev/null
"$lab" state online >/dev/null   # a previous run may have left the UPS on battery
sleep 2

# The bench config: the simulated lab's own config with both power domains on the dummy UPS
# (one upsd login) and a 1 s poll (see ananke-cli/examples/bench_config.rs).
printf 'monpass\n' > "$work/nut.password"
case "$WATCH" in
  driver) export ANANKE_BENCH_DRIVER_SOCKET="$NUT_DIR/run/dummy-ups-dummy" ;;
  upsd) unset ANANKE_BENCH_DRIVER_SOCKET ;;
  *) echo "WATCH must be driver or upsd, not $WATCH" >&2; exit 2 ;;
esac
ANANKE_BENCH_DIR="$work" cargo run --release --quiet -p ananke-cli --example bench_config \
  | sed "s/^  poll_interval: .*/  poll_interval: $POLL/" > "$work/ananke.yaml"
status="$work/state/daemon-status.json"

start_daemon() {
  rm -rf "$work/state"
  target/dist/ananke daemon --sim titan-lab --config "$work/ananke.yaml" --state-dir "$work/state" >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 100); do grep -q '"OL"' "$status" 2>/dev/null && break; sleep 0.05; done
  grep -q '"OL"' "$status" || { echo "the daemon did not come up:"; cat "$work/daemon.log"; exit 1; }
}
restart_upsmon() {  # parent and child: a child left behind keeps a new upsmon from starting
  local pids p
  pids=$(upsmon_pids)
  kill $pids 2>/dev/null || true
  for p in $pids; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.02; done
  done
  # The pause goes between the old upsmon's exit and the new one's start: upsmon leaves at the
  # end of its current sleep, so a pause before the kill would leave the new upsmon in the old
  # one's phase (seen: its lag after the driver's update stayed within 10 ms across trials).
  pause
  "$lab" start-upsmon >/dev/null
}

start_daemon
mon=$(upsmon_pids | tr '\n' ' ')
echo "ananke daemon pid $daemon_pid (watching through $WATCH, poll $POLL); upsmon pids $mon (poll 1 s)"
sleep 3
echo "resident memory: ananke $(rss_kib "$daemon_pid") KiB; upsmon $(sum $(for p in $mon; do rss_kib "$p"; done)) KiB (parent + child)"

# CPU in ROUNDS windows of IDLE_SECS (a single minute on a shared VM varies by a third).
a_ms=(); u_ms=()
for round in $(seq "$ROUNDS"); do
  a0=$(cpu_ns "$daemon_pid"); u0=$(cpu_ns $mon)
  sleep "$IDLE_SECS"
  a1=$(cpu_ns "$daemon_pid"); u1=$(cpu_ns $mon)
  a_ms+=("$(ms "$a0" "$a1")"); u_ms+=("$(ms "$u0" "$u1")")
  echo "CPU over ${IDLE_SECS}s idle (window $round): ananke ${a_ms[-1]} ms; upsmon ${u_ms[-1]} ms (parent + child)"
done
stop_daemon

# The decision is the phase leaving `up`.
decided() { grep -q '"phase": "shutting-down"' "$status" 2>/dev/null; }
lowbatt_at() { awk '$2 == "LOWBATT" {print $1; exit}' "$NUT_DIR/run/notify.log" 2>/dev/null; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a - b}'; }
ananke_delays=(); upsmon_delays=()
for trial in $(seq "$TRIALS"); do
  "$lab" state online >/dev/null
  for _ in $(seq 100); do [ "$(upsc dummy@127.0.0.1 ups.status 2>/dev/null)" = OL ] && break; sleep 0.05; done
  # Fresh, independent phases: each poller starts after a random pause.
  restart_upsmon
  pause; start_daemon
  pause
  t0=$(now)
  "$lab" state lowbatt >/dev/null
  for _ in $(seq 3000); do decided && break; sleep 0.005; done
  ta=$(now)
  for _ in $(seq 500); do [ -n "$(lowbatt_at)" ] && break; sleep 0.01; done
  tu=$(lowbatt_at)
  ananke_delays+=("$(minus "$ta" "$t0")"); upsmon_delays+=("$(minus "$tu" "$t0")")
  echo "trial $trial: ananke decision after ${ananke_delays[-1]} s; upsmon LOWBATT after ${upsmon_delays[-1]} s"
  stop_daemon
done
echo "CPU over ${IDLE_SECS}s idle, median of $ROUNDS windows: ananke $(median "${a_ms[@]}") ms; upsmon $(median "${u_ms[@]}") ms"
echo "decision delay over $TRIALS trials: median ananke $(median "${ananke_delays[@]}") s, upsmon $(median "${upsmon_delays[@]}") s; mean ananke $(mean "${ananke_delays[@]}") s, upsmon $(mean "${upsmon_delays[@]}") s"
