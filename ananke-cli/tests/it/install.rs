//! The systemd units verify, the installer installs every file with its mode into a temporary
//! root and never overwrites a config, and `bootstrap` starts up only when it should.

use crate::common::{repo, sim};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const UNITS: [&str; 4] = ["ananke.service", "ananke-bootstrap.service", "ananke-update.service", "ananke-update.timer"];

/// The value of `key=` in unit `text` (the last assignment wins, as in systemd).
fn property<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().rev().find_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn every_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let binary = assert_cmd::cargo::cargo_bin("ananke");
    for unit in UNITS {
        let text = std::fs::read_to_string(repo().join("systemd").join(unit)).unwrap();
        // Verify checks that ExecStart is executable: point it at the build's files.
        let text = text
            .replace("/usr/local/bin/ananke", &binary.display().to_string())
            .replace("/usr/local/lib/ananke/update.sh", &repo().join("scripts/update.sh").display().to_string());
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(UNITS.map(|u| dir.path().join(u)))
        .output()
        .expect("systemd-analyze is installed (package systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
}

#[test]
fn the_units_say_what_the_seed_and_design_require() {
    let unit = |name: &str| std::fs::read_to_string(repo().join("systemd").join(name)).unwrap();
    let daemon = unit("ananke.service");
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/ananke",
        "NoNewPrivileges=yes",
        "ExecStart=/usr/local/bin/ananke daemon",
    ] {
        assert!(daemon.contains(line), "ananke.service lacks {line}");
    }
    // A run the daemon started survives `systemctl restart ananke`: only the main process is
    // signalled, never the rest of the cgroup.
    assert_eq!(property(&daemon, "KillMode"), Some("process"));
    let boot = unit("ananke-bootstrap.service");
    for line in ["After=network-online.target", "ExecStart=/usr/local/bin/ananke bootstrap --execute"] {
        assert!(boot.contains(line), "ananke-bootstrap.service lacks {line}");
    }
    // Not a oneshot: multi-user.target would be ordered after the whole startup and soak.
    assert_eq!(property(&boot, "Type"), Some("exec"));
    assert!(property(&boot, "After").is_some_and(|a| a.split_whitespace().any(|u| u == "time-sync.target")), "{boot}");
    assert!(
        property(&boot, "Wants").is_some_and(|w| !w.contains("time-sync")),
        "time-sync.target is ordered after, never pulled in"
    );
    assert_eq!(property(&boot, "Restart"), Some("no"));
    let update = unit("ananke-update.service");
    assert_eq!(property(&update, "Type"), Some("oneshot"));
    let path = update.lines().find_map(|l| l.strip_prefix("Environment=PATH=")).expect("the update has a PATH");
    assert!(path.split(':').next() == Some("/root/.cargo/bin") && path.contains("/usr/bin"), "{path}");
    let timer = unit("ananke-update.timer");
    assert_eq!(property(&timer, "Unit"), Some("ananke-update.service"));
    assert_eq!(property(&timer, "WantedBy"), Some("timers.target"));
    assert!(property(&timer, "OnCalendar").is_some() && property(&timer, "Persistent") == Some("true"));
}

#[test]
fn the_bootstrap_unit_starts_nothing_twice() {
    // Started again after a completed startup, bootstrap decides again and does nothing.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    assert_eq!(sim(&state, &["shutdown", "--execute", "--reason", "drill"]).0, 0);
    let (code, _, stderr) = sim(&state, &["bootstrap", "--execute"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = sim(&state, &["bootstrap", "--execute"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("nothing to do"), "{stdout}\n{stderr}");
}

fn install(root: &Path) -> std::process::Output {
    Command::new(repo().join("scripts/install.sh"))
        .env("DESTDIR", root)
        .env("ANANKE_BINARY", assert_cmd::cargo::cargo_bin("ananke"))
        .env("ANANKE_ENFORCE_QUALITY_GATE", "0")
        .output()
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

#[test]
fn install_into_a_temporary_root_puts_every_file_with_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let out = install(root);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("skipping the quality gate"), "the override is loud: {stderr}");
    let expect = [
        ("usr/local/bin/ananke", 0o755),
        ("usr/local/lib/ananke/update.sh", 0o755),
        ("usr/local/share/doc/ananke/README.md", 0o644),
        ("etc/systemd/system/ananke.service", 0o644),
        ("etc/systemd/system/ananke-bootstrap.service", 0o644),
        ("etc/systemd/system/ananke-update.service", 0o644),
        ("etc/systemd/system/ananke-update.timer", 0o644),
        ("etc/ananke", 0o750),
        ("etc/ananke/ananke.yaml", 0o640),
        ("var/lib/ananke", 0o750),
        ("var/lib/ananke/reports", 0o750),
    ];
    for (path, want) in expect {
        assert_eq!(mode(&root.join(path)), want, "{path}");
    }
    let installed = root.join("usr/local/bin/ananke");
    let check = Command::new(&installed)
        .args(["config", "check", "--config-only", "--config"])
        .arg(root.join("etc/ananke/ananke.yaml"))
        .output()
        .unwrap();
    assert!(check.status.success(), "the installed example config checks: {}", String::from_utf8_lossy(&check.stderr));

    // A second install never overwrites an operator's config.
    let config = root.join("etc/ananke/ananke.yaml");
    std::fs::write(&config, "# operator's own\n").unwrap();
    let out = install(root);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("keeping the existing"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# operator's own\n");
}

#[test]
fn install_runs_the_quality_gate_by_default() {
    let script = std::fs::read_to_string(repo().join("scripts/install.sh")).unwrap();
    let gate = script.find("scripts/quality_gate.sh\n").expect("install.sh runs the gate");
    let build = script.find("cargo build --profile dist").expect("install.sh builds");
    assert!(gate < build, "the gate runs before the build");
    assert!(script.contains("ANANKE_ENFORCE_QUALITY_GATE:-1"), "enforced unless explicitly 0");
}

#[test]
fn bootstrap_starts_up_only_after_an_ananke_shutdown_or_when_down() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (code, stdout, stderr) = sim(&state, &["bootstrap", "--execute"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("nothing to do"), "{stdout}");
    assert!(!state.join("last-startup-report.json").exists());
    assert_eq!(sim(&state, &["shutdown", "--execute", "--reason", "drill"]).0, 0);
    let (code, stdout, stderr) = sim(&state, &["bootstrap", "--execute"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("ananke shut the cluster down (drill)"), "{stderr}");
    assert!(stdout.contains("Succeeded in state ready"), "{stdout}");
    let (code, stdout, _) = sim(&state, &["bootstrap", "--execute"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing to do"), "after a successful startup: {stdout}");
}
