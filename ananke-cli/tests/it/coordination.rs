//! Coordination between two ananke instances over real sshd (the `ananke_testing::sshd` fleet):
//! instance A (coordinator, titan-db = fleet node 1) and instance B (peer, titan-24 = fleet node
//! 2), each with its own state dir on this machine (sshd runs locally, so a "remote" state dir is
//! just another local dir). A refuses to start while B runs (unless `--force`), proceeds with a
//! warning when B's lock is stale or B is unreachable; a peer daemon defers to a reachable
//! coordinator and acts when it is unreachable.

use crate::common::ananke;
use ananke_cli::coordination::ShutdownGate;
use ananke_cli::exit;
use ananke_core::config::{CoordinationRole, DaemonSettings};
use ananke_core::power::{ClusterPhase, PowerDecision, PowerPolicy, Severity};
use ananke_core::store::lock::{LockHolder, LOCK_FILE};
use ananke_core::{Config, Time};
use ananke_testing::sshd::SshdFleet;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// Two instances' configs and state dirs over a two-node sshd fleet.
struct Lab {
    fleet: SshdFleet,
    dir: tempfile::TempDir,
    /// A's state dir (the coordinator, titan-db).
    a: PathBuf,
    /// B's state dir (the peer, titan-24).
    b: PathBuf,
}

/// A process that stands for a live run holding a lock; killed on drop.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Lab {
    fn start() -> Lab {
        let fleet = SshdFleet::start(2).unwrap_or_else(|e| panic!("sshd fleet (package openssh-server): {e}"));
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        Lab { fleet, dir, a, b }
    }

    /// The titan-lab config of one instance: ssh pointed at the fleet, titan-db and titan-24 at
    /// fleet nodes 1 and 2, the other instance as its peer.
    fn config(&self, role: CoordinationRole) -> Config {
        let mut config = ananke_sim::builtin("titan-lab").unwrap().ananke_config();
        config.ssh = self.fleet.ssh_settings();
        for node in &mut config.inventory.nodes {
            let index = match node.name.as_str() {
                "titan-db" => 0,
                "titan-24" => 1,
                _ => continue,
            };
            node.address = self.fleet.nodes()[index].address.to_string();
            node.ssh_port = self.fleet.nodes()[index].port;
        }
        let c = &mut config.coordination;
        c.role = role;
        let (me, peer, peer_dir) = match role {
            CoordinationRole::Coordinator => ("titan-db", "titan-24", &self.b),
            CoordinationRole::Peer => ("titan-24", "titan-db", &self.a),
        };
        c.local_node = Some(me.to_owned());
        c.peer_hosts = vec![peer.to_owned()];
        c.peer_state_dir.clone_from(peer_dir);
        config
    }

    fn write(&self, name: &str, config: &Config) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_yaml_ng::to_string(config).unwrap()).unwrap();
        path
    }

    /// `ananke ARGS --sim titan-lab --config CONFIG --state-dir STATE` -> (code, stdout, stderr).
    fn ananke(config: &Path, state: &Path, args: &[&str]) -> (i32, String, String) {
        let out = ananke()
            .args(args)
            .args(["-q", "--sim", "titan-lab", "--config"])
            .arg(config)
            .arg("--state-dir")
            .arg(state)
            .output()
            .expect("ananke runs");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }

    /// A's `shutdown --execute --reason drill` with A's config.
    fn shutdown_a(&self, extra: &[&str]) -> (i32, String, String) {
        let config = self.write("a.yaml", &self.config(CoordinationRole::Coordinator));
        let mut args = vec!["shutdown", "--execute", "--reason", "drill"];
        args.extend_from_slice(extra);
        Self::ananke(&config, &self.a, &args)
    }
}

fn write_lock(state: &Path, pid: u32, run: &str) {
    let holder = LockHolder {
        pid,
        run_id: run.into(),
        command: "shutdown".into(),
        since: "2026-11-23T00:00:00Z".into(),
        boot_id: None,
    };
    std::fs::write(state.join(LOCK_FILE), serde_json::to_vec_pretty(&holder).unwrap()).unwrap();
}

/// A live process to name in a lock.
fn live() -> Holder {
    Holder(Command::new("sleep").arg("60").spawn().unwrap())
}

