//! The run lock: a second run is refused naming the holder; a dead run's lock is taken over,
//! also when its pid now belongs to a live, unrelated process (a reboot reuses pids).

use crate::common::{lock_released, sim, LockHeld};
use ananke_cli::exit;
use ananke_core::store::lock::{LockHolder, LOCK_FILE, LOCK_MODE};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_live_holder_refuses_a_second_run_and_a_dead_one_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut holder = LockHeld::start(&state, "run-held", "shutdown");
    let (code, _, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(code, i32::from(exit::LOCK_HELD), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", holder.pid())) && stderr.contains("run-held"), "{stderr}");
    // A dry run takes no lock and is not refused.
    assert_eq!(sim(&state, &["startup"]).0, 0);
    holder.kill();
    let (code, stdout, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("took over a stale lock") && stderr.contains("run-held"), "{stderr}");
    assert!(stdout.contains("warning: took over a stale lock"), "the report says so too: {stdout}");
    assert!(lock_released(&state), "the lock is released at the end");
    let mode = std::fs::metadata(state.join(LOCK_FILE)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, LOCK_MODE, "{mode:o}");
}

/// Starts `startup --execute` on the simulated lab in `state` and waits (30 s at most) until
/// `ready` holds of the state dir.
fn startup_until(state: &std::path::Path, ready: impl Fn(&std::path::Path) -> bool) -> std::process::Child {
    let child = Command::new(assert_cmd::cargo::cargo_bin("ananke"))
        .args(["startup", "--execute", "-q", "--sim", "titan-lab", "--state-dir"])
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready(state) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(2));
    }
    child
}

#[test]
fn a_run_killed_mid_run_leaves_a_lock_the_next_run_takes_over_though_its_pid_lives_again() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut first = startup_until(&state, |state| ananke_core::store::lock::read_holder(state).is_some());
    first.kill().unwrap();
    first.wait().unwrap();
    let mut left = ananke_core::store::lock::read_holder(&state).expect("a SIGKILLed run leaves its name");
    // As after a power cut: the recorded pid is now a live, unrelated process (this test).
    left.pid = std::process::id();
    std::fs::write(state.join(LOCK_FILE), serde_json::to_vec(&left).unwrap()).unwrap();
    let (code, _, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("took over a stale lock of pid {}", left.pid)), "{stderr}");
    let _: &LockHolder = &left;
}

#[test]
fn two_concurrent_runs_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut first = startup_until(&state, |state| ananke_core::store::lock::held(state).is_some());
    // Freeze the first run while it holds the lock, so the race cannot be lost by timing.
    let pid = first.id().to_string();
    let frozen = Command::new("kill").args(["-STOP", &pid]).status().unwrap().success();
    let holds = ananke_core::store::lock::held(&state).is_some();
    let (code, _, stderr) = sim(&state, &["shutdown", "--execute", "--reason", "race"]);
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    let first_code = first.wait().unwrap().code();
    assert!(frozen && holds, "the first run should have held the lock");
    assert_eq!(code, i32::from(exit::LOCK_HELD), "{stderr}");
    assert!(stderr.contains(&format!("pid {pid}")), "{stderr}");
    assert_eq!(first_code, Some(0), "the first run completes");
}
