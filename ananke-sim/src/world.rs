//! The in-process `World` for `ananke --sim`: the model behind the same runner that drives a real
//! cluster.
//!
//! The simulated cluster outlives any one ananke process, as a real one does: every operation on
//! the model is appended to `<state-dir>/sim/world.jsonl`, and opening the world replays the log
//! (the model is deterministic for a scenario and a seed). A run killed with SIGKILL therefore
//! finds the cluster as it left it.
//!
//! With an operator's `--config`, Vault unseal shares go through the real share retrieval of
//! `ananke-core` (the configured command or file, then the breakglass command), so a canary secret
//! in their output can be followed; with the scenario's own config, the scenario's Vault decides.

use crate::driver::{drive, Limits};
use crate::model::{ClusterState, Model};
use crate::scenario::{Phase, Scenario, ScenarioError};
use ananke_core::config::{Config, ShutdownMode};
use ananke_core::machine::{EffectOutcome, ShutdownMachine, ShutdownOptions};
use ananke_core::runner::{secrets, World};
use ananke_core::{Effect, Journal, Observation, Time};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Version of the world log format.
const LOG_VERSION: u32 = 1;

/// What the world is opened for: a fresh startup world first lives through the scenario's
/// graceful shutdown and outage, so there is something to recover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `ananke startup`.
    Startup,
    /// `ananke shutdown`.
    Shutdown,
    /// `ananke status` and other read-only commands.
    Observe,
}

/// Why the simulated world could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// Unknown or invalid scenario.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The world log could not be used.
    #[error("simulated world log {path}: {message}")]
    Log {
        /// The log.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One logged operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Op {
    /// First line: which lab.
    Header { version: u32, scenario: String, seed: u64 },
    /// The scenario's graceful shutdown and outage, simulated before a first startup.
    Prehistory,
    /// A phase begins.
    Phase { phase: Phase, t: Time },
    /// The clock moved.
    Advance { t: Time },
    /// An observation was taken.
    Observe { t: Time },
    /// An effect was applied.
    Apply { t: Time, effect: Effect },
}

struct Inner {
    model: Model,
    /// The log, when persisting (a dry run writes nothing).
    log: Option<File>,
}

/// An opened world.
pub struct Opened {
    /// The world.
    pub world: SimWorld,
    /// The ananke config derived from the scenario.
    pub config: Config,
    /// The journal of the simulated shutdown that preceded a first startup (already written to the
    /// state dir when persisting; a dry run uses it in memory).
    pub journal: Option<Journal>,
}

/// The simulated cluster as a runner `World`.
pub struct SimWorld {
    inner: RefCell<Inner>,
    /// An operator's config (`--config`): its share sources are run for real. Without one, the
    /// scenario's Vault decides alone (its standard retrieval fails when the scenario says so).
    config: Option<Config>,
    path: PathBuf,
}

fn log_err(path: &Path, e: impl std::fmt::Display) -> WorldError {
    WorldError::Log { path: path.to_owned(), message: e.to_string() }
}

impl SimWorld {
    /// Open (or create) the simulated world of `scenario` in `state_dir`, for `purpose`. With
    /// `persist` false (dry runs, status) nothing is written: the log is replayed if it exists and
    /// further operations are not recorded.
    ///
    /// # Errors
    /// A bad scenario, or a world log that cannot be read, replayed or written.
    pub fn open(scenario: &str, state_dir: &Path, purpose: Purpose, persist: bool) -> Result<Opened, WorldError> {
        let lab = crate::cli::resolve_scenario(scenario)?;
        let dir = state_dir.join("sim");
        let path = dir.join("world.jsonl");
        let config = lab.ananke_config();
        let exists = has_header(&path);
        let (mut model, mut log) = if exists {
            let (model, good_len) = replay(&lab, &config, &path)?;
            let log = if persist { Some(reopen(&path, good_len).map_err(|e| log_err(&path, e))?) } else { None };
            (model, log)
        } else if persist {
            fs::create_dir_all(&dir).map_err(|e| log_err(&dir, e))?;
            let mut log = Some(File::create(&path).map_err(|e| log_err(&path, e))?);
            record(&mut log, &path, &Op::Header { version: LOG_VERSION, scenario: scenario.to_owned(), seed: 0 })?;
            (Model::new(&lab, 0), log)
        } else {
            (Model::new(&lab, 0), None)
        };
        let mut prehistory_journal = None;
        if !exists && purpose == Purpose::Startup {
            eprintln!("sim: no saved state for {scenario}: simulating its graceful shutdown and power outage first");
            let journal = prehistory(&lab, &config, &mut model);
            if persist {
                // The journal that shutdown would have left, written before the log says it happened.
                ananke_core::store::StateDir::new(state_dir).write_journal(&journal).map_err(|e| log_err(&path, e))?;
            }
            record(&mut log, &path, &Op::Prehistory)?;
            prehistory_journal = Some(journal);
        }
        let phase = match purpose {
            Purpose::Startup => Some(Phase::Startup),
            Purpose::Shutdown => Some(Phase::Shutdown),
            Purpose::Observe => None,
        };
        if let Some(phase) = phase {
            let t = model.now();
            model.begin_phase(phase, t);
            record(&mut log, &path, &Op::Phase { phase, t })?;
        }
        let world = SimWorld { inner: RefCell::new(Inner { model, log }), config: None, path };
        Ok(Opened { world, config, journal: prehistory_journal })
    }

