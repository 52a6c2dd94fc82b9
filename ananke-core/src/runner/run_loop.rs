//! The run loop without I/O: the one set of rules that drives a machine, whoever does the I/O.
//!
//! [`RunLoop`] decides what happens next (observe, execute a batch, wait until a time, done) and
//! takes what the world answered (an observation, a batch's outcomes) and the time as inputs. It
//! never reads a clock and never touches the world. The async [`run`](super::run) over the real
//! adapters and `ananke-sim`'s virtual-clock driver are thin shells around it, so both take the
//! same steps at the same times.
//!
//! # The call contract
//!
//! 1. Call [`RunLoop::poll`] with the current time. It may feed the machine a due timer (a
//!    [`Input::Tick`]) itself, and answers with a [`Next`]:
//!    - [`Next::Observe`]: observe the world and hand the observation to [`RunLoop::observed`];
//!    - [`Next::Execute`]: **first persist [`RunLoop::journal`]** (the machine journaled what the
//!      batch changes; an effect must never run before the journal naming it is on disk), then
//!      execute the batch and hand every outcome, in the batch's order, to
//!      [`RunLoop::executed`];
//!    - [`Next::Wait`]: nothing to do before `until` (the reason says why): wait, then poll again;
//!    - [`Next::Done`]: the machine is terminal and nothing is in flight.
//! 2. A batch may take long (a drain, a `systemctl stop`). While it is in flight, `poll` never
//!    hands out another batch, but it still asks for observations and fires timers, so a shell
//!    that can observe while effects run (the async runner) keeps seeing the cluster and the
//!    machine keeps its deadlines. Effects the machine asks for meanwhile wait for the next batch.
//! 3. Every input the machine sees reaches the step sink as one [`Step`](crate::trace::Step),
//!    numbered from 0 (the trace writes the same record).
//!
//! # The rules
//!
//! - The first thing a run does is observe.
//! - After a batch's outcomes, after a timer fired and after an observation that moved the machine
//!   to a new state without asking for anything, observe at once: a change the run just made, a
//!   deadline that just passed or a phase just entered is looked at without waiting for the next
//!   periodic observation.
//! - Otherwise observe every `observe_every`, and wake earlier for the machine's next timer.
//! - Every effect the machine asks for is executed, also those of the step that ended it, and
//!   their outcomes reach it (a `cluster-and-hosts` shutdown powers the servers off on the agents'
//!   results). Once it is terminal no observation or timer reaches it, and it is done when no
//!   batch is left.

use super::record::{Recorder, StepSink};
use super::RunResult;
use crate::effect::Effect;
use crate::machine::{EffectOutcome, Input, Machine};
use crate::observation::Observation;
use crate::store::reports::RunOutcome;
use crate::time::Time;
use std::time::Duration;

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Observe the world, then call [`RunLoop::observed`].
    Observe,
    /// Persist the journal, execute these effects, then call [`RunLoop::executed`].
    Execute(Vec<Effect>),
    /// Nothing to do before `until`.
    Wait {
        /// When to poll again.
        until: Time,
        /// Why then.
        reason: WakeReason,
    },
    /// The machine is terminal and no batch is in flight.
    Done,
}

/// Why a [`Next::Wait`] ends when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeReason {
    /// The machine's next timer (`poll_timeout()`).
    Timer,
    /// The next periodic observation.
    Observation,
    /// A batch is in flight and nothing else is due; the time is the next observation.
    InFlight,
}

/// The run loop of one machine (see the module documentation for the call contract).
pub struct RunLoop<'m, M: Machine + ?Sized> {
    machine: &'m mut M,
    rec: Recorder,
    observe_every: Duration,
    /// When the next observation is due.
    observe_at: Time,
    /// Effects the machine asked for, for the next batch.
    pending: Vec<Effect>,
    /// The batch handed out and not yet answered.
    in_flight: Option<Vec<Effect>>,
}

impl<'m, M: Machine + ?Sized> RunLoop<'m, M> {
    /// A loop over `machine`, starting at `start`, observing every `observe_every`.
    pub fn new(machine: &'m mut M, start: Time, observe_every: Duration) -> Self {
        let rec = Recorder::new(start, machine.state_name());
        Self { machine, rec, observe_every, observe_at: start, pending: Vec::new(), in_flight: None }
    }

    /// What to do at `now`. Feeds the machine a due timer first (recorded through `sink`).
    pub fn poll(&mut self, now: Time, sink: &mut dyn StepSink) -> Next {
        if !self.machine.is_terminal() && self.machine.poll_timeout().is_some_and(|t| t <= now) {
            let effects = self.rec.step(self.machine, now, &Input::Tick, sink);
            self.pending.extend(effects);
            self.observe_at = now;
        }
        if self.in_flight.is_none() && !self.pending.is_empty() {
            let batch = std::mem::take(&mut self.pending);
            self.in_flight = Some(batch.clone());
            return Next::Execute(batch);
        }
        if self.machine.is_terminal() {
            return match &self.in_flight {
                None => Next::Done,
                Some(_) => Next::Wait { until: now.plus(self.observe_every), reason: WakeReason::InFlight },
            };
        }
        if self.observe_at <= now {
            return Next::Observe;
        }
        match self.machine.poll_timeout() {
            Some(t) if t < self.observe_at => Next::Wait { until: t, reason: WakeReason::Timer },
            _ if self.in_flight.is_some() => Next::Wait { until: self.observe_at, reason: WakeReason::InFlight },
            _ => Next::Wait { until: self.observe_at, reason: WakeReason::Observation },
        }
    }

