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
        Self::claim_at(Path::new(PRIVSEP_DIR), rustix::process::geteuid().is_root())
    }

    /// Claims `dir` as the privilege-separation directory if `needed`, creating it if missing.
    fn claim_at(dir: &Path, needed: bool) -> io::Result<Option<Self>> {
        if needed && !dir.is_dir() {
            fs::create_dir_all(dir)?;
            fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        }
        Ok(needed.then_some(Self(())))
    }
}

/// Parent of every live process, from `/proc/*/stat`; a zombie has exited and is left out.
fn parents() -> HashMap<i32, i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            // The command name is in parentheses and may hold spaces: fields resume after the last ')'.
            let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
            let state = rest.next()?;
            let parent = rest.next()?.parse::<i32>().ok()?;
            (state != "Z").then_some((pid, parent))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_privsep_dir_is_created_0755_only_when_needed() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("run").join("sshd");
        assert!(PrivsepDir::claim_at(&dir, false).expect("not needed").is_none());
        assert!(!dir.exists(), "nothing is created when not running as root");
        assert!(PrivsepDir::claim_at(&dir, true).expect("created").is_some());
        assert_eq!(fs::metadata(&dir).expect("created").permissions().mode() & 0o777, 0o755);
        // An existing directory is claimed as it is.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod");
        assert!(PrivsepDir::claim_at(&dir, true).expect("claimed").is_some());
        assert_eq!(fs::metadata(&dir).expect("still there").permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_privsep_dir_that_cannot_be_created_is_an_error() {
        let root = tempfile::tempdir().expect("tempdir");
        let file = root.path().join("file");
        fs::write(&file, "").expect("file");
        let err = PrivsepDir::claim_at(&file.join("sshd"), true).expect_err("a file is in the way");
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory, "{err}");
    }

    #[test]
    fn this_process_has_a_parent_and_descends_from_it() {
        let me = i32::try_from(std::process::id()).expect("pid");
        let parents = parents();
        let parent = *parents.get(&me).expect("this process is live");
        assert!(descendants(parent).contains(&me));
    }
}
