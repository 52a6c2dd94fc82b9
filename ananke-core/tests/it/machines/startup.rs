//! Startup: `Off -> NodesUp -> [FluxDeadlocked] -> Converging`, each transition by hand.

use super::lab::{self, config_with};
use super::world::{secs, Driver};
use ananke_core::config::Config;
use ananke_core::effect::Effect;
use ananke_core::gates::GateId;
use ananke_core::journal::{Journal, SourceBefore};
use ananke_core::machine::{EffectOutcome, Input, Machine, StartupMachine, StartupOptions, StartupState};
use ananke_core::observation::{ConditionStatus, FluxKind, Observation, SshStatus, UnitState};
use ananke_core::time::Time;
use std::sync::Arc;

mod converge;
mod flux;
mod restore;
mod soak;

/// A startup machine at time 0.
pub fn startup(config: Arc<Config>, journal: Journal, options: StartupOptions) -> Driver<StartupMachine> {
    Driver::new(StartupMachine::new(config, journal, options, Time::ZERO), Time::ZERO)
}

/// The keys of `effects`.
pub fn keys(effects: &[Effect]) -> Vec<String> {
    effects.iter().map(Effect::key).collect()
}

/// A startup machine driven through `Off` and `NodesUp` with `obs` into the state after them.
pub fn past_nodes_up(config: Arc<Config>, journal: Journal, obs: &Observation) -> Driver<StartupMachine> {
    let mut d = startup(config, journal, StartupOptions::default());
    d.observe(obs);
    assert_eq!(d.machine.state(), StartupState::NodesUp);
    d.observe(obs);
    d
}

#[test]
fn off_starts_every_reachable_server_together_and_agents_only_once_the_api_answers() {
    let mut d = startup(Arc::new(lab::config()), Journal::default(), StartupOptions::default());
    assert_eq!(d.machine.state(), StartupState::Off);
    assert_eq!(d.machine.state_name(), "off");
    assert_eq!(d.machine.poll_timeout(), Some(Time(600_000)), "boot grace first");
    let mut obs = lab::all_down();
    lab::node_mut(&mut obs, "titan-02").ssh = SshStatus::Unreachable("timeout".to_owned());
    let effects = d.observe(&obs);
    assert_eq!(keys(&effects), ["start-k3s:titan-01", "start-k3s:titan-03"]);
    assert!(d.observe(&obs).is_empty(), "in flight: not emitted again");

    // A quorum answers: the agents are started.
    for server in ["titan-01", "titan-03"] {
        lab::node_mut(&mut obs, server).k3s_unit = UnitState::Active;
        d.done(
            &Effect::StartK3s { node: server.to_owned(), role: ananke_core::config::K3sRole::Server },
            EffectOutcome::Ok,
        );
    }
    obs.api.reachable = true;
    let effects = d.observe(&obs);
    assert_eq!(keys(&effects), ["start-k3s:titan-04", "start-k3s:titan-05"]);
    assert_eq!(d.machine.state(), StartupState::Off);

    // Every node Ready: nodes are up.
    d.observe(&lab::healthy());
    assert_eq!(d.machine.state(), StartupState::NodesUp);
    assert_eq!(d.machine.poll_timeout(), Some(Time(3_600_000)), "boot grace stopped, run deadline left");
}

#[test]
fn stopped_entries_leave_the_journal_once_the_node_is_active() {
    let mut journal = Journal::default();
    journal.changes.stopped = ["titan-01".to_owned(), "titan-04".to_owned()].into_iter().collect();
    let mut d = startup(Arc::new(lab::config()), journal, StartupOptions::default());
    let mut obs = lab::all_down();
    lab::node_mut(&mut obs, "titan-01").k3s_unit = UnitState::Active;
    d.observe(&obs);
    assert_eq!(d.machine.journal().changes.stopped.iter().collect::<Vec<_>>(), ["titan-04"]);
}

#[test]
fn boot_grace_without_a_quorum_fails_the_inventory_gate_naming_each_stuck_server() {
    let mut d = startup(Arc::new(lab::config()), Journal::default(), StartupOptions::default());
    let mut obs = lab::all_down();
    lab::node_mut(&mut obs, "titan-02").ssh = SshStatus::Unreachable("no route to host".to_owned());
    d.observe(&obs);
    assert!(d.advance(secs(599)).is_empty());
    assert_eq!(d.machine.state(), StartupState::Off);
    d.advance(secs(1));
    assert_eq!(d.machine.state(), StartupState::Failed);
    assert!(d.machine.is_terminal());
    let failure = d.machine.failure().expect("a failure");
    assert_eq!(failure.gate, Some(GateId::Inventory));
    assert!(failure.reason.starts_with("k3s server quorum not reached: "), "{}", failure.reason);
    assert!(failure.reason.contains("titan-01 unit inactive"), "{}", failure.reason);
    assert!(failure.reason.contains("titan-02 ssh unreachable: no route to host"), "{}", failure.reason);
    assert_eq!(d.machine.poll_timeout(), None, "terminal: no timers");
}

#[test]
fn boot_grace_with_the_api_up_fails_the_ssh_gate_naming_the_node_not_ready() {
    let mut d = startup(Arc::new(lab::config()), Journal::default(), StartupOptions::default());
    let mut obs = lab::healthy();
    let node = lab::node_mut(&mut obs, "titan-05");
    node.kube.as_mut().unwrap().ready = ConditionStatus::False;
    node.kube.as_mut().unwrap().ready_reason = "KubeletNotReady".to_owned();
    lab::node_mut(&mut obs, "titan-04").ssh = SshStatus::AuthFailed("host key mismatch".to_owned());
    d.observe(&obs);
    d.advance(secs(600));
    let failure = d.machine.failure().expect("a failure");
    assert_eq!(failure.gate, Some(GateId::SshReachability));
    assert!(failure.reason.contains("titan-05 Ready=False (KubeletNotReady)"), "{}", failure.reason);
    assert!(failure.reason.contains("titan-04 ssh authentication failed: host key mismatch"), "{}", failure.reason);
}

