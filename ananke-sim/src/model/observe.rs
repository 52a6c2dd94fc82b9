//! Observations: what ananke's adapters would see of the model at one instant.

use super::parts::{Phase, Unit};
use super::Model;
use crate::scenario::ComponentKind;
use ananke_core::config::{ObjectRef, WorkloadKind};
use ananke_core::observation::{
    ApiStatus, Condition, ConditionStatus, FluxObject, FluxObservation, GitServerHealth, IngressBackend,
    IngressObservation, KubeNode, NodeObservation, Observation, PodToEvict, ProbeResult, SshStatus, UnitState,
    UpsStatus, VaultStatus, Workload, WorkloadStatus,
};
use ananke_core::Time;
use std::collections::BTreeMap;

fn condition(type_: &str, status: ConditionStatus, reason: &str, message: &str, generation: i64) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status,
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
    }
}

impl Model {
    /// Track when each check first passes during the startup (flaps are timed from it).
    pub(crate) fn settle_checks(&mut self) -> bool {
        let mut changed = false;
        for i in 0..self.checks.len() {
            if self.checks[i].flap.is_some() && self.checks[i].first_ok.is_none() && self.check_backed(i) {
                self.checks[i].first_ok = Some(self.now);
                changed = true;
            }
        }
        changed
    }

    /// Whether what backs check `i` is up (ignoring flaps).
    fn check_backed(&self, i: usize) -> bool {
        let check = &self.checks[i];
        let ingress_ok = !check.external || self.ingress_controller.is_none_or(|c| self.ready_for_dependents(c));
        ingress_ok && check.backers.iter().all(|b| b.map_or(self.api_up, |c| self.ready_for_dependents(c)))
    }

    fn probe(&self, i: usize) -> ProbeResult {
        let check = &self.checks[i];
        let flapping = match (check.flap, check.first_ok) {
            (Some((wait, len)), Some(ok)) => {
                let start = ok.as_millis() + wait;
                (start..start + len).contains(&self.now.as_millis())
            }
            _ => false,
        };
        if self.check_backed(i) && !flapping {
            return ProbeResult { ok: true, reason: None, status: Some(200), latency_ms: Some(12) };
        }
        let (status, reason) =
            if check.external && self.ingress_controller.is_some_and(|c| self.ready_for_dependents(c)) {
                (Some(503), "status 503 Service Unavailable".to_owned())
            } else if flapping {
                (Some(502), "status 502 Bad Gateway".to_owned())
            } else {
                (None, "connect: connection refused".to_owned())
            };
        ProbeResult { ok: false, reason: Some(reason), status, latency_ms: None }
    }

    /// What ananke would observe at `now`.
    pub fn observe(&mut self, now: Time) -> Observation {
        self.advance(now);
        // The adapter retries a failed read, so an observation loses the API less often than a
        // single call fails.
        let api = self.api_up && !self.api_read_fails();
        let mut obs = Observation {
            at: self.now,
            api: ApiStatus {
                reachable: api,
                error: (!api).then(|| {
                    if self.api_up {
                        "the server is currently unable to handle the request (503)"
                    } else {
                        "connection refused"
                    }
                    .to_owned()
                }),
            },
            nodes: self.nodes.iter().map(|n| self.node_observation(n, api)).collect(),
            probes: (0..self.checks.len())
                .map(|i| (self.checks[i].name.clone(), self.probe(i)))
                .collect::<BTreeMap<_, _>>(),
            git_server: self.git_server.map(|c| {
                let healthy = self.ready_for_dependents(c);
                GitServerHealth {
                    healthy,
                    reason: (!healthy).then(|| "GET /api/healthz: connection refused".to_owned()),
                }
            }),
            vault: self.vault_observation(),
            power: self.power_observation(),
            ..Observation::default()
        };
        if api {
            obs.flux = Some(self.flux_observation());
            obs.workloads = self.comps.iter().enumerate().filter_map(|(c, _)| self.workload_observation(c)).collect();
            obs.pods_to_evict = self.pods_to_evict();
            obs.ingresses = self.ingress_observation();
        }
        obs
    }

