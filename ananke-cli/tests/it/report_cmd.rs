//! `report`, `status` and `bootstrap` on the paths a routine run does not take: a run named by
//! id, a missing or damaged report, a run in progress, a damaged state file, a cluster that is
//! down, and the state dir resolved without `--state-dir`.

use crate::common::{ananke, json, read_json, sim};
use ananke_cli::exit;
use ananke_core::power::ClusterPhase;
use ananke_core::store::reports::{DaemonEvent, DaemonStatus, REPORT_VERSION};

fn code(c: u8) -> i32 {
    i32::from(c)
}

#[test]
fn report_show_list_and_last_by_command() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code_list, empty, _) = sim(&state, &["report", "list"]);
    assert_eq!(code_list, 0);
    assert!(empty.starts_with("no reports in ") && empty.contains("reports"), "{empty}");
    let (c, _, stderr) = sim(&state, &["report"]);
    assert_eq!(c, code(exit::USAGE_OR_CONFIG));
    assert!(stderr.contains("error: no report yet in"), "{stderr}");
    assert_eq!(sim(&state, &["shutdown", "--execute", "--reason", "drill"]).0, 0);
    assert_eq!(sim(&state, &["startup", "--execute"]).0, 0);
    let (c, listed, _) = sim(&state, &["report", "list", "--json"]);
    assert_eq!(c, 0);
    let listed = json(&listed);
    assert_eq!(listed["version"], 1, "{listed}");
    let rows = listed["reports"].as_array().unwrap();
    let ids: Vec<String> = rows.iter().map(|r| r["run_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!((rows[0]["command"].as_str(), rows[0]["outcome"].as_str()), (Some("shutdown"), Some("succeeded")));
    assert_eq!((rows[0]["reason"].as_str(), rows[1]["reason"].as_str()), (Some("drill"), None));
    assert!(rows[1]["duration_ms"].as_u64() > Some(0) && rows[1]["started_at"].is_string(), "{listed}");
    let (c, text, _) = sim(&state, &["report", "list"]);
    assert_eq!(c, 0);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("run ") && lines[0].contains("outcome") && lines[0].ends_with("reason"), "{text}");
    assert!(lines[1].starts_with(&ids[0]) && lines[1].contains(" shutdown ") && lines[1].ends_with("drill"), "{text}");
    assert!(lines[2].contains(" startup ") && lines[2].contains(" succeeded "), "{text}");
    // A damaged report is listed as such, with why, and the others still are.
    let first = state.join(format!("reports/{}.json", ids[0]));
    let original = std::fs::read(&first).unwrap();
    std::fs::write(&first, "{ not json").unwrap();
    let (c, text, _) = sim(&state, &["report", "list"]);
    assert_eq!(c, 0, "{text}");
    assert!(text.lines().nth(1).is_some_and(|l| l.contains(" unreadable ")), "{text}");
    assert!(text.lines().nth(2).is_some_and(|l| l.contains(" succeeded ")), "{text}");
    let (_, listed, _) = sim(&state, &["report", "list", "--json"]);
    assert!(json(&listed)["reports"][0]["error"].is_string(), "{listed}");
    std::fs::write(&first, original).unwrap();
    assert!(ids[0].contains("-shutdown-") && ids[1].contains("-startup-"), "oldest first: {ids:?}");
    let (c, shown, _) = sim(&state, &["report", "show", &ids[0], "--json"]);
    assert_eq!(c, 0);
    assert_eq!(json(&shown), read_json(&state.join(format!("reports/{}.json", ids[0]))));
    let (c, text, _) = sim(&state, &["report", "show", &ids[0]]);
    assert_eq!(c, 0);
    assert!(text.starts_with(&format!("shutdown {} on sim:titan-lab: Succeeded in state off", ids[0])), "{text}");
    let (c, last, _) = sim(&state, &["report", "last", "--command", "shutdown", "--json"]);
    assert_eq!(c, 0);
    assert_eq!(json(&last)["reason"], "drill");
    let (c, last, _) = sim(&state, &["report", "last", "--command", "startup"]);
    assert_eq!(c, 0);
    assert!(last.starts_with("startup ") && last.contains("in state ready"), "{last}");
    let (c, _, stderr) = sim(&state, &["report", "show", "no-such-run"]);
    assert_eq!(c, code(exit::USAGE_OR_CONFIG));
    assert!(stderr.contains("error: no report for run no-such-run in"), "{stderr}");
    std::fs::write(state.join(format!("reports/{}.json", ids[1])), "{ damaged").unwrap();
    let (c, _, stderr) = sim(&state, &["report", "show", &ids[1]]);
    assert_eq!(c, code(exit::USAGE_OR_CONFIG));
    assert!(stderr.contains(&format!("{}.json", ids[1])), "the damaged file is named: {stderr}");
    std::fs::write(state.join("last-startup-report.json"), "[").unwrap();
    let (c, _, stderr) = sim(&state, &["report"]);
    assert_eq!(c, code(exit::USAGE_OR_CONFIG));
    assert!(stderr.contains("last-startup-report.json"), "{stderr}");
}

