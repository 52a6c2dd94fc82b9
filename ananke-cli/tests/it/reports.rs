//! Every report file: present, versioned, mode 0640 (journal 0600), shapes pinned by golden
//! snapshots; the trace replays without divergence; `status` golden on a fresh lab.

use crate::common::{read_json, shape, sim};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_executed_startup_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, stdout, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("Succeeded in state ready"), "{stdout}");
    let report = read_json(&state.join("last-startup-report.json"));
    let run_id = report["run_id"].as_str().unwrap().to_owned();
    assert!(
        stdout.contains(&format!("report: {}", state.join(format!("reports/{run_id}.json")).display())),
        "{stdout}"
    );
    for (file, want) in [
        ("startup-progress.json", 0o640),
        ("last-startup-report.json", 0o640),
        ("runs.json", 0o640),
        ("journal.json", 0o600),
    ] {
        let path = state.join(file);
        assert_eq!(mode(&path), want, "{file}");
        assert_eq!(read_json(&path)["version"], 1, "{file} is versioned");
    }
    let history = state.join(format!("reports/{run_id}.json"));
    let trace = state.join(format!("reports/{run_id}.trace.jsonl"));
    assert_eq!(mode(&history), 0o640);
    assert_eq!(mode(&trace), 0o640);
    assert_eq!(read_json(&history), report);
    let progress = read_json(&state.join("startup-progress.json"));
    assert_eq!(progress["outcome"], "succeeded");
    assert_eq!(progress["state"], "ready");
    assert_eq!(progress["gates"].as_array().unwrap().len(), 9);
    assert!(progress["gates"].as_array().unwrap().iter().all(|g| g["verdict"] == "pass"));
    let runs = read_json(&state.join("runs.json"));
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
    insta::assert_json_snapshot!("shape-run-report", shape(&report));
    insta::assert_json_snapshot!("shape-progress", shape(&progress));
    insta::assert_json_snapshot!("shape-runs", shape(&runs));
    insta::assert_json_snapshot!("shape-journal", shape(&read_json(&state.join("journal.json"))));
    let replay = ananke_sim::replay::replay_file(&trace, None).unwrap();
    assert!(matches!(replay, ananke_sim::replay::ReplayReport::NoDivergence { records } if records > 10), "{replay}");
}

#[test]
fn shutdown_then_startup_restores_the_lab_and_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let before = sim(&state, &["status", "--json"]).1;
    let (code, stdout, stderr) = sim(&state, &["shutdown", "--execute", "--reason", "drill"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("Succeeded in state off"), "{stdout}");
    let shutdown = read_json(&state.join("last-shutdown-report.json"));
    assert_eq!(shutdown["reason"], "drill");
    assert_eq!(shutdown["effect_counts"].get("power-off-host"), None, "cluster-only never powers a host off");
    let (code, stdout, stderr) = sim(&state, &["startup", "--execute"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(read_json(&state.join("runs.json"))["runs"].as_array().unwrap().len(), 2);
    let after = sim(&state, &["status", "--json"]).1;
    let nodes = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap()["nodes"].clone();
    assert_eq!(nodes(&after), nodes(&before), "every node as before (cordons included)");
    let (code, list, _) = sim(&state, &["report", "list"]);
    assert_eq!(code, 0);
    assert_eq!(list.lines().count(), 3, "a header and two runs: {list}");
    let (code, newest, _) = sim(&state, &["report", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&newest).unwrap()["command"], "startup");
}

#[test]
fn status_golden_on_a_fresh_lab() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, human, _) = sim(&state, &["status"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("status-fresh-titan-lab", human);
    let (code, json, _) = sim(&state, &["status", "--json"]);
    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["cluster"], "ready");
    insta::assert_json_snapshot!("shape-status", shape(&value));
}
