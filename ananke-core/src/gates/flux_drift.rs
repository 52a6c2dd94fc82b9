//! Gate 3: the Flux source drift guard.
//!
//! The `GitRepository` the cluster reconciles from (`flux.source`) must point at
//! `expected_flux_source_url` and track `expected_flux_branch`, exactly. After an outage the source
//! is often left pointing at a temporary mirror or a break-fix branch; resuming Flux then would
//! roll the cluster to the wrong state.

use super::{GateId, GateOutcome};
use crate::config::Config;
use crate::observation::Observation;

/// Evaluate the drift guard.
#[must_use]
pub fn check(config: &Config, obs: &Observation) -> GateOutcome {
    GateOutcome::from_reasons(GateId::FluxDrift, drift(config, obs))
}

fn drift(config: &Config, obs: &Observation) -> Vec<String> {
    let Some(flux) = &obs.flux else {
        return vec!["Flux not observed (API unreachable)".to_owned()];
    };
    if !flux.installed {
        return vec!["Flux is not installed".to_owned()];
    }
    let wanted = &config.flux.source;
    let Some(source) = flux.sources.iter().find(|s| s.id.object == *wanted) else {
        return vec![format!("GitRepository {wanted}: not found")];
    };
    let mut reasons = Vec::new();
    match source.url.as_deref() {
        Some(url) if url == config.expected_flux_source_url => {}
        Some(url) => {
            reasons.push(format!("GitRepository {wanted}: url is {url}, expected {}", config.expected_flux_source_url));
        }
        None => reasons
            .push(format!("GitRepository {wanted}: url is not set, expected {}", config.expected_flux_source_url)),
    }
    match source.branch.as_deref() {
        Some(branch) if branch == config.expected_flux_branch => {}
        Some(branch) => reasons
            .push(format!("GitRepository {wanted}: branch is {branch}, expected {}", config.expected_flux_branch)),
        None => {
            reasons
                .push(format!("GitRepository {wanted}: branch is not set, expected {}", config.expected_flux_branch));
        }
    }
    reasons
}
