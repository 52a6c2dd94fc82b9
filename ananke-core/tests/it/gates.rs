//! The startup gates: every gate passes on a healthy lab, fails with an operator-facing reason,
//! and is blocked by its parent. Per-gate cases live in the submodules.

mod checklists;
mod flux;
mod health;
mod nodes;
mod workloads;

use crate::fixtures::{break_gate, evaluate, lab, soak_done};
use ananke_core::gates::{self, GateId, Verdict, MAX_LISTED};
use ananke_core::synth::{self, LabSize};
use ananke_core::Time;

#[test]
fn a_healthy_lab_passes_every_gate() {
    let (config, obs) = lab();
    let report = evaluate(&config, &obs);
    for outcome in &report.outcomes {
        assert_eq!(outcome.verdict, Verdict::Pass, "{}: {:?}", outcome.gate, outcome.reasons);
        assert!(outcome.reasons.is_empty(), "{}: {:?}", outcome.gate, outcome.reasons);
    }
    assert!(report.all_pass());
}

#[test]
fn each_broken_gate_fails_alone() {
    for gate in GateId::ALL {
        let (mut config, mut obs) = lab();
        let mut soak = soak_done();
        break_gate(gate, &mut config, &mut obs, &mut soak);
        let report = gates::evaluate(&config, &obs, &soak);
        for before in &GateId::ALL[..gate.index()] {
            assert!(report.get(*before).passed(), "{before} should pass when only {gate} is broken");
        }
        assert_eq!(report.get(gate).verdict, Verdict::Fail, "{gate}");
        assert!(!report.get(gate).reasons.is_empty(), "{gate} fails without a reason");
    }
}

#[test]
fn every_gate_is_blocked_by_its_failing_parent() {
    for gate in GateId::ALL {
        let Some(parent) = gate.parent() else {
            continue;
        };
        let (mut config, mut obs) = lab();
        let mut soak = soak_done();
        break_gate(parent, &mut config, &mut obs, &mut soak);
        // Break the gate itself too: a blocked gate must not report its own failure.
        break_gate(gate, &mut config, &mut obs, &mut soak);
        let report = gates::evaluate(&config, &obs, &soak);
        let outcome = report.get(gate);
        assert_eq!(outcome.verdict, Verdict::Blocked(parent), "{gate}");
        assert_eq!(outcome.reasons, vec![format!("blocked by {parent}")], "{gate}");
    }
}

#[test]
fn blocked_names_the_first_failing_gate_up_the_chain() {
    let (mut config, mut obs) = lab();
    let mut soak = soak_done();
    break_gate(GateId::FluxDrift, &mut config, &mut obs, &mut soak);
    let report = gates::evaluate(&config, &obs, &soak);
    for gate in &GateId::ALL[GateId::FluxKustomizations.index()..] {
        assert_eq!(report.get(*gate).verdict, Verdict::Blocked(GateId::FluxDrift), "{gate}");
    }
    assert_eq!(report.first_failing().map(|o| o.gate), Some(GateId::FluxDrift));
}

#[test]
fn the_inventory_gate_has_no_parent_and_is_always_evaluated() {
    let (mut config, mut obs) = lab();
    let mut soak = soak_done();
    for gate in GateId::ALL {
        break_gate(gate, &mut config, &mut obs, &mut soak);
    }
    let report = gates::evaluate(&config, &obs, &soak);
    assert_eq!(GateId::Inventory.parent(), None);
    assert_eq!(report.get(GateId::Inventory).verdict, Verdict::Fail);
    assert_eq!(report.get(GateId::Inventory).reasons, ["Kubernetes API unreachable: connection refused"]);
}

#[test]
fn many_failures_list_the_first_twenty_then_a_count() {
    let (config, mut obs) = synth::lab(LabSize { workloads: 50, ..LabSize::SMALL });
    for w in &mut obs.workloads {
        w.observed_generation = None;
    }
    let outcome = gates::workloads::check(&config, &obs);
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(outcome.reasons.len(), MAX_LISTED + 1);
    assert_eq!(outcome.reasons[MAX_LISTED], "... and 30 more");
    assert_eq!(
        outcome.reasons[0],
        "Deployment ks-00001/ks-00001: in progress: generation 3 not observed: status.observedGeneration is absent"
    );
}

#[test]
fn twenty_failures_are_all_listed_without_a_count() {
    let (config, mut obs) = synth::lab(LabSize { workloads: MAX_LISTED, ..LabSize::SMALL });
    for w in &mut obs.workloads {
        w.terminating = true;
    }
    let outcome = gates::workloads::check(&config, &obs);
    assert_eq!(outcome.reasons.len(), MAX_LISTED);
    assert!(outcome.reasons.iter().all(|r| r.ends_with(": terminating")), "{:?}", outcome.reasons);
}

#[test]
fn synth_is_deterministic_and_the_large_lab_passes() {
    let (config, obs) = synth::large_observation(1);
    assert_eq!(config.inventory.nodes.len(), 5_000);
    assert_eq!(obs.workloads.len(), 20_000);
    assert_eq!(config.flux.required_kustomizations.len(), 2_000);
    let checklist = config.startup.require_ingress_checklist.len()
        + config.startup.service_checklist.len()
        + config.startup.critical_service_endpoints.len();
    assert_eq!(checklist, 1_000);
    assert!(evaluate(&config, &obs).all_pass(), "{:?}", evaluate(&config, &obs).first_failing());
    assert_eq!(synth::healthy_observation(&config, Time(7)), synth::healthy_observation(&config, Time(7)));
}
