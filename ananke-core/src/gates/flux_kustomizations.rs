//! Gate 4: the required Flux Kustomizations are healthy.
//!
//! Each of `flux.required_kustomizations` exists, is not suspended, and is ready by the flux CLI's
//! rule ([`flux_ready`]).

use super::health::flux_ready;
use super::reasons::Reasons;
use super::{GateId, GateOutcome};
use crate::config::Config;
use crate::observation::{FluxObject, Observation};
use std::collections::HashMap;

/// Evaluate the Kustomization gate.
#[must_use]
pub fn check(config: &Config, obs: &Observation) -> GateOutcome {
    let mut reasons = Reasons::new();
    match &obs.flux {
        None => reasons.push("Flux not observed (API unreachable)".to_owned()),
        Some(flux) if !flux.installed => reasons.push("Flux is not installed".to_owned()),
        Some(flux) => {
            let by_ref: HashMap<(&str, &str), &FluxObject> = flux
                .kustomizations
                .iter()
                .map(|k| ((k.id.object.namespace.as_str(), k.id.object.name.as_str()), k))
                .collect();
            for wanted in &config.flux.required_kustomizations {
                match by_ref.get(&(wanted.namespace.as_str(), wanted.name.as_str())) {
                    None => reasons.push_with(|| format!("Kustomization {wanted}: not found")),
                    Some(k) if k.suspend => {
                        reasons.push_with(|| format!("Kustomization {wanted}: suspended"));
                    }
                    Some(k) => {
                        if let Err(why) = flux_ready(k) {
                            reasons.push_with(|| format!("Kustomization {wanted}: {why}"));
                        }
                    }
                }
            }
        }
    }
    reasons.into_outcome(GateId::FluxKustomizations)
}
