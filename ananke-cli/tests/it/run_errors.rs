//! The exit codes of a run that does not succeed, and what a run says on the way: a state dir
//! that cannot be written, a damaged journal, a failing scenario, a signal, a progress file that
//! cannot be written, every effect with `-v`, and the progress display on a terminal.

use crate::common::{ananke, read_json, sim};
use ananke_cli::exit;
use ananke_core::config::{CommandSpec, HumanDuration, UnsealKeySource};
use ananke_core::store::lock::LOCK_FILE;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn code(c: u8) -> i32 {
    i32::from(c)
}

#[test]
fn a_state_dir_that_cannot_be_created_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let (c, _, stderr) = sim(&file, &["startup", "--execute"]);
    assert_eq!(c, code(exit::STATE_IO), "{stderr}");
    assert!(stderr.contains("not-a-dir"), "{stderr}");
    let config = titan_lab_config(dir.path());
    let (c, _, stderr) = sim(&file, &["daemon", "--config", config.to_str().unwrap()]);
    assert_eq!(c, code(exit::STATE_IO), "{stderr}");
    assert!(stderr.contains("not-a-dir"), "{stderr}");
}

#[test]
fn a_lock_that_cannot_be_read_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join(LOCK_FILE)).unwrap();
    let (c, _, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(c, code(exit::STATE_IO), "{stderr}");
    assert!(stderr.contains(LOCK_FILE), "{stderr}");
}

#[test]
fn a_damaged_journal_is_a_usage_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("journal.json"), "{ damaged").unwrap();
    let (c, _, stderr) = sim(&state, &["shutdown", "--execute", "--reason", "drill"]);
    assert_eq!(c, code(exit::USAGE_OR_CONFIG), "{stderr}");
    assert!(stderr.contains("journal.json"), "{stderr}");
    assert_eq!(std::fs::read_to_string(state.join("journal.json")).unwrap(), "{ damaged");
    assert!(!state.join("last-shutdown-report.json").exists());
    assert!(crate::common::lock_released(&state), "the lock is released");
}

#[test]
fn a_failing_startup_exits_gates_not_passed_and_names_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = ananke()
        .args(["startup", "--execute", "--sim", "node-lost-required", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(code(exit::GATES_NOT_PASSED)), "{stdout}");
    assert!(stdout.contains("failure (gate ssh-reachability): ") && stdout.contains("titan-23"), "{stdout}");
    let report = read_json(&state.join("last-startup-report.json"));
    assert_eq!(report["outcome"], "failed");
    assert_eq!(read_json(&state.join("startup-progress.json"))["outcome"], "failed");
}

#[test]
fn verbose_progress_names_every_state_change_and_effect() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _, stderr) = sim(&dir.path().join("state"), &["startup", "--execute", "-v"]);
    assert_eq!(c, 0, "{stderr}");
    assert!(stderr.contains("] off -> "), "{stderr}");
    assert!(stderr.lines().any(|l| l.contains("]   ") && l.contains("titan-")), "every effect is named: {stderr}");
    let (c, _, quiet) = sim(&dir.path().join("quiet"), &["startup", "--execute", "-q"]);
    assert_eq!(c, 0);
    assert!(!quiet.contains(" -> "), "{quiet}");
}

#[test]
fn a_progress_file_that_cannot_be_written_is_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("startup-progress.json")).unwrap();
    let (c, stdout, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(c, 0, "{stdout}\n{stderr}");
    assert_eq!(stderr.matches("warning: cannot write startup-progress.json").count(), 1, "said once: {stderr}");
    let report = read_json(&state.join("last-startup-report.json"));
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("cannot write startup-progress.json"), "{warnings}");
    assert_eq!(report["final_state"], "ready");
}

#[test]
fn a_report_that_cannot_be_written_is_a_state_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("last-startup-report.json")).unwrap();
    let (c, _, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(c, code(exit::STATE_IO), "{stderr}");
    assert!(stderr.contains("error: cannot write the report"), "{stderr}");
}

fn titan_lab_config(dir: &Path) -> PathBuf {
    let config = ananke_sim::builtin("titan-lab").unwrap().ananke_config();
    let path = dir.join("titan-lab.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    path
}

/// titan-lab with Vault shares from a command that takes `delay` (a startup waits for it).
fn slow_shares_config(dir: &Path, delay: &str) -> PathBuf {
    let mut config = ananke_sim::builtin("titan-lab").unwrap().ananke_config();
    let script = format!("sleep {delay}; printf 's1\\ns2\\ns3\\n'");
    let shares = CommandSpec { argv: vec!["sh".into(), "-c".into(), script], timeout: HumanDuration::secs(30) };
    config.vault.as_mut().expect("titan-lab has vault").unseal_keys = UnsealKeySource::Command(shares);
    let path = dir.join("ananke.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    path
}

#[test]
fn sigterm_during_a_run_aborts_it_with_the_journal_intact() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = slow_shares_config(dir.path(), "3");
    let run = Command::new(assert_cmd::cargo::cargo_bin("ananke"))
        .args(["startup", "--execute", "--sim", "titan-lab", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the run is under way (the progress file names a state), then signal it.
    let progress = state.join("startup-progress.json");
    let start = Instant::now();
    loop {
        let state_now =
            std::fs::read_to_string(&progress).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        if state_now.is_some_and(|p| p["state"].as_str().is_some_and(|s| !s.is_empty())) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the run never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    Command::new("kill").args(["-TERM", &run.id().to_string()]).status().unwrap();
    let out = run.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(code(exit::ABORTED)), "{stdout}");
    let report = read_json(&state.join("last-startup-report.json"));
    assert_eq!(report["outcome"], "aborted");
    assert_eq!(read_json(&state.join("journal.json"))["version"], 1, "the journal is intact");
    assert!(crate::common::lock_released(&state), "the lock is released");
}

#[test]
fn on_a_terminal_progress_is_a_spinner_and_state_changes_still_print() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let bin = assert_cmd::cargo::cargo_bin("ananke");
    let line = format!("{} startup --execute --sim titan-lab --state-dir {}", bin.display(), state.display());
    let out = Command::new("script").args(["-qec", &line, "/dev/null"]).env("TERM", "xterm").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("-> ready"), "state changes go through the spinner: {text}");
    assert_eq!(read_json(&state.join("last-startup-report.json"))["final_state"], "ready");
}

#[test]
fn an_unknown_scenario_is_a_usage_error_after_the_lock_and_releases_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = ananke()
        .args(["startup", "--execute", "--sim", "no-such-scenario", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(code(exit::USAGE_OR_CONFIG)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-scenario"));
    assert!(state.is_dir() && crate::common::lock_released(&state), "the lock was taken and released");
}

#[test]
fn a_trace_that_cannot_be_created_is_a_warning_of_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // The run id is `<start second>-startup-<pid>`, and `exec` keeps the shell's pid: a directory
    // where the trace of this run would go, for this second and the next few.
    let script = format!(
        "for s in 0 1 2 3 4; do mkdir -p \"$1/reports/$(date -u -d \"+$s seconds\" +%Y%m%dT%H%M%SZ)-startup-$$.trace.jsonl\"; done; exec {} startup --execute -q --sim titan-lab --state-dir \"$1\"",
        assert_cmd::cargo::cargo_bin("ananke").display()
    );
    let out = Command::new("sh").args(["-c", &script, "sh"]).arg(&state).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("warning: no trace recorded: "), "{stdout}");
    let report = read_json(&state.join("last-startup-report.json"));
    assert!(report["warnings"].to_string().contains("no trace recorded"), "{report}");
    assert_eq!(report["final_state"], "ready");
}
