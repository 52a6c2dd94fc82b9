//! Startup `Converging`: Vault, restoring replicas, resuming Flux in order, the converge timeout.

use super::{keys, past_nodes_up};
use crate::machines::lab::{self, config_with};
use crate::machines::world::secs;
use ananke_core::config::WorkloadKind;
use ananke_core::effect::Effect;
use ananke_core::gates::GateId;
use ananke_core::journal::Journal;
use ananke_core::machine::{EffectOutcome, Machine, StartupState, RETRY_INTERVAL};
use ananke_core::observation::{ConditionStatus, FluxKind};
use std::sync::Arc;

fn failed(message: &str, transient: bool) -> EffectOutcome {
    EffectOutcome::Failed { transient, message: message.to_owned() }
}

fn unseal() -> Effect {
    Effect::UnsealVault { pod: "vault-0".to_owned() }
}

fn breakglass() -> Effect {
    Effect::UnsealVaultBreakglass { pod: "vault-0".to_owned() }
}

#[test]
fn a_sealed_vault_is_unsealed_and_holds_the_soak_back() {
    let mut obs = lab::healthy();
    obs.vault[0].sealed = true;
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    assert_eq!(d.machine.state(), StartupState::Converging);
    assert_eq!(d.observe(&obs), [unseal()]);
    assert_eq!(d.machine.state(), StartupState::Converging, "gates pass but Vault is sealed");
    assert!(d.observe(&obs).is_empty());
    d.done(&unseal(), EffectOutcome::Ok);
    obs.vault[0].sealed = false;
    d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::Soaking);
}

#[test]
fn a_failed_standard_unseal_falls_back_to_the_breakglass_command() {
    let mut obs = lab::healthy();
    obs.vault[0].sealed = true;
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    d.observe(&obs);
    assert_eq!(d.done(&unseal(), failed("unseal keys file missing", false)), [breakglass()]);
    assert!(d.observe(&obs).is_empty(), "breakglass in flight");
    d.done(&breakglass(), EffectOutcome::Ok);
    d.advance(RETRY_INTERVAL);
    assert_eq!(d.observe(&obs), [breakglass()], "still sealed after the retry interval: breakglass again");
    obs.vault[0].sealed = false;
    d.done(&breakglass(), EffectOutcome::Ok);
    d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::Soaking);
}

#[test]
fn a_failing_breakglass_fails_the_run_naming_both_failures() {
    let mut obs = lab::healthy();
    obs.vault[0].sealed = true;
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    d.observe(&obs);
    d.done(&unseal(), failed("unseal keys file missing", true));
    d.done(&breakglass(), failed("magic mirror unreachable", false));
    assert_eq!(d.machine.state(), StartupState::Failed);
    assert_eq!(
        d.machine.failure().unwrap().reason,
        "vault pod vault-0 still sealed: standard unseal failed: unseal keys file missing; breakglass unseal \
         failed: magic mirror unreachable"
    );
}

#[test]
fn without_a_breakglass_command_a_failed_unseal_fails_the_run() {
    let config = config_with(|c| c.startup.vault_unseal_breakglass_command = None);
    let mut obs = lab::healthy();
    obs.vault[0].sealed = true;
    let mut d = past_nodes_up(config, Journal::default(), &obs);
    d.observe(&obs);
    assert!(d.done(&unseal(), failed("permission denied", false)).is_empty());
    assert_eq!(d.machine.state(), StartupState::Failed);
    let failure = d.machine.failure().unwrap();
    assert_eq!(failure.gate, None);
    assert_eq!(
        failure.reason,
        "vault pod vault-0 still sealed: standard unseal failed: permission denied; no breakglass command configured"
    );
}

