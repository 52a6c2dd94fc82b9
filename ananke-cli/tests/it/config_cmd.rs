//! `config check`, `config schema`, bad configs and bad flags: documented exit codes and messages
//! that name the problem.

use crate::common::{ananke, repo};
use ananke_cli::exit;

#[test]
fn the_example_config_checks_with_a_summary() {
    let out = ananke()
        .args(["config", "check", "--config-only", "--config"])
        .arg(repo().join("examples/titan-lab.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(i32::from(exit::SUCCESS)), "{stdout}");
    assert!(stdout.contains("titan-lab.yaml: ok"), "{stdout}");
    assert!(stdout.contains("statera") && stdout.contains("pyrphoros"), "{stdout}");
    assert!(stdout.contains("files: not checked (--config-only)"), "{stdout}");
    assert!(!stdout.contains("warning:"), "cluster-only deserves no warning: {stdout}");
}

#[test]
fn a_config_whose_plain_shutdown_powers_hosts_off_checks_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts.yaml");
    let good = std::fs::read_to_string(repo().join("examples/titan-lab.yaml")).unwrap();
    std::fs::write(&path, good.replacen("  mode: cluster-only", "  mode: cluster-and-hosts", 1)).unwrap();
    let out = ananke().args(["config", "check", "--config-only", "--config"]).arg(&path).output().unwrap();
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

/// The example config with every file it names made real in `dir` (a key 0600, a `known_hosts`,
/// a NUT password 0600, the unseal shares 0600, a breakglass program 0755, the state dir).
fn config_with_real_files(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let example = std::fs::read_to_string(repo().join("examples/titan-lab.yaml")).unwrap();
    let mut config: ananke_core::Config = serde_yaml_ng::from_str(&example).unwrap();
    let file = |name: &str, mode: u32| {
        let path = dir.join(name);
        std::fs::write(&path, "x\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    };
    config.ssh.identity_file = file("id_ed25519", 0o600);
    config.ssh.known_hosts = file("known_hosts", 0o644);
    config.kubernetes.kubeconfig = Some(file("kubeconfig", 0o600));
    for domain in &mut config.power_domains {
        domain.ups.password_file = Some(file("nut.password", 0o600));
    }
    let vault = config.vault.as_mut().expect("the example has Vault");
    vault.unseal_keys = ananke_core::config::UnsealKeySource::File(file("shares", 0o600));
    vault.ca_file = None;
    config.startup.vault_unseal_breakglass_command = Some(ananke_core::config::CommandSpec {
        argv: vec![file("breakglass", 0o755).display().to_string()],
        timeout: ananke_core::config::HumanDuration::secs(5),
    });
    config.state_dir = dir.join("state");
    let path = dir.join("ananke.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    path
}

#[test]
fn config_check_checks_the_files_the_run_will_touch() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = config_with_real_files(dir.path());
    let out = ananke().args(["config", "check", "--config"]).arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("files: 8 checked"), "{stdout}");
    assert!(stdout.contains("(from the config's kubernetes.kubeconfig)"), "{stdout}");

    std::fs::set_permissions(dir.path().join("id_ed25519"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_file(dir.path().join("known_hosts")).unwrap();
    std::fs::set_permissions(dir.path().join("breakglass"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_file(dir.path().join("kubeconfig")).unwrap();
    let out = ananke().args(["config", "check", "--config"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE_OR_CONFIG)), "{stderr}");
    assert!(stderr.starts_with("error: invalid config (4 problems):"), "{stderr}");
    let text = std::fs::read_to_string(&path).unwrap();
    let line_of = |field: &str| 1 + text.lines().position(|l| l.trim_start().starts_with(field)).unwrap();
    for (field, key, why) in [
        ("ssh.identity_file", "identity_file:", "is readable by every user (mode 0644) and holds a secret"),
        ("ssh.known_hosts", "known_hosts:", "does not exist"),
        ("kubernetes.kubeconfig", "kubeconfig:", "does not exist"),
    ] {
        let want = format!("{}:{}:", path.display(), line_of(key));
        let line = stderr.lines().find(|l| l.contains(field)).unwrap_or_else(|| panic!("{field}: {stderr}"));
        assert!(line.trim_start().starts_with(&want) && line.contains(why), "{line}\nwants {want} … {why}");
    }
    assert!(stderr.contains("startup.vault_unseal_breakglass_command.argv[0]: breakglass command"), "{stderr}");
    assert!(stderr.contains("is not executable by uid"), "{stderr}");

    let out = ananke().args(["config", "check", "--json", "--config"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE_OR_CONFIG)));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((json["version"].as_u64(), json["ok"].as_bool()), (Some(1), Some(false)), "{json}");
    let fields: Vec<&str> = json["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields.len(), 4, "{json}");
    assert!(fields.contains(&"ssh.known_hosts") && json["problems"][0]["line"].is_u64(), "{json}");
    assert_eq!(json["summary"]["cluster"], "titan", "{json}");
    assert_eq!(json["summary"]["power_domains"][0], serde_json::json!({"name": "statera", "nodes": 3}), "{json}");
    let only = ananke().args(["config", "check", "--json", "--config-only", "--config"]).arg(&path).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&only.stdout).unwrap();
    assert_eq!(
        (only.status.code(), json["ok"].as_bool(), json["summary"]["files_checked"].as_u64()),
        (Some(0), Some(true), Some(0))
    );
}

#[test]
fn config_check_json_of_an_invalid_or_missing_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    let good = std::fs::read_to_string(repo().join("examples/titan-lab.yaml")).unwrap();
    std::fs::write(&path, good.replacen("expected_flux_branch:", "expected_flux_brnch:", 1)).unwrap();
    let out = ananke().args(["config", "check", "--json", "--config"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE_OR_CONFIG)));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert!(json["summary"].is_null() && json["problems"][0]["field"] == "expected_flux_brnch", "{json}");
    let out = ananke().args(["config", "check", "--json", "--config", "/nonexistent/a.yaml"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["problems"][0]["message"].as_str().unwrap().contains("/nonexistent/a.yaml"), "{json}");
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
