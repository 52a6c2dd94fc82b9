//! Reading a trace: the header (format and version checked first), then records decoded in
//! order, observation deltas applied in place.

use super::wire::WireInput;
use super::{Trace, TraceError, TraceHeader, TraceRecord, TRACE_FORMAT, TRACE_VERSION};
use crate::effect::Effect;
use crate::machine::Input;
use crate::time::Time;
use serde::Deserialize;
use std::io::BufRead;

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

/// A record as read: the input in its wire form.
#[derive(Deserialize)]
struct WireRecord {
    step: u64,
    time: Time,
    input: WireInput,
    state_before: String,
    state_after: String,
    effects: Vec<Effect>,
}

/// One record decoded by a [`Decoder`]; the input is borrowed from it.
#[derive(Debug)]
pub struct RecordView<'a> {
    /// Step number.
    pub step: u64,
    /// When the input was fed.
    pub time: Time,
    /// The input (observation deltas already applied).
    pub input: &'a Input,
    /// State name before the step.
    pub state_before: String,
    /// State name after the step.
    pub state_after: String,
    /// Effects returned, in order.
    pub effects: Vec<Effect>,
}

/// Decodes record lines in order, rebuilding observations from their deltas in place (no copy
/// of the whole observation per record).
#[derive(Debug, Default)]
pub struct Decoder {
    /// `Input::Observed` holding the last observation.
    observed: Option<Input>,
    /// The last other input.
    other: Option<Input>,
    next_step: u64,
}

impl Decoder {
    /// A decoder at step 0.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode the record on line `line` (1-based, for errors).
    ///
    /// # Errors
    /// When the line is not a record, its step is out of order, or it is an observation delta
    /// with no observation before it.
    pub fn decode(&mut self, text: &str, line: usize) -> Result<RecordView<'_>, TraceError> {
        let damaged = |message: String| TraceError::Damaged { line, message };
        let record: WireRecord = serde_json::from_str(text).map_err(|e| damaged(e.to_string()))?;
        if record.step != self.next_step {
            return Err(damaged(format!("step {} out of order (expected step {})", record.step, self.next_step)));
        }
        self.next_step += 1;
        let input = match record.input {
            WireInput::Observed(obs) => self.observed.insert(Input::Observed(obs)),
            WireInput::ObservedDelta(delta) => match self.observed.as_mut() {
                Some(Input::Observed(obs)) => {
                    delta.apply(obs);
                    self.observed.as_ref().unwrap_or(&Input::Tick)
                }
                _ => return Err(damaged("observation delta with no observation before it".to_owned())),
            },
            WireInput::EffectDone { key, outcome } => self.other.insert(Input::EffectDone { key, outcome }),
            WireInput::Tick => self.other.insert(Input::Tick),
        };
        Ok(RecordView {
            step: record.step,
            time: record.time,
            input,
            state_before: record.state_before,
            state_after: record.state_after,
            effects: record.effects,
        })
    }
}

/// Read a whole trace. Blank lines are skipped.
///
/// # Errors
/// On I/O errors, a missing or unsupported header, or a damaged line (named by number).
pub fn read<R: BufRead>(reader: R) -> Result<Trace, TraceError> {
    let mut header = None;
    let mut records = Vec::new();
    let mut decoder = Decoder::new();
    for (index, line) in reader.lines().enumerate() {
        let line_no = index + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        if header.is_none() {
            if line_no != 1 {
                return Err(TraceError::Empty);
            }
            header = Some(parse_header(&line)?);
            continue;
        }
        let r = decoder.decode(&line, line_no)?;
        records.push(TraceRecord {
            step: r.step,
            time: r.time,
            input: r.input.clone(),
            state_before: r.state_before,
            state_after: r.state_after,
            effects: r.effects,
        });
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
