//! Restoring what the journal says the shutdown changed, and nothing else.
//!
//! Each entry leaves the journal once an observation confirms it is restored, so a rerun after a
//! crash never redoes or undoes anything harmful.

use super::StartupRun;
use crate::config::WorkloadRef;
use crate::effect::Effect;
use crate::journal::SourceBefore;
use crate::machine::step::Context;
use crate::observation::{ConditionStatus, FluxKind, FluxRef, Observation};

impl StartupRun {
    /// Per-observation upkeep of every non-terminal state after `Off`: start k3s where it stopped
    /// again, uncordon, force the source branch, and note what timer-driven failure reasons need.
    pub(super) fn tend(&mut self, context: &mut Context<'_>, obs: &Observation) {
        self.adopt_marks(context, obs);
        self.note_ignored(obs);
        self.start_nodes(context, obs);
        self.restore_cordons(context, obs);
        self.force_branch(context, obs);
        let source = self.source_ref();
        let source = obs.flux.as_ref().and_then(|f| f.get(&source));
        self.seen.source_ready =
            source.and_then(|s| s.condition("Ready")).is_some_and(|c| c.status == ConditionStatus::True);
        self.seen.git_server = match &obs.git_server {
            None => None,
            Some(g) if g.healthy => None,
            Some(g) => Some(g.reason.clone().unwrap_or_else(|| "unhealthy".to_owned())),
        };
    }

    /// A lost journal: at the first observation with the API, take what the cluster's marks say
    /// ananke changed (the journal's own entries win where both exist). With a journal: say where
    /// a mark disagrees with it (the journal wins).
    pub(super) fn adopt_marks(&mut self, context: &mut Context<'_>, obs: &Observation) {
        if !obs.api.reachable || self.marks_checked {
            return;
        }
        self.marks_checked = true;
        let marks = crate::journal::Changes::from_marks(obs);
        let changes = &mut self.journal.changes;
        if !self.journal.rebuild_from_marks {
            for (w, n) in &marks.scaled {
                if let Some(journaled) = changes.scaled.get(w).filter(|j| *j != n) {
                    context.diagnose(format!(
                        "{w}: the journal says {journaled} replicas, ananke's mark on it {n}: the journal wins"
                    ));
                }
            }
            return;
        }
        self.journal.rebuild_from_marks = false;
        let rebuilt = crate::journal::Journal { changes: marks.clone(), ..crate::journal::Journal::default() };
        for (w, n) in marks.scaled {
            changes.scaled.entry(w).or_insert(n);
        }
        for f in marks.suspended {
            if !changes.suspended.contains(&f) {
                changes.suspended.push(f);
            }
        }
        changes.cordoned.extend(marks.cordoned);
        let lines = rebuilt.pending_lines();
        self.restore_source = Some(if lines.is_empty() {
            "restore source: none: the journal was lost and the cluster holds none of ananke's marks".to_owned()
        } else {
            format!("restore source: the cluster's ananke.io marks (the journal was lost): {}", lines.join("; "))
        });
        context.diagnose(self.restore_source.clone().unwrap_or_default());
    }

    /// Uncordon every node ananke cordoned; forget it once observed schedulable.
    fn restore_cordons(&mut self, context: &mut Context<'_>, obs: &Observation) {
        if self.journal.changes.cordoned.is_empty() {
            return;
        }
        let mut restored = Vec::new();
        for node in &self.journal.changes.cordoned {
            match obs.node(node).and_then(|n| n.kube.as_ref()) {
                Some(kube) if !kube.unschedulable => restored.push(node.clone()),
                Some(_) => {
                    context.offer(Effect::Uncordon { node: node.clone() });
                }
                None => {}
            }
        }
        for node in restored {
            self.journal.changes.cordoned.remove(&node);
        }
    }

