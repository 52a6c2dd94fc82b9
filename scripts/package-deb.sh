#!/usr/bin/env bash
# Build the Debian package of ananke: target/debian/ananke_<version>_<arch>.deb.
#
#   scripts/package-deb.sh                      build the dist profile (fat LTO), then the package
#   ANANKE_BINARY=path scripts/package-deb.sh   package this prebuilt binary instead (the tests)
#   ANANKE_DEB_VERSION=0.1.0-2 ...              the package version [default: the crate's, -1]
#   ANANKE_DEB_OUT=dir ...                      where the .deb goes [default: target/debian]
#   ANANKE_DEB_LEVEL=1 ...                      xz level [default: 6; the tests take 0: fast]
#
# Contents: /usr/bin/ananke; the units ananke.service and ananke-bootstrap.service in
# /lib/systemd/system (not ananke-update's: a packaged host updates through apt, and update.sh's
# source install under /usr/local would shadow the package); the example config as the conffile
# /etc/ananke/ananke.yaml (an upgrade never overwrites an edited one: dpkg keeps it); bash, zsh
# and fish completions; one man page per command. postinst creates the `ananke` system group and
# the state dir /var/lib/ananke (0750, root:ananke). Removing the package keeps the state dir and
# the config; purging removes the config (dpkg) and leaves the state dir, which holds the history
# of every run and drill (delete it by hand). No unit is enabled: edit the config, run
# `ananke config check`, then `systemctl enable --now ananke.service ananke-bootstrap.service`.
# An upgrade restarts a running ananke.service (try-restart), so the daemon never goes on running
# a deleted binary; a run in progress survives the restart (the unit's KillMode=process).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '==> %s\n' "$*" >&2; }

crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
version=${ANANKE_DEB_VERSION:-$crate_version-1}
arch=$(dpkg --print-architecture)
out=${ANANKE_DEB_OUT:-target/debian}

if [ -n "${ANANKE_BINARY:-}" ]; then
  binary=$ANANKE_BINARY
  [ -x "$binary" ] || { log "ANANKE_BINARY=$binary is not an executable file"; exit 2; }
else
  log "building the dist binary (fat LTO, one codegen unit)"
  cargo build --profile dist --locked -p ananke-cli
  binary=target/dist/ananke
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
install -D -m 0755 "$binary" "$root/usr/bin/ananke"
install -D -m 0644 README.md "$root/usr/share/doc/ananke/README.md"
install -d -m 0755 "$root/lib/systemd/system"
for unit in systemd/ananke.service systemd/ananke-bootstrap.service; do
  # The units name /usr/local (install.sh's prefix); the package's is /usr.
  sed 's#/usr/local/#/usr/#g' "$unit" > "$root/lib/systemd/system/$(basename "$unit")"
  chmod 0644 "$root/lib/systemd/system/$(basename "$unit")"
done
install -D -m 0640 examples/titan-lab.yaml "$root/etc/ananke/ananke.yaml"
chmod 0750 "$root/etc/ananke"

# Generated from the clap definitions, by the binary being packaged.
install -d -m 0755 "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d" "$root/usr/share/man/man1"
"$binary" completions bash > "$root/usr/share/bash-completion/completions/ananke"
"$binary" completions zsh > "$root/usr/share/zsh/vendor-completions/_ananke"
"$binary" completions fish > "$root/usr/share/fish/vendor_completions.d/ananke.fish"
"$binary" man --dir "$root/usr/share/man/man1" >/dev/null
gzip -9n "$root"/usr/share/man/man1/*.1
find "$root/usr/share" -type f -exec chmod 0644 {} +

# The newest glibc symbol version the binary needs: the least libc6 that runs it.
command -v objdump >/dev/null || { log "objdump is required (Debian package binutils)"; exit 2; }
glibc=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
install -d -m 0755 "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<EOF
Package: ananke
Version: $version
Architecture: $arch
Maintainer: ananke developers <ananke@example.invalid>
Section: admin
Priority: optional
Depends: libc6 (>= $glibc), passwd
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Description: host-side recovery orchestrator for a k3s cluster around power events
 Shuts the cluster down gracefully before the UPS runs dry (cluster-only: hosts stay powered),
 brings it back after power returns, breaks the known startup deadlocks, and declares startup
 complete only when every gate passes and a stability soak shows no regression.
EOF
echo /etc/ananke/ananke.yaml > "$root/DEBIAN/conffiles"

# Maintainer scripts honour DPKG_ROOT (dpkg --root --force-script-chrootless: the tests' throwaway
# root), so the group and the state dir are made in that root, never on the building host.
cat > "$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  root=${DPKG_ROOT:-}
  if [ -z "$root" ]; then
    # The host's groups, wherever NSS finds them (files, LDAP, sssd).
    getent group ananke >/dev/null || groupadd --system ananke
    gid=$(getent group ananke | cut -d: -f3)
  else
    grep -q '^ananke:' "$root/etc/group" || groupadd --system --prefix "$root" ananke
    gid=$(grep '^ananke:' "$root/etc/group" | cut -d: -f3)
  fi
  chgrp "$gid" "$root/etc/ananke"
  # An operator may have deleted the conffile: dpkg keeps it deleted.
  if [ -e "$root/etc/ananke/ananke.yaml" ]; then chgrp "$gid" "$root/etc/ananke/ananke.yaml"; fi
  install -d -m 0750 -g "$gid" "$root/var/lib/ananke" "$root/var/lib/ananke/reports"
  if [ -z "$root" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    # An upgrade ($2 is the version before it): the daemon must not go on running the old,
    # deleted binary. A run in progress is not killed (KillMode=process).
    if [ -n "${2:-}" ]; then systemctl try-restart ananke.service || true; fi
  fi
  echo "ananke: edit /etc/ananke/ananke.yaml, run 'ananke config check', then 'systemctl enable --now ananke.service ananke-bootstrap.service'"
fi
exit 0
EOF
cat > "$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
  systemctl stop ananke.service >/dev/null 2>&1 || true
fi
exit 0
EOF
cat > "$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
# The state dir (/var/lib/ananke) is kept on remove and on purge: it holds the history of every
# run and drill. The `ananke` group is kept too, as Debian keeps system groups.
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
exit 0
EOF
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/ananke_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z"${ANANKE_DEB_LEVEL:-6}" --build "$root" "$deb" >/dev/null
log "built $deb"
echo "$deb"
