//! What a run records: every step (for the trace and the progress file), the effects and their
//! outcomes, the time spent in each state, and the plan of a dry run.

use crate::effect::{Effect, EffectKind};
use crate::gates::GateReport;
use crate::journal::Journal;
use crate::machine::{Diagnostic, EffectOutcome, Failure, Input, Machine, Unconfirmed};
use crate::store::reports::{EffectRecord, PhaseTiming, RunOutcome};
use crate::time::Time;
use serde::Serialize;
use std::collections::BTreeMap;

pub use crate::trace::Step;

/// Receives every step as it happens: the trace writer, the progress file, the progress display.
pub trait StepSink {
    /// Record one step. A sink that fails must not stop the run: it reports on its own.
    fn record(&mut self, step: &Step<'_>);
}

/// A sink that drops everything.
impl StepSink for () {
    fn record(&mut self, _step: &Step<'_>) {}
}

/// An effect a dry run would execute now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedEffect {
    /// Stable key.
    pub key: String,
    /// Why, in words.
    pub description: String,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// How it ended.
    pub outcome: RunOutcome,
    /// The machine's final state.
    pub final_state: &'static str,
    /// Why it failed.
    pub failure: Option<Failure>,
    /// Time per state, in order.
    pub phases: Vec<PhaseTiming>,
    /// Effects executed, with outcomes.
    pub effects: Vec<EffectRecord>,
    /// Effects by kind.
    pub effect_counts: BTreeMap<EffectKind, u32>,
    /// The plan (dry run only).
    pub plan: Vec<PlannedEffect>,
    /// The last gate report.
    pub gates: Option<GateReport>,
    /// The machine's diagnostics.
    pub diagnostics: Vec<Diagnostic>,
    /// What the run did not see done.
    pub unconfirmed: Vec<Unconfirmed>,
    /// What the machine says the report's warnings must hold.
    pub warnings: Vec<String>,
    /// Run-clock duration in milliseconds.
    pub duration_ms: u64,
    /// Steps taken.
    pub steps: u64,
}

/// Accumulates a run's record.
pub(super) struct Recorder {
    started: Time,
    states: Vec<(&'static str, Time)>,
    effects: Vec<EffectRecord>,
    counts: BTreeMap<EffectKind, u32>,
    plan: Vec<PlannedEffect>,
    steps: u64,
    written_journal: Option<Journal>,
}

impl Recorder {
    pub(super) fn new(started: Time, state: &'static str) -> Self {
        Self {
            started,
            states: vec![(state, started)],
            effects: Vec::new(),
            counts: BTreeMap::new(),
            plan: Vec::new(),
            steps: 0,
            written_journal: None,
        }
    }

    /// Feed `input` to the machine, record the step, return its effects.
    pub(super) fn step<M: Machine + ?Sized>(
        &mut self,
        machine: &mut M,
        now: Time,
        input: &Input,
        sink: &mut dyn StepSink,
    ) -> Vec<Effect> {
        let before = machine.state_name();
        let effects = machine.handle(now, input);
        let after = machine.state_name();
        if after != before {
            self.states.push((after, now));
        }
        sink.record(&Step {
            step: self.steps,
            time: now,
            input,
            state_before: before,
            state_after: after,
            effects: &effects,
            gates: machine.gates(),
            journal: machine.journal(),
        });
        self.steps += 1;
        effects
    }

    pub(super) fn executed(&mut self, now: Time, effect: &Effect, outcome: &EffectOutcome) {
        *self.counts.entry(effect.kind()).or_default() += 1;
        let outcome = match outcome {
            EffectOutcome::Ok => "ok".to_owned(),
            EffectOutcome::BlockedByPdb { pdb } => format!("blocked-by-pdb: {pdb}"),
            EffectOutcome::Failed { transient, message } => {
                format!("failed ({}): {message}", if *transient { "transient" } else { "permanent" })
            }
        };
        self.effects.push(EffectRecord {
            at_ms: now.since(self.started).as_millis().try_into().unwrap_or(u64::MAX),
            key: effect.key(),
            description: effect.describe(),
            outcome,
        });
    }

    pub(super) fn plan(&mut self, now: Time, effects: &[Effect]) {
        for effect in effects {
            *self.counts.entry(effect.kind()).or_default() += 1;
            self.plan.push(PlannedEffect { key: effect.key(), description: effect.describe() });
            self.effects.push(EffectRecord {
                at_ms: now.since(self.started).as_millis().try_into().unwrap_or(u64::MAX),
                key: effect.key(),
                description: effect.describe(),
                outcome: "planned".to_owned(),
            });
        }
    }

    /// Inputs fed so far.
    pub(super) fn steps(&self) -> u64 {
        self.steps
    }

    /// Whether `journal` differs from the last one written (and remember it as written).
    pub(super) fn journal_changed(&mut self, journal: &Journal) -> bool {
        if self.written_journal.as_ref() == Some(journal) {
            return false;
        }
        self.written_journal = Some(journal.clone());
        true
    }

    pub(super) fn finish<M: Machine + ?Sized>(self, machine: &M, now: Time, outcome: RunOutcome) -> RunResult {
        let mut phases = Vec::with_capacity(self.states.len());
        for (i, (state, entered)) in self.states.iter().enumerate() {
            let left = self.states.get(i + 1).map_or(now, |(_, t)| *t);
            phases.push(PhaseTiming {
                state: (*state).to_owned(),
                millis: left.since(*entered).as_millis().try_into().unwrap_or(u64::MAX),
            });
        }
        RunResult {
            outcome,
            final_state: machine.state_name(),
            failure: machine.failure().cloned(),
            phases,
            effects: self.effects,
            effect_counts: self.counts,
            plan: self.plan,
            gates: machine.gates().cloned(),
            diagnostics: machine.diagnostics().to_vec(),
            unconfirmed: machine.unconfirmed().to_vec(),
            warnings: machine.warnings(),
            duration_ms: now.since(self.started).as_millis().try_into().unwrap_or(u64::MAX),
            steps: self.steps,
        }
    }
}
