//! Startup `Soaking`, `Ready`, the run deadline and the terminal states.

use super::{past_nodes_up, startup};
use crate::machines::lab::{self, config_with};
use crate::machines::world::{secs, Driver};
use ananke_core::effect::Effect;
use ananke_core::gates::GateId;
use ananke_core::journal::Journal;
use ananke_core::machine::{EffectOutcome, Input, Machine, StartupMachine, StartupOptions, StartupState, Timer};
use ananke_core::observation::{Observation, ProbeResult};
use ananke_core::time::Time;
use std::sync::Arc;

/// A machine that entered `Soaking` at 0 s on a healthy lab.
fn soaking() -> Driver<StartupMachine> {
    let obs = lab::healthy();
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::Soaking);
    assert_eq!(d.machine.soak_started_at(), Some(Time::ZERO));
    d
}

fn api_down() -> Observation {
    let mut obs = lab::healthy();
    obs.probes.insert(
        "api".to_owned(),
        ProbeResult { ok: false, reason: Some("HTTP 503".to_owned()), status: Some(503), latency_ms: None },
    );
    obs
}

#[test]
fn ready_only_after_the_full_soak_with_every_gate_passing() {
    let mut d = soaking();
    assert_eq!(d.machine.poll_timeout(), Some(Time(300_000)), "soak end (the run deadline is later)");
    d.advance(secs(299));
    d.observe(&lab::healthy());
    assert_eq!(d.machine.state(), StartupState::Soaking);
    let soak = d.machine.gates().unwrap().get(GateId::Soak);
    assert!(!soak.passed() && soak.reasons[0].starts_with("soak running: 299s of 300s"), "{soak:?}");
    assert!(d.advance(secs(1)).is_empty(), "the soak timer only wakes the runner up");
    d.observe(&lab::healthy());
    assert_eq!(d.machine.state(), StartupState::Ready);
    assert!(d.machine.is_terminal());
    assert!(d.machine.gates().unwrap().all_pass());
    assert_eq!(d.machine.poll_timeout(), None);
    assert!(!d.machine.journal().shutdown_completed);
}

#[test]
fn a_regression_goes_back_to_converging_and_the_soak_restarts_from_zero() {
    let mut d = soaking();
    d.advance(secs(120));
    d.observe(&api_down());
    assert_eq!(d.machine.state(), StartupState::Converging);
    assert_eq!(d.machine.regressions(), ["critical-endpoints: critical endpoint api: HTTP 503"]);
    assert_eq!(d.machine.poll_timeout(), Some(Time(120_000 + 1_800_000)), "a fresh converge timeout");
    d.advance(secs(10));
    d.observe(&lab::healthy());
    assert_eq!(d.machine.state(), StartupState::Soaking);
    assert_eq!(d.machine.soak_started_at(), Some(Time(130_000)));
    d.advance(secs(200));
    d.observe(&lab::healthy());
    assert_eq!(d.machine.state(), StartupState::Soaking, "300 s since the first soak began, not since this one");
    d.advance(secs(100));
    d.observe(&lab::healthy());
    assert_eq!(d.machine.state(), StartupState::Ready);
}

#[test]
fn a_vault_sealed_during_the_soak_is_a_regression() {
    let mut d = soaking();
    let mut obs = lab::healthy();
    obs.vault[0].sealed = true;
    let effects = d.observe(&obs);
    assert_eq!(effects, [Effect::UnsealVault { pod: "vault-0".to_owned() }]);
    assert_eq!(d.machine.state(), StartupState::Converging);
    assert_eq!(d.machine.regressions(), ["vault: sealed vault-0"]);
}

#[test]
fn more_regressions_than_allowed_fail_the_soak_gate() {
    let mut d = soaking();
    for round in 1..=3 {
        d.advance(secs(30));
        d.observe(&api_down());
        if round < 3 {
            assert_eq!(d.machine.state(), StartupState::Converging);
            d.observe(&lab::healthy());
            assert_eq!(d.machine.state(), StartupState::Soaking);
        }
    }
    assert_eq!(d.machine.state(), StartupState::Failed);
    let failure = d.machine.failure().unwrap();
    assert_eq!(failure.gate, Some(GateId::Soak));
    assert!(
        failure.reason.starts_with("3 regressions during the soak (at most 2): critical-endpoints"),
        "{}",
        failure.reason
    );
}

