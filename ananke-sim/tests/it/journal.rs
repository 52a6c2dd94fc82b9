//! The journal rule: before an effect runs, the journal of its step already records what it
//! changes (the runner persists that journal before executing the effects).

use ananke_core::machine::{Machine, ShutdownMachine, ShutdownOptions};
use ananke_core::runner::Step;
use ananke_core::Effect;
use ananke_core::{Journal, Time};
use ananke_sim::driver::{drive, Limits};
use ananke_sim::model::Model;
use ananke_sim::scenario::builtin;

#[test]
fn every_shutdown_mutation_is_journaled_in_its_own_step() {
    let scenario = builtin("operator-state-preserved").unwrap();
    let mut model = Model::new(&scenario, 0);
    let options = ShutdownOptions { reason: "test".into(), mode: ananke_core::config::ShutdownMode::ClusterOnly };
    let mut machine = ShutdownMachine::new(scenario.config_arc(), Journal::default(), options, Time::ZERO);
    let mut violations = Vec::new();
    let mut checked = 0;
    let outcome = drive(&mut machine, &mut model, Time::ZERO, &Limits::default(), &mut |v: &Step<'_>| {
        let c = &v.journal.changes;
        for e in v.effects {
            checked += 1;
            let ok = match e {
                Effect::Scale { workload, replicas: 0 } => c.scaled.contains_key(workload),
                Effect::SuspendFlux { object } => c.suspended.contains(object),
                Effect::Cordon { node } => c.cordoned.contains(node),
                Effect::StopK3s { node, .. } => c.stopped.contains(node),
                Effect::Drain { .. } => true,
                other => {
                    violations.push(format!("step {}: unexpected shutdown effect {}", v.step, other.key()));
                    true
                }
            };
            if !ok {
                violations.push(format!("step {}: {} not journaled", v.step, e.key()));
            }
        }
    })
    .unwrap();
    assert_eq!(outcome.state, "off");
    assert!(checked > 20, "only {checked} effects");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    assert!(machine.is_terminal());
}
