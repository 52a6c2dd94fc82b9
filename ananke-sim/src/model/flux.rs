//! Flux emulation (reference §7 item 7): reconciles on schedule or on request, `dependsOn`,
//! suspend, `GitRepositories` that cannot fetch while their in-cluster Git server is down, and
//! Kustomizations that re-apply the replica counts and child suspends of what they manage.

use super::parts::FluxSim;
use super::settle::after;
use super::Model;
use ananke_core::observation::{ConditionStatus, FluxKind};

impl Model {
    /// The Flux controllers run and the API answers.
    pub(crate) fn flux_running(&self) -> bool {
        self.api_up && self.controllers.is_none_or(|c| self.ready_for_dependents(c))
    }

    /// Whether Flux object `i` is Ready for its dependents.
    fn flux_ready(&self, i: usize) -> bool {
        let f = &self.flux[i];
        f.ready == ConditionStatus::True && f.observed == Some(f.generation)
    }

    /// Due reconciles; controllers (re)starting reconcile everything not suspended; applied objects
    /// turn Ready once their workloads are healthy.
    pub(crate) fn settle_flux(&mut self) -> bool {
        let running = self.flux_running();
        let mut changed = false;
        if running != self.controllers_up {
            self.controllers_up = running;
            changed = true;
            for f in &mut self.flux {
                if running && !f.suspend {
                    f.next_reconcile = Some(after(self.now, self.reconcile_delay));
                }
                if !running && f.id.kind == FluxKind::GitRepository {
                    // source-controller keeps artifacts in an emptyDir: gone with the pod.
                    f.artifact = false;
                }
            }
        }
        if !running {
            return changed;
        }
        for i in 0..self.flux.len() {
            if self.flux[i].suspend {
                continue;
            }
            if self.flux[i].next_reconcile.is_some_and(|t| t <= self.now) {
                self.reconcile(i);
                changed = true;
            }
            if self.flux[i].waiting_health && self.flux[i].manages.iter().all(|&c| self.ready_for_dependents(c)) {
                let f = &mut self.flux[i];
                f.waiting_health = false;
                set_ready(f, ConditionStatus::True, "ReconciliationSucceeded", "Applied revision");
                changed = true;
            }
        }
        changed
    }

    /// Reconcile Flux object `i` now.
    fn reconcile(&mut self, i: usize) {
        let now = self.now;
        let token = self.flux[i].pending_token.take();
        if token.is_some() {
            self.flux[i].last_handled = token;
        }
        let kind = self.flux[i].id.kind;
        if kind == FluxKind::GitRepository {
            let f = &self.flux[i];
            let server_up = f.served_by.is_none_or(|c| self.ready_for_dependents(c));
            let outcome = if !server_up {
                Err(format!(
                    "failed to checkout and determine revision: unable to clone '{}': connection refused",
                    f.url
                ))
            } else if f.url != f.manifest_url {
                Err(format!(
                    "failed to checkout and determine revision: unable to clone '{}': repository not found",
                    f.url
                ))
            } else if !f.branches.contains(&f.branch) {
                Err(format!(
                    "failed to checkout and determine revision: couldn't find remote ref \"refs/heads/{}\"",
                    f.branch
                ))
            } else {
                Ok(())
            };
            let f = &mut self.flux[i];
            f.observed = Some(f.generation);
            f.next_reconcile = Some(after(now, f.interval));
            f.artifact = outcome.is_ok();
            match outcome {
                Ok(()) => set_ready(
                    f,
                    ConditionStatus::True,
                    "Succeeded",
                    &format!("stored artifact for revision '{}@sha1:5eed'", f.branch),
                ),
                Err(m) => set_ready(f, ConditionStatus::False, "GitOperationFailed", &m),
            }
            return;
        }
        let source_ok = self.flux[i].source.is_none_or(|s| self.flux[s].artifact);
        let deps_ok = self.flux[i].depends_on.iter().all(|&d| self.flux_ready(d));
        let retry = after(now, self.requeue_dependency);
        if !source_ok {
            let f = &mut self.flux[i];
            f.observed = Some(f.generation);
            f.next_reconcile = Some(retry);
            set_ready(f, ConditionStatus::False, "ArtifactFailed", "Source artifact not found, retrying");
            return;
        }
        if !deps_ok {
            let f = &mut self.flux[i];
            f.observed = Some(f.generation);
            f.next_reconcile = Some(retry);
            set_ready(
                f,
                ConditionStatus::False,
                "DependencyNotReady",
                "dependencies do not meet ready condition, retrying",
            );
            return;
        }
        if kind == FluxKind::Kustomization {
            self.apply_manifests(i);
        }
        let healthy = self.flux[i].manages.iter().all(|&c| self.ready_for_dependents(c));
        let f = &mut self.flux[i];
        f.observed = Some(f.generation);
        f.next_reconcile = Some(after(now, f.interval));
        if healthy {
            f.waiting_health = false;
            set_ready(f, ConditionStatus::True, "ReconciliationSucceeded", "Applied revision");
        } else {
            f.waiting_health = true;
            set_ready(
                f,
                ConditionStatus::Unknown,
                "Progressing",
                "Reconciliation in progress: waiting for health checks",
            );
        }
    }

    /// A Kustomization applies its manifests: managed replica counts and children's `suspend`.
    fn apply_manifests(&mut self, i: usize) {
        for &c in &self.flux[i].manages {
            if let Some(w) = self.comps[c].workload.as_mut() {
                if w.desired != w.manifest {
                    w.desired = w.manifest;
                    w.generation += 1;
                }
            }
        }
        let now = self.now;
        let delay = self.reconcile_delay;
        for child in self.flux.iter_mut().filter(|f| f.managed_by == Some(i)) {
            if child.suspend != child.manifest_suspend {
                child.suspend = child.manifest_suspend;
                child.generation += 1;
                if !child.suspend {
                    child.next_reconcile = Some(after(now, delay));
                }
            }
        }
    }

    /// Ask for a reconcile of object `i` handling `token` (nothing happens while it is suspended).
    pub(crate) fn request_reconcile(&mut self, i: usize, token: String) {
        let at = after(self.now, self.reconcile_delay);
        let f = &mut self.flux[i];
        f.requested_at = Some(token.clone());
        f.pending_token = Some(token);
        if !f.suspend {
            f.next_reconcile = Some(f.next_reconcile.map_or(at, |t| t.min(at)));
        }
    }
}

/// Set the `Ready` condition.
fn set_ready(f: &mut FluxSim, status: ConditionStatus, reason: &str, message: &str) {
    f.ready = status;
    reason.clone_into(&mut f.reason);
    message.clone_into(&mut f.message);
}
