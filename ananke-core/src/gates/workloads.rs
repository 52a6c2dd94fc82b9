//! Gate 5: workload convergence is healthy.
//!
//! Every observed `Deployment`, `StatefulSet` and `DaemonSet` is Current by [`workload_health`], where a
//! workload its controller has not observed yet is never healthy.

use super::health::{workload_health, Health};
use super::reasons::Reasons;
use super::{GateId, GateOutcome};
use crate::config::Config;
use crate::observation::Observation;

/// Evaluate the workload gate.
#[must_use]
pub fn check(_config: &Config, obs: &Observation) -> GateOutcome {
    let mut reasons = Reasons::new();
    for w in &obs.workloads {
        let health = workload_health(w);
        if health != Health::Current {
            reasons.push_with(|| format!("{} {}/{}: {health}", w.id.kind.as_str(), w.id.namespace, w.id.name));
        }
    }
    reasons.into_outcome(GateId::Workloads)
}