    /// The observation the last [`Next::Observe`] asked for, made at `now`.
    pub fn observed(&mut self, now: Time, observation: Observation, sink: &mut dyn StepSink) {
        self.observe_at = now.plus(self.observe_every);
        if self.machine.is_terminal() {
            return;
        }
        let before = self.machine.state_name();
        let effects = self.rec.step(self.machine, now, &Input::Observed(Box::new(observation)), sink);
        if self.machine.state_name() != before && effects.is_empty() {
            // A new phase looks at the world at once instead of at the next periodic observation.
            self.observe_at = now;
        }
        self.pending.extend(effects);
    }

    /// The outcomes of the batch in flight, in its order, received at `now`.
    ///
    /// # Panics
    /// Never: outcomes without a batch in flight are ignored, and a batch answered with fewer
    /// outcomes than effects leaves the rest unanswered (the machine's own deadlines bound that).
    pub fn executed(&mut self, now: Time, outcomes: Vec<EffectOutcome>, sink: &mut dyn StepSink) {
        let Some(batch) = self.in_flight.take() else { return };
        for (effect, outcome) in batch.iter().zip(outcomes) {
            self.rec.executed(now, effect, &outcome);
            let input = Input::EffectDone { key: effect.key(), outcome };
            let effects = self.rec.step(self.machine, now, &input, sink);
            self.pending.extend(effects);
        }
        self.observe_at = now;
    }

    /// The journal to persist before the batch [`Next::Execute`] handed out runs, when it changed
    /// since the last one this returned.
    pub fn journal_to_persist(&mut self) -> Option<&crate::journal::Journal> {
        let journal = self.machine.journal();
        self.rec.journal_changed(journal).then_some(journal)
    }

    /// Record a dry run's plan: what the batch handed out would do (it is not executed).
    pub fn plan(&mut self, now: Time, effects: &[Effect]) {
        self.rec.plan(now, effects);
        self.in_flight = None;
    }

    /// The machine.
    #[must_use]
    pub fn machine(&self) -> &M {
        self.machine
    }

    /// Inputs fed so far.
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.rec.steps()
    }

    /// Whether a batch is in flight.
    #[must_use]
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The run's record, ending at `now` with `outcome` (the machine's own verdict when `None`).
    #[must_use]
    pub fn finish(self, now: Time, outcome: Option<RunOutcome>) -> RunResult {
        let outcome = outcome.unwrap_or_else(|| verdict(&*self.machine));
        self.rec.finish(&*self.machine, now, outcome)
    }
}

