//! What both machines share: the per-step statig context, the internal event, and the effect
//! bookkeeping that keeps a machine from re-emitting an effect on every observation.

use super::{Diagnostic, EffectOutcome, Input, Timer, TimerTable};
use crate::effect::Effect;
use crate::observation::Observation;
use crate::time::Time;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How long after an effect completed (or failed transiently) the machine waits before emitting it
/// again when the observation still does not reflect it.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(30);

/// The event a statig handler sees: an [`super::Input`] after the wrapper did its bookkeeping.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    /// A fresh observation.
    Observed(&'a Observation),
    /// An effect this machine emitted has finished.
    Done {
        /// The effect, as emitted.
        effect: &'a Effect,
        /// What happened.
        outcome: &'a EffectOutcome,
    },
    /// A timer of the table expired (it is already disarmed).
    Timeout(Timer),
}

/// The per-step statig context: the current time, the effect sink, the timer table, the effect
/// bookkeeping and the diagnostics. Handlers reach the world only through it.
pub(crate) struct Context<'a> {
    /// The time of the input being handled.
    pub(crate) now: Time,
    /// Effects emitted during this step, in order.
    pub(crate) effects: &'a mut Vec<Effect>,
    /// The machine's timers.
    pub(crate) timers: &'a mut TimerTable,
    /// In-flight and completed effects.
    pub(crate) book: &'a mut EffectBook,
    /// Diagnostics recorded so far.
    pub(crate) diagnostics: &'a mut Diagnostics,
}

impl Context<'_> {
    /// Emit `effect` unless it is in flight or completed less than [`RETRY_INTERVAL`] ago.
    /// Returns whether it was emitted.
    pub(crate) fn offer(&mut self, effect: Effect) -> bool {
        let key = effect.key();
        if !self.book.may_emit(&key, self.now) {
            return false;
        }
        self.book.in_flight.insert(key, effect.clone());
        self.effects.push(effect);
        true
    }

    /// Emit `effect` now unless it is in flight, ignoring when it last completed.
    pub(crate) fn insist(&mut self, effect: Effect) -> bool {
        self.book.done.remove(&effect.key());
        self.offer(effect)
    }

    /// Record a diagnostic.
    pub(crate) fn diagnose(&mut self, message: String) {
        self.diagnostics.push(self.now, message);
    }

    /// Record a diagnostic unless the same message was already recorded.
    pub(crate) fn diagnose_once(&mut self, message: String) {
        self.diagnostics.push_once(self.now, message);
    }

    /// Arm `timer` for `after` from now.
    pub(crate) fn arm(&mut self, timer: Timer, after: Duration) {
        self.timers.set(timer, self.now.plus(after));
    }

    /// Arm `timer` for `after` from now unless it is already armed.
    pub(crate) fn arm_unless_armed(&mut self, timer: Timer, after: Duration) {
        if self.timers.get(timer).is_none() {
            self.arm(timer, after);
        }
    }

    /// Disarm every timer (terminal states).
    pub(crate) fn stop_all_timers(&mut self) {
        for timer in Timer::ALL {
            self.timers.stop(timer);
        }
    }
}

/// Which effects are in flight (emitted, no result yet) and when each completed one finished.
#[derive(Debug, Clone, Default)]
pub(crate) struct EffectBook {
    in_flight: BTreeMap<String, Effect>,
    done: BTreeMap<String, Time>,
}

impl EffectBook {
    /// Whether the effect keyed `key` may be emitted at `now`.
    fn may_emit(&self, key: &str, now: Time) -> bool {
        if self.in_flight.contains_key(key) {
            return false;
        }
        self.done.get(key).is_none_or(|at| now.since(*at) >= RETRY_INTERVAL)
    }

    /// Record that the effect keyed `key` finished at `now`; returns it if it was in flight.
    pub(crate) fn complete(&mut self, key: &str, now: Time) -> Option<Effect> {
        let effect = self.in_flight.remove(key)?;
        self.done.insert(key.to_owned(), now);
        Some(effect)
    }
}

/// Diagnostics, with the messages already seen so repeated ones can be recorded once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Diagnostics {
    /// Every diagnostic, in order.
    pub(crate) list: Vec<Diagnostic>,
    seen: BTreeSet<String>,
}

impl Diagnostics {
    /// Record `message`.
    pub(crate) fn push(&mut self, at: Time, message: String) {
        self.list.push(Diagnostic { at, message });
    }

    /// Record `message` unless it was already recorded with `push_once`.
    pub(crate) fn push_once(&mut self, at: Time, message: String) {
        if !self.seen.contains(&message) {
            self.seen.insert(message.clone());
            self.push(at, message);
        }
    }
}

/// What a machine wrapper keeps between steps besides its statig machine: timers, effect
/// bookkeeping, diagnostics, and the time of the last input.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tables {
    /// The timer table.
    pub(crate) timers: TimerTable,
    /// In-flight and completed effects.
    pub(crate) book: EffectBook,
    /// Diagnostics.
    pub(crate) diagnostics: Diagnostics,
    last_now: Option<Time>,
}

impl Tables {
    /// A step context at `now` writing into `effects`.
    pub(crate) fn step<'a>(&'a mut self, now: Time, effects: &'a mut Vec<Effect>) -> Context<'a> {
        Context { now, effects, timers: &mut self.timers, book: &mut self.book, diagnostics: &mut self.diagnostics }
    }

    /// Turn `input` into events and feed each to `dispatch`; returns the effects emitted.
    ///
    /// An [`Input::EffectDone`] for an effect that is not in flight and an input whose time is
    /// earlier than the previous one are diagnostics. A [`Input::Tick`] fires every expired timer,
    /// earliest first, skipping those an earlier firing re-armed or disarmed.
    pub(crate) fn handle(
        &mut self,
        now: Time,
        input: &Input,
        mut dispatch: impl FnMut(&mut Context<'_>, &Event<'_>),
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Some(last) = self.last_now.filter(|last| *last > now) {
            self.diagnostics.push(now, format!("input time {now} is earlier than the previous input's {last}"));
        }
        self.last_now = Some(now);
        match input {
            Input::Observed(obs) => {
                dispatch(&mut self.step(now, &mut effects), &Event::Observed(obs));
            }
            Input::EffectDone { key, outcome } => match self.book.complete(key, now) {
                Some(effect) => {
                    dispatch(&mut self.step(now, &mut effects), &Event::Done { effect: &effect, outcome });
                }
                None => self.diagnostics.push(now, format!("result for an effect that is not in flight: {key}")),
            },
            Input::Tick => {
                for (at, timer) in self.expired(now) {
                    if self.timers.get(timer) == Some(at) {
                        self.timers.stop(timer);
                        dispatch(&mut self.step(now, &mut effects), &Event::Timeout(timer));
                    }
                }
            }
        }
        effects
    }

    /// The expired timers at `now`, earliest first (ties in [`Timer::ALL`] order).
    fn expired(&self, now: Time) -> Vec<(Time, Timer)> {
        let mut due: Vec<(Time, Timer)> =
            Timer::ALL.iter().filter_map(|t| self.timers.get(*t).filter(|at| *at <= now).map(|at| (at, *t))).collect();
        due.sort_unstable();
        due
    }
}
