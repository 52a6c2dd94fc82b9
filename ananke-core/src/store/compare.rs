//! The drill record: an executed run against the previous run of its kind and against the median
//! of the last N, per phase; and what it left that the previous run did not (warnings, manual
//! steps). Pure: it reads a [`RunHistory`] (`runs.json`), nothing else.
//!
//! A run's kind is its command on its target (`startup` on `host`): a simulated drill is never
//! compared with a real outage. The previous run counts whatever its outcome (the operator wants
//! to know that the last one failed); the median is over the succeeded runs among the last N
//! before this one, so an early failure does not pass for a fast run. Warnings and manual steps
//! are compared as text, exactly: one that names another node is new.

use super::reports::{Command, RunHistory, RunOutcome, RunSummary};
use serde::Serialize;
use std::fmt::Write as _;

/// Version of the [`Comparison`] shape (`report compare --json`, `status --json`, a run's
/// `--json`).
pub const COMPARISON_VERSION: u32 = 1;

/// How many earlier runs the median looks back over by default.
pub const DEFAULT_LAST: u16 = 10;

/// A run compared with its predecessors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Shape version ([`COMPARISON_VERSION`]).
    pub version: u32,
    /// The run compared.
    pub run_id: String,
    /// Its command.
    pub command: Command,
    /// Its target.
    pub target: String,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Its duration.
    pub duration_ms: u64,
    /// How many earlier runs of the same kind the median looked at (at most N).
    pub looked_back: usize,
    /// The previous executed run of the same kind (absent for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
    /// The median of the succeeded runs among the last N of the same kind (absent when none of
    /// them succeeded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median: Option<Median>,
    /// Per phase, in the order this run went through them; phases only the earlier runs had
    /// come last, with `millis` absent.
    pub phases: Vec<PhaseComparison>,
    /// This run's warnings that the previous run did not have.
    pub new_warnings: Vec<String>,
    /// This run's manual steps that the previous run did not have.
    pub new_manual_steps: Vec<String>,
    /// How many manual steps this run left (new or not).
    pub manual_steps: usize,
}

/// The previous run of the same kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Previous {
    /// Its id.
    pub run_id: String,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Its duration.
    pub duration_ms: u64,
}

/// The median of earlier runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Median {
    /// How many succeeded runs it is the median of.
    pub runs: usize,
    /// Among how many earlier runs of the kind it looked (at most N).
    pub of_last: usize,
    /// The median duration.
    pub duration_ms: u64,
}

/// One phase (a machine state) compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseComparison {
    /// The state's name.
    pub state: String,
    /// Time this run spent in it (absent: this run did not go through it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
    /// Time the previous run spent in it (absent: it did not go through it, or there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_ms: Option<u64>,
    /// The median over the succeeded runs that went through it (absent: none did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_ms: Option<u64>,
}

/// Compare `run_id` with the runs of its kind before it in `history`; `None` when `history` does
/// not hold it. `last` is N, the median's look-back (at least 1).
#[must_use]
pub fn compare(history: &RunHistory, run_id: &str, last: usize) -> Option<Comparison> {
    let at = history.runs.iter().position(|r| r.run_id == run_id)?;
    let run = &history.runs[at];
    let earlier: Vec<&RunSummary> =
        history.runs[..at].iter().filter(|r| r.execute && r.command == run.command && r.target == run.target).collect();
    let previous = earlier.last().copied();
    let window = &earlier[earlier.len().saturating_sub(last.max(1))..];
    let good: Vec<&RunSummary> = window.iter().copied().filter(|r| r.outcome == RunOutcome::Succeeded).collect();
    let overall = median_of(good.iter().map(|r| r.duration_ms).collect()).map(|duration_ms| Median {
        runs: good.len(),
        of_last: window.len(),
        duration_ms,
    });
    let mut names: Vec<&str> = Vec::new();
    for r in std::iter::once(run).chain(previous).chain(good.iter().copied()) {
        for p in &r.phases {
            if !names.contains(&p.state.as_str()) {
                names.push(&p.state);
            }
        }
    }
    let phases = names
        .into_iter()
        .map(|state| PhaseComparison {
            state: state.to_owned(),
            millis: phase_ms(run, state),
            previous_ms: previous.and_then(|p| phase_ms(p, state)),
            median_ms: median_of(good.iter().filter_map(|r| phase_ms(r, state)).collect()),
        })
        .collect();
    let new = |this: &[String], before: Option<&[String]>| -> Vec<String> {
        this.iter().filter(|w| !before.unwrap_or_default().contains(w)).cloned().collect()
    };
    Some(Comparison {
        version: COMPARISON_VERSION,
        run_id: run.run_id.clone(),
        command: run.command,
        target: run.target.clone(),
        outcome: run.outcome,
        duration_ms: run.duration_ms,
        looked_back: window.len(),
        previous: previous.map(|p| Previous {
            run_id: p.run_id.clone(),
            outcome: p.outcome,
            duration_ms: p.duration_ms,
        }),
        median: overall,
        phases,
        new_warnings: new(&run.warnings, previous.map(|p| p.warnings.as_slice())),
        new_manual_steps: new(&run.manual_steps, previous.map(|p| p.manual_steps.as_slice())),
        manual_steps: run.manual_steps.len(),
    })
}

