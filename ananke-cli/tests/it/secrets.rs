//! A canary secret in the Vault share commands' output never reaches the state dir or the logs.

use crate::common::{ananke, files_under};
use ananke_core::config::{CommandSpec, HumanDuration, UnsealKeySource};

const CANARY: &str = "CANARY-5ec7e7-share";

fn run_with(standard: &str, breakglass: &str) -> (i32, String, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ananke_sim::builtin("titan-lab").unwrap().ananke_config();
    let sh = |script: &str| CommandSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        timeout: HumanDuration::secs(10),
    };
    config.vault.as_mut().expect("titan-lab has vault").unseal_keys = UnsealKeySource::Command(sh(standard));
    config.startup.vault_unseal_breakglass_command = Some(sh(breakglass));
    let path = dir.path().join("ananke.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    let state = dir.path().join("state");
    let out = ananke()
        .args(["startup", "--execute", "-v", "--sim", "titan-lab", "--config"])
        .arg(&path)
        .arg("--state-dir")
        .arg(&state)
        .output()
        .unwrap();
    let logs = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), logs, state, dir)
}

fn assert_no_canary(logs: &str, state: &std::path::Path) {
    assert!(!logs.contains(CANARY), "the canary leaked into the logs:\n{logs}");
    let files = files_under(state);
    assert!(files.len() >= 5, "reports were written: {files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(CANARY), "the canary leaked into {}", file.display());
    }
}

#[test]
fn standard_shares_never_leak() {
    let script = format!("for i in 1 2 3 4 5; do echo {CANARY}-$i; done");
    let (code, logs, state, _dir) = run_with(&script, "exit 1");
    assert_eq!(code, 0, "{logs}");
    assert_no_canary(&logs, &state);
}

#[test]
fn failing_standard_retrieval_and_breakglass_shares_never_leak() {
    let failing = format!("echo {CANARY}-in-an-error; echo {CANARY} >&2; exit 7");
    let breakglass = format!("for i in 1 2 3; do echo {CANARY}-bg-$i; done");
    let (code, logs, state, _dir) = run_with(&failing, &breakglass);
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("unseal-vault-breakglass"), "the breakglass path ran: {logs}");
    assert_no_canary(&logs, &state);
}
