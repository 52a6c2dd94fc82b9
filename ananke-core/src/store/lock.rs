//! The run lock: one mutating run per host.
//!
//! The lock file names its holder (pid, run id, command). A second run exits at once naming the
//! holder; a lock whose pid is dead is taken over with a warning.

use super::atomic::write_atomic;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Name of the lock file in the state dir.
pub const LOCK_FILE: &str = "ananke.lock";

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
        holder: LockHolder,
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

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    /// The holder that was stale and taken over, if any (for the warning).
    pub took_over: Option<LockHolder>,
}

/// Whether process `pid` is alive (Linux: `/proc/<pid>` exists).
#[must_use]
pub fn pid_alive(pid: u32) -> bool {
    pid != 0 && Path::new(&format!("/proc/{pid}")).exists()
}

/// Read the current holder of the lock in `state_dir`, if any.
#[must_use]
pub fn read_holder(state_dir: &Path) -> Option<LockHolder> {
    let text = fs::read_to_string(state_dir.join(LOCK_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

impl RunLock {
    /// Take the lock in `state_dir` for `holder`.
    ///
    /// # Errors
    /// [`LockError::Held`] when a live process holds it; [`LockError::Io`] otherwise.
    pub fn acquire(state_dir: &Path, holder: &LockHolder) -> Result<RunLock, LockError> {
        let path = state_dir.join(LOCK_FILE);
        let staged = state_dir.join(format!(".{LOCK_FILE}.{}", holder.pid));
        let body = serde_json::to_vec_pretty(holder).map_err(io::Error::other);
        let taken = body.and_then(|body| write_atomic(&staged, &body, 0o644)).map_err(Taking::Io);
        let taken = taken.and_then(|()| {
            let linked = link(&staged, &path, holder.pid);
            let _ = fs::remove_file(&staged);
            linked
        });
        match taken {
            Ok(took_over) => Ok(RunLock { path, took_over }),
            Err(Taking::Held(holder)) => Err(LockError::Held { path, holder }),
            Err(Taking::Io(source)) => Err(LockError::Io { path, source }),
        }
    }
}

/// Why [`link`] did not take the lock.
enum Taking {
    Held(LockHolder),
    Io(io::Error),
}

/// Links the staged file to the lock `path` (a hard link fails if the lock exists: taking it is
/// atomic), taking over a lock whose holder is dead, unreadable, or this process (`pid`).
fn link(staged: &Path, path: &Path, pid: u32) -> Result<Option<LockHolder>, Taking> {
    let mut took_over = None;
    for _ in 0..2 {
        match fs::hard_link(staged, path) {
            Ok(()) => return Ok(took_over),
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(Taking::Io(e)),
            Err(_) => {}
        }
        let current = fs::read_to_string(path).ok().and_then(|t| serde_json::from_str::<LockHolder>(&t).ok());
        match current {
            Some(h) if pid_alive(h.pid) && h.pid != pid => return Err(Taking::Held(h)),
            stale => took_over = stale,
        }
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Taking::Io(e)),
            _ => {}
        }
    }
    Err(Taking::Io(io::Error::other("lock contended while taking over a stale lock; try again")))
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: u32, run: &str) -> LockHolder {
        LockHolder { pid, run_id: run.into(), command: "startup".into(), since: "2026-11-23T00:00:00Z".into() }
    }

    #[test]
    fn a_second_run_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let _held = RunLock::acquire(dir.path(), &holder(me, "run-a")).unwrap();
        // A different live pid: our parent (the test harness) is alive.
        let parent = fs::read_to_string("/proc/self/stat").unwrap();
        let ppid: u32 = parent.rsplit(')').next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
        let err = RunLock::acquire(dir.path(), &holder(ppid, "run-b")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("pid {me}")) && text.contains("run-a"), "{text}");
        assert!(matches!(&err, LockError::Held { holder, .. } if holder.run_id == "run-a"), "{err}");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
        assert_eq!(left, [LOCK_FILE], "the refused run's staging file is cleaned up");
    }

    #[test]
    fn a_stale_lock_is_taken_over_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let dead = holder(u32::MAX - 7, "run-dead");
        fs::write(dir.path().join(LOCK_FILE), serde_json::to_vec(&dead).unwrap()).unwrap();
        let lock = RunLock::acquire(dir.path(), &holder(std::process::id(), "run-new")).unwrap();
        assert_eq!(lock.took_over.as_ref().map(|h| h.run_id.as_str()), Some("run-dead"));
        assert_eq!(read_holder(dir.path()).unwrap().run_id, "run-new");
        drop(lock);
        assert!(read_holder(dir.path()).is_none());
    }

    #[test]
    fn a_damaged_lock_file_is_taken_over_without_a_holder() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOCK_FILE), "{ half written").unwrap();
        assert_eq!(read_holder(dir.path()), None);
        let lock = RunLock::acquire(dir.path(), &holder(std::process::id(), "run-new")).unwrap();
        assert_eq!(lock.took_over, None);
        assert_eq!(read_holder(dir.path()).unwrap().run_id, "run-new");
        let staged: Vec<_> = fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
        assert_eq!(staged, [LOCK_FILE], "the staging file is cleaned up");
    }

    #[test]
    fn our_own_pid_in_the_lock_is_a_leftover_of_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        fs::write(dir.path().join(LOCK_FILE), serde_json::to_vec(&holder(me, "run-old")).unwrap()).unwrap();
        let lock = RunLock::acquire(dir.path(), &holder(me, "run-new")).unwrap();
        assert_eq!(lock.took_over.as_ref().map(|h| h.run_id.as_str()), Some("run-old"));
    }

    #[test]
    fn a_missing_state_dir_is_an_io_error_naming_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        let err = RunLock::acquire(&missing, &holder(std::process::id(), "run-a")).unwrap_err();
        assert!(matches!(&err, LockError::Io { path, .. } if *path == missing.join(LOCK_FILE)), "{err}");
        assert!(
            err.to_string().starts_with(&format!("cannot use lock {}", missing.join(LOCK_FILE).display())),
            "{err}"
        );
    }

    #[test]
    fn a_lock_that_cannot_be_removed_is_an_io_error_and_leaves_no_staging_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in the lock's place: it exists, holds no holder, and remove_file refuses it.
        fs::create_dir(dir.path().join(LOCK_FILE)).unwrap();
        let err = RunLock::acquire(dir.path(), &holder(std::process::id(), "run-a")).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err}");
        assert!(dir.path().join(LOCK_FILE).is_dir(), "the foreign directory is left alone");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
        assert_eq!(left, [LOCK_FILE], "no staging file is left behind");
    }

    #[test]
    fn pid_zero_is_never_alive_and_this_process_is() {
        assert!(!pid_alive(0));
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(u32::MAX - 7));
    }
}
