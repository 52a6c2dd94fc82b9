//! The `ananke` command line: thin, over `ananke-core` (and `ananke-sim` for `--sim`).
//!
//! Data goes to stdout; logs, progress and errors to stderr. Exit codes live in [`exit`].

#![forbid(unsafe_code)]

mod cmd;
pub mod coordination;
pub mod exit;
mod global;
pub mod journal;
mod notify;
mod output;
mod pace;
mod sink;
mod target;

use ananke_sim::manual::Manual;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub use global::GlobalArgs;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  gates not passed / run failed
  2  usage, config or input file error
  3  lock held by another run
  4  aborted by a power event or signal
  5  deadline exceeded
  6  state dir not writable

Nothing changes without --execute: startup and shutdown print their plan otherwise.
Try it without a cluster: ananke startup --sim titan-lab --execute";

/// ananke: host-side recovery orchestrator for a k3s cluster around power events.
///
/// It shuts the cluster down gracefully before the UPS runs dry (cluster-only: hosts stay
/// powered), brings it back after power returns, breaks the known startup deadlocks (Flux sourcing
/// from an in-cluster Gitea; a sealed Vault), and declares startup complete only when every gate
/// passes and a stability soak shows no regression.
#[derive(Debug, Parser)]
#[command(name = "ananke", version = env!("ANANKE_VERSION"), after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the cluster's live state, every gate with its reason, UPS state and the last runs.
    Status(cmd::status::StatusArgs),
    /// Bring the cluster back: start k3s, restore what the shutdown changed, unseal Vault,
    /// resume Flux, pass every gate and the soak. Dry run unless --execute.
    Startup(cmd::startup::StartupArgs),
    /// Take the cluster down gracefully: suspend Flux, scale down, drain, stop k3s.
    /// Dry run unless --execute.
    Shutdown(cmd::shutdown::ShutdownArgs),
    /// Watch the UPSes (NUT) and shut the cluster down before the batteries run dry, then bring it
    /// back when power is stable (what ananke.service runs).
    Daemon(cmd::daemon::DaemonArgs),
    /// At boot: start the cluster up if ananke shut it down or it is down; otherwise do nothing.
    Bootstrap(cmd::bootstrap::BootstrapArgs),
    /// Check the config, or print its JSON Schema.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Show run reports: the last one, the list, or one by run id.
    Report(cmd::report::ReportArgs),
    /// Print a shell completion script.
    Completions(ananke_sim::manual::CompletionsArgs),
    /// Print the man page, or write every page to a directory.
    Man(ananke_sim::manual::ManArgs),
}

fn manual(what: &Manual) -> u8 {
    ananke_sim::manual::exec(
        what,
        <Cli as clap::CommandFactory>::command(),
        "ananke",
        (exit::SUCCESS, exit::USAGE_OR_CONFIG),
    )
}

/// Parse the command line and run it.
#[must_use]
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // On the journal, a usage error (a bad flag in a unit file) is an `err` line.
            if e.use_stderr() && journal::on_journal() {
                journal::say(journal::Priority::Err, e.render().to_string().trim_end());
            } else {
                let _ = e.print();
            }
            return if e.use_stderr() { exit::code(exit::USAGE_OR_CONFIG) } else { exit::code(exit::SUCCESS) };
        }
    };
    let code = match cli.command {
        Command::Status(args) => args.exec(),
        Command::Startup(args) => args.exec(),
        Command::Shutdown(args) => args.exec(),
        Command::Bootstrap(args) => args.exec(),
        Command::Daemon(args) => args.exec(),
        Command::Config(cmd) => cmd.exec(),
        Command::Report(args) => args.exec(),
        Command::Completions(args) => manual(&Manual::Completions(args)),
        Command::Man(args) => manual(&Manual::Man(args)),
    };
    exit::code(code)
}
