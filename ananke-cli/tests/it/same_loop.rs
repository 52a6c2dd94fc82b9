//! One run loop: every built-in scenario run by `ananke-sim` (its virtual-clock driver) and by
//! `ananke --sim` (the async runner over the in-process world) takes the same states at the same
//! times, executes the same effects and lasts as long. Both are shells around the core's
//! `RunLoop`; this is what keeps the simulator's critical-path ratio the binary's.

use crate::common::sim_named;
use ananke_sim::run::{run_scenario, MachineRun, RunSpec};
use ananke_sim::scenario::Drive;
use ananke_sim::{builtin, builtin_names};
use serde_json::{json, Value};

/// A machine's run as the report shows it: the phases with their durations, the effect counts,
/// the duration, the final state.
fn from_sim(run: &MachineRun) -> Value {
    let o = &run.outcome;
    let phases: Vec<Value> = o
        .states
        .iter()
        .enumerate()
        .map(|(i, (at, state))| {
            let left = o.states.get(i + 1).map_or(o.end, |(t, _)| *t);
            json!({"state": state, "millis": left.since(*at).as_millis()})
        })
        .collect();
    let effects: serde_json::Map<String, Value> =
        o.effects.iter().map(|(k, n)| (k.as_str().to_owned(), json!(n))).collect();
    json!({"phases": phases, "effects": effects, "duration_ms": o.duration().as_millis(), "state": o.state})
}

fn from_report(report: &Value) -> Value {
    let mut effects = report["effect_counts"].clone();
    if let Some(map) = effects.as_object_mut() {
        map.retain(|_, n| n.as_u64() != Some(0));
    }
    json!({"phases": report["phases"], "effects": effects, "duration_ms": report["duration_ms"], "state": report["final_state"]})
}

fn ananke_run(name: &str, args: &[&str], report: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = sim_named(dir.path(), name, args);
    let text = std::fs::read_to_string(dir.path().join(report))
        .unwrap_or_else(|e| panic!("{name}: no {report} (exit {code}): {e}\n{out}\n{err}"));
    from_report(&serde_json::from_str(&text).unwrap())
}

#[test]
fn every_builtin_takes_the_same_steps_through_ananke_sim_and_through_ananke() {
    let mut compared = 0;
    for name in builtin_names() {
        let scenario = builtin(name).unwrap();
        let spec = RunSpec { drive: Some(Drive::Shutdown), ..RunSpec::default() };
        let sim = run_scenario(&scenario, &spec).unwrap();
        let shutdown = ananke_run(name, &["shutdown", "--execute", "--reason", "drill"], "last-shutdown-report.json");
        assert_eq!(shutdown, from_sim(sim.shutdown.as_ref().unwrap()), "{name}: the shutdown differs");
        compared += 1;
        if scenario.drive != Drive::Cycle {
            continue;
        }
        // A fresh `ananke startup --sim` first simulates the scenario's shutdown and outage.
        let cycle = run_scenario(&scenario, &RunSpec { drive: Some(Drive::Cycle), ..RunSpec::default() }).unwrap();
        let startup = ananke_run(name, &["startup", "--execute"], "last-startup-report.json");
        assert_eq!(startup, from_sim(cycle.startup.as_ref().unwrap()), "{name}: the startup differs");
        compared += 1;
    }
    assert!(compared >= 2 * builtin_names().len() - 2, "compared {compared} runs");
}
