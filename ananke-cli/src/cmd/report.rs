//! `ananke report`.

use crate::exit;
use crate::global::GlobalArgs;
use crate::output;
use ananke_core::store::reports::Command;
use ananke_core::store::StateDir;
use clap::{Args, Subcommand, ValueEnum};

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
    /// List the reports kept in the state dir, oldest first.
    List,
    /// Show the report of RUN (a run id from `report list`).
    Show {
        /// The run id.
        run: String,
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
                eprintln!("error: {message}");
                return exit::USAGE_OR_CONFIG;
            }
            Err(e) => {
                eprintln!("error: {e}");
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

fn list(state: &StateDir, json: bool) -> Found {
    let ids = state.list_reports()?;
    let text = if json {
        serde_json::to_string_pretty(&ids).unwrap_or_default() + "\n"
    } else if ids.is_empty() {
        format!("no reports in {}\n", state.reports_dir().display())
    } else {
        ids.join("\n") + "\n"
    };
    let _ = output::print_text(&text);
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
