//! The runner: the imperative shell around the machines.
//!
//! It loops: observe through the [`World`], feed the machine, persist the journal, execute the
//! effects (bounded concurrency, a timeout each, bounded retries with backoff for transient
//! errors), feed the results back, record the step, and sleep until the machine's
//! `poll_timeout()` or the next observation. Without `execute` it observes once and returns the
//! plan: the effects it would run now, in order, with why; it changes nothing, not even the
//! journal.
//!
//! The same loop drives the real adapters and the in-process simulator: both implement [`World`].

mod execute;
mod record;
pub mod secrets;

pub use execute::RetryPolicy;
pub use record::{PlannedEffect, RunResult, Step, StepSink};

use crate::effect::Effect;
use crate::machine::{EffectOutcome, Input, Machine};
use crate::observation::Observation;
use crate::store::reports::RunOutcome;
use crate::store::{StateDir, StoreError};
use crate::time::Time;
use record::Recorder;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the runner needs from the world: observe, act, and tell and pass time.
///
/// Real adapters implement it over Kubernetes, SSH, HTTP, Vault and NUT with the wall clock;
/// `ananke-sim` implements it in-process over its model and virtual clock.
pub trait World {
    /// One full observation of the cluster. Adapter failures are data in the observation (an
    /// unreachable API, an unreachable node), never an error here.
    fn observe(&self) -> impl Future<Output = Observation>;
    /// Execute one effect once. Errors are outcomes, marked transient or permanent.
    fn execute(&self, effect: &Effect) -> impl Future<Output = EffectOutcome>;
    /// The world's clock.
    fn now(&self) -> Time;
    /// Wait until `at` on the world's clock.
    fn sleep_until(&self, at: Time) -> impl Future<Output = ()>;
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Change the cluster (`--execute`); otherwise only plan.
    pub execute: bool,
    /// Maximum effects executed at once.
    pub concurrency: usize,
    /// Observe at least this often while waiting.
    pub observe_interval: Duration,
    /// Retries of transient effect failures.
    pub retry: RetryPolicy,
    /// Timeout of one effect attempt (wall clock).
    pub effect_timeout: Duration,
    /// Safety bound on loop iterations (a livelock is an error, not a hang).
    pub max_steps: u64,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            execute: false,
            concurrency: 16,
            observe_interval: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            effect_timeout: Duration::from_secs(300),
            max_steps: 1_000_000,
        }
    }
}

/// Why a run stopped before the machine finished.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The journal could not be persisted: nothing was executed after the failure.
    #[error("cannot persist the journal, stopping before any further change: {0}")]
    Journal(#[from] StoreError),
    /// The step bound was reached.
    #[error("the run did not finish within {0} steps (livelock?)")]
    StepLimit(u64),
}

/// Drive `machine` against `world` until it is terminal, aborted, or (dry run) planned.
///
/// With `execute`, `store` receives the journal before every batch of effects.
///
/// # Errors
/// When the journal cannot be written or the step bound is hit.
pub async fn run<M: Machine, W: World>(
    machine: &mut M,
    world: &W,
    settings: &RunSettings,
    store: Option<&StateDir>,
    sink: &mut dyn StepSink,
    abort: &AtomicBool,
) -> Result<RunResult, RunError> {
    let mut rec = Recorder::new(world.now(), machine.state_name());
    let mut tick_due = false;
    for _ in 0..settings.max_steps {
        if abort.load(Ordering::SeqCst) {
            return Ok(rec.finish(machine, world.now(), RunOutcome::Aborted));
        }
        let input = if tick_due { Input::Tick } else { Input::Observed(Box::new(world.observe().await)) };
        let now = world.now();
        let effects = rec.step(machine, now, &input, sink);
        if !settings.execute {
            rec.plan(now, &effects);
            return Ok(rec.finish(machine, now, RunOutcome::Planned));
        }
        execute_cascade(machine, world, settings, store, sink, &mut rec, effects).await?;
        if machine.is_terminal() {
            let outcome = if machine.failure().is_some() {
                RunOutcome::Failed
            } else if !machine.unconfirmed().is_empty() {
                RunOutcome::Incomplete
            } else {
                RunOutcome::Succeeded
            };
            return Ok(rec.finish(machine, world.now(), outcome));
        }
        if tick_due {
            // Observe right after a timer fired, so its consequences are seen at once.
            tick_due = false;
            continue;
        }
        let wake = next_wake(machine.poll_timeout(), world.now(), settings.observe_interval);
        world.sleep_until(wake).await;
        tick_due = machine.poll_timeout().is_some_and(|t| t <= world.now());
    }
    Err(RunError::StepLimit(settings.max_steps))
}

/// Execute `effects` and everything their results lead to, persisting the journal before each
/// batch.
async fn execute_cascade<M: Machine, W: World>(
    machine: &mut M,
    world: &W,
    settings: &RunSettings,
    store: Option<&StateDir>,
    sink: &mut dyn StepSink,
    rec: &mut Recorder,
    effects: Vec<Effect>,
) -> Result<(), RunError> {
    let mut pending = effects;
    while !pending.is_empty() {
        persist_journal(machine, store, rec)?;
        let outcomes = execute::execute_all(world, &pending, settings).await;
        let mut next = Vec::new();
        for (effect, outcome) in pending.iter().zip(outcomes) {
            let now = world.now();
            rec.executed(now, effect, &outcome);
            let input = Input::EffectDone { key: effect.key(), outcome };
            next.extend(rec.step(machine, now, &input, sink));
        }
        pending = next;
    }
    persist_journal(machine, store, rec)
}

/// Write the journal if it changed since the last write.
fn persist_journal<M: Machine>(machine: &M, store: Option<&StateDir>, rec: &mut Recorder) -> Result<(), RunError> {
    if let Some(store) = store {
        if rec.journal_changed(machine.journal()) {
            store.write_journal(machine.journal())?;
        }
    }
    Ok(())
}

/// When to wake: the machine's deadline, but never later than one observation interval.
fn next_wake(timeout: Option<Time>, now: Time, interval: Duration) -> Time {
    let periodic = now.plus(interval);
    match timeout {
        Some(t) if t > now => t.min(periodic),
        Some(_) => now,
        None => periodic,
    }
}

/// A shareable abort flag (set by a signal handler or the power daemon).
#[must_use]
pub fn abort_flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod wake_tests {

    use super::*;

    #[test]
    fn wakes_at_the_deadline_or_the_next_observation() {
        let s = Duration::from_secs(5);
        assert_eq!(next_wake(None, Time(1000), s), Time(6000));
        assert_eq!(next_wake(Some(Time(3000)), Time(1000), s), Time(3000));
        assert_eq!(next_wake(Some(Time(60_000)), Time(1000), s), Time(6000));
        assert_eq!(next_wake(Some(Time(500)), Time(1000), s), Time(1000));
    }
}
