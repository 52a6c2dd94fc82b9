//! The nine startup gates, as pure functions of the config and one observation.
//!
//! Gates run in dependency order. A gate whose parent did not pass reports `Blocked` naming the
//! first gate up the chain that failed, and is not evaluated (its own checks would only repeat the
//! parent's failure).

use crate::config::Config;
use crate::observation::Observation;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub mod critical_endpoints;
pub mod flux_drift;
pub mod flux_kustomizations;
pub mod health;
pub mod ingress;
pub mod inventory;
mod reasons;
pub mod services;
pub mod soak;
pub mod ssh_reachability;
pub mod workloads;

pub use reasons::MAX_LISTED;

/// The gates, in dependency order (each one's parent is the one before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateId {
    /// 1. Inventory mapping is valid.
    Inventory,
    /// 2. Expected SSH nodes are reachable and authenticated (minus ignores).
    SshReachability,
    /// 3. Flux source drift guard (expected URL and branch).
    FluxDrift,
    /// 4. Required Flux kustomizations are healthy.
    FluxKustomizations,
    /// 5. Workload convergence is healthy.
    Workloads,
    /// 6. Ingress checklist passes.
    Ingress,
    /// 7. Service checklist passes (internal and external).
    Services,
    /// 8. Critical endpoint checks pass.
    CriticalEndpoints,
    /// 9. Stability soak passes with no regressions.
    Soak,
}

impl GateId {
    /// Every gate, in dependency order.
    pub const ALL: [GateId; 9] = [
        GateId::Inventory,
        GateId::SshReachability,
        GateId::FluxDrift,
        GateId::FluxKustomizations,
        GateId::Workloads,
        GateId::Ingress,
        GateId::Services,
        GateId::CriticalEndpoints,
        GateId::Soak,
    ];

    /// The gate this one depends on.
    #[must_use]
    pub fn parent(self) -> Option<GateId> {
        let i = self.index();
        if i == 0 {
            None
        } else {
            Some(GateId::ALL[i - 1])
        }
    }

    /// Position in [`GateId::ALL`].
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }

    /// Stable kebab-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GateId::Inventory => "inventory",
            GateId::SshReachability => "ssh-reachability",
            GateId::FluxDrift => "flux-drift",
            GateId::FluxKustomizations => "flux-kustomizations",
            GateId::Workloads => "workloads",
            GateId::Ingress => "ingress",
            GateId::Services => "services",
            GateId::CriticalEndpoints => "critical-endpoints",
            GateId::Soak => "soak",
        }
    }

    /// The seed's wording of the gate.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            GateId::Inventory => "inventory mapping is valid",
            GateId::SshReachability => "expected SSH nodes are reachable/authenticated",
            GateId::FluxDrift => "Flux source drift guard passes",
            GateId::FluxKustomizations => "required Flux kustomizations are healthy",
            GateId::Workloads => "workload convergence is healthy",
            GateId::Ingress => "ingress checklist passes",
            GateId::Services => "service checklist passes",
            GateId::CriticalEndpoints => "critical endpoint checks pass",
            GateId::Soak => "stability soak passes with no regressions",
        }
    }
}

impl std::fmt::Display for GateId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "by", rename_all = "kebab-case")]
pub enum Verdict {
    /// The gate passes.
    Pass,
    /// The gate fails; the reasons say why.
    Fail,
    /// Not evaluated: the named gate up the chain did not pass.
    Blocked(GateId),
}

/// A gate's verdict with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateOutcome {
    /// Which gate.
    pub gate: GateId,
    /// Pass, fail or blocked.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Why it fails (or what it skipped); empty on a clean pass.
    pub reasons: Vec<String>,
}

impl GateOutcome {
    /// A pass with no remarks.
    #[must_use]
    pub fn pass(gate: GateId) -> Self {
        Self { gate, verdict: Verdict::Pass, reasons: Vec::new() }
    }

    /// A pass if `reasons` is empty, else a failure carrying them.
    #[must_use]
    pub fn from_reasons(gate: GateId, reasons: Vec<String>) -> Self {
        let verdict = if reasons.is_empty() { Verdict::Pass } else { Verdict::Fail };
        Self { gate, verdict, reasons }
    }

    /// Blocked by `by`.
    #[must_use]
    pub fn blocked(gate: GateId, by: GateId) -> Self {
        Self { gate, verdict: Verdict::Blocked(by), reasons: vec![format!("blocked by {by}")] }
    }

    /// Whether the gate passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// What the soak gate needs to know about the soak (the machine owns the soak's timing).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SoakProgress {
    /// When the current soak started; `None` if it has not started.
    pub started_at: Option<Time>,
    /// The current time.
    pub now: Time,
    /// How long the soak must last.
    pub required: Duration,
    /// Regressions seen during the current soak (each names a gate and why).
    pub regressions: Vec<String>,
}

/// The verdict of every gate, in dependency order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    /// One outcome per gate, in [`GateId::ALL`] order.
    pub outcomes: Vec<GateOutcome>,
}

impl GateReport {
    /// The outcome of `gate`.
    #[must_use]
    pub fn get(&self, gate: GateId) -> &GateOutcome {
        &self.outcomes[gate.index()]
    }

    /// Whether every gate passed.
    #[must_use]
    pub fn all_pass(&self) -> bool {
        self.outcomes.iter().all(GateOutcome::passed)
    }

    /// Whether every gate before the soak passed.
    #[must_use]
    pub fn all_pass_before_soak(&self) -> bool {
        self.outcomes.iter().filter(|o| o.gate != GateId::Soak).all(GateOutcome::passed)
    }

    /// The first gate that did not pass.
    #[must_use]
    pub fn first_failing(&self) -> Option<&GateOutcome> {
        self.outcomes.iter().find(|o| !o.passed())
    }
}

/// Evaluate one gate, given that its parent chain passed.
fn evaluate_one(gate: GateId, config: &Config, obs: &Observation, soak: &SoakProgress) -> GateOutcome {
    match gate {
        GateId::Inventory => inventory::check(config, obs),
        GateId::SshReachability => ssh_reachability::check(config, obs),
        GateId::FluxDrift => flux_drift::check(config, obs),
        GateId::FluxKustomizations => flux_kustomizations::check(config, obs),
        GateId::Workloads => workloads::check(config, obs),
        GateId::Ingress => ingress::check(config, obs),
        GateId::Services => services::check(config, obs),
        GateId::CriticalEndpoints => critical_endpoints::check(config, obs),
        GateId::Soak => soak::check(soak),
    }
}

/// Evaluate every gate in dependency order.
#[must_use]
pub fn evaluate(config: &Config, obs: &Observation, soak: &SoakProgress) -> GateReport {
    let mut outcomes = Vec::with_capacity(GateId::ALL.len());
    let mut first_failed: Option<GateId> = None;
    for gate in GateId::ALL {
        let outcome = match first_failed {
            Some(by) => GateOutcome::blocked(gate, by),
            None => evaluate_one(gate, config, obs, soak),
        };
        if first_failed.is_none() && !outcome.passed() {
            first_failed = Some(gate);
        }
        outcomes.push(outcome);
    }
    GateReport { outcomes }
}

#[cfg(test)]
mod tests;
