//! Builders for test configs and observations: a small healthy lab from `ananke_core::synth`,
//! then one thing broken.

use ananke_core::config::Config;
use ananke_core::gates::{self, GateId, GateReport, SoakProgress};
use ananke_core::observation::{FluxObject, NodeObservation, Observation, SshStatus, Workload};
use ananke_core::synth::{self, LabSize};
use ananke_core::Time;
use std::time::Duration;

/// The small lab: nodes `node-00001`..`node-00003` (domain-1: 1 and 3, domain-2: 2), Kustomizations
/// `flux-system/ks-00001` and `ks-00002` each managing `Deployment ks-0000N/ks-0000N`, Ingress
/// `ingress-00001/web` for `app-00001.lab.example`, probes `service-00001` and `critical-00001`.
pub fn lab() -> (Config, Observation) {
    synth::lab(LabSize::SMALL)
}

/// A soak that ran its full five minutes without a regression.
pub fn soak_done() -> SoakProgress {
    SoakProgress {
        started_at: Some(Time::ZERO),
        now: Time(300_000),
        required: Duration::from_secs(300),
        regressions: Vec::new(),
    }
}

/// Every gate, with a finished soak.
pub fn evaluate(config: &Config, obs: &Observation) -> GateReport {
    gates::evaluate(config, obs, &soak_done())
}

/// The observation of node `name`.
pub fn node<'a>(obs: &'a mut Observation, name: &str) -> &'a mut NodeObservation {
    obs.nodes.iter_mut().find(|n| n.name == name).expect("node in the lab")
}

/// The Kustomization `flux-system/<name>`.
pub fn kustomization<'a>(obs: &'a mut Observation, name: &str) -> &'a mut FluxObject {
    let flux = obs.flux.as_mut().expect("flux observed");
    flux.kustomizations.iter_mut().find(|k| k.id.object.name == name).expect("kustomization in the lab")
}

/// The lab's `GitRepository`.
pub fn source(obs: &mut Observation) -> &mut FluxObject {
    &mut obs.flux.as_mut().expect("flux observed").sources[0]
}

/// The workload named `name`.
pub fn workload<'a>(obs: &'a mut Observation, name: &str) -> &'a mut Workload {
    obs.workloads.iter_mut().find(|w| w.id.name == name).expect("workload in the lab")
}

/// Make exactly `gate` fail in the small lab (every gate before it still passes).
pub fn break_gate(gate: GateId, config: &mut Config, obs: &mut Observation, soak: &mut SoakProgress) {
    match gate {
        GateId::Inventory => {
            obs.api.reachable = false;
            obs.api.error = Some("connection refused".to_owned());
        }
        GateId::SshReachability => {
            node(obs, "node-00002").ssh = SshStatus::Unreachable("no route to host".to_owned());
        }
        GateId::FluxDrift => "release".clone_into(&mut config.expected_flux_branch),
        GateId::FluxKustomizations => kustomization(obs, "ks-00001").suspend = true,
        GateId::Workloads => workload(obs, "ks-00002").status.ready = 0,
        GateId::Ingress => obs.ingresses[0].addresses.clear(),
        GateId::Services => obs.probes.get_mut("service-00001").expect("probe").ok = false,
        GateId::CriticalEndpoints => {
            obs.probes.remove("critical-00001");
        }
        GateId::Soak => soak.started_at = None,
    }
}
