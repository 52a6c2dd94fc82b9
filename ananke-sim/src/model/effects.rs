//! Applying ananke's effects to the model. SSH effects need the host up; API effects need a
//! server quorum (and may fail transiently when the scenario makes the API flaky).

use super::parts::{Phase, Unit};
use super::settle::after;
use super::Model;
use ananke_core::config::WorkloadRef;
use ananke_core::machine::EffectOutcome;
use ananke_core::observation::FluxRef;
use ananke_core::{Effect, Time};

fn failed(transient: bool, message: impl Into<String>) -> EffectOutcome {
    EffectOutcome::Failed { transient, message: message.into() }
}

/// What an API call did: `Err` is the API refusing it (an object that does not exist).
type ApiCall = Result<EffectOutcome, EffectOutcome>;

impl Model {
    /// Execute `effect` at `now` and say what happened.
    pub fn apply(&mut self, now: Time, effect: &Effect) -> EffectOutcome {
        self.advance(now);
        let outcome = match effect {
            Effect::StartK3s { node, .. } | Effect::StopK3s { node, .. } | Effect::PowerOffHost { node } => {
                self.apply_host(effect, node)
            }
            Effect::UnsealVault { pod } => self.unseal(pod, false),
            Effect::UnsealVaultBreakglass { pod } => self.unseal(pod, true),
            Effect::Cordon { node } => self.via_api(|m| m.cordon(node, true)),
            Effect::Uncordon { node } => self.via_api(|m| m.cordon(node, false)),
            Effect::Drain { node } => self.via_api(|m| Ok(m.drain(m.api_node(node)?))),
            Effect::Scale { workload, replicas } => self.via_api(|m| m.scale(workload, *replicas)),
            Effect::SuspendFlux { object } => self.via_api(|m| m.suspend(object, true)),
            Effect::ResumeFlux { object } => self.via_api(|m| m.suspend(object, false)),
            Effect::RequestReconcile { object, token } => self.via_api(|m| {
                let i = m.api_flux(object)?;
                m.request_reconcile(i, token.clone());
                Ok(EffectOutcome::Ok)
            }),
            Effect::SetFluxSource { object, url, branch } => {
                self.via_api(|m| m.set_source(object, url.as_deref(), branch.as_deref()))
            }
        };
        self.settle();
        outcome
    }

    /// Execute `effect` as ananke's adapters do: the effect itself, and, once it succeeded, the
    /// marks the adapters put on what ananke changed (the annotations a lost journal is rebuilt
    /// from): the replica count before a scale to 0, a suspend, a cordon. A client other than
    /// ananke (kubectl through `serve`) goes through [`Model::apply`] and leaves no mark.
    pub fn apply_as_ananke(&mut self, now: Time, effect: &Effect) -> EffectOutcome {
        let before = match effect {
            Effect::Scale { workload, .. } => {
                self.workload_index.get(workload).and_then(|&c| self.comps[c].workload.as_ref()).map(|w| w.desired)
            }
            _ => None,
        };
        let outcome = self.apply(now, effect);
        if outcome != EffectOutcome::Ok {
            return outcome;
        }
        match effect {
            Effect::Scale { workload, replicas } => {
                let marked = self.workload_index.get(workload).and_then(|&c| self.comps[c].workload.as_ref());
                let marked = marked.and_then(|w| w.replicas_before);
                let mark = match (*replicas, before) {
                    (0, Some(n)) if n > 0 => Some(n),
                    (0, _) => marked,
                    _ => None,
                };
                self.mark_replicas_before(workload, mark);
            }
            Effect::SuspendFlux { object } => self.mark_suspended(object, true),
            Effect::ResumeFlux { object } => self.mark_suspended(object, false),
            Effect::Cordon { node } => self.mark_cordoned(node, true),
            Effect::Uncordon { node } => self.mark_cordoned(node, false),
            _ => {}
        }
        outcome
    }