    fn node_observation(&self, n: &super::parts::NodeSim, api: bool) -> NodeObservation {
        let up = n.host_up(self.now);
        let refusal = n.ssh_refusal();
        let ssh = match (up, &refusal) {
            (false, _) => {
                SshStatus::Unreachable(format!("node {}: cannot connect to {}:22: No route to host", n.name, n.name))
            }
            (true, Some(why)) => SshStatus::AuthFailed(why.clone()),
            (true, None) => SshStatus::Reachable,
        };
        let k3s_unit = match (up && refusal.is_none(), n.unit) {
            (false, _) => UnitState::Unknown,
            (true, Unit::Stopped) => UnitState::Inactive,
            (true, _) => UnitState::Active,
        };
        let kube = api.then(|| {
            let mut taints = Vec::new();
            match n.ready {
                ConditionStatus::False => taints.push("node.kubernetes.io/not-ready".to_owned()),
                ConditionStatus::Unknown => taints.push("node.kubernetes.io/unreachable".to_owned()),
                ConditionStatus::True => {}
            }
            if n.cordoned {
                taints.push("node.kubernetes.io/unschedulable".to_owned());
            }
            KubeNode {
                ready: n.ready,
                ready_reason: n.reason.to_owned(),
                unschedulable: n.cordoned,
                taints,
                cordoned_by_ananke: n.cordoned_by_ananke,
            }
        });
        NodeObservation { name: n.name.clone(), ssh, k3s_unit, kube }
    }

    /// Ready pods of component `c` (Vault: unsealed ones).
    fn ready_pods(&self, c: usize) -> i32 {
        let comp = &self.comps[c];
        let count = match comp.phase {
            Phase::Up | Phase::Stopping { .. } if comp.kind == ComponentKind::Vault => {
                self.vault.iter().take(comp.pods.len()).filter(|p| !p.sealed).count()
            }
            Phase::Up | Phase::Stopping { .. } => comp.pods.len(),
            _ => 0,
        };
        i32::try_from(count).unwrap_or(i32::MAX)
    }

