//! `Quiescing`: suspend Flux roots first (verifying the suspend held), then scale workloads to 0
//! tier by tier, journaling every change before emitting it.

use super::{Quiesce, ShutdownRun};
use crate::config::WorkloadRef;
use crate::effect::Effect;
use crate::machine::step::Context;
use crate::machine::Timer;
use crate::observation::{FluxObservation, Observation, Workload};

impl ShutdownRun {
    /// One observation in `Quiescing`; returns whether every tier is scaled down. Without the API
    /// nothing is known about Flux or workloads: wait (the phase deadline bounds the wait).
    pub(super) fn quiesce(&mut self, context: &mut Context<'_>, obs: &Observation) -> bool {
        if !obs.api.reachable {
            let error = obs.api.error.as_deref().unwrap_or("no answer");
            context.diagnose_once(format!("Kubernetes API unreachable while quiescing ({error}); waiting"));
            return false;
        }
        if self.quiesce == Quiesce::Suspending {
            if !self.suspend_flux(context, obs) {
                return false;
            }
            self.start_tier(context, 0);
        } else {
            // Keep verifying that the suspends hold while scaling down.
            self.suspend_flux(context, obs);
        }
        self.scale_down(context, obs)
    }

    /// Start scaling down tier `tier`, bounded by the scale-down timeout.
    pub(super) fn start_tier(&mut self, context: &mut Context<'_>, tier: usize) {
        self.quiesce = Quiesce::Scaling(tier);
        self.waiting_for.clear();
        context.arm(Timer::PhaseDeadline, self.config.shutdown.scale_down_timeout.get());
    }

    /// Suspend every Kustomization and `HelmRelease`, a child only once its parent is observed
    /// suspended. Returns whether every one is observed suspended.
    fn suspend_flux(&mut self, context: &mut Context<'_>, obs: &Observation) -> bool {
        let Some(flux) = obs.flux.as_ref().filter(|f| f.installed) else {
            return true;
        };
        self.waiting_for.clear();
        let changes = &mut self.journal.changes;
        for object in flux.kustomizations.iter().chain(&flux.helm_releases) {
            let id = &object.id;
            let ours = changes.suspended.contains(id);
            if object.suspend {
                if ours {
                    self.seen_suspended.insert(id.clone());
                } else {
                    changes.already_suspended.insert(id.clone());
                }
                continue;
            }
            self.waiting_for.push(format!("{id} not suspended"));
            if changes.already_suspended.remove(id) {
                context.diagnose(format!("{id} was suspended by an operator and is now resumed; ananke suspends it"));
            }
            if ours && self.seen_suspended.remove(id) {
                context.diagnose(format!("suspend of {id} was reverted; suspending it again"));
                context.insist(Effect::SuspendFlux { object: id.clone() });
                continue;
            }
            if !parent_suspended(flux, object.managed_by.as_ref()) {
                continue;
            }
            if !ours {
                changes.suspended.push(id.clone());
            }
            context.offer(Effect::SuspendFlux { object: id.clone() });
        }
        self.waiting_for.is_empty()
    }

    /// Scale the current tier to 0; move on to the next tier once every workload of it is observed
    /// at 0 replicas. A later workload that `shutdown.order` lets go earlier is scaled as soon as
    /// what it waits for is observed stopped (or belongs to a tier already passed). Returns whether
    /// every tier is done.
    fn scale_down(&mut self, context: &mut Context<'_>, obs: &Observation) -> bool {
        let config = std::sync::Arc::clone(&self.config);
        let settings = &config.shutdown;
        let tier_of =
            |w: &WorkloadRef| settings.tiers.iter().position(|t| t.contains(w)).unwrap_or(settings.tiers.len());
        let scalable = |w: &&Workload| w.id.kind.scalable() && !settings.exclude_namespaces.contains(&w.id.namespace);
        let changes = &mut self.journal.changes;
        for workload in obs.workloads.iter().filter(scalable) {
            if workload.spec_replicas == Some(0) && !changes.scaled.contains_key(&workload.id) {
                changes.already_scaled_to_zero.insert(workload.id.clone());
            }
        }
        loop {
            let Quiesce::Scaling(tier) = self.quiesce else {
                return false;
            };
            if tier > settings.tiers.len() {
                self.waiting_for.clear();
                return true;
            }
            for entry in &settings.order {
                let released = entry.after.iter().all(|b| tier_of(b) < tier || stopped(obs, b));
                let later = obs.workload(&entry.workload).filter(|w| tier_of(&w.id) > tier && scalable(w));
                if let Some(workload) = later.filter(|w| released && w.spec_replicas.unwrap_or(1) != 0) {
                    self.scale_to_zero(context, workload);
                }
            }
            self.waiting_for.clear();
            for workload in obs.workloads.iter().filter(scalable).filter(|w| tier_of(&w.id) == tier) {
                let spec = workload.spec_replicas.unwrap_or(1);
                if spec != 0 {
                    self.scale_to_zero(context, workload);
                    self.waiting_for.push(format!("{} at {spec} replicas", workload.id));
                } else if workload.status.replicas != 0 {
                    self.waiting_for.push(format!("{} has {} pods left", workload.id, workload.status.replicas));
                }
            }
            if !self.waiting_for.is_empty() {
                return false;
            }
            self.start_tier(context, tier + 1);
        }
    }

    /// Journal the replica count of `workload` (the first time), then ask for it at 0.
    fn scale_to_zero(&mut self, context: &mut Context<'_>, workload: &Workload) {
        let changes = &mut self.journal.changes;
        if !changes.scaled.contains_key(&workload.id) {
            changes.already_scaled_to_zero.remove(&workload.id);
            changes.scaled.insert(workload.id.clone(), workload.spec_replicas.unwrap_or(1));
        }
        context.offer(Effect::Scale { workload: workload.id.clone(), replicas: 0 });
    }
}

/// Whether `w` is observed stopped: at 0 replicas with no pods left, or gone.
fn stopped(obs: &Observation, w: &WorkloadRef) -> bool {
    obs.workload(w).is_none_or(|x| x.spec_replicas == Some(0) && x.status.replicas == 0)
}

/// Whether the Kustomization `parent` (the object's `managed_by`) is observed suspended, or is not
/// one of the objects to suspend (then the object is a root).
fn parent_suspended(flux: &FluxObservation, parent: Option<&crate::config::ObjectRef>) -> bool {
    let Some(parent) = parent else { return true };
    flux.kustomizations.iter().find(|k| k.id.object == *parent).is_none_or(|k| k.suspend)
}
