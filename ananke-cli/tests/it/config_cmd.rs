//! `config check`, `config schema`, bad configs and bad flags: documented exit codes and messages
//! that name the problem.

use crate::common::{ananke, repo};
use ananke_cli::exit;

#[test]
fn the_example_config_checks_with_a_summary() {
    let out =
        ananke().args(["config", "check", "--config"]).arg(repo().join("examples/titan-lab.yaml")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(i32::from(exit::SUCCESS)), "{stdout}");
    assert!(stdout.contains("titan-lab.yaml: ok"), "{stdout}");
    assert!(stdout.contains("statera") && stdout.contains("pyrphoros"), "{stdout}");
    assert!(!stdout.contains("warning:"), "cluster-only deserves no warning: {stdout}");
}

#[test]
fn a_config_whose_plain_shutdown_powers_hosts_off_checks_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts.yaml");
    let good = std::fs::read_to_string(repo().join("examples/titan-lab.yaml")).unwrap();
    std::fs::write(&path, good.replacen("  mode: cluster-only", "  mode: cluster-and-hosts", 1)).unwrap();
    let out = ananke().args(["config", "check", "--config"]).arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(i32::from(exit::SUCCESS)), "valid, with a warning: {stdout}");
    let warning = stdout.split_once("warning: ").map(|(_, w)| w.split_whitespace().collect::<Vec<_>>().join(" "));
    let warning = warning.expect("a warning");
    assert!(
        warning
            .starts_with("shutdown.mode: cluster-and-hosts makes every `ananke shutdown --execute` without `--mode`"),
        "{stdout}"
    );
    assert!(warning.contains("the daemon always shuts down cluster-only"), "{stdout}");
    assert!(stdout.contains("warning: coordination.local_node is unset"), "the example names no local node: {stdout}");
}

#[test]
fn a_bad_config_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    let good = std::fs::read_to_string(repo().join("examples/titan-lab.yaml")).unwrap();
    let bad = good.replacen("expected_flux_branch:", "expected_flux_brnch:", 1);
    std::fs::write(&path, bad).unwrap();
    for cmd in [&["config", "check"][..], &["status"], &["startup"]] {
        let out = ananke().args(cmd).arg("--config").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(i32::from(exit::USAGE_OR_CONFIG)), "{cmd:?}: {stderr}");
        assert!(stderr.contains("bad.yaml:"), "{cmd:?}: {stderr}");
        assert!(stderr.contains("expected_flux_brnch"), "{cmd:?}: {stderr}");
        assert!(stderr.contains("expected_flux_branch"), "suggests the right name: {stderr}");
    }
}

#[test]
fn a_missing_config_is_a_config_error() {
    let out = ananke().args(["config", "check", "--config", "/nonexistent/ananke.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE_OR_CONFIG)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ananke.yaml"));
}

#[test]
fn the_schema_is_json_naming_the_seed_fields() {
    let out = ananke().args(["config", "schema"]).output().unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = schema.to_string();
    for field in [
        "expected_flux_source_url",
        "service_checklist",
        "ignore_unavailable_nodes",
        "peer_hosts",
        "vault_unseal_breakglass_command",
    ] {
        assert!(text.contains(field), "schema lacks {field}");
    }
}

#[test]
fn bad_flags_exit_with_the_usage_code_and_name_the_problem() {
    let cases: &[(&[&str], &str)] = &[
        (&["shutdown", "--execute"], "--reason"),
        (&["startup", "--exectue"], "--exectue"),
        (&["shutdown", "--reason", "x", "--mode", "everything"], "everything"),
        (&["frobnicate"], "frobnicate"),
    ];
    for (args, needle) in cases {
        let out = ananke().args(*args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(i32::from(exit::USAGE_OR_CONFIG)), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn an_unknown_scenario_is_a_usage_error() {
    let out = ananke().args(["status", "--sim", "no-such-lab"]).output().unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE_OR_CONFIG)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-lab"));
}