    /// Set or clear ananke's cordon mark on node `name` (as its annotation says).
    pub fn mark_cordoned(&mut self, name: &str, on: bool) {
        if let Some(&n) = self.node_index.get(name) {
            self.nodes[n].cordoned_by_ananke = on;
        }
    }

    /// Set or clear ananke's replica count before a scale to 0 on `workload`.
    pub fn mark_replicas_before(&mut self, workload: &WorkloadRef, before: Option<i32>) {
        if let Some(w) = self.workload_index.get(workload).and_then(|&c| self.comps[c].workload.as_mut()) {
            w.replicas_before = before;
        }
    }

    /// Set or clear ananke's suspend mark on a Flux object.
    pub fn mark_suspended(&mut self, object: &FluxRef, on: bool) {
        if let Some(&i) = self.flux_index.get(object) {
            self.flux[i].suspended_by_ananke = on;
        }
    }

    /// Run `call` if the Kubernetes API answers: it refuses without a server quorum, and fails at
    /// the scenario's error rate (a draw from the seed).
    fn via_api(&mut self, call: impl FnOnce(&mut Model) -> ApiCall) -> EffectOutcome {
        if !self.api_up {
            return failed(true, "dial tcp 192.0.2.10:6443: connect: connection refused");
        }
        if self.api_call_fails() {
            return failed(true, "the server is currently unable to handle the request (503)");
        }
        call(self).unwrap_or_else(|refused| refused)
    }

    /// Effects run over SSH on a host.
    fn apply_host(&mut self, effect: &Effect, name: &str) -> EffectOutcome {
        let now = self.now;
        let Some(&n) = self.node_index.get(name) else {
            return failed(false, format!("unknown host {name}"));
        };
        let node = &mut self.nodes[n];
        if !node.host_up(now) {
            return failed(true, format!("ssh: connect to host {name} port 22: No route to host"));
        }
        if let Some(refusal) = node.ssh_refusal() {
            return failed(false, refusal);
        }
        if node.sudo_refused {
            let unit = node.role.unit();
            let verb = match effect {
                Effect::StartK3s { .. } => "start",
                Effect::StopK3s { .. } => "stop",
                _ => "poweroff",
            };
            let command = if verb == "poweroff" { "poweroff".to_owned() } else { format!("{verb}' '{unit}") };
            return failed(
                false,
                format!("node {name}: `'sudo' '-n' 'systemctl' '{command}'` was refused (exit status 1): sudo: a password is required"),
            );
        }
        match effect {
            Effect::StartK3s { .. } => {
                if matches!(node.unit, Unit::Stopped | Unit::Stopping { .. }) {
                    node.unit = Unit::Starting { serving_at: after(now, node.k3s_start) };
                }
            }
            Effect::StopK3s { .. } => {
                if !node.wont_stop && matches!(node.unit, Unit::Starting { .. } | Unit::Serving { .. }) {
                    node.unit = Unit::Stopping { done_at: after(now, node.k3s_stop) };
                }
            }
            _ => super::settle::cut_power(node),
        }
        EffectOutcome::Ok
    }

    /// Unseal one Vault pod with the standard or the breakglass shares.
    fn unseal(&mut self, pod: &str, breakglass: bool) -> EffectOutcome {
        let Some(i) = self.vault.iter().position(|p| p.name == pod) else {
            return failed(false, format!("unknown vault pod {pod}"));
        };
        if !breakglass && self.standard_unseal_fails {
            return failed(false, "cannot retrieve the standard unseal shares: command exited with status 1");
        }
        let running =
            self.vault_comp.map_or(0, |c| if self.comps[c].phase == Phase::Up { self.comps[c].pods.len() } else { 0 });
        if i >= running {
            return failed(true, format!("dial tcp {pod}.vault-internal:8200: connect: connection refused"));
        }
        // The threshold of distinct shares is submitted in one go.
        let _ = self.vault_threshold;
        self.vault[i].sealed = false;
        EffectOutcome::Ok
    }

