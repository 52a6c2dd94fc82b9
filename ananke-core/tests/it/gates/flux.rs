//! Gates 3 and 4: the Flux source drift guard and the required Kustomizations.

use crate::fixtures::{break_gate, evaluate, kustomization, lab, soak_done, source};
use ananke_core::gates::{flux_drift, flux_kustomizations, GateId, Verdict};
use ananke_core::observation::{ConditionStatus, FluxObservation};
use ananke_core::synth::condition;

#[test]
fn drift_passes_on_the_expected_url_and_branch() {
    let (config, obs) = lab();
    assert!(flux_drift::check(&config, &obs).passed());
}

#[test]
fn drift_fails_on_a_different_url_or_branch() {
    let (config, mut obs) = lab();
    source(&mut obs).url = Some("ssh://git@github.com/ops/cluster.git".to_owned());
    source(&mut obs).branch = Some("breakfix".to_owned());
    let outcome = flux_drift::check(&config, &obs);
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(
        outcome.reasons,
        [
            "GitRepository flux-system/flux-system: url is ssh://git@github.com/ops/cluster.git, expected ssh://git@gitea.lab.example/ops/cluster.git",
            "GitRepository flux-system/flux-system: branch is breakfix, expected main",
        ]
    );
}

#[test]
fn drift_is_an_exact_match() {
    let (config, mut obs) = lab();
    source(&mut obs).url = Some("ssh://git@gitea.lab.example/ops/cluster.git/".to_owned());
    source(&mut obs).branch = None;
    let outcome = flux_drift::check(&config, &obs);
    assert_eq!(outcome.reasons.len(), 2);
    assert_eq!(outcome.reasons[1], "GitRepository flux-system/flux-system: branch is not set, expected main");
    source(&mut obs).url = None;
    let outcome = flux_drift::check(&config, &obs);
    assert!(outcome.reasons[0].contains("url is not set, expected "), "{:?}", outcome.reasons);
}

#[test]
fn drift_fails_when_flux_or_its_source_is_missing() {
    let (config, mut obs) = lab();
    obs.flux.as_mut().expect("flux").sources.clear();
    assert_eq!(flux_drift::check(&config, &obs).reasons, ["GitRepository flux-system/flux-system: not found"]);
    obs.flux = Some(FluxObservation::default());
    assert_eq!(flux_drift::check(&config, &obs).reasons, ["Flux is not installed"]);
    obs.flux = None;
    assert_eq!(flux_drift::check(&config, &obs).reasons, ["Flux not observed (API unreachable)"]);
}

#[test]
fn drift_is_blocked_by_ssh_reachability() {
    let (mut config, mut obs) = lab();
    let mut soak = soak_done();
    break_gate(GateId::SshReachability, &mut config, &mut obs, &mut soak);
    source(&mut obs).branch = Some("breakfix".to_owned());
    let report = evaluate(&config, &obs);
    assert_eq!(report.get(GateId::FluxDrift).verdict, Verdict::Blocked(GateId::SshReachability));
}

#[test]
fn kustomizations_pass_when_every_required_one_is_ready() {
    let (config, obs) = lab();
    assert!(flux_kustomizations::check(&config, &obs).passed());
}

#[test]
fn kustomizations_fail_quoting_the_ready_condition() {
    let (config, mut obs) = lab();
    kustomization(&mut obs, "ks-00002").conditions = vec![condition(
        "Ready",
        ConditionStatus::False,
        "DependencyNotReady",
        "dependency 'flux-system/infra' is not ready",
    )];
    let outcome = flux_kustomizations::check(&config, &obs);
    assert_eq!(
        outcome.reasons,
        ["Kustomization flux-system/ks-00002: Ready=False (DependencyNotReady): dependency 'flux-system/infra' is not ready"]
    );
}

#[test]
fn kustomizations_fail_when_missing_suspended_or_not_reconciled() {
    let (config, mut obs) = lab();
    kustomization(&mut obs, "ks-00001").suspend = true;
    obs.flux.as_mut().expect("flux").kustomizations.retain(|k| k.id.object.name != "ks-00002");
    let outcome = flux_kustomizations::check(&config, &obs);
    assert_eq!(
        outcome.reasons,
        ["Kustomization flux-system/ks-00001: suspended", "Kustomization flux-system/ks-00002: not found"]
    );

    let (config, mut obs) = lab();
    kustomization(&mut obs, "ks-00001").observed_generation = None;
    let outcome = flux_kustomizations::check(&config, &obs);
    assert_eq!(
        outcome.reasons,
        ["Kustomization flux-system/ks-00001: not reconciled yet: status.observedGeneration is absent"]
    );
}

#[test]
fn kustomizations_fail_when_flux_is_absent() {
    let (config, mut obs) = lab();
    obs.flux = Some(FluxObservation::default());
    assert_eq!(flux_kustomizations::check(&config, &obs).reasons, ["Flux is not installed"]);
    obs.flux = None;
    assert_eq!(flux_kustomizations::check(&config, &obs).reasons, ["Flux not observed (API unreachable)"]);
}

#[test]
fn kustomizations_are_blocked_by_the_drift_guard() {
    let (mut config, mut obs) = lab();
    let mut soak = soak_done();
    break_gate(GateId::FluxDrift, &mut config, &mut obs, &mut soak);
    kustomization(&mut obs, "ks-00001").suspend = true;
    let report = evaluate(&config, &obs);
    assert_eq!(report.get(GateId::FluxKustomizations).verdict, Verdict::Blocked(GateId::FluxDrift));
}
