//! `ananke daemon` against a real `upsd` with the `dummy-ups` driver (short windows), driving the
//! simulated titan-lab: a blip does nothing, a long outage shuts down when the runtime crosses the
//! budget and not before, low battery at once, stable power brings the cluster back, and a lost
//! upsd is reported under the configured policy. Long timelines are tested on the policy's
//! virtual clock (`ananke_core::power`).

use ananke_core::config::{HumanDuration, UpsLostPolicy};
use ananke_core::store::reports::DaemonStatus;
use ananke_testing::nut::NutServer;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Lab {
    pub nut: NutServer,
    pub daemon: Child,
    pub state: PathBuf,
    /// A run lock the lab holds, for as long as the lab lives.
    lock: Option<crate::common::LockHeld>,
    _dir: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Ok(None) = self.daemon.try_wait() {
            let _ = Command::new("kill").args(["-TERM", &self.daemon.id().to_string()]).status();
            let _ = self.daemon.wait();
        }
    }
}

fn start(tweak: impl FnOnce(&mut ananke_core::config::DaemonSettings)) -> Lab {
    start_with(tweak, &Setup::default())
}

/// What a test changes beyond the daemon settings (each flag its own, independent knob).
#[derive(Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct Setup {
    /// Environment of the daemon.
    pub env: Vec<(&'static str, String)>,
    /// Seconds the Vault share command takes (a startup waits for it).
    pub shares_delay_s: u32,
    /// Run an executed shutdown first, so the daemon starts with the cluster down.
    pub shut_down_first: bool,
    /// A live process holds the run lock, named as a run of this command, when the daemon starts.
    pub lock_held_by: Option<&'static str>,
    /// The Vault share command fails (a startup then fails: titan-lab has no breakglass).
    pub shares_fail: bool,
    /// Run the daemon from this copy of the binary.
    pub binary: Option<PathBuf>,
    /// Read the UPS through the driver's socket (`driver_socket`) instead of polling upsd.
    pub pushed: bool,
    /// The built-in scenario the daemon drives (default `titan-lab`).
    pub scenario: Option<&'static str>,
    /// Run a shutdown first whose deadline cuts it in the middle of quiescing (exit 5), so the
    /// daemon starts with a half-done shutdown in the journal.
    pub failed_shutdown_first: bool,
}

