//! Test doubles on the node side: `systemctl` and `k3s-killall.sh` scripts that record their argv
//! and keep unit states in files, so a command over SSH changes a node's (pretend) k3s unit.
//!
//! Every session of a test node runs with `PATH=<fleet>/bin:/usr/bin:/bin` and
//! `ANANKE_NODE_DIR=<fleet>/nI/state` (set by the authorized key, `PermitUserEnvironment`), so the
//! scripts find the state of the node they run on.
//!
//! The simulator's control endpoint will replace these states (a `systemctl start k3s` then starts
//! the simulated node); until then, this is what a command over SSH reaches.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// The field separator of a recorded call (ASCII unit separator: no argument of ours holds it).
const SEP: char = '\x1f';

/// `systemctl`: `start|stop|is-active UNIT`; a `delay` file makes every call sleep first.
const SYSTEMCTL: &str = r#"#!/bin/sh
# Test double of systemctl on an ananke test node (testing/src/sshd/stub.rs).
d=${ANANKE_NODE_DIR:?ANANKE_NODE_DIR unset}
{ printf '%s\037' systemctl "$@"; printf '\n'; } >> "$d/calls"
[ -s "$d/delay" ] && sleep "$(cat "$d/delay")"
mkdir -p "$d/units"
case "$1" in
  start) echo active > "$d/units/$2" ;;
  stop) echo inactive > "$d/units/$2" ;;
  is-active)
    state=$(cat "$d/units/$2" 2>/dev/null || echo inactive)
    echo "$state"
    [ "$state" = active ] || exit 3 ;;
  *) echo "stub systemctl: unsupported: $*" >&2; exit 1 ;;
esac
"#;

/// `k3s-killall.sh`: records the call, leaves every unit inactive.
const KILLALL: &str = r#"#!/bin/sh
# Test double of k3s-killall.sh on an ananke test node (testing/src/sshd/stub.rs).
d=${ANANKE_NODE_DIR:?ANANKE_NODE_DIR unset}
{ printf '%s\037' k3s-killall.sh "$@"; printf '\n'; } >> "$d/calls"
mkdir -p "$d/units"
for u in "$d"/units/*; do [ -e "$u" ] && echo inactive > "$u"; done
exit 0
"#;

/// Writes the scripts into `bin`.
pub(super) fn install(bin: &Path) -> io::Result<()> {
    fs::create_dir_all(bin)?;
    for (name, text) in [("systemctl", SYSTEMCTL), ("k3s-killall.sh", KILLALL)] {
        let path = bin.join(name);
        fs::write(&path, text)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// Every call recorded in a node's state directory, oldest first, each as its full argv.
pub(super) fn calls(state: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(state.join("calls")).unwrap_or_default();
    text.lines().map(|line| line.strip_suffix(SEP).unwrap_or(line).split(SEP).map(str::to_owned).collect()).collect()
}

/// Sets a unit's state as `systemctl is-active` will print it.
pub(super) fn set_unit(state: &Path, unit: &str, value: &str) -> io::Result<()> {
    fs::create_dir_all(state.join("units"))?;
    fs::write(state.join("units").join(unit), format!("{value}\n"))
}

/// Makes every later stub call on the node sleep this long first (zero for none).
pub(super) fn set_delay(state: &Path, delay: Duration) -> io::Result<()> {
    let text =
        if delay.is_zero() { String::new() } else { format!("{}.{:03}\n", delay.as_secs(), delay.subsec_millis()) };
    fs::write(state.join("delay"), text)
}
