//! Driving a machine against the model on a virtual clock (quinn's `drive_bounded`).
//!
//! The clock jumps to the next deadline: the machine's `poll_timeout()`, the model's next event,
//! or the next periodic observation. Effects run at once against the model and their outcomes go
//! back to the machine as `EffectDone`. Every drive is bounded in steps and virtual time, and fails
//! loudly on a livelock (too many steps at one instant).

use crate::model::Model;
use ananke_core::gates::GateReport;
use ananke_core::machine::{Failure, Input, Machine};
use ananke_core::{Effect, EffectKind, Journal, Time};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// Bounds and pacing of a drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// At most this many inputs.
    pub max_steps: u64,
    /// At most this much virtual time.
    pub max_virtual: Duration,
    /// Observe the model this often (the runner's poll interval).
    pub observe_every: Duration,
    /// At most this many inputs at one instant before the drive is declared a livelock.
    pub max_steps_per_instant: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_steps: 200_000,
            max_virtual: Duration::from_secs(6 * 3600),
            observe_every: Duration::from_secs(5),
            max_steps_per_instant: 1_000,
        }
    }
}

/// One step as the driver saw it: the input, the states around it, the effects, the journal.
#[derive(Debug, Clone, Copy)]
pub struct StepView<'a> {
    /// Step number, from 0.
    pub step: u64,
    /// Virtual time of the input.
    pub time: Time,
    /// The input fed.
    pub input: &'a Input,
    /// State before.
    pub state_before: &'static str,
    /// State after.
    pub state_after: &'static str,
    /// Effects returned (executed right after this step, in order).
    pub effects: &'a [Effect],
    /// The journal after the step, which the runner persists before executing the effects.
    pub journal: &'a Journal,
}

/// How a drive ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
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

impl RunOutcome {
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

/// Drive `machine` against `model` from `start` until it is terminal.
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
    on_step: &mut dyn FnMut(&StepView<'_>),
) -> Result<RunOutcome, DriveError> {
    let mut now = start;
    let mut next_observation = start;
    let mut steps = 0u64;
    let mut at_instant = (start, 0u64);
    let mut states = vec![(start, machine.state_name())];
    let mut counts = BTreeMap::new();
    let mut queue: VecDeque<Input> = VecDeque::new();
    model.advance(start);
    while !machine.is_terminal() {
        // The queue is empty here: each pass drains what its first input led to.
        if next_observation <= now {
            queue.push_back(Input::Observed(Box::new(model.observe(now))));
            next_observation = now.plus(limits.observe_every);
        } else if machine.poll_timeout().is_some_and(|t| t <= now) {
            queue.push_back(Input::Tick);
        } else {
            let candidates = [machine.poll_timeout(), model.next_event_after(now), Some(next_observation)];
            now = candidates.into_iter().flatten().filter(|t| *t > now).min().unwrap_or(next_observation);
            if now.since(start) > limits.max_virtual {
                return Err(DriveError::Unbounded { steps, elapsed: now.since(start), state: machine.state_name() });
            }
            model.advance(now);
            continue;
        }
        while let Some(input) = queue.pop_front() {
            if steps >= limits.max_steps {
                return Err(DriveError::Unbounded { steps, elapsed: now.since(start), state: machine.state_name() });
            }
            at_instant = if at_instant.0 == now { (now, at_instant.1 + 1) } else { (now, 1) };
            if at_instant.1 > limits.max_steps_per_instant {
                return Err(DriveError::Livelock { steps: at_instant.1, at: now, state: machine.state_name() });
            }
            let before = machine.state_name();
            let effects = machine.handle(now, &input);
            let after = machine.state_name();
            if after != before {
                states.push((now, after));
            }
            on_step(&StepView {
                step: steps,
                time: now,
                input: &input,
                state_before: before,
                state_after: after,
                effects: &effects,
                journal: machine.journal(),
            });
            steps += 1;
            for effect in effects {
                *counts.entry(effect.kind()).or_insert(0) += 1;
                let outcome = model.apply_as_ananke(now, &effect);
                queue.push_back(Input::EffectDone { key: effect.key(), outcome });
            }
            if machine.is_terminal() {
                // As the runner does: the results of effects already carried out still reach
                // the machine (a cluster-and-hosts shutdown powers the servers off on the
                // agents' results); nothing else does.
                queue.retain(|i| matches!(i, Input::EffectDone { .. }));
            }
        }
    }
    Ok(RunOutcome {
        start,
        end: now,
        states,
        steps,
        effects: counts,
        state: machine.state_name(),
        failure: machine.failure().cloned(),
        unconfirmed: machine.unconfirmed().to_vec(),
        gates: machine.gates().cloned(),
        journal: machine.journal().clone(),
    })
}
