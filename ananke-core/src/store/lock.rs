//! The run lock: one mutating run per host.
//!
//! The lock is an advisory `flock(2)` on `ananke.lock` in the state dir, held for the whole run
//! through the open file: the kernel drops it when the process ends, however it ends (SIGKILL,
//! a power cut), so a dead run can never hold it and a reused pid can never fool it. The file
//! also names its holder (pid, run id, command, boot id) for `status`, the daemon and the peer
//! check; a run that takes the lock over a dead one's leftover names the dead run in a warning.
//! The file is mode 0640 (root and group `ananke` read it) and is never removed while in use: its
//! contents are emptied when the lock is released.
//!
//! A lock cannot go stale, so nothing ever needs clearing; removing the file while no run holds
//! it is harmless (the next run creates it again).

use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Name of the lock file in the state dir.
pub const LOCK_FILE: &str = "ananke.lock";

/// Mode of the lock file: root writes, the ananke group reads (the peer check).
pub const LOCK_MODE: u32 = 0o640;

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// Process id.
    pub pid: u32,
    /// Run id.
    pub run_id: String,
    /// `startup`, `shutdown` or `daemon`.
    pub command: String,
    /// When it was taken (RFC 3339).
    pub since: String,
    /// The kernel's boot id when it was taken (`/proc/sys/kernel/random/boot_id`): a pid from
    /// another boot names no process of this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

/// This boot's id, if the kernel says.
#[must_use]
pub fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|b| b.trim().to_owned())
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A live process holds it.
    #[error("another ananke run holds the lock {path}: pid {} run {} ({}) since {}", .holder.pid, .holder.run_id, .holder.command, .holder.since)]
    Held {
        /// The lock file.
        path: PathBuf,
        /// Its holder.
        holder: Box<LockHolder>,
    },
    /// The lock file could not be read or written.
    #[error("cannot use lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    file: File,
    /// The holder a dead run left in the file, if any (for the warning).
    pub took_over: Option<LockHolder>,
}

/// Whether process `pid` is alive (Linux: `/proc/<pid>` exists). Says nothing about who runs
/// under that pid: the lock itself is [`held`].
#[must_use]
pub fn pid_alive(pid: u32) -> bool {
    pid != 0 && Path::new(&format!("/proc/{pid}")).exists()
}

