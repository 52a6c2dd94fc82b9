//! Startup's restore bookkeeping at its edges: a branch forced only once the source is observed,
//! journaled Flux objects that vanished or that an operator also suspended, a Git server workload
//! that is not observed, a sealed Vault pod that does not answer, and the backlog a timeout names.

use super::{past_nodes_up, startup};
use crate::machines::lab::{self, config_with};
use crate::machines::world::{secs, Driver};
use ananke_core::config::HumanDuration;
use ananke_core::effect::Effect;
use ananke_core::gates::GateId;
use ananke_core::journal::{Journal, SourceBefore};
use ananke_core::machine::{Machine, StartupMachine, StartupOptions, StartupState};
use ananke_core::observation::{FluxKind, FluxObservation, GitServerHealth};
use std::sync::Arc;

fn said(d: &Driver<StartupMachine>, text: &str) -> usize {
    d.machine.diagnostics().iter().filter(|x| x.message == text).count()
}

#[test]
fn a_forced_branch_waits_until_the_source_is_observed() {
    let options = StartupOptions { force_flux_branch: Some("main".to_owned()) };
    let mut d = startup(Arc::new(lab::config()), Journal::default(), options);
    let source = lab::fx(FluxKind::GitRepository, "flux-system", "flux-system");
    let mut obs = lab::healthy();
    lab::flux_mut(&mut obs, &source).branch = Some("release".to_owned());
    let mut unlisted = obs.clone();
    unlisted.flux.as_mut().expect("flux").sources.clear();
    d.observe(&unlisted);
    d.observe(&unlisted);
    let effects = d.observe(&unlisted);
    assert_eq!(d.machine.state(), StartupState::Converging);
    assert!(!d.log.iter().any(|(_, e)| matches!(e, Effect::SetFluxSource { .. })), "{:?}", d.log);
    assert!(effects.iter().all(|e| !matches!(e, Effect::SetFluxSource { .. })), "{effects:?}");
    assert!(d.machine.journal().changes.sources_before.is_empty(), "nothing recorded for an unseen source");

    let effects = d.observe(&obs);
    assert!(effects.contains(&Effect::SetFluxSource {
        object: source.clone(),
        url: None,
        branch: Some("main".to_owned())
    }));
    assert_eq!(
        d.machine.journal().changes.sources_before.get(&source),
        Some(&SourceBefore { url: Some(lab::URL.to_owned()), branch: Some("release".to_owned()) })
    );
}

#[test]
fn a_journaled_flux_object_that_vanished_is_forgotten_while_flux_is_installed() {
    let gone = lab::fx(FluxKind::Kustomization, "flux-system", "gone");
    let mut journal = Journal::default();
    journal.changes.suspended = vec![lab::hr_vault(), gone.clone()];
    let mut obs = lab::healthy();
    lab::flux_mut(&mut obs, &lab::hr_vault()).suspend = true;
    let mut d = past_nodes_up(Arc::new(lab::config()), journal, &obs);
    assert_eq!(d.machine.state(), StartupState::Converging);

    // Flux's kinds not installed (yet): nothing can be told apart, everything waits.
    let mut no_flux = obs.clone();
    no_flux.flux = Some(FluxObservation::default());
    let effects = d.observe(&no_flux);
    assert!(!effects.iter().any(|e| matches!(e, Effect::ResumeFlux { .. })), "{effects:?}");
    assert_eq!(d.machine.journal().changes.suspended, [lab::hr_vault(), gone.clone()]);

    let vanished = "journaled Kustomization/flux-system/gone no longer exists; nothing to resume";
    assert_eq!(said(&d, vanished), 0);
    let effects = d.observe(&obs);
    assert_eq!(effects, [Effect::ResumeFlux { object: lab::hr_vault() }]);
    assert_eq!(d.machine.journal().changes.suspended, [lab::hr_vault()], "the vanished object is forgotten");
    assert_eq!(said(&d, vanished), 1);
}

#[test]
fn an_object_an_operator_also_suspended_is_left_suspended_and_forgotten() {
    let mut journal = Journal::default();
    journal.changes.suspended = vec![lab::hr_vault()];
    journal.changes.already_suspended.insert(lab::hr_vault());
    let mut obs = lab::healthy();
    lab::flux_mut(&mut obs, &lab::hr_vault()).suspend = true;
    let mut d = past_nodes_up(Arc::new(lab::config()), journal, &obs);
    let effects = d.observe(&obs);
    assert!(!effects.iter().any(|e| matches!(e, Effect::ResumeFlux { .. })), "{effects:?}");
    assert!(d.machine.journal().changes.suspended.is_empty());
    assert!(d.machine.journal().changes.already_suspended.contains(&lab::hr_vault()), "the operator's hold stays");
    let both = "HelmRelease/vault/vault is journaled both as suspended by ananke and by an operator; left suspended";
    assert_eq!(said(&d, both), 1);
    assert_eq!(d.machine.state(), StartupState::Soaking, "nothing else to restore");
}

