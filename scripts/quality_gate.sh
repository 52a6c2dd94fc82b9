#!/usr/bin/env bash
# The deployment quality gate, in the seed's order; it stops at the first broken gate.
#
#   1. docs contract checks     the README documents every subcommand, flag and config field, and nothing else
#   2. naming + LOC hygiene     file and function size limits, names in the domain's words
#   3. pedantic lint            cargo clippy --workspace --all-targets -- -D warnings -D clippy::pedantic
#   4. per-file coverage        at least ANANKE_MIN_COVERAGE (95) % of lines in every source file (cargo-llvm-cov)
#
#   scripts/quality_gate.sh            run every gate
#   ANANKE_GATES="1 2 3" scripts/...   run only some gates (by number)
#
# Installs what it needs when missing: the llvm-tools rustup component, cargo-llvm-cov and cargo-nextest.
set -euo pipefail
cd "$(dirname "$0")/.."

gates=${ANANKE_GATES:-1 2 3 4}
min=${ANANKE_MIN_COVERAGE:-95}
log() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'quality gate FAILED at %s\n' "$*" >&2; exit 1; }
wants() { case " $gates " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if wants 1; then
  log "gate 1/4: docs contract checks"
  cargo test --quiet -p ananke-cli --test it docs_contract || fail "gate 1 (docs contract): the README and the binary disagree (see above)"
fi

if wants 2; then
  log "gate 2/4: formatting, naming and lines-of-code hygiene"
  cargo fmt --all --check >/dev/null || fail "gate 2 (formatting): run cargo fmt (cargo fmt --check shows the diff)"
  cargo test --quiet -p ananke-testing --test it hygiene || fail "gate 2 (naming + LOC hygiene): see the files and functions named above"
fi

if wants 3; then
  log "gate 3/4: pedantic lint"
  if ! cargo clippy --version >/dev/null 2>&1; then
    log "installing the clippy rustup component"
    rustup component add clippy
  fi
  cargo clippy --workspace --all-targets --all-features -- -D warnings -D clippy::pedantic \
    || fail "gate 3 (pedantic lint): fix the clippy findings above"
fi

if wants 4; then
  log "gate 4/4: per-file line coverage >= ${min}%"
  if ! rustup component list --installed 2>/dev/null | grep -q '^llvm-tools'; then
    log "installing the llvm-tools rustup component"
    rustup component add llvm-tools-preview
  fi
  if ! cargo llvm-cov --version >/dev/null 2>&1; then
    log "installing cargo-llvm-cov"
    cargo install --locked cargo-llvm-cov
  fi
  if ! cargo nextest --version >/dev/null 2>&1; then
    log "installing cargo-nextest"
    cargo install --locked cargo-nextest
  fi
  report=target/llvm-cov/coverage.json
  mkdir -p "$(dirname "$report")"
  # nextest, as scripts/test.sh: every test in its own process, the test binaries run in parallel.
  cargo llvm-cov nextest --workspace --all-features --no-fail-fast --json --summary-only --output-path "$report" \
    || fail "gate 4 (coverage): the instrumented test run failed"
  ANANKE_COVERAGE_JSON="$PWD/$report" ANANKE_MIN_COVERAGE="$min" \
    cargo test --quiet -p ananke-testing --test it coverage -- --ignored \
    || fail "gate 4 (coverage): files under ${min}% line coverage are listed above"
fi

log "quality gate passed"