#[test]
fn converging_never_goes_ready_however_long_the_gates_are_green() {
    let config = config_with(|c| c.soak.max_regressions = 0);
    let mut journal = Journal::default();
    journal.changes.scaled.insert(lab::web(), 3);
    let mut obs = lab::healthy();
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::web()), 0);
    let mut d = past_nodes_up(config, journal, &obs);
    for _ in 0..10 {
        d.advance(secs(100));
        d.observe(&obs);
        assert_eq!(d.machine.state(), StartupState::Converging);
    }
}

#[test]
fn the_run_deadline_fails_any_recovering_state() {
    let config = config_with(|c| {
        c.startup.converge_timeout = ananke_core::config::HumanDuration::secs(7200);
    });
    let mut obs = lab::healthy();
    obs.probes.clear();
    let mut d = past_nodes_up(config, Journal::default(), &obs);
    d.observe(&obs);
    d.advance(secs(3599));
    assert_eq!(d.machine.state(), StartupState::Converging);
    d.advance(secs(1));
    let failure = d.machine.failure().unwrap();
    assert_eq!(failure.gate, Some(GateId::Services));
    assert!(
        failure.reason.starts_with("startup deadline exceeded: services: service web: not probed yet"),
        "{}",
        failure.reason
    );
}

#[test]
fn the_run_deadline_in_off_reports_the_boot() {
    let config = config_with(|c| {
        c.startup.node_boot_timeout = ananke_core::config::HumanDuration::secs(7200);
    });
    let mut d = startup(config, Journal::default(), StartupOptions::default());
    d.observe(&lab::all_down());
    d.advance(secs(3600));
    let failure = d.machine.failure().unwrap();
    assert_eq!(failure.gate, Some(GateId::Inventory));
    assert!(
        failure.reason.starts_with("startup deadline exceeded: k3s server quorum not reached"),
        "{}",
        failure.reason
    );
}

#[test]
fn terminal_states_handle_every_input_by_doing_nothing() {
    let mut d = soaking();
    d.advance(secs(300));
    d.observe(&lab::healthy());
    assert_eq!(d.machine.state_name(), "ready");
    let before = d.machine.gates().cloned();
    let mut obs = lab::healthy();
    obs.vault[0].sealed = true;
    assert!(d.observe(&obs).is_empty());
    assert!(d.feed(&Input::Tick).is_empty());
    assert!(d.feed(&Input::EffectDone { key: "x".to_owned(), outcome: EffectOutcome::Ok }).is_empty());
    assert_eq!(d.machine.state(), StartupState::Ready);
    assert_eq!(d.machine.gates().cloned(), before);
    assert!(Timer::ALL.iter().all(|_| d.machine.poll_timeout().is_none()));
}

#[test]
fn an_api_blip_during_the_soak_is_not_a_regression_but_an_outage_is() {
    let mut d = soaking();
    let mut blip = lab::healthy();
    blip.api.reachable = false;
    blip.api.error = Some("HTTP 503".to_owned());
    d.advance(secs(15));
    d.observe(&blip);
    assert_eq!(d.machine.state(), StartupState::Soaking);
    assert!(d.machine.diagnostics().iter().any(|x| x.message.contains("unreachable during the soak (HTTP 503)")));
    d.advance(secs(15));
    d.observe(&lab::healthy());
    for _ in 0..4 {
        d.advance(secs(15));
        d.observe(&blip);
        assert_eq!(d.machine.state(), StartupState::Soaking, "{} s down", d.now.0 / 1000 - 45);
    }
    d.advance(secs(15));
    d.observe(&blip);
    assert_eq!(d.machine.state(), StartupState::Converging, "60 s without the API");
    assert!(
        d.machine.regressions()[0].starts_with("inventory: Kubernetes API unreachable"),
        "{:?}",
        d.machine.regressions()
    );
}
