//! Unit tests of the trace format.

use super::*;
use crate::machine::Input;

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
    let rec = Step {
        step: 0,
        time: Time(7),
        input: &input,
        state_before: "off",
        state_after: "nodes-up",
        effects: &effects,
        gates: None,
        journal: &Journal::default(),
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

fn record_line(step: u64, input: &str) -> String {
    format!(r#"{{"step":{step},"time":{step},"input":{input},"state_before":"a","state_after":"b","effects":[]}}"#)
}

#[test]
fn machine_kinds_have_stable_names() {
    assert_eq!(MachineKind::Startup.as_str(), "startup");
    assert_eq!(MachineKind::Shutdown.as_str(), "shutdown");
    assert_eq!(serde_json::to_value(MachineKind::Shutdown).unwrap(), "shutdown");
}

#[test]
fn observations_after_the_first_are_deltas_that_read_back_whole() {
    let mut first = Observation::default();
    first.api.reachable = true;
    let mut second = first.clone();
    second.at = Time(9);
    let inputs = [
        Input::Observed(Box::new(first)),
        Input::EffectDone { key: "cordon:n1".into(), outcome: crate::machine::EffectOutcome::Ok },
        Input::Observed(Box::new(second)),
        Input::Tick,
    ];
    let header = parse_header(&header_line(TRACE_VERSION, TRACE_FORMAT)).unwrap();
    let mut writer = TraceWriter::new(Vec::new(), &header).unwrap();
    let journal = Journal::default();
    for (step, input) in (0u64..).zip(&inputs) {
        let rec = Step {
            step,
            time: Time(step),
            input,
            state_before: "s",
            state_after: "s",
            effects: &[],
            gates: None,
            journal: &journal,
        };
        writer.record(&rec).unwrap();
    }
    let text = String::from_utf8(writer.finish().unwrap()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[3].contains(r#""input":"observed-delta""#), "{}", lines[3]);
    // Blank lines (an editor's trailing newline, say) are skipped.
    let trace = parse(&format!("{text}\n\n")).unwrap();
    let read: Vec<&Input> = trace.records.iter().map(|r| &r.input).collect();
    assert_eq!(read, inputs.iter().collect::<Vec<_>>());
}

#[test]
fn record_errors_name_the_line_and_the_problem() {
    let good = header_line(TRACE_VERSION, TRACE_FORMAT);
    let tick = r#"{"input":"tick"}"#;
    let cases = [
        (
            format!("{good}\n{}\n{}", record_line(0, tick), record_line(2, tick)),
            3,
            "step 2 out of order (expected step 1)",
        ),
        (format!("{good}\n{}", record_line(1, tick)), 2, "step 1 out of order (expected step 0)"),
        (
            format!("{good}\n{}", record_line(0, r#"{"input":"observed-delta","at":5}"#)),
            2,
            "observation delta with no observation before it",
        ),
    ];
    for (text, line, message) in cases {
        match parse(&text).unwrap_err() {
            TraceError::Damaged { line: l, message: m } => assert_eq!((l, m.as_str()), (line, message)),
            other => panic!("expected damaged line {line}, got {other}"),
        }
    }
}

#[test]
fn header_errors_are_on_line_one() {
    let err = parse("not json at all").unwrap_err();
    assert!(matches!(err, TraceError::Damaged { line: 1, .. }), "{err}");
    // The right format and version but not a whole header.
    let err = parse(r#"{"format":"ananke-trace","version":1}"#).unwrap_err();
    assert!(matches!(&err, TraceError::Damaged { line: 1, message } if message.contains("missing field")), "{err}");
    let err = parse(&header_line(2, TRACE_FORMAT)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("line 1: unsupported trace version 2 (this build reads version {TRACE_VERSION})")
    );
    let err = parse(&header_line(1, "otel")).unwrap_err();
    assert_eq!(err.to_string(), format!("line 1: not an ananke trace (format `otel`, expected `{TRACE_FORMAT}`)"));
    // A header that is not on line 1 is not a trace.
    let err = parse(&format!("\n{}", header_line(TRACE_VERSION, TRACE_FORMAT))).unwrap_err();
    assert_eq!(err.to_string(), "empty trace: line 1 should be an ananke-trace header");
    assert!(matches!(parse("\n\n").unwrap_err(), TraceError::Empty));
}

#[test]
fn unreadable_bytes_are_an_io_error() {
    let mut bytes = header_line(TRACE_VERSION, TRACE_FORMAT).into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe\n");
    let err = read(bytes.as_slice()).unwrap_err();
    assert!(matches!(err, TraceError::Io(_)), "{err}");
    assert!(err.to_string().starts_with("cannot read trace: "), "{err}");
}

/// A sink that accepts `room` bytes and then fails, like a full disk.
#[derive(Debug)]
struct FullDisk {
    room: usize,
    fail_flush: bool,
}

impl std::io::Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::other("no space left on device"));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.fail_flush {
            Err(std::io::Error::other("flush failed"))
        } else {
            Ok(())
        }
    }
}

#[test]
fn write_failures_are_reported_not_swallowed() {
    let header = parse_header(&header_line(TRACE_VERSION, TRACE_FORMAT)).unwrap();
    let header_len = header_line(TRACE_VERSION, TRACE_FORMAT).len();
    let err = TraceWriter::new(FullDisk { room: 10, fail_flush: false }, &header).unwrap_err();
    assert!(matches!(&err, TraceError::Write(m) if m.contains("no space left")), "{err}");
    // Room for the header's JSON but not its newline.
    let err = TraceWriter::new(FullDisk { room: header_len, fail_flush: false }, &header).unwrap_err();
    assert!(err.to_string().starts_with("cannot write trace: "), "{err}");
    let mut writer = TraceWriter::new(FullDisk { room: header_len + 1, fail_flush: true }, &header).unwrap();
    let rec = Step {
        step: 0,
        time: Time(0),
        input: &Input::Tick,
        state_before: "a",
        state_after: "a",
        effects: &[],
        gates: None,
        journal: &Journal::default(),
    };
    assert!(matches!(writer.record(&rec), Err(TraceError::Write(_))));
    assert!(matches!(writer.finish(), Err(TraceError::Write(m)) if m == "flush failed"));
}