fn report_warnings(state: &Path) -> Vec<String> {
    let report: Value = crate::common::read_json(&state.join("last-shutdown-report.json"));
    report["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_owned()).collect()
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_peer_running_a_run_refuses_the_coordinators_run_unless_forced() {
    let lab = Lab::start();
    let holder = crate::common::LockHeld::start(&lab.b, "shutdown-peer-live", "shutdown");
    let (code, _, stderr) = lab.shutdown_a(&[]);
    assert_eq!(code, i32::from(exit::LOCK_HELD), "{stderr}");
    let pid = format!("pid {}", holder.pid());
    for needle in ["peer titan-24 is running ananke shutdown", "shutdown-peer-live", pid.as_str(), "--force"] {
        assert!(stderr.contains(needle), "the refusal names {needle:?}: {stderr}");
    }
    assert!(crate::common::lock_released(&lab.a), "the refused run released its own lock");
    assert!(!lab.a.join("last-shutdown-report.json").exists(), "the refused run changed nothing");

    let (code, stdout, stderr) = lab.shutdown_a(&["--force"]);
    assert_eq!(code, 0, "{stderr}");
    let warnings = report_warnings(&lab.a);
    let overridden =
        warnings.iter().find(|w| w.starts_with("--force: overrode peer titan-24's running ananke shutdown"));
    assert!(overridden.is_some_and(|w| w.contains("shutdown-peer-live") && w.contains(&pid)), "{warnings:?}");
    assert!(stdout.contains("--force: overrode peer titan-24"), "the summary shows it: {stdout}");
    assert!(ananke_core::store::lock::held(&lab.b).is_some(), "the peer's lock is never touched");
}

#[test]
fn a_peer_that_died_holding_its_lock_does_not_block() {
    let lab = Lab::start();
    let mut gone = live();
    let pid = gone.0.id();
    gone.0.kill().unwrap();
    gone.0.wait().unwrap();
    write_lock(&lab.b, pid, "shutdown-peer-died");
    let (code, _, stderr) = lab.shutdown_a(&[]);
    assert_eq!(code, 0, "{stderr}");
    let warnings = report_warnings(&lab.a);
    assert!(
        warnings.iter().any(|w| w.contains("peer titan-24 holds a stale lock") && w.contains("shutdown-peer-died")),
        "{warnings:?}"
    );
}

#[test]
fn an_unreachable_peer_does_not_block() {
    let lab = Lab::start();
    let mut config = lab.config(CoordinationRole::Coordinator);
    let peer = config.inventory.nodes.iter_mut().find(|n| n.name == "titan-24").unwrap();
    "127.0.0.1".clone_into(&mut peer.address);
    peer.ssh_port = closed_port();
    let path = lab.write("a-peer-down.yaml", &config);
    let (code, _, stderr) = Lab::ananke(&path, &lab.a, &["shutdown", "--execute", "--reason", "drill"]);
    assert_eq!(code, 0, "{stderr}");
    let warnings = report_warnings(&lab.a);
    assert!(
        warnings.iter().any(|w| w.starts_with("peer titan-24 is unreachable: node titan-24: cannot connect")),
        "{warnings:?}"
    );
}

#[test]
fn a_real_run_on_the_coordinator_refuses_the_peers_run() {
    let lab = Lab::start();
    let config_a = lab.write("a.yaml", &lab.config(CoordinationRole::Coordinator));
    let config_b = lab.write("b.yaml", &lab.config(CoordinationRole::Peer));
    // B with A idle: nothing to report, B proceeds.
    let (code, _, stderr) = Lab::ananke(&config_b, &lab.b, &["shutdown", "--execute", "--reason", "drill"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("warning:"), "an idle coordinator is no warning: {stderr}");
    // A real run of A, frozen while it holds its lock, refuses B's next run.
    let mut first = Command::new(assert_cmd::cargo::cargo_bin("ananke"))
        .args(["shutdown", "--execute", "--reason", "drill", "-q", "--sim", "titan-lab", "--config"])
        .arg(&config_a)
        .arg("--state-dir")
        .arg(&lab.a)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while ananke_core::store::lock::held(&lab.a).is_none() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = first.id().to_string();
    let frozen = Command::new("kill").args(["-STOP", &pid]).status().unwrap().success();
    let holds = ananke_core::store::lock::held(&lab.a).is_some();
    let (code, _, stderr) = Lab::ananke(&config_b, &lab.b, &["shutdown", "--execute", "--reason", "again"]);
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    let first_code = first.wait().unwrap().code();
    assert!(frozen && holds, "A's run should have held its lock");
    assert_eq!(code, i32::from(exit::LOCK_HELD), "{stderr}");
    assert!(
        stderr.contains("coordinator titan-db is running ananke shutdown") && stderr.contains(&format!("pid {pid}")),
        "{stderr}"
    );
    assert_eq!(first_code, Some(0), "A's run completes");
}

/// The policy's shutdown decision as it comes out of `PowerPolicy::handle`, with the policy in
/// the phase that decision leaves it in.
fn shutdown_decided() -> (PowerPolicy, Vec<PowerDecision>) {
    let policy = PowerPolicy::new(DaemonSettings::default(), ClusterPhase::ShuttingDown, Duration::from_secs(600));
    let decisions = vec![
        PowerDecision::Report {
            severity: Severity::Warning,
            message: "shutting the cluster down for statera: low battery or forced shutdown".into(),
        },
        PowerDecision::StartShutdown { reason: "power-statera".into() },
    ];
    (policy, decisions)
}

#[test]
fn a_peer_daemon_defers_to_a_reachable_coordinator_and_acts_without_it() {
    let lab = Lab::start();
    let config = lab.config(CoordinationRole::Peer);
    let mut gate = ShutdownGate::new(&config);
    let (mut policy, decisions) = shutdown_decided();
    let out = gate.filter(&mut policy, Time(1), decisions.clone());
    assert_eq!(
        out,
        [PowerDecision::Report {
            severity: Severity::Notice,
            message: "shutting the cluster down for statera: low battery or forced shutdown; not acted on: \
                      coordinator titan-db is reachable: it decides"
                .into()
        }]
    );
    assert_eq!(policy.phase(), ClusterPhase::Up, "the policy knows no shutdown runs and asks again");
    let (mut policy, decisions) = shutdown_decided();
    assert_eq!(gate.filter(&mut policy, Time(2), decisions), [], "a deferral is reported once");
    gate.close();
    let mut config = config;
    let coordinator = config.inventory.nodes.iter_mut().find(|n| n.name == "titan-db").unwrap();
    "127.0.0.1".clone_into(&mut coordinator.address);
    coordinator.ssh_port = closed_port();
    let mut gate = ShutdownGate::new(&config);
    let (mut policy, decisions) = shutdown_decided();
    let out = gate.filter(&mut policy, Time(1), decisions);
    assert_eq!(policy.phase(), ClusterPhase::ShuttingDown);
    assert!(matches!(out.last(), Some(PowerDecision::StartShutdown { .. })), "{out:?}");
    let acts = out.iter().any(|d| matches!(d, PowerDecision::Report { message, .. } if message.starts_with("coordinator titan-db is unreachable") && message.ends_with("this peer acts on its own UPS")));
    assert!(acts, "{out:?}");
    // A coordinator's gate lets its decisions through untouched.
    let mut gate = ShutdownGate::new(&lab.config(CoordinationRole::Coordinator));
    let (mut policy, decisions) = shutdown_decided();
    assert_eq!(gate.filter(&mut policy, Time(1), decisions.clone()), decisions);
}

#[test]
fn a_broken_ssh_identity_is_a_warning_for_a_run_and_lets_a_peer_daemon_act() {
    let lab = Lab::start();
    let mut config = lab.config(CoordinationRole::Coordinator);
    config.ssh.identity_file = lab.dir.path().join("no-such-key");
    let path = lab.write("a-no-key.yaml", &config);
    let (code, _, stderr) = Lab::ananke(&path, &lab.a, &["shutdown", "--execute", "--reason", "drill"]);
    assert_eq!(code, 0, "{stderr}");
    let warnings = report_warnings(&lab.a);
    assert!(
        warnings.iter().any(|w| w.starts_with("cannot check the peer hosts over SSH (identity file")),
        "{warnings:?}"
    );
    let mut config = lab.config(CoordinationRole::Peer);
    config.ssh.identity_file = lab.dir.path().join("no-such-key");
    let mut gate = ShutdownGate::new(&config);
    let (mut policy, decisions) = shutdown_decided();
    let out = gate.filter(&mut policy, Time(1), decisions);
    assert!(matches!(out.last(), Some(PowerDecision::StartShutdown { .. })), "{out:?}");
    assert!(
        matches!(&out[1], PowerDecision::Report { message, .. } if message.starts_with("the coordinator cannot be checked")),
        "{out:?}"
    );
}

#[test]
fn a_lock_that_cannot_be_read_in_time_or_a_state_dir_no_command_can_carry_is_unreadable() {
    use ananke_core::adapters::ssh::{PeerCheck, PeerState};
    use std::os::unix::ffi::OsStrExt;
    let lab = Lab::start();
    let config = lab.config(CoordinationRole::Coordinator);
    let peers: Vec<_> = config.inventory.nodes.iter().filter(|n| n.name == "titan-24").cloned().collect();
    let mut ssh = config.ssh.clone();
    ssh.command_timeout = ananke_core::config::HumanDuration::secs(1);
    // A lock that never finishes reading (a FIFO nobody writes): bounded by the command timeout.
    let fifo = lab.b.join(LOCK_FILE);
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let hung = PeerCheck::new(&ssh, &peers, &lab.b).unwrap();
    let reports = rt.block_on(hung.check_all());
    assert!(
        matches!(&reports[0].state, PeerState::Unreadable(why) if why.contains("did not finish within")),
        "{reports:?}"
    );
    let odd = Path::new(std::ffi::OsStr::from_bytes(b"/var/lib/\xff"));
    let reports = rt.block_on(PeerCheck::new(&ssh, &peers, odd).unwrap().check_all());
    assert!(
        matches!(&reports[0].state, PeerState::Unreadable(why) if why.contains("not a path a command line can carry")),
        "{reports:?}"
    );
    let v = ananke_cli::coordination::run_verdict(CoordinationRole::Coordinator, &reports, false);
    assert!(
        v.refusals.is_empty() && v.warnings[0].starts_with("peer titan-24: its run lock could not be checked"),
        "{v:?}"
    );
    rt.block_on(hung.close());
}
