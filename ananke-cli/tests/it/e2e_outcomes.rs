//! Outcomes that the world confirms, end to end: the real `ananke` with its real adapters against
//! `ananke-sim serve`, real sshd (logged into as root, or as a non-root user through real sudo)
//! and real upsd. A shutdown that did not reach a node is never `succeeded`, names the node and
//! the cause, and teaches the daemon's budget nothing.

use crate::common::read_json;
use crate::e2e::{Lab, Login};
use ananke_core::power::shutdown_budget;
use ananke_core::store::reports::Command;
use ananke_core::store::StateDir;
use ananke_core::Config;
use serde_json::Value;

/// The shutdown budget the daemon computes from `runs.json` (`cmd/daemon.rs`'s `budget`).
fn daemon_budget(lab: &Lab) -> std::time::Duration {
    let config: Config = serde_yaml_ng::from_str(&std::fs::read_to_string(&lab.config).unwrap()).unwrap();
    let history = StateDir::new(&lab.state).read_runs().unwrap();
    let past = history.percentile_ms(Command::Shutdown, config.daemon.shutdown_budget_percentile);
    shutdown_budget(past, &config.daemon)
}

/// The default budget: what the daemon assumes before any shutdown succeeded.
fn default_budget(lab: &Lab) -> std::time::Duration {
    let config: Config = serde_yaml_ng::from_str(&std::fs::read_to_string(&lab.config).unwrap()).unwrap();
    shutdown_budget(None, &config.daemon)
}

/// Runs `shutdown --execute`, expects exit 7 (incomplete) and returns the report.
fn incomplete_shutdown(lab: &Lab) -> Value {
    let (code, stdout, stderr) = lab.ananke(&["shutdown", "--execute", "--reason", "drill", "-q"]);
    assert_eq!(code, 7, "{stdout}\n{stderr}");
    assert!(stdout.contains("Incomplete in state incomplete"), "{stdout}");
    let report = read_json(&lab.state.join("last-shutdown-report.json"));
    assert_eq!(report["outcome"], "incomplete");
    let runs = read_json(&lab.state.join("runs.json"));
    assert_eq!(runs["runs"][0]["outcome"], "incomplete");
    assert_eq!(daemon_budget(lab), default_budget(lab), "an incomplete shutdown never shrinks the budget");
    report
}

/// The report's unconfirmed items whose item names `node`, as (cause, detail).
fn unconfirmed_for<'a>(report: &'a Value, node: &str) -> Vec<(&'a str, &'a str)> {
    let items = report["unconfirmed"].as_array().expect("unconfirmed items");
    items
        .iter()
        .filter(|u| u["item"].as_str().is_some_and(|i| i.starts_with(&format!("node {node}:"))))
        .map(|u| (u["cause"].as_str().unwrap(), u["detail"].as_str().unwrap()))
        .collect()
}

/// How often the run executed `key`.
fn executions(report: &Value, key: &str) -> usize {
    report["effects"].as_array().unwrap().iter().filter(|e| e["key"] == key).count()
}

/// Node names of the lab, in inventory (and fleet) order.
fn node_names(lab: &Lab) -> Vec<String> {
    let config: Config = serde_yaml_ng::from_str(&std::fs::read_to_string(&lab.config).unwrap()).unwrap();
    config.inventory.nodes.iter().map(|n| n.name.clone()).collect()
}

#[test]
fn a_drill_as_a_non_root_user_through_sudo_succeeds() {
    let lab = Lab::start_with("titan-lab", Login::Sudo);
    lab.drill();
    let shutdown = read_json(&lab.state.join("last-shutdown-report.json"));
    assert_eq!(shutdown["outcome"], "succeeded");
    assert!(daemon_budget(&lab) < default_budget(&lab), "a confirmed shutdown teaches the budget");
}

