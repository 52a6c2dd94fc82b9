//! What the binary does when its surroundings fail: stdout that cannot be written (a full disk,
//! a closed pipe), no file descriptors left for its runtime, no config to find, a NUT password
//! file that is missing, a daemon status file that cannot be written.

use crate::common::{ananke, sim};
use ananke_cli::exit;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn code(c: u8) -> i32 {
    i32::from(c)
}

/// The binary as a plain `std` command, whose stdout a test can point anywhere.
fn plain() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("ananke"));
    cmd.env_remove("ANANKE_CONFIG").env_remove("ANANKE_STATE_DIR");
    cmd
}

/// Run `ananke ARGS` with at most `files` open file descriptors: too few for its async runtime.
fn with_fd_limit(files: u32, args: &str) -> (i32, String) {
    let bin = assert_cmd::cargo::cargo_bin("ananke");
    let out =
        Command::new("sh").arg("-c").arg(format!("ulimit -n {files}; exec {} {args}", bin.display())).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn stdout_on_a_full_disk_is_a_state_io_error() {
    for args in
        [&["config", "schema"][..], &["config", "check", "--config-only", "--config", "examples/titan-lab.yaml"]]
    {
        let out = plain()
            .current_dir(crate::common::repo())
            .args(args)
            .stdout(File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code(exit::STATE_IO)), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_closed_pipe_on_stdout_is_not_an_error() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = plain().args(["config", "schema"]).stdout(Stdio::from(writer)).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "quietly: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn no_file_descriptors_for_the_runtime_is_a_state_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").display().to_string();
    for command in ["bootstrap", "startup"] {
        let (c, stderr) = with_fd_limit(5, &format!("{command} --sim titan-lab --state-dir {state}"));
        assert_eq!(c, code(exit::STATE_IO), "{command}: {stderr}");
        assert!(stderr.contains("Too many open files"), "{command}: {stderr}");
    }
    // Not the daemon: it builds no async runtime (its idle poll is blocking), and a UPS it cannot
    // open a socket to is an unreachable UPS, reported at every poll, not a reason to stop.
}

#[test]
fn without_a_config_or_a_scenario_commands_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    for command in ["bootstrap", "startup", "daemon"] {
        let out = ananke().args([command, "--config"]).arg(&missing).output().unwrap();
        assert_eq!(out.status.code(), Some(code(exit::USAGE_OR_CONFIG)), "{command}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"), "{command}");
    }
    let out =
        ananke().args(["bootstrap", "--sim", "no-such-scenario", "--state-dir"]).arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code(exit::USAGE_OR_CONFIG)), "{stderr}");
    assert!(stderr.contains("no-such-scenario"), "{stderr}");
}

fn titan_lab_config(dir: &Path, tweak: impl FnOnce(&mut ananke_core::Config)) -> PathBuf {
    let mut config = ananke_sim::builtin("titan-lab").unwrap().ananke_config();
    config.state_dir = dir.join("config-state");
    tweak(&mut config);
    let path = dir.join("ananke.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    path
}

#[test]
fn a_missing_nut_password_file_stops_the_daemon_and_a_missing_ssh_key_a_real_cluster_status() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nut-password");
    let config = titan_lab_config(dir.path(), |c| {
        c.ssh.identity_file = c.state_dir.join("missing-ssh-key");
        c.power_domains[0].ups.username = Some("monitor".into());
        c.power_domains[0].ups.password_file = Some(missing.clone());
    });
    let (c, _, stderr) = sim(&dir.path().join("state"), &["daemon", "--config", config.to_str().unwrap()]);
    assert_eq!(c, code(exit::USAGE_OR_CONFIG), "{stderr}");
    assert!(stderr.contains("nut-password"), "{stderr}");
    let out = ananke().args(["status", "--config"]).arg(&config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code(exit::USAGE_OR_CONFIG)), "{stderr}");
    assert!(stderr.contains("missing-ssh-key"), "{stderr}");
}

#[test]
fn a_daemon_that_cannot_write_its_status_says_so_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("daemon-status.json")).unwrap();
    // No upsd listens on port 1: the daemon polls an unreachable UPS.
    let config = titan_lab_config(dir.path(), |c| {
        for d in &mut c.power_domains {
            d.ups.port = 1;
        }
        c.daemon.poll_interval = ananke_core::config::HumanDuration(Duration::from_millis(100));
    });
    let mut daemon = Command::new(assert_cmd::cargo::cargo_bin("ananke"))
        .args(["daemon", "--sim", "titan-lab", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let alive = matches!(daemon.try_wait(), Ok(None));
    Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().unwrap();
    let start = Instant::now();
    let out = daemon.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(alive, "the daemon goes on: {stderr}");
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("daemon: cannot write its status: "), "{stderr}");
}
