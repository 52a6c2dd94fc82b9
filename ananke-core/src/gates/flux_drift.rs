//! Gate: TODO(gates helper) — placeholder so the workspace compiles.

use super::{GateId, GateOutcome};
use crate::config::Config;
use crate::observation::Observation;

/// Evaluate the gate.
#[must_use]
pub fn check(_config: &Config, _obs: &Observation) -> GateOutcome {
    GateOutcome::from_reasons(GateId::FluxDrift, vec!["not implemented".to_owned()])
}