#[test]
fn without_the_sudoers_rule_each_stop_is_refused_once_and_the_shutdown_is_incomplete() {
    let lab = Lab::start_with("titan-lab", Login::SudoWithoutRule);
    let report = incomplete_shutdown(&lab);
    for node in node_names(&lab) {
        let items = unconfirmed_for(&report, &node);
        assert_eq!(items.len(), 1, "{node}: {items:?}");
        assert_eq!(items[0].0, "permission-denied", "{node}: {items:?}");
        assert!(
            items[0].1.contains("a password is required") && items[0].1.contains("'sudo' '-n' 'systemctl' 'stop'"),
            "{items:?}"
        );
        assert_eq!(executions(&report, &format!("stop-k3s:{node}")), 1, "{node}: no retry storm");
    }
    // sudo refused before anything ran: no stub on any node saw a stop.
    for i in 1..=lab.fleet().nodes().len() {
        let calls = lab.fleet().stub_calls(i);
        assert!(calls.iter().all(|c| c.get(1).map(String::as_str) == Some("is-active")), "n{i}: {calls:?}");
    }
}

#[test]
fn a_shutdown_where_nothing_answers_is_incomplete_naming_the_api_and_every_node() {
    let mut lab = Lab::start("titan-lab");
    lab.cut_everything();
    let report = incomplete_shutdown(&lab);
    let items = report["unconfirmed"].as_array().unwrap();
    assert_eq!(items[0]["cause"], "api-down", "{items:?}");
    assert_eq!(items[0]["item"], "Flux suspend, workload scale-down and node drain");
    for node in node_names(&lab) {
        let items = unconfirmed_for(&report, &node);
        assert_eq!(items.len(), 1, "{node}: {items:?}");
        assert!(matches!(items[0].0, "unreachable" | "timed-out"), "{node}: {items:?}");
    }
    assert_eq!(report["effect_counts"], serde_json::json!({}), "nothing could be done");
}

#[test]
fn an_agent_refusing_authentication_does_not_hold_the_shutdown_and_is_named() {
    let lab = Lab::start("titan-lab");
    let names = node_names(&lab);
    let index = names.iter().position(|n| n == "titan-04").unwrap() + 1;
    let other = lab.dir.path().join("other_key");
    ananke_testing::sshd::SshdFleet::generate_key(&other).unwrap();
    let public = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    std::fs::write(lab.fleet().dir().join(format!("n{index}/authorized_keys")), public).unwrap();
    let report = incomplete_shutdown(&lab);
    let items = unconfirmed_for(&report, "titan-04");
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].0, "auth-refused", "{items:?}");
    assert!(items[0].1.contains("refused public key authentication"), "{items:?}");
    assert_eq!(report["unconfirmed"].as_array().unwrap().len(), 1, "every other node confirmed stopped: {report}");
    assert_eq!(executions(&report, "stop-k3s:titan-04"), 0, "nothing is sent to a node that refuses ananke");
}

#[test]
fn an_agent_with_a_changed_host_key_is_named_with_the_presented_fingerprint() {
    let lab = Lab::start("titan-lab");
    let index = lab.change_host_key("titan-05");
    let fleet = lab.fleet();
    let report = incomplete_shutdown(&lab);
    let items = unconfirmed_for(&report, "titan-05");
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].0, "host-key-changed", "{items:?}");
    let detail = items[0].1;
    assert!(detail.contains(&fleet.host_fingerprint(index)), "the presented fingerprint: {detail}");
    assert!(detail.contains(&format!("line {index}")), "the known_hosts line: {detail}");
    assert_eq!(report["unconfirmed"].as_array().unwrap().len(), 1, "{report}");
}

#[test]
fn a_lost_journal_is_rebuilt_from_the_annotations_on_the_cluster() {
    let lab = Lab::start("titan-lab");
    let (code, stdout, stderr) = lab.ananke(&["shutdown", "--execute", "--reason", "drill", "-q"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    std::fs::remove_file(lab.state.join("journal.json")).unwrap();
    let (code, stdout, stderr) = lab.ananke(&["bootstrap", "--execute", "-q"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("WARNING: the journal") && stderr.contains("is missing"), "{stderr}");
    let report = lab.check_reports("startup");
    assert_eq!(report["final_state"], "ready", "{report}");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("restore source: the cluster's ananke.io marks (the journal was lost): scale back"),
        "the annotations won: {warnings}"
    );
    assert!(
        warnings.contains("resume Kustomization/flux-system/") && warnings.contains("uncordon titan-"),
        "{warnings}"
    );
    let (_, json, _) = lab.ananke(&["status", "--json"]);
    assert!(!json.contains("pending_restore"), "nothing left to restore: {json}");
}
