//! The `ananke-sim` command line: `list`, `run`, `replay`, `bench-ratio`, `serve`, `completions`, `man`.

use crate::driver::Limits;
use crate::manual::Manual;
use crate::replay::{replay_file, ReplayReport};
use crate::report::{emit, print_ratios, run_report};
use crate::run::{run_scenario, RunSpec};
use crate::scenario::{builtin, builtin_names, Drive, Scenario, ScenarioError};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code: the scenario's expectation was met, or no divergence was found.
pub const EXIT_OK: u8 = 0;
/// Exit code: the expectation was not met, or the replay diverged.
pub const EXIT_UNMET: u8 = 1;
/// Exit code: bad usage, an invalid scenario or trace, or a drive that did not end.
pub const EXIT_ERROR: u8 = 2;

/// The simulated lab: run ananke's machines against a modelled cluster, replay traces.
#[derive(Debug, Parser)]
#[command(name = "ananke-sim", version = env!("ANANKE_VERSION"), about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the built-in scenarios.
    List,
    /// Run a scenario and check its expectation.
    Run(RunArgs),
    /// Feed a recorded trace to the current machine and report the first divergence.
    Replay(ReplayArgs),
    /// Print ananke's startup and shutdown durations against their critical paths, for every
    /// built-in scenario or for the scenarios named.
    BenchRatio(BenchArgs),
    /// Serve a scenario's lab as a Kubernetes API over HTTPS on 127.0.0.1, until SIGTERM or SIGINT.
    #[cfg(feature = "serve")]
    Serve(crate::serve::args::ServeArgs),
    /// Print a shell completion script.
    Completions(crate::manual::CompletionsArgs),
    /// Print the man page, or write every page to a directory.
    Man(crate::manual::ManArgs),
}

/// `ananke-sim run`.
#[derive(Debug, Args)]
struct RunArgs {
    /// A built-in scenario name or a scenario file.
    scenario: String,
    /// Run only the startup.
    #[arg(long, conflicts_with_all = ["shutdown", "cycle"])]
    startup: bool,
    /// Run only the shutdown.
    #[arg(long, conflicts_with = "cycle")]
    shutdown: bool,
    /// Shutdown, power loss, power restore, startup.
    #[arg(long)]
    cycle: bool,
    /// `--force-flux-branch` given to the startup.
    #[arg(long)]
    force_flux_branch: Option<String>,
    #[command(flatten)]
    seed: SeedArgs,
    /// Write the trace of the run here (a cycle also writes FILE.shutdown for the shutdown).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

/// The seed of the random faults.
#[derive(Debug, Args)]
struct SeedArgs {
    /// Seed of the random faults.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// `ananke-sim bench-ratio`.
#[derive(Debug, Args)]
struct BenchArgs {
    /// Built-in scenario names or scenario files (default: every built-in and its variants).
    scenarios: Vec<String>,
    #[command(flatten)]
    seed: SeedArgs,
}

/// `ananke-sim replay`.
#[derive(Debug, Args)]
struct ReplayArgs {
    /// The trace (JSON Lines).
    trace: PathBuf,
    /// The ananke config the run used (default: derived from the trace's scenario).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// A built-in name or a file.
///
/// # Errors
/// When the file cannot be read or the scenario is invalid.
pub fn resolve_scenario(name: &str) -> Result<Scenario, ScenarioError> {
    let yaml =
        Path::new(name).extension().is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let looks_like_a_file = name.contains('/') || yaml;
    if builtin_names().contains(&name) || !(looks_like_a_file || Path::new(name).exists()) {
        builtin(name)
    } else {
        Scenario::load(Path::new(name))
    }
}

/// `bench-ratio`: the named scenarios (a file or a built-in each), or every built-in.
fn bench(args: &BenchArgs) -> u8 {
    if args.scenarios.is_empty() {
        return print_ratios(args.seed.seed);
    }
    let mut scenarios = Vec::new();
    for name in &args.scenarios {
        match resolve_scenario(name) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("ananke-sim: {e}");
                return EXIT_ERROR;
            }
        }
    }
    crate::report::print_ratios_of(scenarios, args.seed.seed)
}

/// Parse the arguments and run.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    ExitCode::from(match cli.command {
        Command::List => {
            for name in builtin_names() {
                let description = builtin(name).map(|s| s.description).unwrap_or_default();
                emit(&format!("{name:28} {description}\n"));
            }
            EXIT_OK
        }
        Command::Run(args) => run(&args),
        Command::Replay(args) => match replay_file(&args.trace, args.config.as_deref()) {
            Ok(report) => {
                emit(&format!("{report}\n"));
                if matches!(report, ReplayReport::NoDivergence { .. }) {
                    EXIT_OK
                } else {
                    EXIT_UNMET
                }
            }
            Err(e) => {
                eprintln!("ananke-sim: {e}");
                EXIT_ERROR
            }
        },
        Command::BenchRatio(args) => bench(&args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => args.exec(),
        Command::Completions(args) => manual(&Manual::Completions(args)),
        Command::Man(args) => manual(&Manual::Man(args)),
    })
}

fn manual(what: &Manual) -> u8 {
    crate::manual::exec(what, <Cli as clap::CommandFactory>::command(), "ananke-sim", (EXIT_OK, EXIT_ERROR))
}

fn run(args: &RunArgs) -> u8 {
    let mut scenario = match resolve_scenario(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ananke-sim: {e}");
            return EXIT_ERROR;
        }
    };
    if args.force_flux_branch.is_some() {
        scenario.options.force_flux_branch.clone_from(&args.force_flux_branch);
        // The variant with these options, if the scenario has one, says what to expect.
        if let Some(v) = scenario.variants.iter().find(|v| v.options == scenario.options) {
            scenario = scenario.with_variant(v);
        }
    }
    let drive = match (args.startup, args.shutdown, args.cycle) {
        (true, _, _) => Some(Drive::Startup),
        (_, true, _) => Some(Drive::Shutdown),
        (_, _, true) => Some(Drive::Cycle),
        _ => None,
    };
    let spec = RunSpec { drive, seed: args.seed.seed, limits: Limits::default(), record: args.trace.is_some() };
    let result = match run_scenario(&scenario, &spec) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ananke-sim: {}: {e}", scenario.name);
            return EXIT_ERROR;
        }
    };
    if let Some(path) = &args.trace {
        // The last machine's trace goes to `path`; a shutdown before a startup to `path.shutdown`.
        let mut target = path.clone();
        for machine in [&result.startup, &result.shutdown].into_iter().flatten() {
            if let Err(e) = std::fs::write(&target, machine.trace.as_deref().unwrap_or_default()) {
                eprintln!("ananke-sim: cannot write trace {}: {e}", target.display());
                return EXIT_ERROR;
            }
            let mut other = path.clone().into_os_string();
            other.push(".shutdown");
            target = PathBuf::from(other);
        }
    }
    let unmet = result.unmet(&scenario);
    emit(&run_report(&result, &unmet));
    if unmet.is_empty() {
        EXIT_OK
    } else {
        EXIT_UNMET
    }
}