    /// Use `config` (an operator's `--config`) instead of the scenario's derived one, for the
    /// share retrieval the world performs.
    pub fn use_config(&mut self, config: Config) {
        self.config = Some(config);
    }

    /// Make the log durable.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save(&self) -> io::Result<()> {
        self.inner.borrow().log.as_ref().map_or(Ok(()), File::sync_all)
    }

    /// The simulated cluster's restorable state, field by field.
    #[must_use]
    pub fn cluster_state(&self) -> ClusterState {
        self.inner.borrow().model.cluster_state()
    }

    /// The world log's path.
    #[must_use]
    pub fn log_path(&self) -> &Path {
        &self.path
    }

    fn log(&self, op: &Op) {
        // The log is the simulated cluster's memory; failing to extend it is reported, not fatal.
        if let Err(e) = record(&mut self.inner.borrow_mut().log, &self.path, op) {
            eprintln!("sim: cannot extend the {e}");
        }
    }
}

impl World for SimWorld {
    async fn observe(&self) -> Observation {
        let mut inner = self.inner.borrow_mut();
        let t = inner.model.now();
        let obs = inner.model.observe(t);
        drop(inner);
        self.log(&Op::Observe { t });
        obs
    }

    async fn execute(&self, effect: &Effect) -> EffectOutcome {
        if let Some(failure) = self.retrieve_shares(effect).await {
            return failure;
        }
        let mut inner = self.inner.borrow_mut();
        let t = inner.model.now();
        let outcome = inner.model.apply_as_ananke(t, effect);
        drop(inner);
        self.log(&Op::Apply { t, effect: effect.clone() });
        outcome
    }

    fn now(&self) -> Time {
        self.inner.borrow().model.now()
    }

    async fn sleep_until(&self, at: Time) {
        let mut inner = self.inner.borrow_mut();
        if at > inner.model.now() {
            inner.model.advance(at);
            drop(inner);
            self.log(&Op::Advance { t: at });
        }
    }
    fn virtual_clock(&self) -> bool {
        true
    }
}

impl SimWorld {
    /// For an unseal, fetch the shares through the real retrieval; a failure is the outcome.
    async fn retrieve_shares(&self, effect: &Effect) -> Option<EffectOutcome> {
        let config = self.config.as_ref()?;
        let result = match effect {
            Effect::UnsealVault { .. } => match &config.vault {
                Some(v) => secrets::standard_shares(&v.unseal_keys).await,
                None => return None,
            },
            Effect::UnsealVaultBreakglass { .. } => {
                secrets::breakglass_shares(config.startup.vault_unseal_breakglass_command.as_ref()).await
            }
            _ => return None,
        };
        match result {
            Ok(_shares) => None,
            Err(e) => {
                Some(EffectOutcome::Failed { transient: false, message: format!("cannot retrieve unseal shares: {e}") })
            }
        }
    }
}

/// Whether the log holds at least one complete line. A run killed between creating the log and
/// finishing its header line left an empty or torn file, and nothing happened in that world yet:
/// it starts afresh. Any complete line is replayed (and a damaged one refused with its line).
fn has_header(path: &Path) -> bool {
    let Ok(file) = File::open(path) else { return false };
    let mut first = String::new();
    BufReader::new(file).read_line(&mut first).is_ok_and(|_| first.ends_with('\n'))
}

fn append(log: &mut File, op: &Op) -> io::Result<()> {
    let mut line = serde_json::to_vec(op).map_err(io::Error::other)?;
    line.push(b'\n');
    log.write_all(&line)
}

