//! The run lock: a second run is refused naming the holder; a stale lock is taken over.

use crate::common::sim;
use ananke_cli::exit;
use ananke_core::store::lock::{LockHolder, LOCK_FILE};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write_lock(dir: &std::path::Path, pid: u32, run: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let holder = LockHolder { pid, run_id: run.into(), command: "shutdown".into(), since: "2026-11-23T00:00:00Z".into() };
    std::fs::write(dir.join(LOCK_FILE), serde_json::to_vec(&holder).unwrap()).unwrap();
}

#[test]
fn a_live_holder_refuses_a_second_run_and_a_dead_one_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut holder = Command::new("sleep").arg("60").spawn().unwrap();
    write_lock(&state, holder.id(), "run-held");
    let (code, _, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(code, i32::from(exit::LOCK_HELD), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", holder.id())) && stderr.contains("run-held"), "{stderr}");
    // A dry run takes no lock and is not refused.
    assert_eq!(sim(&state, &["startup"]).0, 0);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let (code, stdout, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("took over a stale lock") && stderr.contains("run-held"), "{stderr}");
    assert!(stdout.contains("warning: took over a stale lock"), "the report says so too: {stdout}");
    assert!(!state.join(LOCK_FILE).exists(), "the lock is released at the end");
}

#[test]
fn two_concurrent_runs_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut first = Command::new(assert_cmd::cargo::cargo_bin("ananke"))
        .args(["startup", "--execute", "-q", "--sim", "titan-lab", "--state-dir"])
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = state.join(LOCK_FILE);
    let start = Instant::now();
    while !lock.exists() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(2));
    }
    // Freeze the first run while it holds the lock, so the race cannot be lost by timing.
    let pid = first.id().to_string();
    let frozen = Command::new("kill").args(["-STOP", &pid]).status().unwrap().success();
    let holds = lock.exists();
    let (code, _, stderr) = sim(&state, &["shutdown", "--execute", "--reason", "race"]);
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    let first_code = first.wait().unwrap().code();
    assert!(frozen && holds, "the first run should have held the lock");
    assert_eq!(code, i32::from(exit::LOCK_HELD), "{stderr}");
    assert!(stderr.contains(&format!("pid {pid}")), "{stderr}");
    assert_eq!(first_code, Some(0), "the first run completes");
}