/// A terminal machine's verdict: failed, incomplete (something never seen done) or succeeded.
fn verdict<M: Machine + ?Sized>(machine: &M) -> RunOutcome {
    if machine.failure().is_some() {
        RunOutcome::Failed
    } else if !machine.unconfirmed().is_empty() {
        RunOutcome::Incomplete
    } else {
        RunOutcome::Succeeded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::GateReport;
    use crate::journal::Journal;
    use crate::machine::{Diagnostic, Failure};

    /// Asks for one cordon per observation (journaling it), arms a timer at 7 s, and ends with
    /// a last cordon on its second effect result.
    #[derive(Default)]
    struct Toy {
        journal: Journal,
        results: u32,
        ticks: u32,
    }

    impl Machine for Toy {
        fn handle(&mut self, _now: Time, input: &Input) -> Vec<Effect> {
            match input {
                Input::Observed(_) => {
                    let node = format!("n{}", self.journal.changes.cordoned.len());
                    self.journal.changes.cordoned.insert(node.clone());
                    vec![Effect::Cordon { node }]
                }
                Input::EffectDone { .. } => {
                    self.results += 1;
                    if self.results == 2 {
                        vec![Effect::Cordon { node: "last".into() }]
                    } else {
                        Vec::new()
                    }
                }
                Input::Tick => {
                    self.ticks += 1;
                    Vec::new()
                }
            }
        }
        fn poll_timeout(&self) -> Option<Time> {
            (self.ticks == 0).then_some(Time(7000))
        }
        fn state_name(&self) -> &'static str {
            if self.is_terminal() {
                "done"
            } else {
                "working"
            }
        }
        fn is_terminal(&self) -> bool {
            self.results >= 2
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

    fn observation() -> Observation {
        Observation::default()
    }

    #[test]
    fn the_loop_keeps_its_contract() {
        let mut toy = Toy::default();
        let sink = &mut ();
        let mut lp = RunLoop::new(&mut toy, Time::ZERO, Duration::from_secs(5));
        assert_eq!(lp.poll(Time::ZERO, sink), Next::Observe, "a run starts by observing");
        lp.observed(Time::ZERO, observation(), sink);
        let Next::Execute(batch) = lp.poll(Time::ZERO, sink) else { panic!("the observation's effect") };
        assert_eq!(batch.len(), 1);
        assert!(lp.journal_to_persist().is_some_and(|j| j.changes.cordoned.contains("n0")), "journaled first");
        assert!(lp.journal_to_persist().is_none(), "an unchanged journal is not written twice");
        assert!(lp.in_flight());
        // While the batch runs: observations and waits, never a second batch.
        assert_eq!(
            lp.poll(Time(1000), sink),
            Next::Wait { until: Time(5000), reason: WakeReason::InFlight },
            "the next observation, the batch in flight"
        );
        assert_eq!(lp.poll(Time(5000), sink), Next::Observe);
        lp.observed(Time(5000), observation(), sink);
        assert!(matches!(lp.poll(Time(5000), sink), Next::Wait { until: Time(7000), reason: WakeReason::Timer }));
        // The timer fires inside poll; the observation's cordon waits for the batch.
        assert!(matches!(lp.poll(Time(7000), sink), Next::Observe), "a fired timer is looked at at once");
        assert_eq!(lp.steps(), 3, "observed, observed, tick");
        lp.executed(Time(7500), vec![EffectOutcome::Ok], sink);
        let Next::Execute(second) = lp.poll(Time(7500), sink) else { panic!("the queued cordon") };
        assert_eq!(second, [Effect::Cordon { node: "n1".into() }]);
        lp.executed(Time(8000), vec![EffectOutcome::Ok], sink);
        // Terminal, but the ending step asked for one more effect: it runs and is answered.
        let Next::Execute(last) = lp.poll(Time(8000), sink) else { panic!("the ending step's effect") };
        assert_eq!(last, [Effect::Cordon { node: "last".into() }]);
        assert!(matches!(lp.poll(Time(8000), sink), Next::Wait { reason: WakeReason::InFlight, .. }));
        lp.executed(Time(8100), vec![EffectOutcome::Ok], sink);
        assert_eq!(lp.poll(Time(8100), sink), Next::Done);
        lp.executed(Time(8100), vec![EffectOutcome::Ok], sink);
        let result = lp.finish(Time(8100), None);
        assert_eq!(result.outcome, RunOutcome::Succeeded);
        assert_eq!(result.effects.len(), 3, "outcomes without a batch in flight are ignored");
        assert_eq!(result.duration_ms, 8100);
    }

    #[test]
    fn a_machine_with_a_failure_or_something_unconfirmed_gets_that_verdict() {
        struct Ended(Option<Failure>, Vec<crate::machine::Unconfirmed>, Journal);
        impl Machine for Ended {
            fn handle(&mut self, _now: Time, _input: &Input) -> Vec<Effect> {
                Vec::new()
            }
            fn poll_timeout(&self) -> Option<Time> {
                None
            }
            fn state_name(&self) -> &'static str {
                "end"
            }
            fn is_terminal(&self) -> bool {
                true
            }
            fn failure(&self) -> Option<&Failure> {
                self.0.as_ref()
            }
            fn journal(&self) -> &Journal {
                &self.2
            }
            fn gates(&self) -> Option<&GateReport> {
                None
            }
            fn diagnostics(&self) -> &[Diagnostic] {
                &[]
            }
            fn unconfirmed(&self) -> &[crate::machine::Unconfirmed] {
                &self.1
            }
        }
        let failed = Ended(Some(Failure { gate: None, reason: "x".into() }), Vec::new(), Journal::default());
        assert_eq!(verdict(&failed), RunOutcome::Failed);
        let item = crate::machine::Unconfirmed {
            item: "n1".into(),
            cause: crate::machine::Cause::Unreachable,
            detail: "no answer".into(),
        };
        assert_eq!(verdict(&Ended(None, vec![item], Journal::default())), RunOutcome::Incomplete);
        let mut ended = Ended(None, Vec::new(), Journal::default());
        assert_eq!(verdict(&ended), RunOutcome::Succeeded);
        // A terminal machine is fed no observation.
        let mut lp = RunLoop::new(&mut ended, Time::ZERO, Duration::from_secs(5));
        assert_eq!(lp.poll(Time::ZERO, &mut ()), Next::Done);
        lp.observed(Time::ZERO, Observation::default(), &mut ());
        assert_eq!(lp.steps(), 0);
        let m = lp.machine();
        assert!(m.poll_timeout().is_none() && m.gates().is_none() && m.diagnostics().is_empty());
        assert_eq!((m.state_name(), m.journal()), ("end", &Journal::default()));
        assert!(ended.handle(Time::ZERO, &Input::Tick).is_empty());
    }
}
