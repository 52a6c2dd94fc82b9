//! Traces: a versioned JSON Lines record of one machine run, so every drill can be replayed.
//!
//! Line 1 is a [`TraceHeader`] (format name, version, the config's digest, the machine and its
//! options, the journal at start); every following line is one [`TraceRecord`]: the input fed at a
//! time, the state before and after, and the effects the machine returned. The real runner and the
//! simulator both write this format; `ananke-sim replay` reads it back.
//!
//! An input is written as the machine's [`Input`] serializes, except that an observation after
//! the first is written as `{"input":"observed-delta","at":T, <changed sections>}`: only the
//! top-level sections of the observation that differ from the previous observation of the trace.
//!
//! Only pure data and (de)serialization live here: the writer takes any [`std::io::Write`].

mod read;
mod wire;

pub use read::{parse, parse_header, read, Decoder, RecordView};
use wire::WireInput;

use crate::config::{Config, ShutdownMode};
use crate::effect::Effect;
use crate::journal::Journal;
use crate::machine::Input;
use crate::observation::Observation;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;

/// The `format` field of every trace header.
pub const TRACE_FORMAT: &str = "ananke-trace";

/// The trace format version this build writes and reads.
pub const TRACE_VERSION: u32 = 1;

/// Which machine a trace records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MachineKind {
    /// The startup machine.
    Startup,
    /// The shutdown machine.
    Shutdown,
}

impl MachineKind {
    /// The kind's stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MachineKind::Startup => "startup",
            MachineKind::Shutdown => "shutdown",
        }
    }
}

/// The options the machine was built with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceOptions {
    /// Startup: `--force-flux-branch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_flux_branch: Option<String>,
    /// Shutdown: `--reason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Shutdown: `--mode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ShutdownMode>,
}

/// The first line of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// Always [`TRACE_FORMAT`].
    pub format: String,
    /// Format version ([`TRACE_VERSION`] when written by this build).
    pub version: u32,
    /// Version of the ananke that recorded the trace.
    pub ananke_version: String,
    /// [`config_digest`] of the config the machine ran with.
    pub config_digest: String,
    /// Where the run happened: a scenario name (simulator) or a host name.
    pub source: String,
    /// Which machine.
    pub machine: MachineKind,
    /// The machine's options.
    pub options: TraceOptions,
    /// The journal the machine started from.
    pub journal: Journal,
    /// The time the machine was created at.
    pub started_at: Time,
}

impl TraceHeader {
    /// A header for a run of `machine` with `config`, written by this build.
    #[must_use]
    pub fn new(
        config: &Config,
        source: impl Into<String>,
        machine: MachineKind,
        options: TraceOptions,
        journal: Journal,
        started_at: Time,
    ) -> Self {
        Self {
            format: TRACE_FORMAT.to_owned(),
            version: TRACE_VERSION,
            ananke_version: env!("CARGO_PKG_VERSION").to_owned(),
            config_digest: config_digest(config),
            source: source.into(),
            machine,
            options,
            journal,
            started_at,
        }
    }
}

/// One step of a run: an input and what the machine did with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Step number, from 0, consecutive.
    pub step: u64,
    /// When the input was fed.
    pub time: Time,
    /// The input.
    pub input: Input,
    /// State name before the step.
    pub state_before: String,
    /// State name after the step.
    pub state_after: String,
    /// Effects returned, in order.
    pub effects: Vec<Effect>,
}

/// One step of a run as it happens: an input and what the machine did with it. The runner's
/// sinks see it; the trace writes it, and reads it back as a [`TraceRecord`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Step<'a> {
    /// Step number, from 0, consecutive.
    pub step: u64,
    /// When the input was fed (the run's clock).
    pub time: Time,
    /// The input.
    pub input: &'a Input,
    /// State name before the step.
    pub state_before: &'static str,
    /// State name after the step.
    pub state_after: &'static str,
    /// Effects returned, in order.
    pub effects: &'a [Effect],
    /// The machine's last gate report.
    #[serde(skip)]
    pub gates: Option<&'a crate::gates::GateReport>,
    /// The journal after the step: what is persisted before the step's effects run.
    #[serde(skip)]
    pub journal: &'a Journal,
}

/// A whole trace, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The header.
    pub header: TraceHeader,
    /// Every record, in step order.
    pub records: Vec<TraceRecord>,
}

/// Why a trace could not be read. Line numbers are 1-based.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Reading failed.
    #[error("cannot read trace: {0}")]
    Io(#[from] std::io::Error),
    /// Writing failed.
    #[error("cannot write trace: {0}")]
    Write(String),
    /// No header line.
    #[error("empty trace: line 1 should be an ananke-trace header")]
    Empty,
    /// Line 1 is not an ananke trace header.
    #[error("line {line}: not an ananke trace (format `{found}`, expected `{TRACE_FORMAT}`)")]
    NotATrace {
        /// The line.
        line: usize,
        /// The format name found.
        found: String,
    },
    /// The trace's format version is not one this build reads.
    #[error("line {line}: unsupported trace version {version} (this build reads version {TRACE_VERSION})")]
    UnsupportedVersion {
        /// The line.
        line: usize,
        /// The version found.
        version: u64,
    },
    /// A line is not valid JSON of the expected shape.
    #[error("line {line}: damaged trace line: {message}")]
    Damaged {
        /// The line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The sha256 (hex) of the config's canonical JSON (object keys sorted, no whitespace).
#[must_use]
pub fn config_digest(config: &Config) -> String {
    let value = serde_json::to_value(config).unwrap_or(serde_json::Value::Null);
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// Canonical JSON: sorted keys at every level, whatever `serde_json`'s map ordering features say.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Writes a trace line by line.
#[derive(Debug)]
pub struct TraceWriter<W: Write> {
    out: W,
    /// The last observation written (deltas are taken against it).
    last: Option<Observation>,
}

/// A record as written: the input in its wire form.
#[derive(Serialize)]
struct WireRecordRef<'a> {
    step: u64,
    time: Time,
    input: &'a WireInput,
    state_before: &'a str,
    state_after: &'a str,
    effects: &'a [Effect],
}

impl<W: Write> TraceWriter<W> {
    /// Start a trace on `out` by writing its header.
    ///
    /// # Errors
    /// When writing fails.
    pub fn new(mut out: W, header: &TraceHeader) -> Result<Self, TraceError> {
        write_line(&mut out, header)?;
        Ok(Self { out, last: None })
    }

    /// Append one record.
    ///
    /// # Errors
    /// When writing fails.
    pub fn record(&mut self, record: &Step<'_>) -> Result<(), TraceError> {
        let input = WireInput::encode(record.input, &mut self.last);
        let wire = WireRecordRef {
            step: record.step,
            time: record.time,
            input: &input,
            state_before: record.state_before,
            state_after: record.state_after,
            effects: record.effects,
        };
        write_line(&mut self.out, &wire)
    }

    /// Flush and return the underlying writer.
    ///
    /// # Errors
    /// When flushing fails.
    pub fn finish(mut self) -> Result<W, TraceError> {
        self.out.flush().map_err(|e| TraceError::Write(e.to_string()))?;
        Ok(self.out)
    }
}

fn write_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> Result<(), TraceError> {
    serde_json::to_writer(&mut *out, value).map_err(|e| TraceError::Write(e.to_string()))?;
    out.write_all(b"\n").map_err(|e| TraceError::Write(e.to_string()))
}

#[cfg(test)]
mod tests;