    /// `--force-flux-branch`: record the source as it was, then set the branch.
    fn force_branch(&mut self, context: &mut Context<'_>, obs: &Observation) {
        let Some(branch) = &self.options.force_flux_branch else {
            return;
        };
        let object = self.source_ref();
        let Some(source) = obs.flux.as_ref().and_then(|f| f.get(&object)) else {
            return;
        };
        if source.branch.as_ref() == Some(branch) {
            return;
        }
        self.journal
            .changes
            .sources_before
            .entry(object.clone())
            .or_insert_with(|| SourceBefore { url: source.url.clone(), branch: source.branch.clone() });
        context.offer(Effect::SetFluxSource { object, url: None, branch: Some(branch.clone()) });
    }

    /// Whether the drift guard holds Flux: the source is not observed at the expected URL and
    /// branch. While it holds, nothing is resumed (Flux would apply another desired state).
    pub(super) fn source_drifted(&self, obs: &Observation) -> bool {
        !crate::gates::flux_drift::check(&self.config, obs).passed()
    }

    /// Why the run must stop now at the drift guard: the source is observed at another URL or
    /// branch and nothing this run does will change that (a `--force-flux-branch` reset still on
    /// its way is waited for). The reason ends with the one thing the operator can do.
    pub(super) fn drift_blocks(&self, obs: &Observation) -> Option<String> {
        let object = self.source_ref();
        let source = obs.flux.as_ref().and_then(|f| f.get(&object))?;
        let config = &self.config;
        let url = source.url.as_deref().unwrap_or("not set");
        if url != config.expected_flux_source_url {
            return Some(format!(
                "{object} fetches from {url}, expected {}: set the GitRepository's spec.url back, or \
                 expected_flux_source_url in the config if {url} is intended",
                config.expected_flux_source_url
            ));
        }
        let branch = source.branch.as_deref().unwrap_or("not set");
        let forcing = self.options.force_flux_branch.is_some();
        if branch == config.expected_flux_branch || forcing {
            return None;
        }
        Some(format!(
            "{object} tracks branch {branch}, expected {}: run `ananke startup --execute --force-flux-branch {}` to \
             reset it, or set expected_flux_branch in the config if {branch} is intended",
            config.expected_flux_branch, config.expected_flux_branch
        ))
    }

    /// The source `GitRepository` the drift guard checks.
    pub(super) fn source_ref(&self) -> FluxRef {
        FluxRef { kind: FluxKind::GitRepository, object: self.config.flux.source.clone() }
    }

    /// Whether an in-cluster Git server is configured and not observed healthy.
    pub(super) fn git_server_down(&self, obs: &Observation) -> bool {
        self.config.flux.git_server.is_some() && !obs.git_server.as_ref().is_some_and(|g| g.healthy)
    }

    /// The in-cluster Git server's workload, for messages.
    pub(super) fn git_server_name(&self) -> String {
        self.config.flux.git_server.as_ref().map_or_else(String::new, |g| g.workload.to_string())
    }

    /// Scale the in-cluster Git server to 1 when it is at 0 and the journal does not know it.
    ///
    /// `FluxDeadlocked`, the only state that brings the server up, runs
    /// [`restore_scaled`](Self::restore_scaled) first in the same step: it scales every journaled
    /// workload back, the server and the workloads the same Flux objects deploy with it (its
    /// database, say) among them, and forgets each once observed restored.
    pub(super) fn bring_up_git_server(&self, context: &mut Context<'_>, obs: &Observation) {
        // `FluxDeadlocked` is entered only when a Git server is configured.
        let Some(git) = &self.config.flux.git_server else { return };
        let server = &git.workload;
        let Some(seen) = obs.workload(server) else {
            context.diagnose_once(format!("in-cluster Git server workload {server} is not observed"));
            return;
        };
        if seen.spec_replicas == Some(0) && !self.journal.changes.scaled.contains_key(server) {
            context.offer(Effect::Scale { workload: server.clone(), replicas: 1 });
        }
    }

    /// Unseal every reachable sealed Vault pod: the standard shares first, the breakglass command
    /// once the standard unseal failed. Notes which pods are sealed.
    pub(super) fn unseal_vault(&mut self, context: &mut Context<'_>, obs: &Observation) {
        self.seen.sealed.clear();
        for vault in obs.vault.iter().filter(|v| v.sealed) {
            self.seen.sealed.push(vault.pod.clone());
            if !vault.reachable {
                continue;
            }
            let pod = vault.pod.clone();
            if self.unseal_failed.contains_key(&pod) {
                context.offer(Effect::UnsealVaultBreakglass { pod });
            } else {
                context.offer(Effect::UnsealVault { pod });
            }
        }
    }

