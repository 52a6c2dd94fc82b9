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
