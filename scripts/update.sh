#!/usr/bin/env bash
# What ananke-update.service runs: fetch ananke.git, run the quality gate, build, install, restart
# the daemon. Any failure (fetch, gate, build) stops before the install: the running install is
# left untouched.
#
#   ANANKE_SRC     the checkout to update (default /var/lib/ananke/src)
#   ANANKE_BRANCH  the branch to follow (default main)
set -euo pipefail
src=${ANANKE_SRC:-/var/lib/ananke/src}
branch=${ANANKE_BRANCH:-main}
log() { printf '==> %s\n' "$*" >&2; }

[ -d "$src/.git" ] || { log "no ananke checkout at $src (clone ananke.git there first)"; exit 2; }
log "fetching $branch into $src"
git -C "$src" fetch --quiet origin "$branch"
git -C "$src" checkout --quiet --detach "origin/$branch"
log "gate, build and install"
"$src/scripts/install.sh"
if [ -d /run/systemd/system ]; then
  log "restarting ananke.service"
  systemctl restart ananke.service
fi
log "updated to $(git -C "$src" rev-parse --short HEAD)"