    fn workload_observation(&self, c: usize) -> Option<Workload> {
        let comp = &self.comps[c];
        let w = comp.workload.as_ref()?;
        let ready = self.ready_pods(c);
        let pods = i32::try_from(comp.pods.len()).unwrap_or(i32::MAX);
        // Pending pods count in status.replicas until they run.
        let replicas = if matches!(comp.phase, Phase::Stopping { .. }) { pods } else { pods.max(w.desired) };
        let converged = ready == w.desired && replicas == w.desired;
        let deployment = w.id.kind == WorkloadKind::Deployment;
        let conditions = if deployment {
            vec![
                condition(
                    "Available",
                    if ready >= w.desired { ConditionStatus::True } else { ConditionStatus::False },
                    "MinimumReplicasAvailable",
                    "",
                    0,
                ),
                condition(
                    "Progressing",
                    ConditionStatus::True,
                    if converged { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                    "",
                    0,
                ),
            ]
        } else {
            Vec::new()
        };
        Some(Workload {
            id: w.id.clone(),
            generation: w.generation,
            observed_generation: Some(w.generation),
            terminating: false,
            spec_replicas: Some(w.desired),
            status: WorkloadStatus {
                replicas,
                updated: replicas,
                ready,
                available: ready,
                current: replicas,
                desired: None,
                revisions_match: true,
            },
            conditions,
            has_progress_deadline: deployment,
            on_delete: false,
            has_status: true,
            replicas_before: w.replicas_before,
        })
    }

    fn pods_to_evict(&self) -> Vec<PodToEvict> {
        let pods = self.comps.iter().flat_map(|comp| comp.running_pods().map(move |pod| (comp, pod)));
        pods.filter(|(_, (_, _, n))| self.nodes[*n].cordoned)
            .map(|(comp, (w, k, n))| PodToEvict {
                pod: ObjectRef { namespace: w.id.namespace.clone(), name: format!("{}-{k}", w.id.name) },
                node: self.nodes[n].name.clone(),
                blocked_by_pdb: self.nodes[n].blocked_by.clone().filter(|_| comp.pdb.is_some()),
            })
            .collect()
    }

    fn flux_observation(&self) -> FluxObservation {
        let mut out = FluxObservation { installed: true, ..FluxObservation::default() };
        for f in &self.flux {
            let object = FluxObject {
                id: f.id.clone(),
                generation: f.generation,
                observed_generation: f.observed,
                suspend: f.suspend,
                conditions: vec![condition("Ready", f.ready, &f.reason, &f.message, f.observed.unwrap_or(0))],
                depends_on: f.depends_on.iter().map(|&d| self.flux[d].id.object.clone()).collect(),
                url: (!f.url.is_empty()).then(|| f.url.clone()),
                branch: (!f.branch.is_empty()).then(|| f.branch.clone()),
                managed_by: f.managed_by.map(|p| self.flux[p].id.object.clone()),
                manages: f.manages.iter().filter_map(|&c| Some(self.comps[c].workload.as_ref()?.id.clone())).collect(),
                requested_at: f.requested_at.clone(),
                last_handled_reconcile_at: f.last_handled.clone(),
                suspended_by_ananke: f.suspended_by_ananke,
            };
            match f.id.kind {
                ananke_core::observation::FluxKind::GitRepository => out.sources.push(object),
                ananke_core::observation::FluxKind::Kustomization => out.kustomizations.push(object),
                ananke_core::observation::FluxKind::HelmRelease => out.helm_releases.push(object),
            }
        }
        out
    }

    fn ingress_observation(&self) -> Vec<IngressObservation> {
        let published = self.ingress_controller.is_some_and(|c| self.ready_for_dependents(c));
        self.ingresses
            .iter()
            .map(|i| IngressObservation {
                namespace: i.namespace.clone(),
                name: i.name.clone(),
                hosts: vec![i.host.clone()],
                ingress_class: i.class.clone(),
                addresses: if published { vec![self.ingress_address.clone()] } else { Vec::new() },
                backends: i
                    .backends
                    .iter()
                    .map(|b| {
                        let svc = self.services.iter().find(|(ns, name, _)| *ns == i.namespace && name == b);
                        IngressBackend {
                            service: b.clone(),
                            exists: svc.is_some(),
                            ready_endpoints: svc.map_or(0, |s| u32::try_from(self.ready_pods(s.2)).unwrap_or(0)),
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    fn vault_observation(&self) -> Vec<VaultStatus> {
        let running =
            self.vault_comp.map_or(0, |c| if self.comps[c].phase == Phase::Up { self.comps[c].pods.len() } else { 0 });
        self.vault
            .iter()
            .enumerate()
            .map(|(i, p)| VaultStatus {
                pod: p.name.clone(),
                reachable: i < running,
                sealed: p.sealed,
                threshold: self.vault_threshold,
                progress: 0,
            })
            .collect()
    }

    fn power_observation(&self) -> Vec<UpsStatus> {
        self.domains
            .iter()
            .map(|d| {
                let remaining = d.on_battery_since.map_or(d.runtime, |t| {
                    d.runtime.saturating_sub(self.now.since(t).as_millis().try_into().unwrap_or(u64::MAX))
                });
                let mut flags = vec![if d.on_battery_since.is_some() { "OB" } else { "OL" }.to_owned()];
                if d.on_battery_since.is_some() && remaining < 120_000 {
                    flags.push("LB".to_owned());
                }
                #[allow(clippy::cast_precision_loss)]
                let charge = 100.0 * remaining as f64 / d.runtime.max(1) as f64;
                UpsStatus {
                    domain: d.name.clone(),
                    reachable: !d.dark,
                    flags,
                    charge: Some(charge),
                    runtime_s: Some(remaining / 1000),
                    error: d.dark.then(|| "no answer: the simulated UPS is dark (a scenario fault)".to_owned()),
                }
            })
            .collect()
    }
}
