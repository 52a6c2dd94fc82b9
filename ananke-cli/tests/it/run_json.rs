//! `startup`, `shutdown` and `bootstrap --json`: one versioned shape (pinned) for a dry run, an
//! executed run and a bootstrap with nothing to do; the exit codes are those without `--json`.

use crate::common::{files_under, json, read_json, shape, sim};

#[test]
fn a_dry_run_prints_its_plan_as_json_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, stdout, stderr) =
        sim(&state, &["shutdown", "--reason", "drill", "--mode", "cluster-and-hosts", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let out = json(&stdout);
    insta::assert_json_snapshot!("shape-run-json-dry", shape(&out));
    assert_eq!((out["version"].as_u64(), out["command"].as_str()), (Some(1), Some("shutdown")));
    assert_eq!((out["execute"].as_bool(), out["target"].as_str()), (Some(false), Some("sim:titan-lab")));
    let first = &out["plan"]["effects"][0];
    assert_eq!(first["key"], "suspend-flux:Kustomization/flux-system/flux-system", "{out}");
    let power_off = out["plan"]["power_off"].as_array().unwrap();
    assert!(power_off.len() > 1 && power_off[0].as_str().unwrap().contains("agent"), "{out}");
    assert!(out.get("report").is_none());
    let written = if state.exists() { files_under(&state) } else { Vec::new() };
    assert!(written.iter().all(|f| !f.to_string_lossy().contains("report")), "a dry run writes no report: {written:?}");
}

#[test]
fn an_executed_run_prints_the_report_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, stdout, stderr) = sim(&state, &["startup", "--execute", "--json", "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let out = json(&stdout);
    insta::assert_json_snapshot!("shape-run-json-executed", shape(&out));
    let path = out["report_path"].as_str().expect("the report's path");
    assert_eq!(read_json(std::path::Path::new(path)), out["report"], "the report as written");
    assert_eq!(out["report"]["outcome"], "succeeded");
    let version = out["report"]["ananke_version"].as_str().unwrap();
    assert!(version.starts_with(&format!("{} (commit ", env!("CARGO_PKG_VERSION"))), "{version}");
}

#[test]
fn bootstrap_says_what_it_decided() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, _, stderr) = sim(&state, &["startup", "--execute", "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = sim(&state, &["bootstrap", "--execute", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let out = json(&stdout);
    assert_eq!(out["bootstrap"]["starts_up"], false, "{out}");
    assert!(out["target"].is_null() && out.get("report").is_none(), "{out}");

    let (code, _, stderr) = sim(&state, &["shutdown", "--execute", "--reason", "drill", "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = sim(&state, &["bootstrap", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let out = json(&stdout);
    assert_eq!((out["command"].as_str(), out["bootstrap"]["starts_up"].as_bool()), (Some("bootstrap"), Some(true)));
    assert!(out["bootstrap"]["why"].as_str().unwrap().contains("ananke shut the cluster down (drill)"), "{out}");
    assert!(out["plan"]["effects"].as_array().is_some_and(|e| !e.is_empty()), "{out}");
    let (code, stdout, stderr) = sim(&state, &["bootstrap", "--execute", "--json", "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let out = json(&stdout);
    assert_eq!((out["execute"].as_bool(), out["report"]["outcome"].as_str()), (Some(true), Some("succeeded")));
    assert!(out["report"]["reason"].as_str().unwrap().starts_with("bootstrap: "), "{out}");
}