    /// The node `name`, as the API finds it.
    fn api_node(&self, name: &str) -> Result<usize, EffectOutcome> {
        self.node_index.get(name).copied().ok_or_else(|| failed(false, format!("nodes \"{name}\" not found")))
    }

    /// The Flux object `object`, as the API finds it.
    fn api_flux(&self, object: &FluxRef) -> Result<usize, EffectOutcome> {
        self.flux_index.get(object).copied().ok_or_else(|| failed(false, format!("{object} not found")))
    }

    /// Set or clear `spec.unschedulable` on node `name`.
    fn cordon(&mut self, name: &str, cordoned: bool) -> ApiCall {
        let n = self.api_node(name)?;
        self.nodes[n].cordoned = cordoned;
        Ok(EffectOutcome::Ok)
    }

    /// Set `spec.replicas` of `workload` (a new generation when it changes).
    fn scale(&mut self, workload: &WorkloadRef, replicas: i32) -> ApiCall {
        let w = self.workload_index.get(workload).and_then(|&c| self.comps[c].workload.as_mut());
        let w = w.ok_or_else(|| failed(false, format!("{workload} not found")))?;
        if !workload.kind.scalable() {
            return Err(failed(false, format!("{workload} has no scale subresource")));
        }
        if w.desired != replicas {
            w.desired = replicas;
            w.generation += 1;
        }
        Ok(EffectOutcome::Ok)
    }

    /// Set or clear `spec.suspend` on a Flux object; `flux resume` also requests a reconcile.
    fn suspend(&mut self, object: &FluxRef, suspend: bool) -> ApiCall {
        let i = self.api_flux(object)?;
        let f = &mut self.flux[i];
        if f.suspend != suspend {
            f.suspend = suspend;
            f.generation += 1;
        }
        if suspend {
            f.next_reconcile = None;
            f.waiting_health = false;
        } else {
            let token = format!("resume-{}", self.now.as_millis());
            self.request_reconcile(i, token);
        }
        Ok(EffectOutcome::Ok)
    }

    /// Point a `GitRepository` at another URL and/or branch; a change is a new generation, reconciled at once.
    fn set_source(&mut self, object: &FluxRef, url: Option<&str>, branch: Option<&str>) -> ApiCall {
        let i = self.api_flux(object)?;
        let f = &mut self.flux[i];
        let before = (f.url.clone(), f.branch.clone());
        if let Some(u) = url {
            u.clone_into(&mut f.url);
        }
        if let Some(b) = branch {
            b.clone_into(&mut f.branch);
        }
        if (f.url.clone(), f.branch.clone()) != before {
            f.generation += 1;
            self.request_reconcile(i, format!("source-{}", self.now.as_millis()));
        }
        Ok(EffectOutcome::Ok)
    }

    /// Evict every pod on node `n`, honouring PDBs; evicted pods are rescheduled elsewhere.
    fn drain(&mut self, n: usize) -> EffectOutcome {
        let name = self.nodes[n].name.clone();
        *self.evictions.entry(name).or_default() += 1;
        let mut blocked = None;
        for comp in &mut self.comps {
            if comp.phase != Phase::Up || !comp.pods.contains(&n) {
                continue;
            }
            let on_node = comp.pods.iter().filter(|&&p| p == n).count();
            let allowed = match &comp.pdb {
                Some((pdb, min)) => {
                    let spare = usize::try_from(i32::try_from(comp.pods.len()).unwrap_or(i32::MAX) - min).unwrap_or(0);
                    if spare < on_node {
                        blocked = Some(pdb.clone());
                    }
                    spare.min(on_node)
                }
                None => on_node,
            };
            let mut evicted = 0;
            comp.pods.retain(|&p| {
                let evict = p == n && evicted < allowed;
                evicted += usize::from(evict);
                !evict
            });
        }
        self.nodes[n].blocked_by.clone_from(&blocked);
        match blocked {
            Some(pdb) => EffectOutcome::BlockedByPdb { pdb },
            None => EffectOutcome::Ok,
        }
    }
}
