//! The peer check: is another ananke host running a mutating run right now?
//!
//! Each host that may run ananke keeps its run lock at `<state dir>/ananke.lock` (see
//! [`crate::store::lock`]: a kernel `flock` held by the run, the file naming the holder). Before
//! a mutating run, ananke reads every peer's lock over SSH and whether a live process holds it
//! there (util-linux `flock -n -s` cannot share it; where `flock` is missing, the holder's pid
//! is alive and its boot id is the peer's), with one fixed command: a constant `sh -c` script
//! that gets the peer's state dir as its one positional argument. Both are single-quoted like
//! every other word ([`shell_quote`]), so no config value is ever parsed as shell syntax. Reading
//! the lock needs no privilege (the lock is 0640 and the state dir 0750, both group `ananke`), so
//! no [`super::CommandPrefix`] such as `sudo -n` is put in front.
//!
//! The outcome per peer is a [`PeerState`]: only a live run blocks (a lock held by a vanished
//! process, or a peer that cannot be reached, never blocks everything: DESIGN.md 6).

use super::command::shell_quote;
use super::{NodeFleet, SshError};
use crate::config::{Node, SshSettings};
use crate::store::lock::{LockHolder, LOCK_FILE};
use std::path::Path;

/// The script run on a peer, with its state dir as `$1`. First line of stdout: `idle` (no lock,
/// or a lock naming nobody), or `alive PID` / `dead PID` (the pid named in the lock, and whether
/// a live process holds the lock there), followed by the lock itself. Exit 3: the state dir or
/// lock cannot be read; 4: no state dir.
pub const PEER_CHECK_SCRIPT: &str = r#"d=$1
[ -d "$d" ] || { echo "no state dir $d" >&2; exit 4; }
cd -- "$d" || exit 3
if ! body=$(cat ananke.lock 2>/dev/null); then
  [ -e ananke.lock ] || { echo idle; exit 0; }
  cat ananke.lock >/dev/null; exit 3
fi
[ -n "$body" ] || { echo idle; exit 0; }
pid=$(printf "%s\n" "$body" | grep -o "\"pid\"[[:space:]]*:[[:space:]]*[0-9]*" | grep -o "[0-9]*\$" | head -n 1)
boot=$(printf "%s\n" "$body" | grep -o "\"boot_id\"[[:space:]]*:[[:space:]]*\"[^\"]*\"" | grep -o "[0-9a-f-]\{36\}" | head -n 1)
if command -v flock >/dev/null 2>&1; then
  if flock -n -s ananke.lock true 2>/dev/null; then echo "dead $pid"; else echo "alive $pid"; fi
elif [ -n "$pid" ] && [ -d "/proc/$pid" ] && { [ -z "$boot" ] || [ "$boot" = "$(cat /proc/sys/kernel/random/boot_id)" ]; }; then
  echo "alive $pid"
else echo "dead $pid"; fi
printf "%s\n" "$body""#;

/// `$0` of the script: what `ps` on the peer shows.
const SCRIPT_NAME: &str = "ananke-peer-check";

/// What a peer's run lock says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerState {
    /// No lock: no run in progress there.
    Idle,
    /// A live process holds the lock: a run is in progress there (blocks, unless forced).
    Running(LockHolder),
    /// The lock names a process that no longer runs there (a run that died holding its lock):
    /// reported, never blocks.
    StaleLock(LockHolder),
    /// The peer answered over SSH but its lock could not be read or understood (no state dir,
    /// permissions, a file that is not a lock): reported, never blocks.
    Unreadable(String),
    /// No authenticated SSH session with the peer (down, refused, timed out, host key or key
    /// refused): reported, never blocks. For a peer host, its coordinator is unreachable.
    Unreachable(String),
}

/// One peer and what its lock says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerReport {
    /// The peer's inventory node name.
    pub peer: String,
    /// What was found there.
    pub state: PeerState,
}

/// Reads the run lock of every peer, keeping one SSH session per peer between checks.
#[derive(Debug)]
pub struct PeerCheck {
    fleet: NodeFleet,
    /// The rendered command line, or why the state dir cannot be put in one.
    line: Result<String, String>,
}

impl PeerCheck {
    /// A check of `peers`, whose state dir is `peer_state_dir`. The command is bounded by the
    /// shorter of `ssh.command_timeout` and `ssh.connect_timeout`: reading a small file must not
    /// hold a run back for minutes.
    ///
    /// # Errors
    ///
    /// [`SshError::Identity`] (permanent) if the identity file is not a usable private key.
    pub fn new(settings: &SshSettings, peers: &[Node], peer_state_dir: &Path) -> Result<Self, SshError> {
        let mut bounded = settings.clone();
        bounded.command_timeout = settings.command_timeout.min(settings.connect_timeout);
        let fleet = NodeFleet::new(&bounded, peers, super::FleetOptions::default())?;
        Ok(Self { fleet, line: render(peer_state_dir) })
    }

