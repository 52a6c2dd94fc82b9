//! Applying ananke's effects to the model. SSH effects need the host up; API effects need a
//! server quorum (and may fail transiently when the scenario makes the API flaky).

use super::settle::after;
use super::world::{Phase, Unit};
use super::Model;
use ananke_core::machine::EffectOutcome;
use ananke_core::{Effect, Time};

fn failed(transient: bool, message: impl Into<String>) -> EffectOutcome {
    EffectOutcome::Failed { transient, message: message.into() }
}

impl Model {
    /// Execute `effect` at `now` and say what happened.
    pub fn apply(&mut self, now: Time, effect: &Effect) -> EffectOutcome {
        self.advance(now);
        let outcome = match effect {
            Effect::StartK3s { node, .. } | Effect::StopK3s { node, .. } | Effect::PowerOffHost { node } => {
                self.apply_host(effect, node)
            }
            Effect::UnsealVault { pod } | Effect::UnsealVaultBreakglass { pod } => {
                self.unseal(pod, matches!(effect, Effect::UnsealVaultBreakglass { .. }))
            }
            _ if !self.api_up => failed(true, "dial tcp 192.0.2.10:6443: connect: connection refused"),
            _ if self.api_call_fails() => failed(true, "the server is currently unable to handle the request (503)"),
            _ => self.apply_api(effect),
        };
        self.settle();
        outcome
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
        if node.auth_fails {
            return failed(false, format!("ssh: {name}: Permission denied (publickey)"));
        }
        match effect {
            Effect::StartK3s { .. } => {
                if matches!(node.unit, Unit::Stopped | Unit::Stopping { .. }) {
                    node.unit = Unit::Starting { serving_at: after(now, node.k3s_start) };
                }
            }
            Effect::StopK3s { .. } => {
                if matches!(node.unit, Unit::Starting { .. } | Unit::Serving { .. }) {
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
        let running = self.vault_comp.map_or(0, |c| if self.comps[c].phase == Phase::Up { self.comps[c].pods.len() } else { 0 });
        if i >= running {
            return failed(true, format!("dial tcp {pod}.vault-internal:8200: connect: connection refused"));
        }
        // The threshold of distinct shares is submitted in one go.
        let _ = self.vault_threshold;
        self.vault[i].sealed = false;
        EffectOutcome::Ok
    }

    /// Effects through the Kubernetes API (which answers).
    fn apply_api(&mut self, effect: &Effect) -> EffectOutcome {
        match effect {
            Effect::Cordon { node } | Effect::Uncordon { node } => match self.node_index.get(node) {
                Some(&n) => {
                    self.nodes[n].cordoned = matches!(effect, Effect::Cordon { .. });
                    EffectOutcome::Ok
                }
                None => failed(false, format!("nodes \"{node}\" not found")),
            },
            Effect::Drain { node } => match self.node_index.get(node) {
                Some(&n) => self.drain(n),
                None => failed(false, format!("nodes \"{node}\" not found")),
            },
            Effect::Scale { workload, replicas } => {
                let Some(&c) = self.workload_index.get(workload) else {
                    return failed(false, format!("{workload} not found"));
                };
                if !workload.kind.scalable() {
                    return failed(false, format!("{workload} has no scale subresource"));
                }
                if let Some(w) = self.comps[c].workload.as_mut() {
                    if w.desired != *replicas {
                        w.desired = *replicas;
                        w.generation += 1;
                    }
                }
                EffectOutcome::Ok
            }
            Effect::SuspendFlux { object } | Effect::ResumeFlux { object } => {
                let Some(&i) = self.flux_index.get(object) else {
                    return failed(false, format!("{object} not found"));
                };
                let suspend = matches!(effect, Effect::SuspendFlux { .. });
                let f = &mut self.flux[i];
                if f.suspend != suspend {
                    f.suspend = suspend;
                    f.generation += 1;
                }
                if suspend {
                    f.next_reconcile = None;
                    f.waiting_health = false;
                } else {
                    // `flux resume` also requests a reconcile.
                    let token = format!("resume-{}", self.now.as_millis());
                    self.request_reconcile(i, token);
                }
                EffectOutcome::Ok
            }
            Effect::RequestReconcile { object, token } => match self.flux_index.get(object) {
                Some(&i) => {
                    self.request_reconcile(i, token.clone());
                    EffectOutcome::Ok
                }
                None => failed(false, format!("{object} not found")),
            },
            Effect::SetFluxSource { object, url, branch } => {
                let Some(&i) = self.flux_index.get(object) else {
                    return failed(false, format!("{object} not found"));
                };
                let f = &mut self.flux[i];
                let before = (f.url.clone(), f.branch.clone());
                if let Some(u) = url {
                    f.url.clone_from(u);
                }
                if let Some(b) = branch {
                    f.branch.clone_from(b);
                }
                if (f.url.clone(), f.branch.clone()) != before {
                    f.generation += 1;
                    self.request_reconcile(i, format!("source-{}", self.now.as_millis()));
                }
                EffectOutcome::Ok
            }
            _ => failed(false, "not an API effect"),
        }
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
