//! The drill record (`store::compare`) on crafted histories: a slower phase, a new warning, a new
//! manual step; the previous run and the median of the last N of the same kind only.

use ananke_core::machine::{Cause, Failure, Unconfirmed};
use ananke_core::store::compare::{self, compare, compare_last, Comparison, COMPARISON_VERSION};
use ananke_core::store::reports::{Command, PhaseTiming, RunHistory, RunOutcome, RunReport, RunSummary};
use ananke_core::store::StateDir;

fn run(id: &str, command: Command, outcome: RunOutcome, phases: &[(&str, u64)]) -> RunSummary {
    RunSummary {
        run_id: id.to_owned(),
        command,
        target: "sim:titan-lab".to_owned(),
        execute: true,
        outcome,
        started_at: "2026-12-03T10:00:00Z".to_owned(),
        duration_ms: phases.iter().map(|(_, ms)| ms).sum(),
        phases: phases.iter().map(|(s, ms)| PhaseTiming { state: (*s).to_owned(), millis: *ms }).collect(),
        reason: None,
        warnings: vec![],
        manual_steps: vec![],
    }
}

fn startup(id: &str, off: u64, converging: u64) -> RunSummary {
    run(id, Command::Startup, RunOutcome::Succeeded, &[("off", off), ("converging", converging), ("soaking", 60_000)])
}

/// Four good startups, a shutdown, a simulated run on another target, then the run compared: its
/// converge 40 s slower, a new warning and a new manual step.
fn crafted() -> RunHistory {
    let mut h = RunHistory::default();
    h.push(startup("s1", 30_000, 100_000));
    h.push(startup("s2", 32_000, 90_000));
    h.push(run("s3", Command::Startup, RunOutcome::Failed, &[("off", 5_000)]));
    h.push(startup("s4", 28_000, 110_000));
    let mut before = startup("s5", 30_000, 100_000);
    before.warnings = vec!["titan-23 ignored: down".to_owned()];
    before.manual_steps = vec!["node titan-23: unreachable".to_owned()];
    h.push(before);
    h.push(run("d1", Command::Shutdown, RunOutcome::Succeeded, &[("quiescing", 20_000)]));
    let mut elsewhere = startup("h1", 1, 1);
    "host".clone_into(&mut elsewhere.target);
    h.push(elsewhere);
    let mut this = startup("s6", 30_000, 140_000);
    this.warnings = vec!["titan-23 ignored: down".to_owned(), "journal.json was missing".to_owned()];
    this.manual_steps = vec!["node titan-23: unreachable".to_owned(), "node titan-04: permission-denied".to_owned()];
    h.push(this);
    // A dry run after it: never a baseline, never "the last executed run".
    let mut planned = startup("p1", 1, 1);
    planned.execute = false;
    h.push(planned);
    h
}

#[test]
fn a_slower_phase_a_new_warning_and_a_new_manual_step_are_named() {
    let c = compare(&crafted(), "s6", 10).expect("s6 is in the history");
    assert_eq!(c.version, COMPARISON_VERSION);
    let previous = c.previous.as_ref().expect("s5 came before");
    assert_eq!((previous.run_id.as_str(), previous.duration_ms), ("s5", 190_000));
    // The median is over the succeeded startups on this target: s1 s2 s4 s5 (190 s, 182 s,
    // 198 s, 190 s), not the failed s3, the shutdown, the host run or the dry run.
    let median = c.median.as_ref().expect("four succeeded");
    assert_eq!((median.runs, median.of_last, median.duration_ms), (4, 5, 190_000));
    let converging = c.phases.iter().find(|p| p.state == "converging").expect("a converge phase");
    assert_eq!(
        (converging.millis, converging.previous_ms, converging.median_ms),
        (Some(140_000), Some(100_000), Some(100_000))
    );
    assert_eq!(c.new_warnings, ["journal.json was missing"]);
    assert_eq!(c.new_manual_steps, ["node titan-04: permission-denied"]);
    assert_eq!(c.manual_steps, 2);
    let [first, second] = c.summary_lines();
    assert_eq!(
        first,
        "vs previous startup s5 (succeeded, 190.0s): 40.0s slower (+21%); most changed: converging +40.0s"
    );
    assert_eq!(
        second,
        "vs median of 4 succeeded of the last 5 (190.0s): 40.0s slower (+21%); new: 1 warning, 1 manual step (ananke report compare s6)"
    );
}

#[test]
fn the_median_looks_back_over_the_last_n_only() {
    let c = compare(&crafted(), "s6", 2).expect("s6");
    let median = c.median.expect("s4 and s5 succeeded");
    assert_eq!((median.runs, median.of_last, median.duration_ms), (2, 2, 194_000));
    let c = compare(&crafted(), "s6", 0).expect("s6");
    assert_eq!(c.median.map(|m| m.runs), Some(1), "N is at least 1");
}

