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

#[cfg(test)]
mod tests {
    use super::{Time, Timer, TimerTable};

    #[test]
    fn an_empty_table_has_no_deadline_and_nothing_expires() {
        let t = TimerTable::default();
        assert_eq!(t.next(), None);
        for timer in Timer::ALL {
            assert_eq!(t.get(timer), None);
            assert!(!t.expired(timer, Time(u64::MAX)));
        }
    }

    #[test]
    fn each_timer_has_its_own_slot() {
        let mut t = TimerTable::default();
        for (i, timer) in Timer::ALL.into_iter().enumerate() {
            t.set(timer, Time(1000 + i as u64));
        }
        for (i, timer) in Timer::ALL.into_iter().enumerate() {
            assert_eq!(t.get(timer), Some(Time(1000 + i as u64)), "{timer:?}");
        }
        assert_eq!(t.next(), Some(Time(1000)));
        t.stop(Timer::BootGrace);
        assert_eq!(t.get(Timer::BootGrace), None);
        assert_eq!(t.next(), Some(Time(1001)), "stopping the earliest moves next to the following one");
    }

    #[test]
    fn set_replaces_an_earlier_setting_even_with_a_later_time() {
        let mut t = TimerTable::default();
        t.set(Timer::Soak, Time(50));
        t.set(Timer::Soak, Time(500));
        assert_eq!(t.get(Timer::Soak), Some(Time(500)));
        assert_eq!(t.next(), Some(Time(500)));
    }

    #[test]
    fn a_timer_expires_at_its_deadline_not_before() {
        let mut t = TimerTable::default();
        t.set(Timer::FluxRetry, Time(10));
        assert!(!t.expired(Timer::FluxRetry, Time(9)));
        assert!(t.expired(Timer::FluxRetry, Time(10)));
        assert!(t.expired(Timer::FluxRetry, Time(11)));
        assert!(!t.expired(Timer::Converge, Time(11)), "an unarmed timer never expires");
        t.stop(Timer::FluxRetry);
        assert!(!t.expired(Timer::FluxRetry, Time(11)));
        t.stop(Timer::FluxRetry);
        assert_eq!(t.next(), None, "stopping twice is harmless");
    }

    #[test]
    fn timers_serialize_in_kebab_case() {
        let names: Vec<String> = Timer::ALL.iter().map(|t| serde_json::to_string(t).unwrap()).collect();
        assert_eq!(
            names,
            ["\"boot-grace\"", "\"converge\"", "\"flux-retry\"", "\"soak\"", "\"phase-deadline\"", "\"run-deadline\""]
        );
        let mut t = TimerTable::default();
        t.set(Timer::RunDeadline, Time(7));
        let back: TimerTable = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }
}
