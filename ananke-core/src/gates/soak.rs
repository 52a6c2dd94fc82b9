//! Gate 9: the stability soak ran its full duration with no regression.

use super::{GateId, GateOutcome, SoakProgress};

/// Evaluate the soak gate from the machine's soak progress.
#[must_use]
pub fn check(soak: &SoakProgress) -> GateOutcome {
    let mut reasons = Vec::new();
    match soak.started_at {
        None => reasons.push("soak has not started".to_owned()),
        Some(start) => {
            let elapsed = soak.now.since(start);
            if elapsed < soak.required {
                reasons.push(format!(
                    "soak running: {}s of {}s",
                    elapsed.as_secs(),
                    soak.required.as_secs()
                ));
            }
        }
    }
    reasons.extend(soak.regressions.iter().map(|r| format!("regression during soak: {r}")));
    GateOutcome::from_reasons(GateId::Soak, reasons)
}
