//! The drill record through the binary: every executed run ends with its comparison in two
//! lines (and in `--json`), `report compare` prints it in full (human and JSON) on a crafted
//! history, and `status` shows the last one.

use crate::common::{json, sim};
use ananke_cli::exit;
use ananke_core::store::reports::{Command, PhaseTiming, RunHistory, RunOutcome, RunSummary};

#[test]
fn every_executed_run_ends_with_its_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (c, first, err) = sim(&state, &["shutdown", "--execute", "--reason", "drill"]);
    assert_eq!(c, 0, "{first}\n{err}");
    let tail: Vec<&str> = first.lines().rev().take(2).collect();
    assert_eq!(tail[1], "vs previous shutdown: none, the first executed shutdown on sim:titan-lab", "{first}");
    assert!(
        tail[0].starts_with("vs median: no shutdown before this one; nothing new (ananke report compare "),
        "{first}"
    );
    assert_eq!(sim(&state, &["startup", "--execute"]).0, 0);
    assert_eq!(sim(&state, &["shutdown", "--execute", "--reason", "drill"]).0, 0);
    let (c, out, err) = sim(&state, &["startup", "--execute", "--json"]);
    assert_eq!(c, 0, "{err}");
    let out = json(&out);
    let runs = json(&std::fs::read_to_string(state.join("runs.json")).unwrap());
    let first_startup = runs["runs"][1]["run_id"].as_str().unwrap();
    let comparison = &out["comparison"];
    assert_eq!(comparison["version"], 1, "{out}");
    assert_eq!(comparison["run_id"], out["report"]["run_id"]);
    assert_eq!(comparison["previous"]["run_id"], first_startup);
    assert_eq!(comparison["median"]["runs"], 1);
    let phases: Vec<&str> =
        comparison["phases"].as_array().unwrap().iter().map(|p| p["state"].as_str().unwrap()).collect();
    assert!(phases.contains(&"off") && phases.contains(&"soaking"), "{phases:?}");
    // With no RUN, the last executed run, compared with the startup before it.
    let (c, text, _) = sim(&state, &["report", "compare"]);
    assert_eq!(c, 0, "{text}");
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&format!("vs previous startup {first_startup} (succeeded, "))),
        "{text}"
    );
    let (c, status, _) = sim(&state, &["status"]);
    assert_eq!(c, 0);
    assert!(status.contains("last run compared (startup "), "{status}");
    assert!(status.contains(&format!("vs previous startup {first_startup}")), "{status}");
    let (_, status, _) = sim(&state, &["status", "--json"]);
    assert_eq!(json(&status)["last_comparison"], *comparison);
}

fn entry(id: &str, outcome: RunOutcome, phases: &[(&str, u64)]) -> RunSummary {
    RunSummary {
        run_id: id.to_owned(),
        command: Command::Startup,
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

#[test]
fn report_compare_on_a_crafted_history() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let (c, _, err) = sim(&state, &["report", "compare"]);
    assert_eq!(c, i32::from(exit::USAGE_OR_CONFIG));
    assert!(err.contains("error: no executed run in ") && err.contains("runs.json yet"), "{err}");
    let mut history = RunHistory::default();
    history.push(entry("a", RunOutcome::Succeeded, &[("off", 30_000), ("converging", 100_000)]));
    let mut b = entry("b", RunOutcome::Succeeded, &[("off", 30_000), ("converging", 100_000)]);
    b.warnings = vec!["old warning".to_owned()];
    history.push(b);
    let mut this = entry("c", RunOutcome::Failed, &[("off", 30_000), ("converging", 160_000)]);
    this.warnings = vec!["old warning".to_owned(), "titan-23 ignored: it is down".to_owned()];
    this.manual_steps = vec!["converge deadline: run ananke startup --execute again".to_owned()];
    history.push(this);
    std::fs::write(state.join("runs.json"), serde_json::to_string(&history).unwrap()).unwrap();
    let (c, text, err) = sim(&state, &["report", "compare", "c"]);
    assert_eq!(c, 0, "{err}");
    let expected = "\
startup c on sim:titan-lab: failed in 190.0s
vs previous startup b (succeeded, 130.0s): this one failed after 190.0s; most changed: converging +60.0s
vs median of 2 succeeded of the last 2 (130.0s): this one failed after 190.0s; new: 1 warning, 1 manual step (ananke report compare c)
phase             this run  previous             median
off                  30.0s  30.0s (same)         30.0s (same)
converging          160.0s  100.0s (+60.0s)      100.0s (+60.0s)
new warnings (1):
  - titan-23 ignored: it is down
new manual steps (1):
  - converge deadline: run ananke startup --execute again
manual steps this run: 1
";
    assert_eq!(text, expected);
    let (c, out, _) = sim(&state, &["report", "compare", "--json", "--last", "1"]);
    assert_eq!(c, 0);
    let out = json(&out);
    assert_eq!((out["version"].as_u64(), out["run_id"].as_str()), (Some(1), Some("c")), "the last run by default");
    assert_eq!(out["median"], serde_json::json!({ "runs": 1, "of_last": 1, "duration_ms": 130_000 }));
    assert_eq!(out["new_warnings"], serde_json::json!(["titan-23 ignored: it is down"]));
    assert_eq!(out["new_manual_steps"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        out["phases"][1],
        serde_json::json!({ "state": "converging", "millis": 160_000, "previous_ms": 100_000, "median_ms": 100_000 })
    );
    let (c, _, err) = sim(&state, &["report", "compare", "zzz"]);
    assert_eq!(c, i32::from(exit::USAGE_OR_CONFIG));
    assert!(err.contains("error: run zzz is not in ") && err.contains("runs.json"), "{err}");
    let (c, _, err) = sim(&state, &["report", "compare", "--last", "0"]);
    assert_eq!(c, 2, "clap refuses N = 0: {err}");
    std::fs::write(state.join("runs.json"), "{ damaged").unwrap();
    let (c, _, err) = sim(&state, &["report", "compare"]);
    assert_eq!(c, i32::from(exit::STATE_IO));
    assert!(err.contains("runs.json"), "the damaged file is named: {err}");
}