#[test]
fn the_state_dir_comes_from_the_scenario_or_the_config_when_not_given() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ananke()
        .env("TMPDIR", tmp.path())
        .args(["report", "list", "--sim", "/nowhere/My.Lab v2.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let want = tmp.path().join("ananke-sim").join("My_Lab_v2").join("reports");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("no reports in {}\n", want.display()));
    let mut config = ananke_sim::builtin("titan-lab").unwrap().ananke_config();
    config.state_dir = tmp.path().join("from-config");
    let path = tmp.path().join("ananke.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    let out = ananke().arg("report").arg("list").arg("--config").arg(&path).output().unwrap();
    assert!(out.status.success());
    let want = config.state_dir.join("reports");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("no reports in {}\n", want.display()));
    let out = ananke().args(["report", "list", "--config"]).arg(tmp.path().join("missing.yaml")).output().unwrap();
    assert_eq!(out.status.code(), Some(code(exit::USAGE_OR_CONFIG)));
}

#[test]
fn a_bad_scenario_or_config_beside_sim_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _, stderr) = sim(&dir.path().join("s"), &["status", "--config", "/nonexistent/ananke.yaml"]);
    assert_eq!(c, code(exit::USAGE_OR_CONFIG), "{stderr}");
    assert!(stderr.contains("/nonexistent/ananke.yaml"), "{stderr}");
    let out = ananke().args(["status", "--sim", "no-such-scenario", "--state-dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(code(exit::USAGE_OR_CONFIG)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-scenario"));
}

#[test]
fn status_shows_a_run_in_progress_and_a_live_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    assert_eq!(sim(&state, &["startup", "--execute"]).0, 0);
    let holder = crate::common::LockHeld::start(&state, "run-live", "startup");
    let daemon = DaemonStatus {
        version: REPORT_VERSION,
        pid: holder.pid(),
        updated_at: "2026-11-23T00:00:00Z".into(),
        phase: ClusterPhase::Up,
        budget_s: 120,
        domains: Vec::new(),
        child: None,
        events: vec![DaemonEvent { at: "2026-11-23T00:00:00Z".into(), message: "on battery for 2s: a blip".into() }],
    };
    std::fs::write(state.join("daemon-status.json"), serde_json::to_vec(&daemon).unwrap()).unwrap();
    let (c, human, stderr) = sim(&state, &["status"]);
    assert_eq!(c, 0, "{stderr}");
    let want = format!("run in progress: startup run-live (pid {}), ready: every gate passes", holder.pid());
    assert!(human.contains(&want), "{human}");
    assert!(
        human.contains(&format!(
            "daemon: pid {}, cluster Up, shutdown budget 120s; last: on battery for 2s: a blip",
            holder.pid()
        )),
        "{human}"
    );
    assert!(human.contains("Succeeded"), "the last run is listed: {human}");
    let (c, out, _) = sim(&state, &["status", "--json"]);
    assert_eq!(c, 0);
    let value = json(&out);
    assert_eq!(value["run"]["holder"]["run_id"], "run-live");
    assert_eq!(value["run"]["progress"]["outcome"], "succeeded");
    assert_eq!(value["daemon"]["budget_s"], 120);
    std::fs::write(state.join("runs.json"), "{ damaged").unwrap();
    let (c, _, stderr) = sim(&state, &["status"]);
    assert_eq!(c, code(exit::USAGE_OR_CONFIG));
    assert!(stderr.contains("runs.json"), "{stderr}");
}

#[test]
fn status_of_a_lab_that_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    assert_eq!(sim(&state, &["shutdown", "--execute", "--reason", "drill"]).0, 0);
    let (c, human, _) = sim(&state, &["status"]);
    assert_eq!(c, 0);
    assert!(human.starts_with("cluster off on sim:titan-lab (api unreachable)"), "{human}");
    assert!(human.contains("daemon: not running"), "{human}");
    let value = json(&sim(&state, &["status", "--json"]).1);
    assert_eq!(value["api_reachable"], false);
    assert!(value["run"].is_null(), "no lock, no run: {value}");
}

