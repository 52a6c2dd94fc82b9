//! ananke-sim integration tests: one binary, one module per concern.

mod cli;
mod control;
mod critical;
mod http_adapters;
mod journal;
mod kube_act_errors;
mod kube_adapter;
mod kubectl;
mod properties;
mod python_client;
mod report;
mod restore;
mod scenarios;
mod serve;
mod serve_requests;
mod traces;
mod validation;
mod world;

use ananke_sim::run::{run_scenario, RunSpec, ScenarioRun};
use ananke_sim::scenario::builtin;

/// Run built-in `name` with its default drive.
fn run_builtin(name: &str, seed: u64) -> ScenarioRun {
    let scenario = builtin(name).unwrap();
    run_scenario(&scenario, &RunSpec { seed, ..RunSpec::default() }).unwrap_or_else(|e| panic!("{name}: {e}"))
}
