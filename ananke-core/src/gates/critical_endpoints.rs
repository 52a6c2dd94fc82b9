//! Gate 8: the critical endpoint checks pass.
//!
//! Same rule as the service checklist, over `startup.critical_service_endpoints`.

use super::services::check_probes;
use super::{GateId, GateOutcome};
use crate::config::Config;
use crate::observation::Observation;

/// Evaluate the critical endpoint gate.
#[must_use]
pub fn check(config: &Config, obs: &Observation) -> GateOutcome {
    check_probes(GateId::CriticalEndpoints, "critical endpoint", &config.startup.critical_service_endpoints, obs)
}
