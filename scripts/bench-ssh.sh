#!/usr/bin/env bash
# bench-ssh.sh: ananke's SSH fan-out against 64 real sshd on loopback, next to parallel-ssh.
#
# Prints, from one run: ananke's reachability-and-auth gate over all nodes on a first cycle (new
# sessions) and on later cycles (kept sessions), a probe cycle (`systemctl is-active` on each), and
# `parallel-ssh -p N true` over the same nodes. Targets on a 2-core machine: first cycle at most a
# quarter of parallel-ssh's time; later cycle under 50 ms. SSH_BENCH_NODES=N changes the node count.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null || missing+=(openssh-client)
command -v parallel-ssh >/dev/null || missing+=(pssh)
if [ "${#missing[@]}" -gt 0 ]; then
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

exec cargo bench -p ananke-testing --bench ssh
