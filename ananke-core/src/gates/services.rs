//! Gate 7: the service checklist passes, internal and externally exposed.
//!
//! Each `startup.service_checklist` entry has a passing probe result (the adapter has already
//! applied the check's consecutive-success and -failure thresholds).

use super::reasons::Reasons;
use super::{GateId, GateOutcome};
use crate::config::{Config, HttpCheck};
use crate::observation::Observation;

/// Evaluate the service checklist gate.
#[must_use]
pub fn check(config: &Config, obs: &Observation) -> GateOutcome {
    check_probes(GateId::Services, "service", &config.startup.service_checklist, obs)
}

/// The probe rule shared with the critical-endpoint gate: every check in `checks` has a result in
/// `obs.probes` that is `ok`. `what` names the checklist in reasons (`service gitea: ...`).
pub(crate) fn check_probes(gate: GateId, what: &str, checks: &[HttpCheck], obs: &Observation) -> GateOutcome {
    let mut reasons = Reasons::new();
    for check in checks {
        let name = &check.name;
        match obs.probes.get(name) {
            None => reasons.push_with(|| format!("{what} {name}: not probed yet")),
            Some(probe) if probe.ok => {}
            Some(probe) => reasons.push_with(|| match (&probe.reason, probe.status) {
                (Some(why), _) => format!("{what} {name}: {why}"),
                (None, Some(status)) => {
                    format!("{what} {name}: failing (last status HTTP {status})")
                }
                (None, None) => format!("{what} {name}: failing"),
            }),
        }
    }
    reasons.into_outcome(gate)
}