#[test]
fn the_converge_timeout_names_what_is_left_to_resume_uncordon_and_unseal() {
    let mut journal = Journal::default();
    journal.changes.suspended = vec![lab::hr_vault()];
    journal.changes.cordoned.insert("titan-04".to_owned());
    let mut obs = lab::healthy();
    lab::flux_mut(&mut obs, &lab::hr_vault()).suspend = true;
    lab::node_mut(&mut obs, "titan-04").kube.as_mut().expect("kube").unschedulable = true;
    obs.vault[0].sealed = true;
    let mut d = past_nodes_up(Arc::new(lab::config()), journal, &obs);
    d.observe(&obs);
    d.advance(secs(1800));
    assert_eq!(d.machine.state(), StartupState::Failed);
    let failure = d.machine.failure().expect("failed");
    assert_eq!(failure.gate, None, "every gate passes");
    assert_eq!(
        failure.reason,
        "converge timeout: still restoring: resume HelmRelease/vault/vault; uncordon titan-04; unseal vault vault-0"
    );
}

#[test]
fn the_deadline_in_a_soak_longer_than_the_run_says_nothing_is_left_to_restore() {
    let config = config_with(|c| c.soak.duration = HumanDuration::secs(7200));
    let obs = lab::healthy();
    let mut d = past_nodes_up(config, Journal::default(), &obs);
    d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::Soaking);
    d.advance(secs(3600));
    assert_eq!(d.machine.state(), StartupState::Failed);
    let failure = d.machine.failure().expect("failed");
    assert_eq!(failure.gate, Some(GateId::Soak));
    assert_eq!(failure.reason, "startup deadline exceeded: still restoring or soaking: nothing");
}

#[test]
fn a_git_server_workload_that_is_not_observed_is_said_once() {
    let mut obs = lab::healthy();
    obs.workloads.retain(|w| w.id != lab::gitea());
    obs.git_server = Some(GitServerHealth { healthy: false, reason: None });
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    assert_eq!(d.machine.state(), StartupState::FluxDeadlocked);
    assert!(d.observe(&obs).is_empty(), "nothing to scale");
    d.observe(&obs);
    assert_eq!(said(&d, "in-cluster Git server workload Deployment/gitea/gitea is not observed"), 1);
}

#[test]
fn a_sealed_vault_pod_that_does_not_answer_is_not_unsealed_but_holds_the_run() {
    let mut obs = lab::healthy();
    obs.vault[0].sealed = true;
    obs.vault[0].reachable = false;
    let mut d = past_nodes_up(Arc::new(lab::config()), Journal::default(), &obs);
    let effects = d.observe(&obs);
    assert!(!effects.iter().any(|e| matches!(e, Effect::UnsealVault { .. })), "{effects:?}");
    assert_eq!(d.machine.state(), StartupState::Converging);
    d.advance(secs(1800));
    let failure = d.machine.failure().expect("failed");
    assert_eq!(failure.reason, "converge timeout: still restoring: unseal vault vault-0");
}

#[test]
fn a_drifted_source_fails_at_once_naming_the_fix_and_nothing_is_resumed() {
    let source = lab::fx(FluxKind::GitRepository, "flux-system", "flux-system");
    let mut journal = Journal::default();
    journal.changes.suspended = vec![lab::k_apps()];
    let mut obs = lab::healthy();
    lab::flux_mut(&mut obs, &lab::k_apps()).suspend = true;
    lab::flux_mut(&mut obs, &source).branch = Some("drill".to_owned());
    let mut d = startup(Arc::new(lab::config()), journal.clone(), StartupOptions::default());
    d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::NodesUp);
    d.observe(&obs);
    assert_eq!(d.machine.state(), StartupState::Failed, "failed at the first observation with the nodes up");
    let failure = d.machine.failure().unwrap();
    assert_eq!(failure.gate, Some(GateId::FluxDrift));
    assert!(failure.reason.contains("tracks branch drill, expected main"), "{}", failure.reason);
    assert!(failure.reason.contains("`ananke startup --execute --force-flux-branch main`"), "{}", failure.reason);
    assert!(!d.log.iter().any(|(_, e)| matches!(e, Effect::ResumeFlux { .. })), "{:?}", d.log);

    // A URL nothing here can fix fails too, even with a forced branch.
    let mut obs = lab::healthy();
    lab::flux_mut(&mut obs, &source).url = Some("ssh://git@mirror.invalid/x.git".to_owned());
    let options = StartupOptions { force_flux_branch: Some("main".to_owned()) };
    let mut d = startup(Arc::new(lab::config()), journal, options);
    d.observe(&obs);
    d.observe(&obs);
    let failure = d.machine.failure().expect("a url drift fails");
    assert!(failure.reason.contains("fetches from ssh://git@mirror.invalid/x.git"), "{}", failure.reason);
    assert!(failure.reason.contains("expected_flux_source_url"), "{}", failure.reason);
}

