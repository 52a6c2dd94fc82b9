//! Every built-in scenario ends in its specified state, and deterministically.

use ananke_sim::run::{run_scenario, RunSpec};
use ananke_sim::scenario::builtin;

fn meets_expectation(name: &str) {
    let scenario = builtin(name).unwrap();
    let mut runs = vec![scenario.clone()];
    runs.extend(scenario.variants.iter().map(|v| scenario.with_variant(v)));
    for s in runs {
        let run = run_scenario(&s, &RunSpec::default()).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let unmet = run.unmet(&s);
        assert!(unmet.is_empty(), "{}:\n{}\n{}", s.name, unmet.join("\n"), ananke_sim::report::run_report(&run, &unmet));
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
}

#[test]
fn every_builtin_has_a_test() {
    let tested = [
        "titan-lab", "flux-gitea-deadlock", "vault-breakglass", "node-lost-ignored", "node-lost-required",
        "endpoint-flaps-during-soak", "pdb-blocks-drain", "flux-source-drift", "power-returns-mid-shutdown",
        "api-flaky", "slow-server-quorum", "operator-state-preserved",
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
    assert!(steps(&a) != steps(&b) || a.startup.as_ref().map(|s| s.outcome.steps) != b.startup.as_ref().map(|s| s.outcome.steps));
}
