//! The state dir against a real temporary directory: round trips, damaged files, unknown journal
//! versions, unusable paths and report pruning. The tests run as root in CI, so unusable paths are
//! made with a file where a directory belongs (or the reverse), not with permissions.

use super::reports::{Command, DaemonStatus, Progress, RunReport, REPORT_HISTORY};
use super::{StateDir, StoreError};
use crate::journal::{Journal, JOURNAL_VERSION};
use std::fs;

fn report(run_id: &str, command: Command) -> RunReport {
    serde_json::from_value(serde_json::json!({
        "version": 1, "run_id": run_id, "command": command.as_str(), "target": "host",
        "ananke_version": "0.0.0", "execute": true, "outcome": "succeeded", "final_state": "ready",
        "started_at": "2026-11-23T00:00:00Z", "finished_at": "2026-11-23T00:01:00Z", "duration_ms": 60000,
        "phases": [{"state": "ready", "millis": 60000}], "effect_counts": {}, "effects": [],
        "diagnostics": [], "warnings": [], "trace": format!("reports/{run_id}.trace.jsonl"),
    }))
    .expect("a report")
}

fn damaged_message(err: &StoreError) -> &str {
    match err {
        StoreError::Damaged { message, .. } => message,
        StoreError::Io { .. } => panic!("expected a damaged-file error, got {err}"),
    }
}

#[test]
fn file_names_are_the_documented_ones() {
    let s = StateDir::new("/var/lib/ananke");
    assert_eq!(s.root().to_str(), Some("/var/lib/ananke"));
    let names = [
        s.journal_path(),
        s.progress_path(),
        s.last_report_path(Command::Startup),
        s.last_report_path(Command::Shutdown),
        s.report_path("r1"),
        s.trace_path("r1"),
        s.daemon_status_path(),
        s.runs_path(),
    ];
    let names: Vec<&str> =
        names.iter().map(|p| p.to_str().unwrap().strip_prefix("/var/lib/ananke/").unwrap()).collect();
    assert_eq!(
        names,
        [
            "journal.json",
            "startup-progress.json",
            "last-startup-report.json",
            "last-shutdown-report.json",
            "reports/r1.json",
            "reports/r1.trace.jsonl",
            "daemon-status.json",
            "runs.json",
        ]
    );
}

#[test]
fn a_missing_journal_reads_as_empty_and_a_written_one_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let s = StateDir::new(dir.path());
    assert_eq!(s.read_journal().unwrap(), Journal::default());
    let mut j = Journal::default();
    j.changes.cordoned.insert("titan-03".into());
    j.shutdown_reason = Some("ups on battery".into());
    s.write_journal(&j).unwrap();
    assert_eq!(s.read_journal().unwrap(), j);
}

#[test]
fn a_journal_of_another_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = StateDir::new(dir.path());
    let j = Journal { version: JOURNAL_VERSION + 1, ..Journal::default() };
    s.write_journal(&j).unwrap();
    let err = s.read_journal().unwrap_err();
    assert_eq!(
        damaged_message(&err),
        format!("journal version {} is not the supported version {JOURNAL_VERSION}", JOURNAL_VERSION + 1)
    );
    assert!(err.to_string().starts_with(&format!("{}: damaged or foreign file", s.journal_path().display())), "{err}");
}

#[test]
fn damaged_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = StateDir::new(dir.path());
    s.ensure().unwrap();
    for path in [s.journal_path(), s.progress_path(), s.daemon_status_path(), s.runs_path(), s.report_path("r1")] {
        fs::write(&path, "{ not json").unwrap();
    }
    fs::write(s.last_report_path(Command::Shutdown), "[]").unwrap();
    let errors = [
        s.read_journal().unwrap_err(),
        s.read_progress().unwrap_err(),
        s.read_daemon_status().unwrap_err(),
        s.read_runs().unwrap_err(),
        s.read_report("r1").unwrap_err(),
        s.read_last_report(Command::Shutdown).unwrap_err(),
    ];
    for err in &errors {
        assert!(!damaged_message(err).is_empty());
    }
    assert!(errors[1].to_string().contains("startup-progress.json"), "{}", errors[1]);
}

#[test]
fn a_directory_where_a_file_belongs_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = StateDir::new(dir.path());
    fs::create_dir_all(s.journal_path()).unwrap();
    let err = s.read_journal().unwrap_err();
    assert!(matches!(&err, StoreError::Io { path, .. } if *path == s.journal_path()), "{err}");
    assert!(s.write_journal(&Journal::default()).is_err());
}