/// A lab as `start` makes it, with `setup`.
pub fn start_with(tweak: impl FnOnce(&mut ananke_core::config::DaemonSettings), setup: &Setup) -> Lab {
    let nut = NutServer::start().expect("upsd and dummy-ups start (packages nut-server, nut-client)");
    let dir = tempfile::tempdir().unwrap();
    let scenario = setup.scenario.unwrap_or("titan-lab");
    let mut config = ananke_sim::builtin(scenario).unwrap().ananke_config();
    for domain in &mut config.power_domains {
        domain.ups =
            if setup.pushed { nut.power_domain_pushed(&domain.name) } else { nut.power_domain(&domain.name) }.ups;
    }
    // The simulated Vault takes any shares; the retrieval itself is real.
    let script = if setup.shares_fail {
        "exit 1".to_owned()
    } else {
        format!("sleep {}; printf 's1\\ns2\\ns3\\n'", setup.shares_delay_s)
    };
    let shares = ananke_core::config::CommandSpec {
        argv: vec!["sh".into(), "-c".into(), script],
        timeout: HumanDuration::secs(60),
    };
    config.vault.as_mut().expect("titan-lab has vault").unseal_keys =
        ananke_core::config::UnsealKeySource::Command(shares);
    let d = &mut config.daemon;
    d.poll_interval = HumanDuration(Duration::from_millis(200));
    d.debounce = HumanDuration::secs(3);
    d.stable_for = HumanDuration::secs(2);
    d.default_shutdown_budget = HumanDuration::secs(60);
    d.safety_margin = 1.0;
    d.stale_after = HumanDuration::secs(3);
    d.min_battery_charge = 10;
    tweak(d);
    let path = dir.path().join("ananke.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    let state = dir.path().join("state");
    if setup.shut_down_first {
        let (code, out, err) = crate::common::sim(
            &state,
            &["shutdown", "--execute", "--reason", "drill", "--config", path.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{out}\n{err}");
    }
    if setup.failed_shutdown_first {
        let mut cut = config.clone();
        cut.shutdown.deadline = HumanDuration::secs(30);
        cut.shutdown.drain_timeout = HumanDuration::secs(20);
        cut.shutdown.scale_down_timeout = HumanDuration::secs(20);
        cut.shutdown.node_stop_timeout = HumanDuration::secs(20);
        let cut_path = dir.path().join("cut.yaml");
        std::fs::write(&cut_path, serde_yaml_ng::to_string(&cut).unwrap()).unwrap();
        let args = ["shutdown", "--execute", "--reason", "drill", "--config", cut_path.to_str().unwrap()];
        let (code, out, err) = crate::common::sim_named(&state, scenario, &args);
        assert_eq!(code, 5, "the deadline cuts the shutdown:\n{out}\n{err}");
        let journal = ananke_core::store::StateDir::new(&state).read_journal().unwrap();
        assert!(journal.shutdown_unfinished() && !journal.pending_lines().is_empty(), "{journal:?}");
    }
    let lock = setup.lock_held_by.map(|command| crate::common::LockHeld::start(&state, "run-held", command));
    let daemon = Command::new(setup.binary.clone().unwrap_or_else(|| assert_cmd::cargo::cargo_bin("ananke")))
        .args(["daemon", "--sim", scenario, "--config"])
        .arg(&path)
        .arg("--state-dir")
        .arg(&state)
        .envs(setup.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lab = Lab { nut, daemon, state, lock, _dir: dir };
    lab.wait_for("the daemon sees the UPS on line", |s| {
        s.domains.iter().all(|d| d.status.reachable && d.status.has("OL"))
    });
    lab
}

impl Lab {
    /// Ends the process holding the run lock (`Setup::shutdown_lock_held`).
    pub fn release_lock(&mut self) {
        if let Some(lock) = self.lock.as_mut() {
            lock.kill();
        }
    }

    pub fn status(&self) -> Option<DaemonStatus> {
        let text = std::fs::read_to_string(self.state.join("daemon-status.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn events(&self) -> String {
        self.status()
            .map(|s| s.events.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    pub fn wait_for(&self, what: &str, cond: impl Fn(&DaemonStatus) -> bool) -> DaemonStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.status().filter(|s| cond(s)) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "timed out waiting for: {what}\nevents:\n{}",
                self.events()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn report(&self, name: &str) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.state.join(name)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

pub fn has_event(s: &DaemonStatus, needle: &str) -> bool {
    s.events.iter().any(|e| e.message.contains(needle))
}

fn reports_exist(state: &Path) -> bool {
    state.join("last-shutdown-report.json").exists()
}

#[test]
fn a_blip_shorter_than_the_debounce_does_nothing() {
    let mut lab = start(|_| {});
    lab.nut.set_state("OB DISCHRG").unwrap();
    lab.wait_for("on battery seen", |s| s.domains.iter().any(|d| d.status.has("OB")));
    lab.nut.set_state("OL").unwrap();
    lab.wait_for("the blip reported", |s| has_event(s, "blip"));
    std::thread::sleep(Duration::from_secs(1));
    assert!(!has_event(&lab.status().unwrap(), "started `ananke shutdown"), "{}", lab.events());
    assert!(!reports_exist(&lab.state));
    let status = Command::new(assert_cmd::cargo::cargo_bin("ananke"))
        .args(["status", "--json", "--sim", "titan-lab", "--state-dir"])
        .arg(&lab.state)
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["daemon"]["phase"], "up", "status shows the daemon: {status}");
    assert!(status["daemon"]["events"].to_string().contains("blip"));
}

#[test]
fn a_long_outage_shuts_down_when_the_runtime_crosses_the_budget_not_before() {
    let mut lab = start(|_| {});
    lab.nut.set_vars(&[("ups.status", "OB DISCHRG"), ("battery.runtime", "600")]).unwrap();
    // Past the debounce with 600 s of runtime against a 60 s budget: nothing yet.
    lab.wait_for("on battery seen", |s| s.domains.iter().any(|d| d.status.has("OB")));
    std::thread::sleep(Duration::from_secs(4));
    assert!(!has_event(&lab.status().unwrap(), "started `ananke shutdown"), "shut down too early:\n{}", lab.events());
    lab.nut.set_vars(&[("battery.runtime", "50")]).unwrap();
    let s = lab.wait_for("a shutdown started", |s| has_event(s, "started `ananke shutdown"));
    assert!(has_event(&s, "under the 60s shutdown budget"), "{}", lab.events());
    lab.wait_for("the shutdown ended", |s| has_event(s, "shutdown run") && has_event(s, "ended"));
    let report = lab.report("last-shutdown-report.json").expect("shutdown report");
    assert_eq!(report["outcome"], "succeeded");
    assert!(report["reason"].as_str().unwrap().starts_with("power-"), "{report}");
    assert_eq!(report["mode"], "cluster-only");
}

#[test]
fn low_battery_shuts_down_at_once_and_stable_power_brings_the_cluster_back() {
    let mut lab = start(|_| {});
    lab.nut.set_vars(&[("ups.status", "OB DISCHRG LB"), ("battery.runtime", "3000")]).unwrap();
    lab.wait_for("a shutdown started", |s| has_event(s, "started `ananke shutdown"));
    lab.wait_for("the cluster down", |s| s.phase == ananke_core::power::ClusterPhase::Down);
    lab.nut.set_vars(&[("ups.status", "OL"), ("battery.charge", "80")]).unwrap();
    lab.wait_for("a startup started", |s| has_event(s, "started `ananke startup"));
    lab.wait_for("the cluster up", |s| s.phase == ananke_core::power::ClusterPhase::Up);
    let report = lab.report("last-startup-report.json").expect("startup report");
    assert_eq!(report["final_state"], "ready");
}

#[test]
fn a_stopped_upsd_is_reported_and_the_alert_policy_keeps_the_cluster() {
    let mut lab = start(|d| d.ups_lost_policy = UpsLostPolicy::Alert);
    lab.nut.stop_upsd();
    let s = lab.wait_for("the loss reported", |s| has_event(s, "unreachable or stale"));
    assert!(has_event(&s, "keeping the cluster as it is"), "{}", lab.events());
    std::thread::sleep(Duration::from_secs(4));
    assert!(!has_event(&lab.status().unwrap(), "started `ananke shutdown"), "{}", lab.events());
    lab.nut.start_upsd().unwrap();
    lab.wait_for("reachable again", |s| has_event(s, "reachable again"));
}

#[test]
fn a_stopped_upsd_under_assume_on_battery_shuts_down_after_the_debounce() {
    let mut lab = start(|d| d.ups_lost_policy = UpsLostPolicy::AssumeOnBattery);
    lab.nut.stop_upsd();
    lab.wait_for("the loss reported", |s| has_event(s, "treating it as on battery"));
    lab.wait_for("a shutdown started", |s| has_event(s, "started `ananke shutdown"));
}

#[test]
fn a_shutdown_that_failed_halfway_is_undone_by_the_daemon_once_power_is_stable() {
    let setup = Setup { failed_shutdown_first: true, ..Setup::default() };
    let journal: ananke_core::Journal = {
        let lab = start_with(|_| {}, &setup);
        // The daemon starts with the changes of a shutdown that did not complete: it waits for
        // stable power (the UPS is on line, past `stable_for`) and starts the cluster up.
        let s = lab.wait_for("a startup started", |s| has_event(s, "started `ananke startup"));
        assert_ne!(s.phase, ananke_core::power::ClusterPhase::ShuttingDown);
        lab.wait_for("the cluster up", |s| s.phase == ananke_core::power::ClusterPhase::Up);
        let report = lab.report("last-startup-report.json").expect("startup report");
        assert_eq!(report["final_state"], "ready", "{report}");
        serde_json::from_value(lab.report("journal.json").expect("journal")).unwrap()
    };
    assert!(!journal.pending_restore(), "everything restored: {journal:?}");
}

#[test]
fn an_incomplete_power_shutdown_is_undone_by_the_daemon_when_power_returns() {
    let setup = Setup { scenario: Some("k3s-wont-stop"), ..Setup::default() };
    let mut lab = start_with(|_| {}, &setup);
    lab.nut.set_vars(&[("ups.status", "OB DISCHRG LB"), ("battery.runtime", "3000")]).unwrap();
    lab.wait_for("a shutdown started", |s| has_event(s, "started `ananke shutdown"));
    let s = lab.wait_for("the shutdown ended", |s| has_event(s, "shutdown run") && has_event(s, "ended"));
    assert!(has_event(&s, "did not complete"), "{}", lab.events());
    let report = lab.report("last-shutdown-report.json").expect("shutdown report");
    assert_eq!(report["outcome"], "incomplete", "{report}");
    assert_eq!(s.budget_s, 60, "an incomplete shutdown leaves the default budget");
    lab.nut.set_vars(&[("ups.status", "OL"), ("battery.charge", "80")]).unwrap();
    lab.wait_for("a startup started", |s| has_event(s, "started `ananke startup"));
    lab.wait_for("the cluster up", |s| s.phase == ananke_core::power::ClusterPhase::Up);
    let report = lab.report("last-startup-report.json").expect("startup report");
    assert_eq!(report["final_state"], "ready", "{report}");
}
