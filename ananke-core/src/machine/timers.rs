//! The timer table: a small closed set of deadlines, as in quinn's timer table.

use crate::time::Time;
use serde::{Deserialize, Serialize};

/// Every timer a machine can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timer {
    /// Nodes must be back by then (startup).
    BootGrace,
    /// Flux and workloads must converge by then (startup).
    Converge,
    /// Re-check / retry Flux (deadlock breaking, reconcile requests).
    FluxRetry,
    /// Next soak check; the soak itself ends when its duration has elapsed.
    Soak,
    /// A bounded wait inside a shutdown phase (scale-down, drain, node stop).
    PhaseDeadline,
    /// Deadline of the whole run.
    RunDeadline,
}

impl Timer {
    /// Every timer.
    pub const ALL: [Timer; 6] =
        [Timer::BootGrace, Timer::Converge, Timer::FluxRetry, Timer::Soak, Timer::PhaseDeadline, Timer::RunDeadline];
}

/// One optional deadline per [`Timer`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerTable {
    deadlines: [Option<Time>; 6],
}

impl TimerTable {
    /// Arm `timer` for `at` (replacing any earlier setting).
    pub fn set(&mut self, timer: Timer, at: Time) {
        self.deadlines[timer as usize] = Some(at);
    }

    /// Disarm `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    /// When `timer` fires, if armed.
    #[must_use]
    pub fn get(&self, timer: Timer) -> Option<Time> {
        self.deadlines[timer as usize]
    }

    /// Whether `timer` is armed and due at `now`.
    #[must_use]
    pub fn expired(&self, timer: Timer, now: Time) -> bool {
        self.get(timer).is_some_and(|t| t <= now)
    }

    /// The earliest armed deadline.
    #[must_use]
    pub fn next(&self) -> Option<Time> {
        self.deadlines.iter().flatten().min().copied()
    }
}
