#!/usr/bin/env bash
# Run every test of ananke on this machine, installing what the tests need first.
#
#   scripts/test.sh            install missing tools, then run the whole suite
#   scripts/test.sh -- FILTER  pass extra arguments to cargo nextest (e.g. a test name filter)
#
# Needs root (or passwordless sudo) only to install Debian packages that are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_tools() {
  command -v cargo >/dev/null || { log "cargo is required (install Rust with rustup)"; exit 2; }
  # Real components the adapter and end-to-end tests start on loopback (curl: the test nodes'
  # systemctl forwards k3s commands to the simulator's control endpoint with it; sudo: the
  # privileged-command tests run as a non-root user; util-linux: flock for the lock tests;
  # faketime: the wall-clock step test).
  apt_install openssh-server openssh-client nut-server nut-client curl systemd sudo util-linux faketime man-db fakeroot
  # Independent Kubernetes clients against `ananke-sim serve`: kubectl (the machine's, else
  # Debian's), and the Python client, which the test installs from PyPI into a virtualenv.
  command -v kubectl >/dev/null || apt_install kubernetes-client
  python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
  if ! cargo nextest --version >/dev/null 2>&1; then
    log "installing cargo-nextest"
    cargo install --locked cargo-nextest
  fi
}

ensure_tools
[ "${1:-}" = "--" ] && shift
log "cargo nextest run --workspace"
cargo nextest run --workspace --no-fail-fast "$@"
log "doc tests"
cargo test --workspace --doc --quiet
