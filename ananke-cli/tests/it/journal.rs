//! stderr as journald reads it: `<N>` priority prefixes only when stderr is the stream systemd
//! names in `JOURNAL_STREAM`, and a heartbeat line during long waits when it is not a terminal.

use crate::common::sim;

fn ananke() -> std::process::Command {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("ananke"))
}
use std::os::unix::fs::MetadataExt;

/// Run `ananke ARGS` with stderr into a file, `JOURNAL_STREAM` naming that file when `journal`.
fn stderr_of(args: &[&str], journal: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stderr");
    let file = std::fs::File::create(&path).unwrap();
    let meta = file.metadata().unwrap();
    let mut cmd = ananke();
    cmd.args(args).stderr(file).env_remove("JOURNAL_STREAM");
    if journal {
        cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    }
    cmd.status().expect("ananke runs");
    std::fs::read_to_string(&path).unwrap()
}

#[test]
fn errors_carry_the_err_priority_only_on_the_journal_stream() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ananke.yaml");
    std::fs::write(&bad, "cluster_name: [unclosed\n").unwrap();
    let args = ["config", "check", "--config", bad.to_str().unwrap()];
    let plain = stderr_of(&args, false);
    assert!(plain.starts_with("error: ") && !plain.contains("<3>"), "{plain}");
    let journal = stderr_of(&args, true);
    assert!(journal.starts_with("<3>error: "), "{journal}");
    assert!(journal.lines().all(|l| l.starts_with("<3>")), "every line of the message keeps its priority: {journal}");
    // Another stream (here: the inode is wrong) is not the journal: plain lines.
    let mut cmd = ananke();
    let other = dir.path().join("other");
    let file = std::fs::File::create(&other).unwrap();
    cmd.args(args).stderr(file).env("JOURNAL_STREAM", "1:1").status().unwrap();
    assert!(std::fs::read_to_string(&other).unwrap().starts_with("error: "));
}

#[test]
fn a_long_wait_without_a_terminal_gets_a_heartbeat_naming_what_it_waits_for() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, _, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(code, 0, "{stderr}");
    let heartbeats: Vec<&str> = stderr.lines().filter(|l| l.contains(" still ")).collect();
    assert!(!heartbeats.is_empty(), "no heartbeat in a startup of minutes: {stderr}");
    assert!(heartbeats.iter().any(|l| l.contains(": waiting for ")), "a heartbeat names the gate: {heartbeats:?}");
    // No silence longer than the heartbeat and one observation period (5 s) between lines.
    let stamps: Vec<f64> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("[sim t+")?.split_once("s]").and_then(|(t, _)| t.parse().ok()))
        .collect();
    assert!(stamps.len() > 2, "{stderr}");
    let longest = stamps.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(longest <= 35.0, "a {longest}s silence: {stderr}");
}

#[test]
fn on_the_journal_a_failed_run_says_why_at_the_err_priority() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let args = ["startup", "--execute", "--sim", "node-lost-required", "--state-dir", state.to_str().unwrap()];
    let journal = stderr_of(&args, true);
    let failed: Vec<&str> = journal.lines().filter(|l| l.starts_with("<3>error: startup ")).collect();
    assert_eq!(failed.len(), 1, "{journal}");
    assert!(
        failed[0].contains(" failed: ") && failed[0].contains("titan-23") && failed[0].contains("(report "),
        "{journal}"
    );
    // A bad flag (as in a unit file) is an `err` line too; without the journal, clap's own text.
    let usage = stderr_of(&["startup", "--no-such-flag"], true);
    assert!(usage.starts_with("<3>error: unexpected argument '--no-such-flag'"), "{usage}");
    assert!(usage.lines().all(|l| l.starts_with("<3>")), "{usage}");
    assert!(stderr_of(&["startup", "--no-such-flag"], false).starts_with("error: unexpected argument"));
}
