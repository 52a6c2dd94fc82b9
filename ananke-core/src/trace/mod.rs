//! Traces: a versioned JSON Lines record of one machine run, so every drill can be replayed.
//!
//! Line 1 is a [`TraceHeader`] (format name, version, the config's digest, the machine and its
//! options, the journal at start); every following line is one [`TraceRecord`]: the input fed at a
//! time, the state before and after, and the effects the machine returned. The real runner and the
//! simulator both write this format; `ananke-sim replay` reads it back.
//!
//! Only pure data and (de)serialization live here: the writer takes any [`std::io::Write`].

use crate::config::{Config, ShutdownMode};
use crate::effect::Effect;
use crate::journal::Journal;
use crate::machine::Input;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write};

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

/// A record borrowed from a live run, serialized exactly like [`TraceRecord`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TraceRecordRef<'a> {
    /// Step number.
    pub step: u64,
    /// When the input was fed.
    pub time: Time,
    /// The input.
    pub input: &'a Input,
    /// State name before the step.
    pub state_before: &'a str,
    /// State name after the step.
    pub state_after: &'a str,
    /// Effects returned.
    pub effects: &'a [Effect],
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
    digest.iter().map(|b| format!("{b:02x}")).collect()
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
}

impl<W: Write> TraceWriter<W> {
    /// Start a trace on `out` by writing its header.
    ///
    /// # Errors
    /// When writing fails.
    pub fn new(mut out: W, header: &TraceHeader) -> Result<Self, TraceError> {
        write_line(&mut out, header)?;
        Ok(Self { out })
    }

    /// Append one record.
    ///
    /// # Errors
    /// When writing fails.
    pub fn record(&mut self, record: &TraceRecordRef<'_>) -> Result<(), TraceError> {
        write_line(&mut self.out, record)
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

/// The fields checked before the rest of the header is trusted.
#[derive(Deserialize)]
struct Preamble {
    format: String,
    version: u64,
}

/// Parse a trace's header line (line 1).
///
/// # Errors
/// When the line is not an ananke trace header of a supported version.
pub fn parse_header(line: &str) -> Result<TraceHeader, TraceError> {
    let preamble: Preamble =
        serde_json::from_str(line).map_err(|e| TraceError::Damaged { line: 1, message: e.to_string() })?;
    if preamble.format != TRACE_FORMAT {
        return Err(TraceError::NotATrace { line: 1, found: preamble.format });
    }
    if preamble.version != u64::from(TRACE_VERSION) {
        return Err(TraceError::UnsupportedVersion { line: 1, version: preamble.version });
    }
    serde_json::from_str(line).map_err(|e| TraceError::Damaged { line: 1, message: e.to_string() })
}

/// Parse one record line (`line` is its 1-based number, for errors; `expected_step` its step).
///
/// # Errors
/// When the line is not a record, or its step is not `expected_step`.
pub fn parse_record(text: &str, line: usize, expected_step: u64) -> Result<TraceRecord, TraceError> {
    let record: TraceRecord =
        serde_json::from_str(text).map_err(|e| TraceError::Damaged { line, message: e.to_string() })?;
    if record.step != expected_step {
        return Err(TraceError::Damaged {
            line,
            message: format!("step {} out of order (expected step {expected_step})", record.step),
        });
    }
    Ok(record)
}

/// Read a whole trace. Blank lines are skipped.
///
/// # Errors
/// On I/O errors, a missing or unsupported header, or a damaged line (named by number).
pub fn read<R: BufRead>(reader: R) -> Result<Trace, TraceError> {
    let mut header = None;
    let mut records = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line_no = index + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match header {
            None if line_no == 1 => header = Some(parse_header(&line)?),
            None => return Err(TraceError::Empty),
            Some(_) => records.push(parse_record(&line, line_no, records.len() as u64)?),
        }
    }
    Ok(Trace { header: header.ok_or(TraceError::Empty)?, records })
}

/// Parse a whole trace from text.
///
/// # Errors
/// As [`read`].
pub fn parse(text: &str) -> Result<Trace, TraceError> {
    read(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_line(version: u32, format: &str) -> String {
        let header = TraceHeader {
            format: format.to_owned(),
            version,
            ananke_version: "0.1.0".to_owned(),
            config_digest: "00".to_owned(),
            source: "unit".to_owned(),
            machine: MachineKind::Startup,
            options: TraceOptions::default(),
            journal: Journal::default(),
            started_at: Time(5),
        };
        serde_json::to_string(&header).unwrap()
    }

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        let header = parse_header(&header_line(TRACE_VERSION, TRACE_FORMAT)).unwrap();
        let mut writer = TraceWriter::new(&mut buf, &header).unwrap();
        let input = Input::Tick;
        let effects = vec![Effect::Cordon { node: "n1".to_owned() }];
        let rec = TraceRecordRef {
            step: 0,
            time: Time(7),
            input: &input,
            state_before: "off",
            state_after: "nodes-up",
            effects: &effects,
        };
        writer.record(&rec).unwrap();
        writer.finish().unwrap();
        let trace = parse(std::str::from_utf8(&buf).unwrap()).unwrap();
        assert_eq!(trace.header, header);
        assert_eq!(trace.records.len(), 1);
        assert_eq!(trace.records[0].effects, effects);
        assert_eq!(trace.records[0].state_after, "nodes-up");
    }

    #[test]
    fn errors_name_the_line() {
        let good = header_line(TRACE_VERSION, TRACE_FORMAT);
        let err = parse(&header_line(9, TRACE_FORMAT)).unwrap_err();
        assert!(matches!(err, TraceError::UnsupportedVersion { line: 1, version: 9 }), "{err}");
        let err = parse(&header_line(1, "other")).unwrap_err();
        assert!(matches!(err, TraceError::NotATrace { line: 1, .. }), "{err}");
        let text = format!("{good}\n{{\"step\":0,\"time\":1,\"input\":{{\"input\":\"tick\"}},\"state_before\":\"a\",\"state_after\":\"a\",\"effects\":[]}}\n{{broken\n");
        let err = parse(&text).unwrap_err();
        assert!(matches!(err, TraceError::Damaged { line: 3, .. }), "{err}");
        assert!(err.to_string().starts_with("line 3:"));
        assert!(matches!(parse("").unwrap_err(), TraceError::Empty));
    }

    #[test]
    fn digest_is_stable_hex() {
        let mut a = String::new();
        write_canonical(&serde_json::json!({"b": 1, "a": [true, null, "x"]}), &mut a);
        assert_eq!(a, r#"{"a":[true,null,"x"],"b":1}"#);
    }
}
