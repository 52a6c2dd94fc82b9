#!/usr/bin/env bash
# Build and install ananke on this host.
#
#   sudo scripts/install.sh                     gate, build, install under /usr/local, units, config, state dir
#   DESTDIR=/tmp/root scripts/install.sh        install into a staging root (what the tests do)
#   PREFIX=/opt/ananke scripts/install.sh       another prefix for the binary and its files
#   ANANKE_BINARY=path scripts/install.sh       install this prebuilt binary instead of building
#   ANANKE_ENFORCE_QUALITY_GATE=0 ...           skip scripts/quality_gate.sh (emergency break/fix only)
#
# The example config is installed to /etc/ananke/ananke.yaml only if none exists: an existing
# config is never overwritten. The state dir /var/lib/ananke is created 0750, owned by root and the
# `ananke` group (created if missing, outside DESTDIR installs).
set -euo pipefail
cd "$(dirname "$0")/.."

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
log() { printf '==> %s\n' "$*" >&2; }

if [ "${ANANKE_ENFORCE_QUALITY_GATE:-1}" = 0 ]; then
  log "WARNING: ANANKE_ENFORCE_QUALITY_GATE=0: skipping the quality gate (emergency break/fix only)"
else
  log "running the quality gate (scripts/quality_gate.sh)"
  scripts/quality_gate.sh
fi

if [ -n "${ANANKE_BINARY:-}" ]; then
  binary=$ANANKE_BINARY
  [ -x "$binary" ] || { log "ANANKE_BINARY=$binary is not an executable file"; exit 2; }
else
  log "building the release binary"
  cargo build --profile dist --locked -p ananke-cli
  binary=target/dist/ananke
fi

root=$DESTDIR
group=root
if [ -z "$DESTDIR" ]; then
  getent group ananke >/dev/null || groupadd --system ananke
  group=ananke
elif getent group ananke >/dev/null; then
  group=ananke
fi

log "installing into ${root:-/} (prefix $PREFIX)"
install -D -m 0755 "$binary" "$root$PREFIX/bin/ananke"
install -D -m 0755 scripts/update.sh "$root$PREFIX/lib/ananke/update.sh"
install -D -m 0644 README.md "$root$PREFIX/share/doc/ananke/README.md"
install -d -m 0755 "$root/etc/systemd/system"
for unit in systemd/*.service systemd/*.timer; do
  # Units name /usr/local: rewrite for another prefix.
  sed "s#/usr/local/#$PREFIX/#g" "$unit" > "$root/etc/systemd/system/$(basename "$unit")"
  chmod 0644 "$root/etc/systemd/system/$(basename "$unit")"
done

install -d -m 0750 "$root/etc/ananke"
chgrp "$group" "$root/etc/ananke"
if [ -e "$root/etc/ananke/ananke.yaml" ]; then
  log "keeping the existing /etc/ananke/ananke.yaml"
else
  install -m 0640 -g "$group" examples/titan-lab.yaml "$root/etc/ananke/ananke.yaml"
  log "installed the example config to /etc/ananke/ananke.yaml: edit it, then run: ananke config check"
fi

install -d -m 0750 -g "$group" "$root/var/lib/ananke"
install -d -m 0750 -g "$group" "$root/var/lib/ananke/reports"

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  log "installed; enable with: systemctl enable --now ananke.service ananke-bootstrap.service"
fi
log "done"
