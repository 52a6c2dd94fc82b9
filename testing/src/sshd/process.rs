//! Process bookkeeping of the sshd harness: the listener's descendants (one sshd per connection,
//! and what those run), stopping exactly those, and sharing `/run/sshd` between fleets.

use rustix::process::{kill_process, Pid, Signal};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;
use std::process::Child;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// sshd run as root needs its privilege-separation directory.
const PRIVSEP_DIR: &str = "/run/sshd";

/// A claim on `/run/sshd`: created (0755, as Debian's ssh service creates it) if missing, and left
/// in place. Removing it when a fleet stops raced with fleets of other test processes starting at
/// the same time (nextest runs tests in parallel processes): their sshd then died with "Missing
/// privilege separation directory".
#[derive(Debug)]
pub(super) struct PrivsepDir(());

impl PrivsepDir {
    /// Claims `/run/sshd` (only needed, and only done, when running as root).
    pub(super) fn claim() -> io::Result<Option<Self>> {
        if !rustix::process::geteuid().is_root() {
            return Ok(None);
        }
        if !Path::new(PRIVSEP_DIR).is_dir() {
            fs::create_dir_all(PRIVSEP_DIR)?;
            fs::set_permissions(PRIVSEP_DIR, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        }
        Ok(Some(Self(())))
    }
}

/// Parent of every live process, from `/proc/*/stat`.
fn parents() -> HashMap<i32, i32> {
    let mut map = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return map;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name is in parentheses and may hold spaces: fields resume after the last ')'.
        let mut rest = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace();
        let (state, parent) = (rest.next(), rest.next().and_then(|p| p.parse::<i32>().ok()));
        if let (Some(state), Some(parent)) = (state, parent) {
            if state != "Z" {
                map.insert(pid, parent);
            }
        }
    }
    map
}

/// Every live descendant of `root` (not `root` itself), parents before children.
pub(super) fn descendants(root: i32) -> Vec<i32> {
    let parents = parents();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|&(_, &pp)| pp == parent).map(|(&p, _)| p));
        i += 1;
    }
    found.remove(0);
    found
}

/// Every live process whose environment holds `marker` (a `NAME=value` the fleet's authorized
/// key sets): what ran in this fleet's sessions, even after its session ended and it was
/// reparented away from the listener (a command the client stopped waiting for goes on running).
pub(super) fn with_environment(marker: &str) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    let marker = marker.as_bytes();
    let holds = |env: &[u8]| env.split(|&b| b == 0).any(|var| var.starts_with(marker));
    entries
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
            let env = fs::read(e.path().join("environ")).ok()?;
            holds(&env).then_some(pid)
        })
        .collect()
}

/// Sends `SIGTERM` to these PIDs (descendants of a child we have not reaped, found just now).
pub(super) fn terminate(pids: &[i32]) {
    for &pid in pids {
        if let Some(pid) = Pid::from_raw(pid) {
            let _ = kill_process(pid, Signal::TERM);
        }
    }
}

/// Stops a listener and everything it started: its descendants first (a per-connection sshd
/// outlives its listener otherwise), then the listener, with a bounded wait and `SIGKILL`.
pub(super) fn stop_tree(child: &mut Child) {
    if matches!(child.try_wait(), Ok(None)) {
        let pid = Pid::from_child(child);
        terminate(&descendants(pid.as_raw_nonzero().get()));
        let _ = kill_process(pid, Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}
