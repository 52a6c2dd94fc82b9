//! Replaying a trace: rebuild the machine from the header, feed the recorded inputs at their
//! times, and report the first step whose effects or state differ from the record.

use crate::cli::resolve_scenario;
use ananke_core::config::ShutdownMode;
use ananke_core::machine::{Machine, ShutdownMachine, ShutdownOptions, StartupMachine, StartupOptions};
use ananke_core::trace::{config_digest, parse_header, Decoder, MachineKind, TraceError, TraceHeader};
use ananke_core::{Config, Effect, Time};
use std::fmt;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayReport {
    /// Every record matched.
    NoDivergence {
        /// Records replayed.
        records: u64,
    },
    /// The first record that did not match.
    Divergence {
        /// Its step.
        step: u64,
        /// Its time.
        time: Time,
        /// The input's kind (`observed`, `effect-done`, `tick`).
        input: String,
        /// Recorded states (before, after).
        expected_state: (String, String),
        /// States now (before, after).
        actual_state: (String, String),
        /// Recorded effects.
        expected_effects: Vec<Effect>,
        /// Effects now.
        actual_effects: Vec<Effect>,
    },
}

fn keys(effects: &[Effect]) -> String {
    let keys: Vec<String> = effects.iter().map(Effect::key).collect();
    format!("[{}]", keys.join(", "))
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayReport::NoDivergence { records } => write!(f, "no divergence: {records} records replayed"),
            ReplayReport::Divergence {
                step,
                time,
                input,
                expected_state,
                actual_state,
                expected_effects,
                actual_effects,
            } => {
                writeln!(f, "divergence at step {step} ({time}, input {input}):")?;
                writeln!(f, "  expected state:   {} -> {}", expected_state.0, expected_state.1)?;
                writeln!(f, "  actual state:     {} -> {}", actual_state.0, actual_state.1)?;
                writeln!(f, "  expected effects: {}", keys(expected_effects))?;
                write!(f, "  actual effects:   {}", keys(actual_effects))
            }
        }
    }
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The trace is unreadable.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The config could not be found or loaded.
    #[error("{0}")]
    Config(String),
    /// The config differs from the one the trace was recorded with.
    #[error("config digest {actual} differs from the trace's {recorded}: pass the config the run used with --config")]
    ConfigMismatch {
        /// The trace's digest.
        recorded: String,
        /// The digest of the config given.
        actual: String,
    },
}

/// The machine a header describes.
#[must_use]
pub fn machine_for(header: &TraceHeader, config: Arc<Config>) -> Box<dyn Machine> {
    let journal = header.journal.clone();
    match header.machine {
        MachineKind::Startup => {
            let options = StartupOptions { force_flux_branch: header.options.force_flux_branch.clone() };
            Box::new(StartupMachine::new(config, journal, options, header.started_at))
        }
        MachineKind::Shutdown => {
            let options = ShutdownOptions {
                reason: header.options.reason.clone().unwrap_or_default(),
                mode: header.options.mode.unwrap_or(ShutdownMode::ClusterOnly),
            };
            Box::new(ShutdownMachine::new(config, journal, options, header.started_at))
        }
    }
}

/// The config of a simulated run: the scenario named by the trace's source (`name` or
/// `name:variant`).
fn scenario_config(source: &str) -> Result<Config, ReplayError> {
    let (name, variant) = source.split_once(':').map_or((source, None), |(n, v)| (n, Some(v)));
    let scenario = resolve_scenario(name).map_err(|e| ReplayError::Config(format!("trace source `{source}`: {e}")))?;
    let scenario = match variant.and_then(|v| scenario.variants.iter().find(|x| x.name == v)) {
        Some(v) => scenario.with_variant(v),
        None => scenario,
    };
    Ok(scenario.ananke_config())
}

/// Replay the trace read from `reader` with `config` (default: derived from the trace's source).
///
/// # Errors
/// When the trace is damaged or of another version, or the config cannot be had or differs.
pub fn replay<R: BufRead>(reader: R, config: Option<Config>) -> Result<ReplayReport, ReplayError> {
    let mut lines = reader.lines();
    let first = lines.next().ok_or(TraceError::Empty)?.map_err(TraceError::Io)?;
    let header = parse_header(&first)?;
    let config = match config {
        Some(c) => c,
        None => scenario_config(&header.source)?,
    };
    let actual = config_digest(&config);
    if actual != header.config_digest {
        return Err(ReplayError::ConfigMismatch { recorded: header.config_digest.clone(), actual });
    }
    let mut machine = machine_for(&header, Arc::new(config));
    let mut step = 0u64;
    let mut decoder = Decoder::new();
    for (index, line) in lines.enumerate() {
        let line = line.map_err(TraceError::Io)?;
        if line.trim().is_empty() {
            continue;
        }
        let record = decoder.decode(&line, index + 2)?;
        let before = machine.state_name();
        let effects = machine.handle(record.time, record.input);
        let after = machine.state_name();
        if before != record.state_before || after != record.state_after || effects != record.effects {
            let input = serde_json::to_value(record.input)
                .ok()
                .and_then(|v| v.get("input").and_then(|i| i.as_str().map(str::to_owned)))
                .unwrap_or_default();
            return Ok(ReplayReport::Divergence {
                step,
                time: record.time,
                input,
                expected_state: (record.state_before, record.state_after),
                actual_state: (before.to_owned(), after.to_owned()),
                expected_effects: record.effects,
                actual_effects: effects,
            });
        }
        step += 1;
    }
    Ok(ReplayReport::NoDivergence { records: step })
}

/// Replay the trace file at `path`, with the config file at `config` if given.
///
/// # Errors
/// As [`replay`], plus unreadable files.
pub fn replay_file(path: &Path, config: Option<&Path>) -> Result<ReplayReport, ReplayError> {
    let config = match config {
        Some(p) => {
            Some(ananke_core::config::load(p).map_err(|e| ReplayError::Config(format!("{}: {e}", p.display())))?)
        }
        None => None,
    };
    let file = std::fs::File::open(path)
        .map_err(|e| ReplayError::Config(format!("cannot open trace {}: {e}", path.display())))?;
    replay(std::io::BufReader::new(file), config)
}
