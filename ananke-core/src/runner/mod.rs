//! The runner: the imperative shell around the machines.
//!
//! [`RunLoop`] holds the loop's rules without any I/O (observe, execute this batch, wait until a
//! time, done); [`run`] is its async shell over a [`World`]: it observes, persists the journal,
//! executes the effects (bounded concurrency, a timeout each, bounded retries with backoff for
//! transient errors) while it keeps observing and watching the abort flag, and sleeps until the
//! loop's next wake. Without `execute` it observes once and returns the plan: the effects it
//! would run now, in order, with why; it changes nothing, not even the journal.
//!
//! The same shell drives the real adapters and the in-process simulator (both implement
//! [`World`]); `ananke-sim`'s virtual-clock driver is the other shell around the same
//! [`RunLoop`].

mod execute;
mod record;
mod run_loop;
pub mod secrets;

pub use execute::RetryPolicy;
pub use record::{PlannedEffect, RunResult, Step, StepSink};
pub use run_loop::{Next, RunLoop, WakeReason};

use crate::effect::Effect;
use crate::machine::{EffectOutcome, Machine};
use crate::observation::Observation;
use crate::store::reports::RunOutcome;
use crate::store::{StateDir, StoreError};
use crate::time::Time;
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
    /// Whether the clock is virtual (moved by `sleep_until`, not by real time). Then the runner
    /// neither observes nor waits while a batch runs: the clock would race ahead of an effect
    /// that takes real time (a share command), and the run would not be the one the model says.
    fn virtual_clock(&self) -> bool {
        false
    }
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

/// Drive `machine` against `world` until it is terminal, aborted, or (dry run) planned: the
/// async shell around [`RunLoop`], which owns the rules. While a batch of effects runs, the shell
/// keeps observing, firing the machine's timers and watching the abort flag.
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
    let mut lp = RunLoop::new(machine, world.now(), settings.observe_interval);
    let mut batch: Option<Batch<'_>> = None;
    for _ in 0..settings.max_steps {
        if abort.load(Ordering::SeqCst) {
            return Ok(lp.finish(world.now(), Some(RunOutcome::Aborted)));
        }
        let raced = match lp.poll(world.now(), sink) {
            Next::Done => {
                persist(&mut lp, store)?;
                return Ok(lp.finish(world.now(), None));
            }
            // A dry run ends at its first observation (below); should it get here, it executes nothing.
            Next::Execute(_) if !settings.execute => return Ok(lp.finish(world.now(), Some(RunOutcome::Planned))),
            Next::Execute(effects) => {
                persist(&mut lp, store)?;
                batch = Some(Box::pin(execute::execute_all(world, effects, settings)));
                continue;
            }
            Next::Observe | Next::Wait { .. } if batch.is_some() && world.virtual_clock() => {
                race(&mut batch, std::future::pending::<()>(), abort).await.map(|()| None)
            }
            Next::Observe => race(&mut batch, world.observe(), abort).await.map(Some),
            Next::Wait { until, .. } => race(&mut batch, world.sleep_until(until), abort).await.map(|()| None),
        };
        match raced {
            Raced::Batch(outcomes) => {
                lp.executed(world.now(), outcomes, sink);
                persist(&mut lp, store)?;
            }
            Raced::Action(Some(observation)) => {
                lp.observed(world.now(), observation, sink);
                if !settings.execute {
                    // A dry run: what the first observation leads to, and nothing more.
                    let now = world.now();
                    if let Next::Execute(effects) = lp.poll(now, sink) {
                        lp.plan(now, &effects);
                    }
                    return Ok(lp.finish(now, Some(RunOutcome::Planned)));
                }
            }
            Raced::Action(None) | Raced::Aborted => {}
        }
    }
    Err(RunError::StepLimit(settings.max_steps))
}

/// A batch of effects in flight.
type Batch<'w> = std::pin::Pin<Box<dyn Future<Output = Vec<EffectOutcome>> + 'w>>;

/// What ended a [`race`].
enum Raced<T> {
    /// The batch in flight finished first (the action was dropped).
    Batch(Vec<EffectOutcome>),
    /// The action finished.
    Action(T),
    /// The abort flag was set.
    Aborted,
}

impl<T> Raced<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Raced<U> {
        match self {
            Raced::Batch(o) => Raced::Batch(o),
            Raced::Action(t) => Raced::Action(f(t)),
            Raced::Aborted => Raced::Aborted,
        }
    }
}

/// Run `action` against the batch in flight and the abort flag; whichever ends first wins.
async fn race<T>(batch: &mut Option<Batch<'_>>, action: impl Future<Output = T>, abort: &AtomicBool) -> Raced<T> {
    let Some(running) = batch.as_mut() else {
        return tokio::select! {
            biased;
            () = aborted(abort) => Raced::Aborted,
            t = action => Raced::Action(t),
        };
    };
    let raced = tokio::select! {
        biased;
        () = aborted(abort) => Raced::Aborted,
        outcomes = running.as_mut() => Raced::Batch(outcomes),
        t = action => Raced::Action(t),
    };
    if matches!(raced, Raced::Batch(_)) {
        *batch = None;
    }
    raced
}

/// Resolves once `abort` is set (checked every 50 ms of wall-clock time).
async fn aborted(abort: &AtomicBool) {
    while !abort.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Write the journal if it changed since the last write.
fn persist<M: Machine>(lp: &mut RunLoop<'_, M>, store: Option<&StateDir>) -> Result<(), RunError> {
    if let Some(store) = store {
        if let Some(journal) = lp.journal_to_persist() {
            store.write_journal(journal)?;
        }
    }
    Ok(())
}

/// A shareable abort flag (set by a signal handler or the power daemon).
#[must_use]
pub fn abort_flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

#[cfg(test)]
mod tests;
