//! The runner against a scripted world and a scripted machine: dry runs execute nothing, the
//! journal is on disk before an effect runs, transient failures are retried with backoff, slow
//! effects time out, and the abort flag stops the run.

use super::*;
use crate::gates::GateReport;
use crate::machine::{Diagnostic, Failure, Input};
use crate::store::reports::RunOutcome;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

/// Emits `Cordon{n1}` on its first observation (journaling it first) and ends on its result.
#[derive(Default)]
struct OneEffect {
    journal: Journal,
    emitted: bool,
    outcome: Option<EffectOutcome>,
}

use crate::journal::Journal;

impl Machine for OneEffect {
    fn handle(&mut self, _now: Time, input: &Input) -> Vec<Effect> {
        match input {
            Input::Observed(_) if !self.emitted => {
                self.emitted = true;
                self.journal.changes.cordoned.insert("n1".into());
                vec![Effect::Cordon { node: "n1".into() }]
            }
            Input::EffectDone { outcome, .. } => {
                self.outcome = Some(outcome.clone());
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
    fn poll_timeout(&self) -> Option<Time> {
        None
    }
    fn state_name(&self) -> &'static str {
        if self.outcome.is_some() {
            "done"
        } else {
            "working"
        }
    }
    fn is_terminal(&self) -> bool {
        self.outcome.is_some()
    }
    fn failure(&self) -> Option<&Failure> {
        None
    }
    fn journal(&self) -> &Journal {
        &self.journal
    }
    fn gates(&self) -> Option<&GateReport> {
        None
    }
    fn diagnostics(&self) -> &[Diagnostic] {
        &[]
    }
}

/// A world on a virtual clock whose effect outcomes are scripted.
struct Scripted {
    now: Cell<u64>,
    outcomes: RefCell<VecDeque<EffectOutcome>>,
    executed: Cell<u32>,
    hang: bool,
    journal_seen: RefCell<Option<String>>,
    state: Option<StateDir>,
}

impl Scripted {
    fn new(outcomes: Vec<EffectOutcome>) -> Self {
        Self {
            now: Cell::new(0),
            outcomes: RefCell::new(outcomes.into()),
            executed: Cell::new(0),
            hang: false,
            journal_seen: RefCell::new(None),
            state: None,
        }
    }
}

impl World for Scripted {
    async fn observe(&self) -> Observation {
        Observation::default()
    }
    async fn execute(&self, _effect: &Effect) -> EffectOutcome {
        self.executed.set(self.executed.get() + 1);
        if let Some(state) = &self.state {
            *self.journal_seen.borrow_mut() = std::fs::read_to_string(state.journal_path()).ok();
        }
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.outcomes.borrow_mut().pop_front().unwrap_or(EffectOutcome::Ok)
    }
    fn now(&self) -> Time {
        Time(self.now.get())
    }
    async fn sleep_until(&self, at: Time) {
        self.now.set(self.now.get().max(at.0));
    }
    fn virtual_clock(&self) -> bool {
        true
    }
}

fn run_it(
    machine: &mut OneEffect,
    world: &Scripted,
    settings: &RunSettings,
    store: Option<&StateDir>,
    abort: &AtomicBool,
) -> RunResult {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(run(machine, world, settings, store, &mut (), abort)).unwrap()
}

fn transient(msg: &str) -> EffectOutcome {
    EffectOutcome::Failed { transient: true, message: msg.into() }
}

#[test]
fn a_dry_run_executes_nothing_and_reports_the_plan() {
    let world = Scripted::new(vec![]);
    let mut m = OneEffect::default();
    let result = run_it(&mut m, &world, &RunSettings::default(), None, &AtomicBool::new(false));
    assert_eq!(world.executed.get(), 0);
    assert_eq!(result.outcome, RunOutcome::Planned);
    assert_eq!(result.plan.len(), 1);
    assert_eq!(result.plan[0].key, "cordon:n1");
}

#[test]
fn the_journal_is_on_disk_before_the_effect_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path());
    let mut world = Scripted::new(vec![]);
    world.state = Some(state.clone());
    let mut m = OneEffect::default();
    let settings = RunSettings { execute: true, ..RunSettings::default() };
    let result = run_it(&mut m, &world, &settings, Some(&state), &AtomicBool::new(false));
    assert_eq!(result.outcome, RunOutcome::Succeeded);
    let seen = world.journal_seen.borrow().clone().expect("journal existed when the effect ran");
    assert!(seen.contains("n1"), "{seen}");
}

#[test]
fn transient_failures_are_retried_with_backoff_then_reported() {
    let world = Scripted::new(vec![transient("503"), transient("503"), EffectOutcome::Ok]);
    let mut m = OneEffect::default();
    let settings = RunSettings { execute: true, ..RunSettings::default() };
    run_it(&mut m, &world, &settings, None, &AtomicBool::new(false));
    assert_eq!(world.executed.get(), 3);
    assert_eq!(m.outcome, Some(EffectOutcome::Ok));
    assert!(world.now.get() >= 1500, "backoff 500 ms then 1 s on the world's clock ({} ms)", world.now.get());

    let always = vec![transient("a"), transient("b"), transient("c"), transient("d"), transient("e")];
    let world = Scripted::new(always);
    let mut m = OneEffect::default();
    run_it(&mut m, &world, &settings, None, &AtomicBool::new(false));
    assert_eq!(world.executed.get(), settings.retry.attempts, "bounded retries");
    assert_eq!(m.outcome, Some(transient("d")), "the last failure reaches the machine");

    let world = Scripted::new(vec![EffectOutcome::Failed { transient: false, message: "403".into() }]);
    let mut m = OneEffect::default();
    run_it(&mut m, &world, &settings, None, &AtomicBool::new(false));
    assert_eq!(world.executed.get(), 1, "a permanent failure is not retried");
}

#[test]
fn a_hanging_effect_times_out() {
    let mut world = Scripted::new(vec![]);
    world.hang = true;
    let mut m = OneEffect::default();
    let retry =
        RetryPolicy { attempts: 2, initial_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(1) };
    let settings =
        RunSettings { execute: true, effect_timeout: Duration::from_millis(20), retry, ..RunSettings::default() };
    run_it(&mut m, &world, &settings, None, &AtomicBool::new(false));
    assert_eq!(world.executed.get(), 2);
    match &m.outcome {
        Some(EffectOutcome::Failed { transient: true, message }) => assert!(message.contains("timed out"), "{message}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn the_abort_flag_stops_the_run() {
    let world = Scripted::new(vec![]);
    let mut m = OneEffect::default();
    let settings = RunSettings { execute: true, ..RunSettings::default() };
    let result = run_it(&mut m, &world, &settings, None, &AtomicBool::new(true));
    assert_eq!(result.outcome, RunOutcome::Aborted);
    assert_eq!(world.executed.get(), 0);
}
