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
                reasons.push(format!("soak running: {}s of {}s", elapsed.as_secs(), soak.required.as_secs()));
            }
        }
    }
    reasons.extend(soak.regressions.iter().map(|r| format!("regression during soak: {r}")));
    GateOutcome::from_reasons(GateId::Soak, reasons)
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::gates::{SoakProgress, Verdict};
    use crate::time::Time;
    use std::time::Duration;

    fn soak(started: Option<u64>, now: u64, regressions: &[&str]) -> SoakProgress {
        SoakProgress {
            started_at: started.map(Time),
            now: Time(now),
            required: Duration::from_secs(60),
            regressions: regressions.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn the_soak_passes_only_after_its_full_duration_without_regressions() {
        let cases: [(SoakProgress, &[&str]); 5] = [
            (soak(None, 0, &[]), &["soak has not started"]),
            (soak(Some(1_000), 31_500, &[]), &["soak running: 30s of 60s"]),
            (soak(Some(1_000), 61_000, &[]), &[]),
            (
                soak(Some(1_000), 90_000, &["workloads: apps/web not ready"]),
                &["regression during soak: workloads: apps/web not ready"],
            ),
            (soak(None, 0, &["x"]), &["soak has not started", "regression during soak: x"]),
        ];
        for (progress, reasons) in cases {
            let outcome = check(&progress);
            assert_eq!(outcome.reasons, reasons, "{progress:?}");
            assert_eq!(outcome.verdict == Verdict::Pass, reasons.is_empty());
        }
    }
}
