//! `ananke report`.

use crate::exit;
use crate::global::GlobalArgs;
use crate::output;
use ananke_core::store::compare::{self, Comparison};
use ananke_core::store::reports::Command;
use ananke_core::store::StateDir;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

/// Show run reports.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub which: Option<Which>,
    /// Print the report as JSON instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Which report.
#[derive(Debug, Subcommand)]
pub enum Which {
    /// The last report (of the last run, or of --command) [default].
    Last {
        /// Only startup or only shutdown.
        #[arg(long, value_enum)]
        command: Option<CommandArg>,
    },
    /// List the reports kept in the state dir, oldest first: run, command, outcome, start,
    /// duration and reason.
    List,
    /// Show the report of RUN (a run id from `report list`).
    Show {
        /// The run id.
        run: String,
    },
    /// The drill record: RUN against the previous run of its kind and the median of the last N
    ///
    /// Compares RUN (default: the last executed run) with the previous run of the same command on
    /// the same target and with the median of the succeeded ones among the last N, phase by
    /// phase, and lists its warnings and manual steps that the previous run did not have (a
    /// failure's instruction and every unconfirmed item count as manual steps). Read from
    /// runs.json, which keeps the last 500 runs.
    Compare {
        /// The run id (default: the last executed run).
        run: Option<String>,
        /// How many earlier runs of the same kind the median looks back over.
        #[arg(long, value_name = "N", default_value_t = compare::DEFAULT_LAST, value_parser = clap::value_parser!(u16).range(1..))]
        last: u16,
    },
}

/// `startup` or `shutdown`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CommandArg {
    /// Startup runs.
    Startup,
    /// Shutdown runs.
    Shutdown,
}

impl ReportArgs {
    /// Run the command; returns the exit code.
    #[must_use]
    pub fn exec(self) -> u8 {
        let state = match crate::target::state_dir_for(&self.global) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let result = match self.which.unwrap_or(Which::Last { command: None }) {
            Which::Compare { run, last } => return compare_command(&state, run.as_deref(), last.into(), self.json),
            Which::List => list(&state, self.json),
            Which::Show { run } => state
                .read_report(&run)
                .map(|r| r.ok_or(format!("no report for run {run} in {}", state.reports_dir().display()))),
            Which::Last { command } => last(&state, command),
        };
        let report = match result {
            Ok(Ok(report)) => report,
            Ok(Err(message)) if message.is_empty() => return exit::SUCCESS,
            Ok(Err(message)) => {
                crate::log_error!("{message}");
                return exit::USAGE_OR_CONFIG;
            }
            Err(e) => {
                crate::log_error!("{e}");
                return exit::USAGE_OR_CONFIG;
            }
        };
        let printed = if self.json {
            output::print_json(&report)
        } else {
            output::print_text(&output::report_summary(&report, None))
        };
        if printed.is_ok() {
            exit::SUCCESS
        } else {
            exit::STATE_IO
        }
    }
}

type Found = Result<Result<ananke_core::store::reports::RunReport, String>, ananke_core::store::StoreError>;

/// `report list --json`: version 1.
#[derive(Debug, Serialize)]
struct ReportList {
    version: u32,
    reports: Vec<ListedReport>,
}

/// One row of `report list`.
#[derive(Debug, Serialize)]
struct ListedReport {
    run_id: String,
    command: Option<String>,
    /// `succeeded`, `failed`, ... or `unreadable` for a damaged report file.
    outcome: String,
    execute: Option<bool>,
    started_at: Option<String>,
    duration_ms: Option<u64>,
    reason: Option<String>,
    /// Why the report could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl ListedReport {
    fn read(state: &StateDir, run_id: String) -> Self {
        let unreadable = |run_id: String, why: String| Self {
            run_id,
            command: None,
            outcome: "unreadable".to_owned(),
            execute: None,
            started_at: None,
            duration_ms: None,
            reason: None,
            error: Some(why),
        };
        match state.read_report(&run_id) {
            Ok(Some(r)) => Self {
                run_id,
                command: Some(r.command.as_str().to_owned()),
                outcome: r.outcome.as_str().to_owned(),
                execute: Some(r.execute),
                started_at: Some(r.started_at),
                duration_ms: Some(r.duration_ms),
                reason: r.reason,
                error: None,
            },
            Ok(None) => unreadable(run_id, "the report is gone".to_owned()),
            Err(e) => unreadable(run_id, e.to_string()),
        }
    }
}