/// What the lock file in `state_dir` names, held or not (`None`: no file, empty, or damaged).
#[must_use]
pub fn read_holder(state_dir: &Path) -> Option<LockHolder> {
    let text = fs::read_to_string(state_dir.join(LOCK_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The holder of the lock in `state_dir` if a live process holds it (the kernel says so: the
/// lock cannot be shared right now). A holder that wrote no readable name yet is reported with
/// pid 0 and run id `unknown`.
#[must_use]
pub fn held(state_dir: &Path) -> Option<LockHolder> {
    let file = File::open(state_dir.join(LOCK_FILE)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(fs::TryLockError::WouldBlock) => Some(read_holder(state_dir).unwrap_or_else(unnamed)),
        Err(fs::TryLockError::Error(_)) => None,
    }
}

/// How often, and how far apart, a run tries again a lock that an instant probe may hold.
const PROBE_TRIES: u32 = 50;
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_millis(10);

/// A holder that wrote no readable name (yet).
fn unnamed() -> LockHolder {
    LockHolder {
        pid: 0,
        run_id: "unknown".to_owned(),
        command: "unknown".to_owned(),
        since: String::new(),
        boot_id: None,
    }
}

impl RunLock {
    /// Take the lock in `state_dir` for `holder`.
    ///
    /// # Errors
    /// [`LockError::Held`] when a live process holds it; [`LockError::Io`] otherwise.
    pub fn acquire(state_dir: &Path, holder: &LockHolder) -> Result<RunLock, LockError> {
        let path = state_dir.join(LOCK_FILE);
        let io = |source| LockError::Io { path: path.clone(), source };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(LOCK_MODE)
            .open(&path)
            .map_err(io)?;
        // `held()` and the peer check hold a shared lock for an instant: a run is refused only
        // when the lock stays taken.
        let mut tries = 0;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) if tries < PROBE_TRIES => {
                    tries += 1;
                    std::thread::sleep(PROBE_WAIT);
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let holder = read_holder(state_dir).unwrap_or_else(unnamed);
                    return Err(LockError::Held { path, holder: Box::new(holder) });
                }
                Err(fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let mut previous = String::new();
        // A leftover that cannot be read is no holder: it is overwritten all the same.
        let _ = file.read_to_string(&mut previous);
        let took_over = serde_json::from_str::<LockHolder>(&previous).ok();
        let body = serde_json::to_vec_pretty(holder).map_err(|e| io(io::Error::other(e)))?;
        let written = (|| {
            // `mode` at creation is filtered by the umask, and an older file may be 0644; the
            // group is the state dir's (`ananke`), whose members (the peers' SSH user) read it.
            file.set_permissions(fs::Permissions::from_mode(LOCK_MODE))?;
            let group = fs::metadata(state_dir)?.gid();
            if file.metadata()?.gid() != group {
                std::os::unix::fs::fchown(&file, None, Some(group))?;
            }
            file.set_len(0)?;
            file.rewind()?;
            file.write_all(&body)?;
            file.sync_all()
        })();
        written.map_err(io)?;
        Ok(RunLock { file, took_over })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Empty the name first, while still holding the lock; closing the file releases it.
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: u32, run: &str) -> LockHolder {
        LockHolder {
            pid,
            run_id: run.into(),
            command: "startup".into(),
            since: "2026-11-23T00:00:00Z".into(),
            boot_id: boot_id(),
        }
    }

    /// Our parent (the test harness): a live process that is not this one.
    fn parent_pid() -> u32 {
        let stat = fs::read_to_string("/proc/self/stat").unwrap();
        stat.rsplit(')').next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn a_second_run_is_refused_naming_the_holder_while_the_first_lives() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let held_lock = RunLock::acquire(dir.path(), &holder(me, "run-a")).unwrap();
        assert_eq!(held(dir.path()).map(|h| h.run_id), Some("run-a".to_owned()));
        let err = RunLock::acquire(dir.path(), &holder(parent_pid(), "run-b")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("pid {me}")) && text.contains("run-a"), "{text}");
        assert!(matches!(&err, LockError::Held { holder, .. } if holder.run_id == "run-a"), "{err}");
        drop(held_lock);
        assert_eq!(held(dir.path()), None, "released with the lock");
        assert_eq!(read_holder(dir.path()), None, "the name goes with it");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
        assert_eq!(left, [LOCK_FILE], "one file, kept");
        assert!(RunLock::acquire(dir.path(), &holder(me, "run-c")).is_ok());
    }

    #[test]
    fn a_dead_runs_leftover_is_taken_over_even_when_its_pid_is_alive_again() {
        let dir = tempfile::tempdir().unwrap();
        // After a reboot pids start over: the recorded pid belongs to a live, unrelated process.
        let reused = holder(parent_pid(), "run-before-the-power-cut");
        assert!(pid_alive(reused.pid));
        fs::write(dir.path().join(LOCK_FILE), serde_json::to_vec(&reused).unwrap()).unwrap();
        assert_eq!(held(dir.path()), None, "nothing holds it: the kernel says so, not the pid");
        let lock = RunLock::acquire(dir.path(), &holder(std::process::id(), "run-new")).unwrap();
        assert_eq!(lock.took_over.as_ref().map(|h| h.run_id.as_str()), Some("run-before-the-power-cut"));
        assert_eq!(read_holder(dir.path()).unwrap().run_id, "run-new");
    }

    #[test]
    fn a_damaged_lock_file_is_taken_over_without_a_holder_and_the_mode_is_0640() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        fs::write(&path, "{ half written").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_holder(dir.path()), None);
        let lock = RunLock::acquire(dir.path(), &holder(std::process::id(), "run-new")).unwrap();
        assert_eq!(lock.took_over, None);
        assert_eq!(read_holder(dir.path()).unwrap().run_id, "run-new");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, LOCK_MODE);
    }

    #[test]
    fn the_lock_file_takes_the_state_dirs_group_so_its_members_read_it() {
        if !running_as_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        // gid 100 (`users` on Debian) stands for `ananke`: any group but root's.
        std::os::unix::fs::chown(dir.path(), None, Some(100)).unwrap();
        drop(RunLock::acquire(dir.path(), &holder(std::process::id(), "r")).unwrap());
        assert_eq!(fs::metadata(dir.path().join(LOCK_FILE)).unwrap().gid(), 100);
    }

    /// Whether the test runs as root (it may chown).
    fn running_as_root() -> bool {
        fs::read_to_string("/proc/self/status")
            .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
    }

    #[test]
    fn a_probe_holding_the_lock_for_an_instant_does_not_refuse_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        let probe = File::create(&path).unwrap();
        probe.lock_shared().unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(60));
            probe.unlock().unwrap();
        });
        let lock = RunLock::acquire(dir.path(), &holder(std::process::id(), "run-a"));
        release.join().unwrap();
        assert!(lock.is_ok(), "{lock:?}");
    }

    #[test]
    fn a_holder_that_wrote_no_name_yet_is_still_held() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join(LOCK_FILE)).unwrap();
        file.lock().unwrap();
        let h = held(dir.path()).expect("held");
        assert_eq!((h.pid, h.run_id.as_str()), (0, "unknown"));
        assert!(matches!(RunLock::acquire(dir.path(), &holder(1, "r")), Err(LockError::Held { .. })));
    }

    #[test]
    fn a_missing_state_dir_is_an_io_error_naming_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        assert_eq!(held(&missing), None);
        let err = RunLock::acquire(&missing, &holder(std::process::id(), "run-a")).unwrap_err();
        assert!(matches!(&err, LockError::Io { path, .. } if *path == missing.join(LOCK_FILE)), "{err}");
        assert!(
            err.to_string().starts_with(&format!("cannot use lock {}", missing.join(LOCK_FILE).display())),
            "{err}"
        );
    }

    #[test]
    fn a_directory_in_the_locks_place_is_an_io_error_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(LOCK_FILE)).unwrap();
        let err = RunLock::acquire(dir.path(), &holder(std::process::id(), "run-a")).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err}");
        assert!(dir.path().join(LOCK_FILE).is_dir(), "the foreign directory is left alone");
    }

    #[test]
    fn pid_zero_is_never_alive_and_this_process_is() {
        assert!(!pid_alive(0));
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(u32::MAX - 7));
        assert!(boot_id().is_some_and(|b| b.len() == 36), "{:?}", boot_id());
    }
}