#[test]
fn ignored_nodes_and_optional_ssh_do_not_hold_the_boot() {
    let config = config_with(|c| {
        c.startup.ignore_unavailable_nodes = vec!["titan-05".to_owned()];
        c.startup.require_node_inventory_reachability = false;
    });
    let mut d = startup(config, Journal::default(), StartupOptions::default());
    let mut obs = lab::healthy();
    lab::node_mut(&mut obs, "titan-05").kube = None;
    lab::node_mut(&mut obs, "titan-04").ssh = SshStatus::Unreachable("timeout".to_owned());
    d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::NodesUp);
}

#[test]
fn nodes_up_uncordons_only_what_ananke_cordoned_and_forces_the_branch_before_the_drift_guard() {
    let mut journal = Journal::default();
    journal.changes.cordoned.insert("titan-04".to_owned());
    journal.changes.already_cordoned.insert("titan-05".to_owned());
    let options = StartupOptions { force_flux_branch: Some("main".to_owned()) };
    let mut d = startup(Arc::new(lab::config()), journal, options);
    let mut obs = lab::healthy();
    for node in ["titan-04", "titan-05"] {
        lab::node_mut(&mut obs, node).kube.as_mut().unwrap().unschedulable = true;
    }
    let source = lab::fx(FluxKind::GitRepository, "flux-system", "flux-system");
    lab::flux_mut(&mut obs, &source).branch = Some("release".to_owned());

    let effects = d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::NodesUp);
    assert_eq!(keys(&effects), ["uncordon:titan-04"]);

    let effects = d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::Converging, "Gitea healthy: no deadlock");
    assert!(effects.contains(&Effect::SetFluxSource {
        object: source.clone(),
        url: None,
        branch: Some("main".to_owned())
    }));
    assert_eq!(
        d.machine.journal().changes.sources_before.get(&source),
        Some(&SourceBefore { url: Some(lab::URL.to_owned()), branch: Some("release".to_owned()) })
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Uncordon { .. })), "in flight");

    lab::node_mut(&mut obs, "titan-04").kube.as_mut().unwrap().unschedulable = false;
    lab::flux_mut(&mut obs, &source).branch = Some("main".to_owned());
    d.observe(&obs);
    assert!(d.machine.journal().changes.cordoned.is_empty(), "confirmed uncordoned");
    assert!(d.machine.journal().changes.already_cordoned.contains("titan-05"));
    assert!(!d.effects().any(|e| *e == Effect::Uncordon { node: "titan-05".to_owned() }));
}

#[test]
fn results_for_effects_not_in_flight_are_diagnostics() {
    let mut d = startup(Arc::new(lab::config()), Journal::default(), StartupOptions::default());
    let effects = d.feed(&Input::EffectDone { key: "scale:Deployment/x/y=3".to_owned(), outcome: EffectOutcome::Ok });
    assert!(effects.is_empty());
    assert_eq!(d.machine.state(), StartupState::Off);
    assert!(d.machine.diagnostics()[0].message.contains("not in flight"));
    d.now = Time(5);
    d.feed(&Input::Tick);
    d.now = Time(1);
    d.feed(&Input::Tick);
    assert!(d.machine.diagnostics().iter().any(|x| x.message.contains("earlier than the previous")));
}

#[test]
fn a_permanent_failure_of_a_plain_effect_fails_the_run_and_a_transient_one_is_retried() {
    let mut d = startup(Arc::new(lab::config()), Journal::default(), StartupOptions::default());
    let obs = lab::all_down();
    let effects = d.observe(&obs);
    let transient = EffectOutcome::Failed { transient: true, message: "ssh timeout".to_owned() };
    d.done(&effects[0], transient);
    assert!(d.observe(&obs).is_empty(), "not before the retry interval");
    d.advance(ananke_core::machine::RETRY_INTERVAL);
    assert_eq!(d.observe(&obs), [effects[0].clone()]);
    let permanent = EffectOutcome::Failed { transient: false, message: "unit not found".to_owned() };
    d.done(&effects[1], permanent);
    assert_eq!(d.machine.state(), StartupState::Failed);
    assert_eq!(d.machine.failure().unwrap().reason, "start k3s on titan-02 failed: unit not found");
    assert_eq!(d.machine.poll_timeout(), None);
    assert!(d.observe(&obs).is_empty(), "terminal");
}

#[test]
fn a_journaled_cordon_of_a_node_no_longer_in_the_cluster_neither_fails_nor_holds_the_run() {
    let mut journal = Journal::default();
    journal.changes.cordoned = ["titan-04".to_owned(), "titan-99".to_owned()].into_iter().collect();
    let obs = lab::healthy();
    let mut d = startup(Arc::new(lab::config()), journal, StartupOptions::default());
    assert_eq!(keys(&d.observe(&obs)), ["uncordon:titan-04"]);
    d.observe(&obs);
    d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::Soaking);
    assert_eq!(d.machine.journal().changes.cordoned.iter().collect::<Vec<_>>(), ["titan-99"], "kept for later");
}

#[test]
fn k3s_that_stops_again_after_the_boot_is_started_again() {
    let mut obs = lab::healthy();
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    lab::node_mut(&mut obs, "titan-05").k3s_unit = UnitState::Failed;
    assert_eq!(keys(&d.observe(&obs)), ["start-k3s:titan-05"]);
}