/// The table of `report list`: one row per report, oldest first.
fn table(rows: &[ListedReport]) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{:<36} {:<14} {:<11} {:<21} {:>9}  {}\n",
        "run", "command", "outcome", "started", "duration", "reason"
    );
    for r in rows {
        let command = match (r.command.as_deref(), r.execute) {
            (Some(c), Some(false)) => format!("{c} (dry)"),
            (Some(c), _) => c.to_owned(),
            (None, _) => "-".to_owned(),
        };
        let duration = r.duration_ms.map_or_else(|| "-".to_owned(), |ms| format!("{:.1}s", output::millis_to_secs(ms)));
        let reason = r.error.as_deref().or(r.reason.as_deref()).unwrap_or("-");
        let _ = writeln!(
            out,
            "{:<36} {:<14} {:<11} {:<21} {:>9}  {reason}",
            r.run_id,
            command,
            r.outcome,
            r.started_at.as_deref().unwrap_or("-"),
            duration
        );
    }
    out
}

fn list(state: &StateDir, json: bool) -> Found {
    let rows: Vec<ListedReport> = state.list_reports()?.into_iter().map(|id| ListedReport::read(state, id)).collect();
    let printed = if json {
        output::print_json(&ReportList { version: 1, reports: rows })
    } else if rows.is_empty() {
        output::print_text(&format!("no reports in {}\n", state.reports_dir().display()))
    } else {
        output::print_text(&table(&rows))
    };
    if printed.is_err() {
        return Ok(Err("cannot write to stdout".to_owned()));
    }
    Ok(Err(String::new()))
}

fn last(state: &StateDir, command: Option<CommandArg>) -> Found {
    let commands = match command {
        Some(CommandArg::Startup) => vec![Command::Startup],
        Some(CommandArg::Shutdown) => vec![Command::Shutdown],
        None => vec![Command::Startup, Command::Shutdown],
    };
    let mut newest = None;
    for c in commands {
        if let Some(r) = state.read_last_report(c)? {
            if newest.as_ref().is_none_or(|n: &ananke_core::store::reports::RunReport| r.finished_at > n.finished_at) {
                newest = Some(r);
            }
        }
    }
    Ok(newest.ok_or(format!("no report yet in {}", state.root().display())))
}

/// `report compare`: the comparison of `run` (or of the last executed run), human or JSON.
fn compare_command(state: &StateDir, run: Option<&str>, last: usize, json: bool) -> u8 {
    let history = match state.read_runs() {
        Ok(h) => h,
        Err(e) => {
            crate::log_error!("{e}");
            return exit::STATE_IO;
        }
    };
    let found = match run {
        Some(id) => compare::compare(&history, id, last).ok_or_else(|| {
            format!("run {id} is not in {} (report list shows the runs kept)", state.runs_path().display())
        }),
        None => compare::compare_last(&history, last)
            .ok_or_else(|| format!("no executed run in {} yet", state.runs_path().display())),
    };
    let comparison = match found {
        Ok(c) => c,
        Err(message) => {
            crate::log_error!("{message}");
            return exit::USAGE_OR_CONFIG;
        }
    };
    let printed =
        if json { output::print_json(&comparison) } else { output::print_text(&comparison_text(&comparison)) };
    if printed.is_ok() {
        exit::SUCCESS
    } else {
        exit::STATE_IO
    }
}

/// The human drill record of one run: the two summary lines, a table of phases (this run, the
/// previous, the median, each with its change), then what is new.
pub fn comparison_text(c: &Comparison) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{} {} on {}: {} in {}\n",
        c.command.as_str(),
        c.run_id,
        c.target,
        c.outcome.as_str(),
        compare::secs(c.duration_ms)
    );
    for line in c.summary_lines() {
        let _ = writeln!(out, "{line}");
    }
    let cell = |ms: Option<u64>| ms.map_or_else(|| "-".to_owned(), compare::secs);
    let change = |base: Option<u64>, this: Option<u64>| match (base, this) {
        (Some(b), Some(t)) if b == t => format!("{} (same)", compare::secs(b)),
        (Some(b), Some(t)) => format!("{} ({})", compare::secs(b), compare::signed(t, b)),
        (Some(b), None) => format!("{} (skipped)", compare::secs(b)),
        (None, _) => "-".to_owned(),
    };
    let _ = writeln!(out, "{:<16} {:>9}  {:<20} median", "phase", "this run", "previous");
    for p in &c.phases {
        let _ = writeln!(
            out,
            "{:<16} {:>9}  {:<20} {}",
            p.state,
            cell(p.millis),
            change(p.previous_ms, p.millis),
            change(p.median_ms, p.millis)
        );
    }
    for (what, items) in [("new warnings", &c.new_warnings), ("new manual steps", &c.new_manual_steps)] {
        if !items.is_empty() {
            let _ = writeln!(out, "{what} ({}):", items.len());
            for item in items {
                let _ = writeln!(out, "{}", output::wrapped("  - ", item));
            }
        }
    }
    let _ = writeln!(out, "manual steps this run: {}", c.manual_steps);
    out
}
