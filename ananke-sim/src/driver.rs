//! Driving a machine against the model on a virtual clock (quinn's `drive_bounded`).
//!
//! The core's [`RunLoop`] decides, this shell answers: the clock jumps to the end of each wait (the
//! machine's next timer or the next periodic observation, exactly when `ananke` would wake),
//! effects run at once against the model and their outcomes go back through the loop. Every drive
//! is bounded in steps and virtual time, and fails loudly on a livelock (too many steps at one
//! instant).

use crate::model::Model;
use ananke_core::gates::GateReport;
use ananke_core::machine::{EffectOutcome, Failure, Machine};
use ananke_core::runner::{Next, RetryPolicy, RunLoop, Step, StepSink};
use ananke_core::{Effect, EffectKind, Journal, Time};
use std::collections::BTreeMap;
use std::time::Duration;

/// Bounds and pacing of a drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// At most this many inputs.
    pub max_steps: u64,
    /// At most this much virtual time.
    pub max_virtual: Duration,
    /// Observe the model this often (the runner's poll interval).
    pub observe_every: Duration,
    /// At most this many inputs at one instant before the drive is declared a livelock.
    pub max_steps_per_instant: u64,
    /// Retries of transient effect failures: the binary's policy, on the virtual clock.
    pub retry: RetryPolicy,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_steps: 200_000,
            max_virtual: Duration::from_secs(6 * 3600),
            observe_every: Duration::from_secs(5),
            max_steps_per_instant: 1_000,
            retry: RetryPolicy::default(),
        }
    }
}

/// How a drive ended.
#[derive(Debug, Clone, PartialEq)]
pub struct DriveOutcome {
    /// When it started.
    pub start: Time,
    /// When the machine reached a terminal state.
    pub end: Time,
    /// Every state entered, with when (the initial state first).
    pub states: Vec<(Time, &'static str)>,
    /// Inputs fed.
    pub steps: u64,
    /// Effects executed, by kind.
    pub effects: BTreeMap<EffectKind, usize>,
    /// Terminal state's name.
    pub state: &'static str,
    /// Why it failed, if it did.
    pub failure: Option<Failure>,
    /// What the machine set out to do and never saw done (an `incomplete` shutdown).
    pub unconfirmed: Vec<ananke_core::machine::Unconfirmed>,
    /// The last gate report.
    pub gates: Option<GateReport>,
    /// The journal at the end.
    pub journal: Journal,
}

impl DriveOutcome {
    /// Virtual duration.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.end.since(self.start)
    }

    /// Whether the machine went through state `name`.
    #[must_use]
    pub fn visited(&self, name: &str) -> bool {
        self.states.iter().any(|(_, s)| *s == name)
    }
}

/// A drive that did not end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriveError {
    /// Too many inputs at one instant: the machine and the model feed each other without time
    /// passing.
    #[error("livelock: {steps} inputs at {at} without time passing (state `{state}`)")]
    Livelock {
        /// Inputs at that instant.
        steps: u64,
        /// The instant.
        at: Time,
        /// The machine's state.
        state: &'static str,
    },
    /// The step or virtual-time bound was reached before a terminal state.
    #[error("no terminal state after {steps} inputs and {elapsed:?} of virtual time (state `{state}`)")]
    Unbounded {
        /// Inputs fed.
        steps: u64,
        /// Virtual time elapsed.
        elapsed: Duration,
        /// The machine's state.
        state: &'static str,
    },
}

/// Drive `machine` against `model` from `start` until it is terminal: the virtual-clock shell
/// around the core's [`RunLoop`], which owns the loop's rules (the same ones `ananke` runs).
/// Effects run at once against the model; a wait moves the clock (and the model) to its end.
///
/// `on_step` sees every step (for traces and journal checks).
///
/// # Errors
/// [`DriveError`] when the bounds are reached first.
pub fn drive(
    machine: &mut dyn Machine,
    model: &mut Model,
    start: Time,
    limits: &Limits,
    on_step: &mut dyn FnMut(&Step<'_>),
) -> Result<DriveOutcome, DriveError> {
    let mut sink =
        Sink { on_step, states: vec![(start, machine.state_name())], counts: BTreeMap::new(), at_instant: (start, 0) };
    let mut lp = RunLoop::new(machine, start, limits.observe_every);
    let mut now = start;
    model.advance(start);
    loop {
        if lp.steps() >= limits.max_steps {
            return Err(DriveError::Unbounded {
                steps: lp.steps(),
                elapsed: now.since(start),
                state: lp.machine().state_name(),
            });
        }
        if sink.at_instant.1 > limits.max_steps_per_instant {
            return Err(DriveError::Livelock { steps: sink.at_instant.1, at: now, state: lp.machine().state_name() });
        }
        match lp.poll(now, &mut sink) {
            Next::Done => break,
            Next::Observe => lp.observed(now, model.observe(now), &mut sink),
            Next::Execute(effects) => {
                for effect in &effects {
                    *sink.counts.entry(effect.kind()).or_insert(0) += 1;
                }
                let outcomes = execute_batch(model, &mut now, &effects, &limits.retry);
                lp.executed(now, outcomes, &mut sink);
            }
            Next::Wait { until, .. } => {
                now = until.max(now);
                if now.since(start) > limits.max_virtual {
                    return Err(DriveError::Unbounded {
                        steps: lp.steps(),
                        elapsed: now.since(start),
                        state: lp.machine().state_name(),
                    });
                }
                model.advance(now);
            }
        }
    }
    let steps = lp.steps();
    let machine = lp.machine();
    Ok(DriveOutcome {
        start,
        end: now,
        states: sink.states,
        steps,
        effects: sink.counts,
        state: machine.state_name(),
        failure: machine.failure().cloned(),
        unconfirmed: machine.unconfirmed().to_vec(),
        gates: machine.gates().cloned(),
        journal: machine.journal().clone(),
    })
}

/// Execute a batch as the runner does on a virtual clock (`ananke --sim`): each effect in the
/// batch's order, a transient failure retried after each backoff of `retry` (the clock moves by
/// the backoff) before the next effect runs; `now` ends at the batch's last attempt.
fn execute_batch(model: &mut Model, now: &mut Time, effects: &[Effect], retry: &RetryPolicy) -> Vec<EffectOutcome> {
    let mut outcomes = Vec::with_capacity(effects.len());
    for effect in effects {
        let mut outcome = model.apply_as_ananke(*now, effect);
        for attempt in 1..retry.attempts {
            if !matches!(outcome, EffectOutcome::Failed { transient: true, .. }) {
                break;
            }
            *now = now.plus(retry.backoff(attempt - 1));
            model.advance(*now);
            outcome = model.apply_as_ananke(*now, effect);
        }
        outcomes.push(outcome);
    }
    outcomes
}

/// The drive's step sink: the caller's callback, the states entered, the livelock count.
struct Sink<'f> {
    on_step: &'f mut dyn FnMut(&Step<'_>),
    states: Vec<(Time, &'static str)>,
    counts: BTreeMap<EffectKind, usize>,
    /// Inputs fed at the last instant that saw one.
    at_instant: (Time, u64),
}

impl StepSink for Sink<'_> {
    fn record(&mut self, step: &Step<'_>) {
        self.at_instant =
            if self.at_instant.0 == step.time { (step.time, self.at_instant.1 + 1) } else { (step.time, 1) };
        if step.state_after != step.state_before {
            self.states.push((step.time, step.state_after));
        }
        (self.on_step)(step);
    }
}
