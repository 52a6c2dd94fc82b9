//! Test doubles on the node side: `systemctl` and `k3s-killall.sh` scripts that record their argv
//! and keep unit states in files, so a command over SSH changes a node's (pretend) k3s unit.
//!
//! Every session of a test node runs with `PATH=<fleet>/bin:/usr/bin:/bin` and
//! `ANANKE_NODE_DIR=<fleet>/nI/state` (set by the authorized key, `PermitUserEnvironment`), so the
//! scripts find the state of the node they run on.
//!
//! A node whose state directory holds a `control` file (its URL on `ananke-sim serve`'s control
//! endpoint, `http://127.0.0.1:PORT/control/nodes/NAME`) forwards its k3s unit commands there with
//! `curl`: `systemctl start|stop|is-active k3s|k3s-agent`, `systemctl poweroff` and
//! `k3s-killall.sh` then change the simulated node instead of the files.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// The field separator of a recorded call (ASCII unit separator: no argument of ours holds it).
const SEP: char = '\x1f';

/// `systemctl`: `start|stop|is-active UNIT`; a `delay` file makes every call sleep first; a
/// `control` file forwards the k3s units and `poweroff` to the simulator.
const SYSTEMCTL: &str = r#"#!/bin/sh
# Test double of systemctl on an ananke test node (testing/src/sshd/stub.rs).
d=${ANANKE_NODE_DIR:?ANANKE_NODE_DIR unset}
{ printf '%s\037' systemctl "$@"; printf '\n'; } >> "$d/calls"
[ -s "$d/delay" ] && sleep "$(cat "$d/delay")"
if [ -s "$d/control" ]; then
  c=$(cat "$d/control")
  call() { curl -sS --noproxy '*' --max-time 10 --fail-with-body "$@"; }
  post() { out=$(call -X POST "$c/$1") || { echo "$out" >&2; exit 1; }; exit 0; }
  case "$1 $2" in
    "start k3s"|"start k3s-agent"|"stop k3s"|"stop k3s-agent") post "k3s/$1" ;;
    "is-active k3s"|"is-active k3s-agent")
      state=$(call "$c/k3s") || exit 4
      echo "$state"
      [ "$state" = active ] || exit 3
      exit 0 ;;
    "poweroff ") post poweroff ;;
  esac
fi
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
if [ -s "$d/control" ]; then
  out=$(curl -sS --noproxy '*' --max-time 10 --fail-with-body -X POST "$(cat "$d/control")/k3s/killall") || {
    echo "$out" >&2; exit 1; }
  exit 0
fi
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

/// Forwards the node's k3s commands to `url` (its URL on the simulator's control endpoint).
pub(super) fn set_control(state: &Path, url: &str) -> io::Result<()> {
    fs::write(state.join("control"), format!("{}\n", url.trim_end_matches('/')))
}

/// Makes every later stub call on the node sleep this long first (zero for none).
pub(super) fn set_delay(state: &Path, delay: Duration) -> io::Result<()> {
    let text =
        if delay.is_zero() { String::new() } else { format!("{}.{:03}\n", delay.as_secs(), delay.subsec_millis()) };
    fs::write(state.join("delay"), text)
}