/// Append `op` to the log at `path`, if there is one.
fn record(log: &mut Option<File>, path: &Path, op: &Op) -> Result<(), WorldError> {
    log.as_mut().map_or(Ok(()), |file| append(file, op)).map_err(|e| log_err(path, e))
}

/// The log at `path` opened for appending after its first `len` bytes (cutting a torn last line).
fn reopen(path: &Path, len: u64) -> io::Result<File> {
    let mut log = OpenOptions::new().write(true).open(path)?;
    log.set_len(len)?;
    io::Seek::seek(&mut log, io::SeekFrom::End(0))?;
    Ok(log)
}

/// Rebuild the model from the log; returns it and the length of the log's complete lines.
fn replay(lab: &Scenario, config: &Config, path: &Path) -> Result<(Model, u64), WorldError> {
    let file = File::open(path).map_err(|e| log_err(path, e))?;
    let mut model = None;
    let mut good_len = 0_u64;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| log_err(path, e))?;
        let op: Op = match serde_json::from_str(&line) {
            Ok(op) => op,
            // A torn last line (killed mid-write) is dropped: the operation did not happen.
            Err(_) if line.is_empty() || !line.ends_with('}') => break,
            Err(e) => return Err(log_err(path, format!("line {}: {e}", i + 1))),
        };
        good_len += line.len() as u64 + 1;
        match (op, model.as_mut()) {
            (Op::Header { version, seed, .. }, None) => {
                if version != LOG_VERSION {
                    return Err(log_err(path, format!("line 1: version {version} is not the supported {LOG_VERSION}")));
                }
                model = Some(Model::new(lab, seed));
            }
            (Op::Header { .. }, Some(_)) | (_, None) => {
                return Err(log_err(path, format!("line {}: misplaced header", i + 1)))
            }
            (Op::Prehistory, Some(m)) => {
                let _ = prehistory(lab, config, m);
            }
            (Op::Phase { phase, t }, Some(m)) => m.begin_phase(phase, t),
            (Op::Advance { t }, Some(m)) => m.advance(t),
            (Op::Observe { t }, Some(m)) => {
                let _ = m.observe(t);
            }
            (Op::Apply { t, effect }, Some(m)) => {
                let _ = m.apply_as_ananke(t, &effect);
            }
        }
    }
    let model = model.ok_or_else(|| log_err(path, "empty log"))?;
    Ok((model, good_len))
}

/// The scenario's graceful shutdown (by the pure machine) and its outage; returns the journal.
fn prehistory(lab: &Scenario, config: &Config, model: &mut Model) -> Journal {
    let now = model.now();
    model.begin_phase(Phase::Shutdown, now);
    let options = ShutdownOptions { reason: "sim-prehistory".to_owned(), mode: ShutdownMode::ClusterOnly };
    let mut machine = ShutdownMachine::new(Arc::new(config.clone()), Journal::default(), options, now);
    let (end, journal) = match drive(&mut machine, model, now, &Limits::default(), &mut |_| {}) {
        Ok(outcome) => (outcome.end, outcome.journal),
        Err(_) => (model.now(), ananke_core::machine::Machine::journal(&machine).clone()),
    };
    if let Some(outage) = &lab.outage {
        model.begin_phase(Phase::Outage, end);
        model.power_loss(end);
        let back = end.plus(outage.duration.get());
        model.power_restore(back);
    }
    journal
}

#[cfg(test)]
mod tests {
    use super::{Inner, SimWorld};
    use crate::model::Model;
    use ananke_core::runner::World;
    use ananke_core::Time;
    use std::cell::RefCell;
    use std::time::Duration;

    #[tokio::test(flavor = "current_thread")]
    async fn a_log_that_cannot_be_extended_is_reported_not_fatal() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("world.jsonl");
        std::fs::write(&path, "").unwrap();
        // Opened for reading only: every append fails.
        let log = Some(std::fs::File::open(&path).unwrap());
        let lab = crate::scenario::builtin("titan-lab").unwrap();
        let world = SimWorld { inner: RefCell::new(Inner { model: Model::new(&lab, 0), log }), config: None, path };
        let later = Time::ZERO.plus(Duration::from_secs(30));
        world.sleep_until(later).await;
        assert_eq!(world.now(), later, "the clock moved although its line was refused");
        let observed = world.observe().await;
        assert_eq!(observed.nodes.len(), lab.nodes.len());
        assert_eq!(std::fs::read_to_string(world.log_path()).unwrap(), "");
    }
}