    /// Scale every journaled workload back to its recorded count (unlisted workloads first, then
    /// the shutdown tiers in reverse); forget each once observed restored. Returns whether nothing
    /// remains to scale.
    pub(super) fn restore_scaled(&mut self, context: &mut Context<'_>, obs: &Observation) -> bool {
        if self.journal.changes.scaled.is_empty() {
            return true;
        }
        let tiers = &self.config.shutdown.tiers;
        let tier_of = |w: &WorkloadRef| tiers.iter().position(|t| t.contains(w)).unwrap_or(tiers.len());
        let mut order: Vec<(usize, WorkloadRef, i32)> =
            self.journal.changes.scaled.iter().map(|(w, n)| (tier_of(w), w.clone(), *n)).collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (_, workload, replicas) in order {
            match obs.workload(&workload) {
                Some(seen) if seen.spec_replicas.unwrap_or(1) == replicas => {
                    self.journal.changes.scaled.remove(&workload);
                }
                Some(_) => {
                    context.offer(Effect::Scale { workload, replicas });
                }
                None if obs.api.reachable => {
                    context.diagnose(format!("journaled workload {workload} no longer exists; nothing to restore"));
                    self.journal.changes.scaled.remove(&workload);
                }
                None => {}
            }
        }
        self.journal.changes.scaled.is_empty()
    }

    /// Resume what ananke suspended, each object only after every object it depends on (and its
    /// parent) that is also waiting to be resumed was resumed and observed unsuspended. Forgets
    /// each once observed unsuspended; never touches what was already suspended.
    pub(super) fn resume_flux(&mut self, context: &mut Context<'_>, obs: &Observation) {
        let Some(flux) = &obs.flux else { return };
        if self.journal.changes.suspended.is_empty() || self.source_drifted(obs) {
            return;
        }
        let changes = &mut self.journal.changes;
        let mut keep = Vec::with_capacity(changes.suspended.len());
        for id in &changes.suspended {
            if changes.already_suspended.contains(id) {
                context.diagnose_once(format!(
                    "{id} is journaled both as suspended by ananke and by an operator; left suspended"
                ));
                continue;
            }
            match flux.get(id) {
                Some(object) if object.suspend => keep.push(id.clone()),
                Some(_) => {}
                None if flux.installed => {
                    context.diagnose(format!("journaled {id} no longer exists; nothing to resume"));
                }
                None => keep.push(id.clone()),
            }
        }
        changes.suspended.clone_from(&keep);
        for id in &keep {
            let Some(object) = flux.get(id) else { continue };
            let waits_for = |other: FluxRef| other != *id && keep.contains(&other);
            let blocked = object.depends_on.iter().any(|d| waits_for(FluxRef { kind: id.kind, object: d.clone() }))
                || object
                    .managed_by
                    .as_ref()
                    .is_some_and(|p| waits_for(FluxRef { kind: FluxKind::Kustomization, object: p.clone() }));
            if !blocked {
                context.offer(Effect::ResumeFlux { object: id.clone() });
            }
        }
    }

    /// Whether the journal holds nothing this run can still restore (a cordoned node that is not
    /// observed cannot be uncordoned and does not hold the run back).
    pub(super) fn nothing_to_restore(&self, obs: &Observation) -> bool {
        let changes = &self.journal.changes;
        changes.scaled.is_empty()
            && changes.suspended.is_empty()
            && !changes.cordoned.iter().any(|n| obs.node(n).is_some_and(|n| n.kube.is_some()))
    }

    /// What remains to restore, for failure reasons.
    pub(super) fn restore_backlog(&self) -> String {
        let mut parts = self.journal.restore_lines();
        if !self.seen.sealed.is_empty() {
            parts.push(format!("unseal vault {}", self.seen.sealed.join(", ")));
        }
        if parts.is_empty() {
            "nothing".to_owned()
        } else {
            parts.join("; ")
        }
    }
}