#[test]
fn a_state_dir_that_is_a_file_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state");
    fs::write(&file, "not a dir").unwrap();
    let s = StateDir::new(&file);
    assert!(matches!(s.ensure(), Err(StoreError::Io { .. })));
    assert!(matches!(s.write_journal(&Journal::default()), Err(StoreError::Io { .. })));
    assert!(matches!(s.write_report(&report("r1", Command::Startup)), Err(StoreError::Io { .. })));
    let progress = Progress {
        version: 1,
        run_id: "r1".into(),
        command: Command::Startup,
        execute: false,
        outcome: super::reports::RunOutcome::Running,
        state: "boot".into(),
        phase: "waiting for nodes".into(),
        gates: vec![],
        started_at: String::new(),
        updated_at: String::new(),
    };
    assert!(matches!(s.write_progress(&progress), Err(StoreError::Io { .. })));
    // A plain file in place of reports/ is refused too.
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = StateDir::new(dir2.path());
    fs::write(s2.reports_dir(), "").unwrap();
    assert!(matches!(s2.ensure(), Err(StoreError::Io { path, .. }) if path == s2.reports_dir()));
    assert!(matches!(s2.list_reports(), Err(StoreError::Io { .. })));
}

#[test]
fn progress_and_daemon_status_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = StateDir::new(dir.path());
    assert_eq!(s.read_progress().unwrap(), None);
    assert_eq!(s.read_daemon_status().unwrap(), None);
    let progress: Progress = serde_json::from_value(serde_json::json!({
        "version": 1, "run_id": "r1", "command": "startup", "execute": true, "outcome": "running",
        "state": "flux", "phase": "waiting for flux", "gates": [], "started_at": "a", "updated_at": "b",
    }))
    .unwrap();
    s.write_progress(&progress).unwrap();
    assert_eq!(s.read_progress().unwrap(), Some(progress));
    let status: DaemonStatus = serde_json::from_value(serde_json::json!({
        "version": 1, "pid": 42, "updated_at": "c", "phase": "down", "budget_s": 300, "domains": [], "events": [],
    }))
    .unwrap();
    s.write_daemon_status(&status).unwrap();
    assert_eq!(s.read_daemon_status().unwrap(), Some(status));
}

#[test]
fn a_report_is_kept_in_history_last_report_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let s = StateDir::new(dir.path());
    assert_eq!(s.list_reports().unwrap(), Vec::<String>::new(), "no reports/ yet");
    assert_eq!(s.read_report("r1").unwrap(), None);
    let r = report("r1", Command::Shutdown);
    assert_eq!(s.write_report(&r).unwrap(), s.report_path("r1"));
    assert_eq!(s.read_report("r1").unwrap().as_ref(), Some(&r));
    assert_eq!(s.read_last_report(Command::Shutdown).unwrap().as_ref(), Some(&r));
    assert_eq!(s.read_last_report(Command::Startup).unwrap(), None);
    let runs = s.read_runs().unwrap();
    assert_eq!(runs.runs.len(), 1);
    assert_eq!((runs.runs[0].run_id.as_str(), runs.runs[0].duration_ms), ("r1", 60000));
    // Traces, staging files and foreign files are not reports.
    fs::write(s.trace_path("r1"), "").unwrap();
    fs::write(s.reports_dir().join(".r2.json.tmp"), "").unwrap();
    fs::write(s.reports_dir().join("r3.trace.json"), "").unwrap();
    fs::write(s.reports_dir().join("notes.txt"), "").unwrap();
    assert_eq!(s.list_reports().unwrap(), ["r1"]);
}

#[test]
fn old_reports_and_their_traces_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let s = StateDir::new(dir.path());
    s.ensure().unwrap();
    // The oldest has a trace; the next has none (pruning must not trip over the missing trace).
    fs::write(s.trace_path("r000"), "{}").unwrap();
    for i in 0..=REPORT_HISTORY {
        s.write_report(&report(&format!("r{i:03}"), Command::Startup)).unwrap();
    }
    let ids = s.list_reports().unwrap();
    assert_eq!(ids.len(), REPORT_HISTORY);
    assert_eq!(ids.first().map(String::as_str), Some("r001"));
    assert!(!s.trace_path("r000").exists());
    s.write_report(&report("r999", Command::Startup)).unwrap();
    assert_eq!(s.list_reports().unwrap().first().map(String::as_str), Some("r002"));
    assert_eq!(s.read_runs().unwrap().runs.len(), REPORT_HISTORY + 2, "runs.json keeps more than reports/");
}

#[test]
fn a_report_that_cannot_be_pruned_fails_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let s = StateDir::new(dir.path());
    s.ensure().unwrap();
    // A directory named like the oldest report cannot be removed with remove_file.
    fs::create_dir(s.report_path("r000")).unwrap();
    for i in 1..REPORT_HISTORY {
        s.write_report(&report(&format!("r{i:03}"), Command::Startup)).unwrap();
    }
    let err = s.write_report(&report("r999", Command::Startup)).unwrap_err();
    assert!(matches!(&err, StoreError::Io { path, .. } if *path == s.report_path("r000")), "{err}");
}