/// The last executed run in `history` and its comparison.
#[must_use]
pub fn compare_last(history: &RunHistory, last: usize) -> Option<Comparison> {
    let run = history.runs.iter().rev().find(|r| r.execute)?;
    compare(history, &run.run_id, last)
}

/// Time `run` spent in `state` (a state entered twice counts twice).
fn phase_ms(run: &RunSummary, state: &str) -> Option<u64> {
    let mut spent = run.phases.iter().filter(|p| p.state == state).map(|p| p.millis).peekable();
    spent.peek()?;
    Some(spent.fold(0, u64::saturating_add))
}

/// The median (the mean of the two middle values of an even count).
fn median_of(mut values: Vec<u64>) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { values[mid - 1].midpoint(values[mid]) })
}

/// Differences under this many milliseconds are `the same` (what [`secs`] cannot show).
pub const SAME_WITHIN_MS: u64 = 100;

/// `this` against `base`: `8.0s faster (-4%)`, `7.0s slower (+4%)`, `the same`.
#[must_use]
pub fn delta(this: u64, base: u64) -> String {
    if this.abs_diff(base) < SAME_WITHIN_MS {
        return "the same".to_owned();
    }
    let (by, word) = if this < base { (base - this, "faster") } else { (this - base, "slower") };
    let sign = if this < base { '-' } else { '+' };
    let pct = (by.saturating_mul(100).saturating_add(base / 2))
        .checked_div(base)
        .map_or_else(String::new, |pct| format!(" ({sign}{pct}%)"));
    format!("{} {word}{pct}", secs(by))
}

/// Milliseconds as `12.3s`.
#[must_use]
pub fn secs(ms: u64) -> String {
    format!("{}.{}s", ms / 1000, ms % 1000 / 100)
}

impl Comparison {
    /// The two lines every executed run ends with and `status` shows: against the previous run
    /// (with the phase that changed most), against the median and what is new.
    #[must_use]
    pub fn summary_lines(&self) -> [String; 2] {
        let kind = self.command.as_str();
        let first = match &self.previous {
            Some(p) => {
                let mut line = format!(
                    "vs previous {kind} {} ({}, {}): {}",
                    p.run_id,
                    p.outcome.as_str(),
                    secs(p.duration_ms),
                    self.against(p.duration_ms)
                );
                if let Some((state, this, before)) = self.most_changed_phase() {
                    let _ = write!(line, "; most changed: {state} {}", signed(this, before));
                }
                line
            }
            None => format!("vs previous {kind}: none, the first executed {kind} on {}", self.target),
        };
        let against = match &self.median {
            Some(m) => format!(
                "vs median of {} succeeded of the last {} ({}): {}",
                m.runs,
                m.of_last,
                secs(m.duration_ms),
                self.against(m.duration_ms)
            ),
            None if self.looked_back == 0 => format!("vs median: no {kind} before this one"),
            None => format!("vs median: none of the last {} {kind}s before this one succeeded", self.looked_back),
        };
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let new = if self.new_warnings.is_empty() && self.new_manual_steps.is_empty() {
            "nothing new".to_owned()
        } else {
            format!(
                "new: {}, {}",
                count(self.new_warnings.len(), "warning"),
                count(self.new_manual_steps.len(), "manual step")
            )
        };
        [first, format!("{against}; {new} (ananke report compare {})", self.run_id)]
    }

    /// This run's duration against `base`; a run that did not succeed says how it ended instead
    /// (a startup that failed early is not faster).
    fn against(&self, base: u64) -> String {
        if self.outcome == RunOutcome::Succeeded {
            delta(self.duration_ms, base)
        } else {
            format!("this one {} after {}", self.outcome.as_str(), secs(self.duration_ms))
        }
    }

    /// The phase both runs went through whose time changed most against the previous run:
    /// `(state, this, previous)`.
    fn most_changed_phase(&self) -> Option<(&str, u64, u64)> {
        self.phases
            .iter()
            .filter_map(|p| Some((p.state.as_str(), p.millis?, p.previous_ms?)))
            .filter(|(_, this, before)| this.abs_diff(*before) >= SAME_WITHIN_MS)
            .max_by_key(|(_, this, before)| this.abs_diff(*before))
    }
}

/// `+20.0s` or `-5.0s`.
#[must_use]
pub fn signed(this: u64, base: u64) -> String {
    if this >= base {
        format!("+{}", secs(this - base))
    } else {
        format!("-{}", secs(base - this))
    }
}