#[test]
fn replicas_are_restored_in_reverse_tier_order_then_flux_resumed_in_depends_on_order() {
    let held = lab::fx(FluxKind::Kustomization, "flux-system", "operator-held");
    let mut journal = Journal::default();
    journal.changes.scaled = [(lab::web(), 3), (lab::db(), 1), (lab::grafana(), 2)].into_iter().collect();
    journal.changes.suspended = vec![lab::k_root(), lab::k_infra(), lab::k_apps(), lab::hr_vault()];
    journal.changes.already_suspended.insert(held.clone());
    journal.changes.already_scaled_to_zero.insert(lab::wl(WorkloadKind::Deployment, "apps", "idle"));
    let mut obs = lab::healthy();
    for w in [lab::web(), lab::db(), lab::grafana()] {
        lab::set_replicas(lab::workload_mut(&mut obs, &w), 0);
    }
    obs.workloads.push(lab::workload(lab::wl(WorkloadKind::Deployment, "apps", "idle"), 0));
    let mut operator = lab::flux_object(held.clone(), Some(&lab::k_root()), &[]);
    operator.suspend = true;
    obs.flux.as_mut().unwrap().kustomizations.push(operator);
    for f in [lab::k_root(), lab::k_infra(), lab::k_apps(), lab::hr_vault()] {
        lab::flux_mut(&mut obs, &f).suspend = true;
    }
    let mut d = past_nodes_up(Arc::new(lab::config()), journal, &obs);

    let effects = d.observe(&obs);
    assert_eq!(
        keys(&effects),
        ["scale:Deployment/monitoring/grafana=2", "scale:StatefulSet/apps/db=1", "scale:Deployment/apps/web=3"],
        "unlisted first, then the tiers in reverse; nothing resumed before every replica count is back"
    );
    for (w, n) in [(lab::web(), 3), (lab::db(), 1), (lab::grafana(), 2)] {
        lab::set_replicas(lab::workload_mut(&mut obs, &w), n);
    }
    assert_eq!(keys(&d.observe(&obs)), ["resume-flux:Kustomization/flux-system/flux-system"]);
    assert!(d.machine.journal().changes.scaled.is_empty());

    lab::flux_mut(&mut obs, &lab::k_root()).suspend = false;
    assert_eq!(keys(&d.observe(&obs)), ["resume-flux:Kustomization/flux-system/infrastructure"]);
    lab::flux_mut(&mut obs, &lab::k_infra()).suspend = false;
    assert_eq!(
        keys(&d.observe(&obs)),
        ["resume-flux:Kustomization/flux-system/apps", "resume-flux:HelmRelease/vault/vault"]
    );
    assert_eq!(d.machine.state(), StartupState::Converging);
    lab::flux_mut(&mut obs, &lab::k_apps()).suspend = false;
    lab::flux_mut(&mut obs, &lab::hr_vault()).suspend = false;
    d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::Soaking);
    let changes = &d.machine.journal().changes;
    assert!(changes.is_empty());
    assert!(changes.already_suspended.contains(&held), "the operator's suspend is kept");
    assert!(!d.effects().any(|e| *e == Effect::ResumeFlux { object: held.clone() }));
    assert!(!d.effects().any(|e| matches!(e, Effect::Scale { workload, .. } if workload.name == "idle")));
}

#[test]
fn a_completed_scale_is_emitted_again_only_after_the_retry_interval() {
    let mut journal = Journal::default();
    journal.changes.scaled.insert(lab::web(), 3);
    let mut obs = lab::healthy();
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::web()), 0);
    let mut d = past_nodes_up(Arc::new(lab::config()), journal, &obs);
    let scale = Effect::Scale { workload: lab::web(), replicas: 3 };
    assert_eq!(d.observe(&obs), std::slice::from_ref(&scale));
    assert!(d.observe(&obs).is_empty(), "in flight");
    d.done(&scale, EffectOutcome::Ok);
    d.advance(secs(29));
    assert!(d.observe(&obs).is_empty(), "completed 29 s ago");
    d.advance(secs(1));
    assert_eq!(d.observe(&obs), [scale], "the observation still does not reflect it");
}

#[test]
fn a_journaled_workload_that_no_longer_exists_is_dropped_with_a_diagnostic() {
    let mut journal = Journal::default();
    journal.changes.scaled.insert(lab::wl(WorkloadKind::Deployment, "apps", "gone"), 2);
    let obs = lab::healthy();
    let mut d = past_nodes_up(Arc::new(lab::config()), journal, &obs);
    assert!(d.observe(&obs).is_empty());
    assert!(d.machine.journal().changes.scaled.is_empty());
    assert!(d.machine.diagnostics().iter().any(|x| x.message.contains("no longer exists")));
    assert_eq!(d.machine.state(), StartupState::Soaking);
}

#[test]
fn the_converge_timeout_fails_with_the_first_failing_gate() {
    let mut obs = lab::healthy();
    lab::workload_mut(&mut obs, &lab::db()).status.ready = 0;
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    d.observe(&obs);
    assert!(d.advance(secs(1799)).is_empty());
    assert_eq!(d.machine.state(), StartupState::Converging);
    d.advance(secs(1));
    let failure = d.machine.failure().unwrap();
    assert_eq!(failure.gate, Some(GateId::Workloads));
    assert!(failure.reason.starts_with("converge timeout: workloads: StatefulSet apps/db"), "{}", failure.reason);
    assert!(!d.machine.gates().unwrap().all_pass());
}

#[test]
fn the_converge_timeout_with_green_gates_names_what_is_left_to_restore() {
    let mut journal = Journal::default();
    journal.changes.scaled.insert(lab::web(), 3);
    let mut obs = lab::healthy();
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::web()), 0);
    let mut d = past_nodes_up(Arc::new(lab::config()), journal, &obs);
    d.observe(&obs);
    d.advance(secs(1800));
    let failure = d.machine.failure().unwrap();
    assert_eq!(failure.gate, None);
    assert_eq!(failure.reason, "converge timeout: still restoring: scale back Deployment/apps/web to 3");
}

#[test]
fn a_source_that_is_ready_is_not_asked_to_reconcile_again() {
    let mut obs = lab::healthy();
    obs.git_server = Some(ananke_core::observation::GitServerHealth { healthy: false, reason: None });
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    assert_eq!(d.machine.state(), StartupState::FluxDeadlocked);
    obs.git_server = Some(ananke_core::observation::GitServerHealth { healthy: true, reason: None });
    let source = lab::fx(FluxKind::GitRepository, "flux-system", "flux-system");
    lab::flux_mut(&mut obs, &source).conditions[0].status = ConditionStatus::True;
    assert_eq!(d.observe(&obs).len(), 1);
    d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::Soaking);
    assert!(d.advance(secs(60)).is_empty(), "the source is Ready: no new request");
}