    /// Every peer's state, in the order given to [`PeerCheck::new`], checked concurrently.
    pub async fn check_all(&self) -> Vec<PeerReport> {
        self.fleet
            .fan_out(|slot| async move {
                let state = match &self.line {
                    Err(why) => PeerState::Unreadable(why.clone()),
                    Ok(line) => match self.fleet.exec_line(slot, line).await {
                        Ok(out) => parse(&out.stdout, &out.stderr, out.exit_status),
                        Err(e) if e.ssh_status().is_some() => PeerState::Unreachable(e.to_string()),
                        Err(e) => PeerState::Unreadable(e.to_string()),
                    },
                };
                PeerReport { peer: slot.node.name.clone(), state }
            })
            .await
    }

    /// Closes every session.
    pub async fn close(&self) {
        self.fleet.close().await;
    }
}

/// The command line that reads the lock under `state_dir`: `sh -c SCRIPT NAME STATE_DIR`, every
/// word single-quoted.
///
/// # Errors
///
/// Why the path cannot be carried by a command line (not UTF-8, or holding a NUL byte).
pub fn render(state_dir: &Path) -> Result<String, String> {
    let dir = state_dir.to_str().filter(|d| !d.contains('\0')).ok_or_else(|| {
        format!("coordination.peer_state_dir {} is not a path a command line can carry", state_dir.display())
    })?;
    let words = ["sh", "-c", PEER_CHECK_SCRIPT, SCRIPT_NAME, dir];
    Ok(words.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" "))
}

/// What the script's output says.
#[must_use]
pub fn parse(stdout: &str, stderr: &str, exit_status: u32) -> PeerState {
    let stderr = stderr.trim();
    match exit_status {
        0 => {}
        3 => return PeerState::Unreadable(format!("cannot read its {LOCK_FILE}: {stderr}")),
        4 => return PeerState::Unreadable(format!("{stderr} (check coordination.peer_state_dir)")),
        other => return PeerState::Unreadable(format!("the peer check exited with {other}: {stderr}")),
    }
    let (first, body) = stdout.split_once('\n').unwrap_or((stdout, ""));
    let mut words = first.split_whitespace();
    let (verdict, pid) = (words.next().unwrap_or_default(), words.next());
    if verdict == "idle" {
        return PeerState::Idle;
    }
    if verdict != "alive" && verdict != "dead" {
        return PeerState::Unreadable(format!("unexpected answer from the peer check: {first:?}"));
    }
    let holder: LockHolder = match serde_json::from_str(body) {
        Ok(h) => h,
        Err(e) => return PeerState::Unreadable(format!("its {LOCK_FILE} is not an ananke lock: {e}")),
    };
    // The liveness answer must be about the pid the lock names, or it says nothing.
    if pid.and_then(|p| p.parse::<u32>().ok()) != Some(holder.pid) {
        return PeerState::Unreadable(format!("its {LOCK_FILE} names pid {} but the check tested {pid:?}", holder.pid));
    }
    if verdict == "alive" && holder.pid != 0 {
        PeerState::Running(holder)
    } else {
        PeerState::StaleLock(holder)
    }
}

/// What a peer host's daemon does with its power policy's decision to shut the cluster down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerShutdown {
    /// Carry it out: no coordinator can be reached to decide.
    Act {
        /// Why (for the daemon's events and the run's report).
        why: String,
    },
    /// Leave it to the coordinator, which watches every power domain.
    Defer {
        /// What to report.
        message: String,
    },
}

