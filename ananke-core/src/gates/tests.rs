//! The gate chain's bookkeeping: names, parents, and what a report says about a partial pass.

use super::{GateId, GateOutcome, GateReport, Verdict};

#[test]
fn gates_form_one_chain_in_dependency_order() {
    assert_eq!(GateId::Inventory.parent(), None);
    for pair in GateId::ALL.windows(2) {
        assert_eq!(pair[1].parent(), Some(pair[0]), "{} depends on {}", pair[1], pair[0]);
    }
    for (i, gate) in GateId::ALL.into_iter().enumerate() {
        assert_eq!(gate.index(), i);
    }
}

#[test]
fn names_titles_and_wire_names_agree() {
    let table = [
        (GateId::Inventory, "inventory", "inventory mapping is valid"),
        (GateId::SshReachability, "ssh-reachability", "expected SSH nodes are reachable/authenticated"),
        (GateId::FluxDrift, "flux-drift", "Flux source drift guard passes"),
        (GateId::FluxKustomizations, "flux-kustomizations", "required Flux kustomizations are healthy"),
        (GateId::Workloads, "workloads", "workload convergence is healthy"),
        (GateId::Ingress, "ingress", "ingress checklist passes"),
        (GateId::Services, "services", "service checklist passes"),
        (GateId::CriticalEndpoints, "critical-endpoints", "critical endpoint checks pass"),
        (GateId::Soak, "soak", "stability soak passes with no regressions"),
    ];
    assert_eq!(table.map(|(g, _, _)| g), GateId::ALL);
    for (gate, name, title) in table {
        assert_eq!(gate.as_str(), name);
        assert_eq!(gate.to_string(), name);
        assert_eq!(gate.title(), title);
        assert_eq!(serde_json::to_value(gate).unwrap(), name);
    }
}

fn report(failing: &[(GateId, Verdict)]) -> GateReport {
    let outcomes = GateId::ALL
        .into_iter()
        .map(|g| match failing.iter().find(|(f, _)| *f == g) {
            Some((_, Verdict::Blocked(by))) => GateOutcome::blocked(g, *by),
            Some(_) => GateOutcome::from_reasons(g, vec![format!("{g} is unhappy")]),
            None => GateOutcome::pass(g),
        })
        .collect();
    GateReport { outcomes }
}

#[test]
fn a_report_with_only_the_soak_pending_passes_everything_before_it() {
    let r = report(&[(GateId::Soak, Verdict::Fail)]);
    assert!(!r.all_pass());
    assert!(r.all_pass_before_soak());
    assert_eq!(r.first_failing().map(|o| o.gate), Some(GateId::Soak));
    assert_eq!(r.get(GateId::Soak).reasons, ["soak is unhappy"]);
}

#[test]
fn the_first_failure_is_named_and_the_rest_are_blocked_by_it() {
    let r = report(&[
        (GateId::FluxDrift, Verdict::Fail),
        (GateId::FluxKustomizations, Verdict::Blocked(GateId::FluxDrift)),
        (GateId::Soak, Verdict::Blocked(GateId::FluxDrift)),
    ]);
    assert!(!r.all_pass() && !r.all_pass_before_soak());
    assert_eq!(r.first_failing().map(|o| o.gate), Some(GateId::FluxDrift));
    let blocked = r.get(GateId::FluxKustomizations);
    assert_eq!(blocked.verdict, Verdict::Blocked(GateId::FluxDrift));
    assert_eq!(blocked.reasons, ["blocked by flux-drift"]);
    assert!(!blocked.passed());
    let clean = report(&[]);
    assert!(clean.all_pass() && clean.all_pass_before_soak());
    assert_eq!(clean.first_failing(), None);
}

#[test]
fn outcomes_serialize_with_a_flat_verdict() {
    let blocked = GateOutcome::blocked(GateId::Soak, GateId::Ingress);
    let v = serde_json::to_value(&blocked).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"gate": "soak", "verdict": "blocked", "by": "ingress", "reasons": ["blocked by ingress"]})
    );
    assert_eq!(serde_json::from_value::<GateOutcome>(v).unwrap(), blocked);
    let pass = serde_json::to_value(GateOutcome::from_reasons(GateId::Ingress, vec![])).unwrap();
    assert_eq!(pass, serde_json::json!({"gate": "ingress", "verdict": "pass", "reasons": []}));
}
