//! Gate 6: the ingress checklist passes (reference §4).
//!
//! For each `startup.require_ingress_checklist` entry: the Ingress exists, routes the host, has the
//! pinned class, is published (a load-balancer address in its status), and every backend Service
//! exists and has a ready endpoint.

use super::reasons::Reasons;
use super::{GateId, GateOutcome};
use crate::config::{Config, IngressCheck};
use crate::observation::{IngressObservation, Observation};
use std::collections::HashMap;

/// Evaluate the ingress gate.
#[must_use]
pub fn check(config: &Config, obs: &Observation) -> GateOutcome {
    let by_ref: HashMap<(&str, &str), &IngressObservation> =
        obs.ingresses.iter().map(|i| ((i.namespace.as_str(), i.name.as_str()), i)).collect();
    let mut reasons = Reasons::new();
    for wanted in &config.startup.require_ingress_checklist {
        match by_ref.get(&(wanted.namespace.as_str(), wanted.name.as_str())) {
            None => reasons.push_with(|| format!("Ingress {}/{}: not found", wanted.namespace, wanted.name)),
            Some(seen) => check_one(wanted, seen, &mut reasons),
        }
    }
    reasons.into_outcome(GateId::Ingress)
}

fn check_one(wanted: &IngressCheck, seen: &IngressObservation, reasons: &mut Reasons) {
    let id = || format!("Ingress {}/{}", wanted.namespace, wanted.name);
    if !seen.hosts.contains(&wanted.host) {
        reasons.push_with(|| {
            let routes = if seen.hosts.is_empty() { "no host".to_owned() } else { seen.hosts.join(", ") };
            format!("{}: does not route host {} (routes {routes})", id(), wanted.host)
        });
    }
    if let Some(class) = &wanted.ingress_class {
        match seen.ingress_class.as_deref() {
            Some(actual) if actual == class => {}
            Some(actual) => {
                reasons.push_with(|| format!("{}: class is {actual}, expected {class}", id()));
            }
            None => {
                reasons.push_with(|| format!("{}: no ingressClassName, expected {class}", id()));
            }
        }
    }
    if seen.addresses.is_empty() {
        reasons.push_with(|| format!("{}: not published (no load-balancer address in its status)", id()));
    }
    for backend in &seen.backends {
        if !backend.exists {
            reasons.push_with(|| format!("{}: backend Service {} does not exist", id(), backend.service));
        } else if backend.ready_endpoints == 0 {
            reasons.push_with(|| format!("{}: backend Service {} has no ready endpoints", id(), backend.service));
        }
    }
}