#[test]
fn bootstrap_does_nothing_on_a_running_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (c, out, _) = sim(&state, &["bootstrap", "--execute"]);
    assert_eq!(c, 0);
    assert_eq!(out, "bootstrap: the cluster is up and ananke did not shut it down: nothing to do\n");
    assert!(!state.join("last-startup-report.json").exists(), "nothing was run");
}

#[test]
fn bootstrap_after_ananke_shut_the_cluster_down_starts_it_up() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    assert_eq!(sim(&state, &["shutdown", "--execute", "--reason", "drill"]).0, 0);
    let (c, out, stderr) = sim(&state, &["bootstrap"]);
    assert_eq!(c, 0, "{stderr}");
    assert!(stderr.contains("bootstrap: ananke shut the cluster down (drill): starting up"), "{stderr}");
    assert!(out.starts_with("dry run of startup on sim:titan-lab"), "{out}");
    let (c, out, stderr) = sim(&state, &["bootstrap", "--execute"]);
    assert_eq!(c, 0, "{out}\n{stderr}");
    let report = read_json(&state.join("last-startup-report.json"));
    assert_eq!(report["reason"], "bootstrap: ananke shut the cluster down (drill)");
    assert_eq!(report["final_state"], "ready");
}

#[test]
fn bootstrap_of_a_cluster_that_is_down_without_a_journal_starts_it_up() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    assert_eq!(sim(&state, &["shutdown", "--execute", "--reason", "drill"]).0, 0);
    std::fs::remove_file(state.join("journal.json")).unwrap();
    let (c, out, stderr) = sim(&state, &["bootstrap"]);
    assert_eq!(c, 0, "{stderr}");
    assert!(stderr.contains("bootstrap: the cluster is down (Kubernetes API: "), "{stderr}");
    assert!(out.starts_with("dry run of startup"), "{out}");
    std::fs::write(state.join("journal.json"), "not json").unwrap();
    let (c, _, stderr) = sim(&state, &["bootstrap"]);
    assert_eq!(c, code(exit::USAGE_OR_CONFIG));
    assert!(stderr.contains("journal.json"), "{stderr}");
}

#[test]
fn status_says_when_the_soak_passed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (_, before, _) = sim(&state, &["status", "--json"]);
    let soak = |status: &serde_json::Value| {
        status["gates"].as_array().unwrap().iter().find(|g| g["gate"] == "soak").cloned().expect("a soak line")
    };
    let before = soak(&json(&before));
    assert!(before["reasons"][0].as_str().unwrap().starts_with("no startup has passed the soak yet"), "{before}");
    assert_eq!(sim(&state, &["startup", "--execute", "-q"]).0, 0);
    let (code, status, stderr) = sim(&state, &["status", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let status = json(&status);
    assert_eq!(status["cluster"], "ready");
    let after = soak(&status);
    let last = read_json(&state.join("last-startup-report.json"));
    assert_eq!(after["verdict"], "pass", "{after}");
    let want =
        format!("passed at {} (startup {})", last["finished_at"].as_str().unwrap(), last["run_id"].as_str().unwrap());
    assert_eq!(after["reasons"][0], want.as_str());
    let (_, table, _) = sim(&state, &["status"]);
    let line = table.lines().find(|l| l.trim_start().starts_with("soak")).unwrap();
    assert!(line.contains("pass") && line.contains("passed at"), "{table}");

    // Down again: the soak passed, but the gates before it fail now.
    assert_eq!(sim(&state, &["shutdown", "--execute", "--reason", "drill", "-q"]).0, 0);
    let down = soak(&json(&sim(&state, &["status", "--json"]).1));
    assert!(down["reasons"][0].as_str().unwrap().contains("but a gate before it fails now"), "{down}");
    // A last startup that failed, then a report that cannot be read.
    let path = state.join("last-startup-report.json");
    let mut failed = read_json(&path);
    failed["final_state"] = "failed".into();
    failed["outcome"] = "failed".into();
    std::fs::write(&path, failed.to_string()).unwrap();
    let why = soak(&json(&sim(&state, &["status", "--json"]).1));
    assert!(why["reasons"][0].as_str().unwrap().contains("did not pass the soak"), "{why}");
    std::fs::write(&path, "{ damaged").unwrap();
    let status = json(&sim(&state, &["status", "--json"]).1);
    assert!(status["warnings"].to_string().contains("the last startup report cannot be read"), "{status}");
    assert!(soak(&status)["reasons"][0].as_str().unwrap().starts_with("no startup has passed"), "{status}");
}