/// The peer daemon's rule: a peer shuts the cluster down on its own UPS only when none of its
/// coordinators (`coordination.peer_hosts` of a peer's config) answers over SSH. A coordinator
/// that answers decides, whatever its lock says.
#[must_use]
pub fn peer_shutdown(coordinators: &[PeerReport]) -> PeerShutdown {
    if let Some(up) = coordinators.iter().find(|r| !matches!(r.state, PeerState::Unreachable(_))) {
        return PeerShutdown::Defer { message: format!("coordinator {} is reachable: it decides", up.peer) };
    }
    let why = if coordinators.is_empty() {
        "no coordinator configured (coordination.peer_hosts is empty)".to_owned()
    } else {
        let down: Vec<String> = coordinators
            .iter()
            .filter_map(|r| match &r.state {
                PeerState::Unreachable(why) => Some(format!("coordinator {} is unreachable ({why})", r.peer)),
                _ => None,
            })
            .collect();
        down.join("; ")
    };
    PeerShutdown::Act { why: format!("{why}: this peer acts on its own UPS") }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str =
        r#"{"pid": 4242, "run_id": "shutdown-1", "command": "shutdown", "since": "2026-11-23T00:00:00Z"}"#;

    fn holder() -> LockHolder {
        serde_json::from_str(LOCK).unwrap()
    }

    #[test]
    fn the_state_dir_is_one_quoted_argument_never_shell_syntax() {
        let line = render(Path::new("/var/lib/x'; touch /tmp/pwned; '")).unwrap();
        assert!(line.starts_with("'sh' '-c' '"), "{line}");
        assert!(line.ends_with(r"'ananke-peer-check' '/var/lib/x'\''; touch /tmp/pwned; '\'''"), "{line}");
        assert!(render(Path::new("/var/lib/a\0b")).is_err());
    }

    #[test]
    fn answers_map_to_states() {
        assert_eq!(parse("idle\n", "", 0), PeerState::Idle);
        assert_eq!(parse(&format!("alive 4242\n{LOCK}\n"), "", 0), PeerState::Running(holder()));
        assert_eq!(parse(&format!("dead 4242\n{LOCK}\n"), "", 0), PeerState::StaleLock(holder()));
        let pretty = serde_json::to_string_pretty(&holder()).unwrap();
        assert_eq!(parse(&format!("alive 4242\n{pretty}\n"), "", 0), PeerState::Running(holder()));
    }

    #[test]
    fn anything_else_is_unreadable_and_says_why() {
        let why = |s: PeerState| match s {
            PeerState::Unreadable(why) => why,
            other => panic!("expected Unreadable, got {other:?}"),
        };
        assert!(why(parse("", "no state dir /x", 4)).contains("no state dir /x (check coordination.peer_state_dir)"));
        assert!(why(parse("", "cat: ananke.lock: Permission denied", 3)).contains("Permission denied"));
        assert!(why(parse("dead \nnot json\n", "", 0)).contains("not an ananke lock"));
        assert!(why(parse(&format!("alive 1\n{LOCK}\n"), "", 0)).contains("names pid 4242"));
        assert!(why(parse("what\n", "", 0)).contains("unexpected answer"));
        assert!(why(parse("", "sh: not found", 127)).contains("exited with 127"));
    }

    #[test]
    fn a_peer_defers_to_a_reachable_coordinator_and_acts_without_one() {
        let report = |state| PeerReport { peer: "titan-db".into(), state };
        let defer = PeerShutdown::Defer { message: "coordinator titan-db is reachable: it decides".into() };
        assert_eq!(peer_shutdown(&[report(PeerState::Idle)]), defer);
        assert_eq!(peer_shutdown(&[report(PeerState::Unreadable("perm".into()))]), defer);
        let PeerShutdown::Act { why } = peer_shutdown(&[report(PeerState::Unreachable("refused".into()))]) else {
            panic!("an unreachable coordinator leaves the decision to the peer")
        };
        assert!(why.contains("coordinator titan-db is unreachable (refused)"), "{why}");
        assert!(matches!(peer_shutdown(&[]), PeerShutdown::Act { .. }));
    }
}

#[cfg(test)]
mod script_tests {
    //! The script itself, run by the local `sh` (what `sshd` would run it with, minus SSH).
    use super::*;
    use std::process::Command;

    fn run(dir: &Path) -> PeerState {
        let out = Command::new("sh").args(["-c", PEER_CHECK_SCRIPT, SCRIPT_NAME]).arg(dir).output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        parse(
            &text(&out.stdout),
            &text(&out.stderr),
            out.status.code().and_then(|c| u32::try_from(c).ok()).unwrap_or(255),
        )
    }

    fn write_lock(dir: &Path, pid: u32) -> LockHolder {
        let holder = LockHolder {
            pid,
            run_id: "shutdown-x".into(),
            command: "shutdown".into(),
            since: "now".into(),
            boot_id: None,
        };
        std::fs::write(dir.join(LOCK_FILE), serde_json::to_string_pretty(&holder).unwrap()).unwrap();
        holder
    }

    #[test]
    fn the_script_tells_idle_running_stale_and_missing_apart() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(run(dir.path()), PeerState::Idle);
        let me = write_lock(dir.path(), std::process::id());
        // The name alone is not a run: a live pid (this process) without the kernel's lock is a
        // leftover, as after a reboot that reused the pid.
        assert_eq!(run(dir.path()), PeerState::StaleLock(me.clone()));
        let file = std::fs::File::open(dir.path().join(LOCK_FILE)).unwrap();
        file.lock().unwrap();
        assert_eq!(run(dir.path()), PeerState::Running(me));
        file.unlock().unwrap();
        let dead = write_lock(dir.path(), u32::MAX - 7);
        assert_eq!(run(dir.path()), PeerState::StaleLock(dead));
        std::fs::write(dir.path().join(LOCK_FILE), "").unwrap();
        assert_eq!(run(dir.path()), PeerState::Idle, "a released lock names nobody");
        std::fs::write(dir.path().join(LOCK_FILE), "garbage").unwrap();
        assert!(matches!(run(dir.path()), PeerState::Unreadable(why) if why.contains("not an ananke lock")));
        assert!(matches!(run(&dir.path().join("missing")), PeerState::Unreadable(why) if why.contains("no state dir")));
    }
}