#[test]
fn the_first_run_of_its_kind_has_nothing_to_compare_with() {
    let h = crafted();
    let c = compare(&h, "d1", 10).expect("d1");
    assert!(c.previous.is_none() && c.median.is_none());
    assert_eq!(
        c.summary_lines(),
        [
            "vs previous shutdown: none, the first executed shutdown on sim:titan-lab".to_owned(),
            "vs median: no shutdown before this one; nothing new (ananke report compare d1)".to_owned()
        ]
    );
    assert!(compare(&h, "nope", 10).is_none());
    assert_eq!(compare_last(&h, 10).map(|c| c.run_id), Some("s6".to_owned()), "the last executed run");
    assert!(compare_last(&RunHistory::default(), 10).is_none());
}

#[test]
fn a_faster_run_and_a_phase_it_skipped() {
    let mut h = crafted();
    let mut fast =
        run("s7", Command::Startup, RunOutcome::Succeeded, &[("off", 20_000), ("off", 5_000), ("converging", 90_000)]);
    fast.manual_steps = vec![];
    h.push(fast);
    let c: Comparison = compare(&h, "s7", 10).expect("s7");
    let off = c.phases.iter().find(|p| p.state == "off").expect("off");
    assert_eq!(off.millis, Some(25_000), "a state entered twice counts twice");
    let soaking = c.phases.last().expect("phases");
    assert_eq!((soaking.state.as_str(), soaking.millis, soaking.previous_ms), ("soaking", None, Some(60_000)));
    assert!(c.new_warnings.is_empty() && c.new_manual_steps.is_empty());
    assert!(
        c.summary_lines()[0].contains("115.0s faster (-50%); most changed: converging -50.0s"),
        "{:?}",
        c.summary_lines()
    );
    assert_eq!(compare::delta(5, 5), "the same");
    assert_eq!(compare::delta(1_099, 1_000), "the same", "under what a tenth of a second shows");
    assert_eq!(compare::delta(1500, 0), "1.5s slower");
    assert_eq!(compare::signed(1000, 3000), "-2.0s");
}

#[test]
fn runs_json_records_the_reason_warnings_and_manual_steps_and_reads_old_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = StateDir::new(dir.path().to_path_buf());
    let report: RunReport = serde_json::from_value(serde_json::json!({
        "version": 1, "run_id": "shutdown-1", "command": "shutdown", "target": "host", "ananke_version": "test",
        "execute": true, "reason": "drill", "outcome": "failed", "final_state": "failed",
        "failure": { "gate": null, "reason": "fix the PDB and run again" },
        "started_at": "2026-12-03T10:00:00Z", "finished_at": "2026-12-03T10:01:00Z", "duration_ms": 60000,
        "phases": [], "effect_counts": {}, "effects": [], "diagnostics": [],
        "unconfirmed": [{ "item": "node titan-04", "cause": "permission-denied", "detail": "sudo: a password is required" }],
        "warnings": ["w"], "trace": ""
    }))
    .expect("a report");
    assert_eq!(report.failure, Some(Failure { gate: None, reason: "fix the PDB and run again".to_owned() }));
    assert_eq!(
        report.unconfirmed,
        [Unconfirmed {
            item: "node titan-04".into(),
            cause: Cause::PermissionDenied,
            detail: "sudo: a password is required".into()
        }]
    );
    state.write_report(&report).expect("written");
    let runs = state.read_runs().expect("read back");
    let entry = &runs.runs[0];
    assert_eq!(entry.reason.as_deref(), Some("drill"));
    assert_eq!(entry.warnings, ["w"]);
    assert_eq!(entry.manual_steps, ["fix the PDB and run again", "node titan-04: permission denied"]);
    let old: RunSummary = serde_json::from_str(
        r#"{"run_id":"r","command":"startup","target":"host","execute":true,"outcome":"succeeded","started_at":"","duration_ms":1,"phases":[]}"#,
    )
    .expect("an entry written before these fields");
    assert!(old.reason.is_none() && old.warnings.is_empty() && old.manual_steps.is_empty());
}

#[test]
fn outcomes_read_as_the_reports_write_them() {
    for outcome in [
        RunOutcome::Running,
        RunOutcome::Planned,
        RunOutcome::Succeeded,
        RunOutcome::Incomplete,
        RunOutcome::Failed,
        RunOutcome::Aborted,
    ] {
        assert_eq!(serde_json::to_value(outcome).expect("serializable"), outcome.as_str(), "{outcome:?}");
    }
}

#[test]
fn a_run_that_failed_says_so_instead_of_faster() {
    let h = crafted();
    let c = compare(&h, "s3", 10).expect("s3");
    assert_eq!(c.previous.as_ref().map(|p| p.run_id.as_str()), Some("s2"));
    let [first, second] = c.summary_lines();
    assert!(first.starts_with("vs previous startup s2 (succeeded, 182.0s): this one failed after 5.0s"), "{first}");
    assert!(
        second.starts_with("vs median of 2 succeeded of the last 2 (186.0s): this one failed after 5.0s"),
        "{second}"
    );
    let mut failing = RunHistory::default();
    failing.push(run("f1", Command::Startup, RunOutcome::Failed, &[("off", 5_000)]));
    failing.push(run("f2", Command::Startup, RunOutcome::Failed, &[("off", 6_000)]));
    let c = compare(&failing, "f2", 10).expect("f2");
    assert_eq!(c.looked_back, 1);
    assert!(
        c.summary_lines()[1].starts_with("vs median: none of the last 1 startups before this one succeeded"),
        "{:?}",
        c.summary_lines()
    );
}
