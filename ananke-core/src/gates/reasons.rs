//! A gate's reasons, capped: the first [`MAX_LISTED`] in full, then a count of the rest.
//!
//! With thousands of objects failing at once (every workload after a power cut), a report of every
//! one would bury the first cause; and formatting sentences nobody reads would cost the gate most
//! of its time. So reasons are built lazily and only the first ones are formatted.

use super::{GateId, GateOutcome};

/// How many reasons a gate lists before summarising the rest as `... and N more`.
pub const MAX_LISTED: usize = 20;

/// Collects a gate's reasons in the order the gate finds them.
#[derive(Debug, Default)]
pub(crate) struct Reasons {
    listed: Vec<String>,
    more: usize,
}

impl Reasons {
    /// No reasons yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Record one reason; `reason` is only called while fewer than [`MAX_LISTED`] are listed.
    pub(crate) fn push_with(&mut self, reason: impl FnOnce() -> String) {
        if self.listed.len() < MAX_LISTED {
            self.listed.push(reason());
        } else {
            self.more += 1;
        }
    }

    /// Record one reason already formatted.
    pub(crate) fn push(&mut self, reason: String) {
        self.push_with(|| reason);
    }

    /// A pass when nothing was recorded, else a failure listing the reasons.
    pub(crate) fn into_outcome(mut self, gate: GateId) -> GateOutcome {
        if self.more > 0 {
            self.listed.push(format!("... and {} more", self.more));
        }
        GateOutcome::from_reasons(gate, self.listed)
    }
}
