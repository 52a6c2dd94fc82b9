//! The run's step sink: the trace file, the live progress file, and progress on stderr.

use ananke_core::runner::{Step, StepSink};
use ananke_core::store::reports::{Command, Progress, RunOutcome, REPORT_VERSION};
use ananke_core::store::StateDir;
use ananke_core::trace::TraceWriter;
use ananke_core::Time;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::BufWriter;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Where progress goes.
pub struct CliSink {
    /// Progress file target (executed runs only).
    pub state: Option<StateDir>,
    /// The trace being written.
    pub trace: Option<TraceWriter<BufWriter<File>>>,
    /// The progress record kept up to date.
    pub progress: Progress,
    /// Print progress on stderr.
    pub show: bool,
    /// Print every effect on stderr.
    pub verbose: bool,
    bar: Option<ProgressBar>,
    last_write: Option<Instant>,
    /// The run's start on the world's clock, and whether that clock is simulated: progress
    /// lines show the time since the start, marked `sim` when it is not real time.
    clock: (Time, bool),
    /// First error writing progress or trace (reported once, the run goes on).
    pub write_error: Option<String>,
    /// When (on the world's clock) the last plain progress line was printed: without a
    /// terminal, a wait longer than [`HEARTBEAT`] gets a line naming what it waits for.
    last_line: Option<Time>,
}

/// How long plain progress (stderr not a terminal: the journal, a log file) stays silent during
/// a wait before a line says what the run is waiting for.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(30);

impl CliSink {
    /// A sink for run `run_id`.
    #[must_use]
    pub fn new(run_id: &str, command: Command, execute: bool, started_at: String, show: bool, verbose: bool) -> Self {
        let bar = (show && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            state: None,
            trace: None,
            progress: Progress {
                version: REPORT_VERSION,
                run_id: run_id.to_owned(),
                command,
                execute,
                outcome: RunOutcome::Running,
                state: String::new(),
                phase: "starting".to_owned(),
                gates: Vec::new(),
                started_at: started_at.clone(),
                updated_at: started_at,
            },
            show,
            verbose,
            bar,
            last_write: None,
            clock: (Time::ZERO, false),
            write_error: None,
            last_line: None,
        }
    }

    /// Time progress lines from `start` on the world's clock, `simulated` or real.
    #[must_use]
    pub fn timed(mut self, start: Time, simulated: bool) -> Self {
        self.clock = (start, simulated);
        self
    }

    /// `[t+12.345s]` since the run's start; `[sim t+12.345s]` on a simulated clock.
    fn stamp(&self, at: Time) -> String {
        let (start, simulated) = self.clock;
        let since = Time(at.as_millis().saturating_sub(start.as_millis()));
        if simulated {
            format!("[sim {since}]")
        } else {
            format!("[{since}]")
        }
    }

    fn say(&self, line: &str) {
        self.say_at(crate::journal::Priority::Info, line);
    }

    /// A progress line: above the live display on a terminal, otherwise on stderr at `priority`.
    fn say_at(&self, priority: crate::journal::Priority, line: &str) {
        if !self.show {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(line),
            None => crate::journal::say(priority, line),
        }
    }

    fn note_error(&mut self, what: &str, e: &dyn std::fmt::Display) {
        if self.write_error.is_none() {
            let msg = format!("warning: cannot write {what}: {e}");
            self.say_at(crate::journal::Priority::Warning, &msg);
            self.write_error = Some(msg);
        }
    }

    /// Write the progress file now.
    pub fn flush_progress(&mut self) {
        self.progress.updated_at = crate::output::now_rfc3339();
        if let Some(state) = &self.state {
            if let Err(e) = state.write_progress(&self.progress) {
                self.note_error("startup-progress.json", &e);
            }
        }
        self.last_write = Some(Instant::now());
    }

    /// Stop the progress display.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(trace) = self.trace.take() {
            if let Err(e) = trace.finish() {
                self.note_error("the trace", &e);
            }
        }
    }
}

impl CliSink {
    /// Without a terminal, a line every [`HEARTBEAT`] of a wait, naming the first gate that
    /// holds the run and why: the journal never goes silent during a 30-minute converge.
    fn heartbeat(&mut self, step: &Step<'_>) {
        let since = self.last_line.get_or_insert(step.time);
        if step.time.since(*since) < HEARTBEAT {
            return;
        }
        self.last_line = Some(step.time);
        let why = step
            .gates
            .and_then(|g| g.first_failing())
            .and_then(|g| g.reasons.first())
            .map_or_else(String::new, |r| format!(" ({r})"));
        self.say(&format!("{} still {}{why}", self.stamp(step.time), self.progress.phase));
    }
}

impl StepSink for CliSink {
    fn record(&mut self, step: &Step<'_>) {
        if let Some(trace) = self.trace.as_mut() {
            if let Err(e) = trace.record(step) {
                self.note_error("the trace", &e);
            }
        }
        let changed = step.state_before != step.state_after;
        if changed {
            self.say(&format!("{} {} -> {}", self.stamp(step.time), step.state_before, step.state_after));
            self.last_line = Some(step.time);
        }
        if self.verbose {
            for effect in step.effects {
                self.say(&format!("{}   {}", self.stamp(step.time), effect.describe()));
            }
        }
        step.state_after.clone_into(&mut self.progress.state);
        if let Some(gates) = step.gates {
            self.progress.gates.clone_from(&gates.outcomes);
            self.progress.phase = match gates.first_failing() {
                Some(g) => format!("{}: waiting for {}", step.state_after, g.gate),
                None => format!("{}: every gate passes", step.state_after),
            };
        } else {
            step.state_after.clone_into(&mut self.progress.phase);
        }
        if let Some(bar) = &self.bar {
            bar.set_message(self.progress.phase.clone());
        } else {
            self.heartbeat(step);
        }
        let due = self.last_write.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if changed || due {
            self.flush_progress();
        }
    }
}