#[test]
fn forcing_another_branch_makes_this_run_expect_it() {
    let source = lab::fx(FluxKind::GitRepository, "flux-system", "flux-system");
    let options = StartupOptions { force_flux_branch: Some("drill".to_owned()) };
    let mut d = startup(Arc::new(lab::config()), Journal::default(), options);
    let said = d.machine.diagnostics()[0].message.clone();
    assert!(said.contains("this run expects the Flux source on branch drill, not expected_flux_branch main"), "{said}");
    let mut obs = lab::healthy();
    d.observe(&obs);
    let effects = d.observe(&obs);
    assert!(effects.contains(&Effect::SetFluxSource {
        object: source.clone(),
        url: None,
        branch: Some("drill".to_owned())
    }));
    assert_ne!(d.machine.state(), StartupState::Failed, "the reset is on its way");
    lab::flux_mut(&mut obs, &source).branch = Some("drill".to_owned());
    for _ in 0..3 {
        d.observe(&obs);
    }
    assert!(d.machine.failure().is_none(), "{:?}", d.machine.failure());
    assert!(crate::machines::lab::config().expected_flux_branch == "main", "the config itself is unchanged");
}

#[test]
fn a_node_stopped_before_the_shutdown_is_left_as_found_and_counted_as_ignored() {
    let mut journal = Journal::default();
    journal.changes.already_stopped.insert("titan-05".to_owned());
    journal.changes.stopped.insert("titan-04".to_owned());
    let mut obs = lab::healthy();
    for n in ["titan-04", "titan-05"] {
        lab::node_mut(&mut obs, n).k3s_unit = ananke_core::observation::UnitState::Inactive;
    }
    let mut d = startup(Arc::new(lab::config()), journal, StartupOptions::default());
    assert!(
        said(
            &d,
            "node titan-05: k3s was stopped before the shutdown, not by ananke: left as found (counted as ignored)"
        ) == 1
    );
    let effects = d.observe(&obs);
    assert!(effects.iter().any(|e| matches!(e, Effect::StartK3s { node, .. } if node == "titan-04")), "{effects:?}");
    assert!(
        !d.log.iter().any(|(_, e)| matches!(e, Effect::StartK3s { node, .. } if node == "titan-05")),
        "{:?}",
        d.log
    );
}

#[test]
fn a_lost_journal_is_rebuilt_from_the_marks_at_the_first_observation_with_the_api() {
    let mut obs = lab::healthy();
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::web()), 0);
    lab::workload_mut(&mut obs, &lab::web()).replicas_before = Some(2);
    let apps = lab::flux_mut(&mut obs, &lab::k_apps());
    apps.suspend = true;
    apps.suspended_by_ananke = true;
    // Suspended by an operator: no mark, so not resumed.
    lab::flux_mut(&mut obs, &lab::hr_vault()).suspend = true;
    let kube = lab::node_mut(&mut obs, "titan-04").kube.as_mut().unwrap();
    kube.unschedulable = true;
    kube.cordoned_by_ananke = true;
    let journal = Journal { rebuild_from_marks: true, ..Journal::default() };
    let mut d = startup(Arc::new(lab::config()), journal, StartupOptions::default());
    let mut down = obs.clone();
    down.api.reachable = false;
    d.observe(&down);
    assert!(d.machine.journal().rebuild_from_marks, "nothing can be read without the API");
    d.observe(&obs);
    let changes = &d.machine.journal().changes;
    assert!(!d.machine.journal().rebuild_from_marks);
    assert_eq!(changes.scaled.get(&lab::web()), Some(&2));
    assert_eq!(changes.suspended, [lab::k_apps()]);
    assert!(
        changes.cordoned.contains("titan-04")
            || d.log.iter().any(|(_, e)| *e == Effect::Uncordon { node: "titan-04".into() })
    );
    let warnings = d.machine.warnings();
    assert!(warnings[0].starts_with("restore source: the cluster's ananke.io marks (the journal was lost): scale back Deployment/apps/web to 2; resume Kustomization/flux-system/apps; uncordon titan-04"), "{warnings:?}");
}

#[test]
fn a_mark_that_disagrees_with_the_journal_is_named_and_the_journal_wins() {
    let mut obs = lab::healthy();
    lab::set_replicas(lab::workload_mut(&mut obs, &lab::web()), 0);
    lab::workload_mut(&mut obs, &lab::web()).replicas_before = Some(5);
    let mut journal = Journal::default();
    journal.changes.scaled.insert(lab::web(), 2);
    let mut d = startup(Arc::new(lab::config()), journal, StartupOptions::default());
    d.observe(&obs);
    assert_eq!(
        said(&d, "Deployment/apps/web: the journal says 2 replicas, ananke's mark on it 5: the journal wins"),
        1
    );
    assert_eq!(d.machine.journal().changes.scaled.get(&lab::web()), Some(&2));
    assert!(d.machine.warnings().is_empty(), "{:?}", d.machine.warnings());
}
