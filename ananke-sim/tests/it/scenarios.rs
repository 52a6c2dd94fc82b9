//! Every built-in scenario ends in its specified state, and deterministically; a run that misses
//! its expectation says how; a drive that does not end is stopped at its bounds.

use ananke_core::Time;
use ananke_sim::driver::{DriveError, Limits};
use ananke_sim::run::{run_scenario, RunSpec};
use ananke_sim::scenario::{builtin, Drive, Scenario};
use std::time::Duration;

/// A shutdown whose drain waits longer than any drive's bound of virtual time.
pub(crate) const ENDLESS_DRAIN: &str =
    "base: pdb-blocks-drain\nname: endless-drain\nananke:\n  shutdown: { drain_timeout: 12h, deadline: 12h }\n";

fn meets_expectation(name: &str) {
    let scenario = builtin(name).unwrap();
    let mut runs = vec![scenario.clone()];
    runs.extend(scenario.variants.iter().map(|v| scenario.with_variant(v)));
    for s in runs {
        let run = run_scenario(&s, &RunSpec::default()).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let unmet = run.unmet(&s);
        assert!(
            unmet.is_empty(),
            "{}:\n{}\n{}",
            s.name,
            unmet.join("\n"),
            ananke_sim::report::run_report(&run, &unmet)
        );
    }
}

macro_rules! scenario_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                meets_expectation($name);
            }
        )*
    };
}

scenario_tests! {
    titan_lab => "titan-lab",
    flux_gitea_deadlock => "flux-gitea-deadlock",
    vault_breakglass => "vault-breakglass",
    node_lost_ignored => "node-lost-ignored",
    node_lost_required => "node-lost-required",
    endpoint_flaps_during_soak => "endpoint-flaps-during-soak",
    pdb_blocks_drain => "pdb-blocks-drain",
    flux_source_drift => "flux-source-drift",
    power_returns_mid_shutdown => "power-returns-mid-shutdown",
    api_flaky => "api-flaky",
    slow_server_quorum => "slow-server-quorum",
    operator_state_preserved => "operator-state-preserved",
    agent_auth_refused => "agent-auth-refused",
    sudo_refused => "sudo-refused",
    k3s_wont_stop => "k3s-wont-stop",
    host_key_changed => "host-key-changed",
    nothing_answers => "nothing-answers",
}

#[test]
fn every_builtin_has_a_test() {
    let tested = [
        "titan-lab",
        "flux-gitea-deadlock",
        "vault-breakglass",
        "node-lost-ignored",
        "node-lost-required",
        "endpoint-flaps-during-soak",
        "pdb-blocks-drain",
        "flux-source-drift",
        "power-returns-mid-shutdown",
        "api-flaky",
        "slow-server-quorum",
        "operator-state-preserved",
        "agent-auth-refused",
        "sudo-refused",
        "k3s-wont-stop",
        "host-key-changed",
        "nothing-answers",
    ];
    assert_eq!(ananke_sim::builtin_names(), tested);
}

#[test]
fn runs_are_deterministic() {
    for (name, seed) in [("titan-lab", 0), ("api-flaky", 7), ("node-lost-required", 3)] {
        let a = super::run_builtin(name, seed);
        let b = super::run_builtin(name, seed);
        for (x, y) in [(&a.shutdown, &b.shutdown), (&a.startup, &b.startup)] {
            assert_eq!(x.as_ref().map(|r| &r.outcome), y.as_ref().map(|r| &r.outcome), "{name}");
        }
        assert_eq!(a.after, b.after, "{name}");
    }
}

#[test]
fn api_flakiness_depends_on_the_seed() {
    let a = super::run_builtin("api-flaky", 1);
    let b = super::run_builtin("api-flaky", 2);
    let steps = |r: &ananke_sim::run::ScenarioRun| r.shutdown.as_ref().map(|s| s.outcome.steps);
    assert!(
        steps(&a) != steps(&b)
            || a.startup.as_ref().map(|s| s.outcome.steps) != b.startup.as_ref().map(|s| s.outcome.steps)
    );
}

#[test]
fn a_missed_expectation_names_the_gate_the_reason_and_the_states_it_wanted() {
    // `visits` is ordered: the startup went `off -> failed`, so `off` never came after `failed`.
    let text = "base: node-lost-required\nname: misjudged\nexpect:\n  \
                startup: { gate: flux-drift, reason: titan-99 }\n  visits: [failed, off]\n";
    let scenario = Scenario::parse(text, "misjudged.yaml").unwrap();
    let run = run_scenario(&scenario, &RunSpec::default()).unwrap();
    let startup = &run.startup.as_ref().unwrap().outcome;
    assert!(startup.visited("failed") && !startup.visited("ready"), "{:?}", startup.states);
    let reason = &startup.failure.as_ref().unwrap().reason;
    assert!(reason.contains("titan-23"), "{reason}");
    assert_eq!(
        run.unmet(&scenario),
        [
            "startup failed at gate `ssh-reachability`, expected `flux-drift`".to_owned(),
            format!("startup failure reason `{reason}` does not mention `titan-99`"),
            "startup never went through `off` in the order [\"failed\", \"off\"] (went off -> failed)".to_owned(),
        ]
    );
}

#[test]
fn a_drive_stops_at_its_bound_of_virtual_time() {
    let endless = Scenario::parse(ENDLESS_DRAIN, "endless.yaml").unwrap();
    let err = run_scenario(&endless, &RunSpec { drive: Some(Drive::Shutdown), ..RunSpec::default() }).unwrap_err();
    let DriveError::Unbounded { steps, elapsed, state } = err else { panic!("expected an unbounded drive: {err}") };
    assert_eq!(state, "draining");
    assert!(
        elapsed > Limits::default().max_virtual && elapsed <= Limits::default().max_virtual + Duration::from_secs(5)
    );
    assert_eq!(
        err.to_string(),
        format!("no terminal state after {steps} inputs and {elapsed:?} of virtual time (state `draining`)")
    );
}

#[test]
fn a_drive_stops_at_its_bounds_of_steps() {
    let titan = builtin("titan-lab").unwrap();
    let shutdown = |limits| RunSpec { drive: Some(Drive::Shutdown), limits, ..RunSpec::default() };
    let err = run_scenario(&titan, &shutdown(Limits { max_steps_per_instant: 1, ..Limits::default() })).unwrap_err();
    assert_eq!(err, DriveError::Livelock { steps: 2, at: Time::ZERO, state: "quiescing" });
    assert_eq!(err.to_string(), "livelock: 2 inputs at t+0.000s without time passing (state `quiescing`)");
    let err = run_scenario(&titan, &shutdown(Limits { max_steps: 3, ..Limits::default() })).unwrap_err();
    assert_eq!(err.to_string(), "no terminal state after 3 inputs and 0ns of virtual time (state `quiescing`)");
}

#[test]
fn a_drills_critical_path_starts_up_with_the_hosts_up() {
    let titan = builtin("titan-lab").unwrap();
    let drill = ananke_sim::critical_path::drill_critical_path(&titan);
    let cycle = ananke_sim::critical_path::critical_path(&titan);
    assert_eq!(drill.shutdown, cycle.shutdown);
    // No host boots after a drill: its startup is shorter than the cycle's by the boots.
    assert!(drill.startup.unwrap() < cycle.startup.unwrap(), "{drill:?} {cycle:?}");
}
