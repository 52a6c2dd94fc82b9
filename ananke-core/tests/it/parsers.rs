//! The parsers fed garbage and damaged files (proptest): the config (YAML and TOML) and the trace
//! never panic; a refusal is located inside the text; what loads reads back the same.

use ananke_core::config::{self, ConfigError, Format};
use proptest::prelude::*;
use std::path::Path;

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One way a file gets damaged: cut short, a line lost or doubled, a byte overwritten, a line
/// shifted by a space (YAML indentation).
#[derive(Debug, Clone)]
enum Damage {
    Truncate(usize),
    DropLine(usize),
    DoubleLine(usize),
    Overwrite(usize, char),
    Indent(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    let chars =
        prop_oneof![Just(':'), Just('-'), Just(' '), Just('\n'), Just('"'), Just('{'), Just('\t'), any::<char>()];
    prop_oneof![
        any::<usize>().prop_map(Damage::Truncate),
        any::<usize>().prop_map(Damage::DropLine),
        any::<usize>().prop_map(Damage::DoubleLine),
        (any::<usize>(), chars).prop_map(|(at, c)| Damage::Overwrite(at, c)),
        any::<usize>().prop_map(Damage::Indent),
    ]
}

fn apply(text: &str, damage: &Damage) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    let line = |i: usize| i % lines.len().max(1);
    let boundary = |i: usize| {
        let mut at = i % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    match *damage {
        Damage::Truncate(at) => text[..boundary(at)].to_owned(),
        Damage::DropLine(i) => {
            let i = line(i);
            lines.remove(i);
            lines.join("\n") + "\n"
        }
        Damage::DoubleLine(i) => {
            let i = line(i);
            lines.insert(i, lines[i]);
            lines.join("\n") + "\n"
        }
        Damage::Overwrite(at, c) => {
            let at = boundary(at);
            let rest = text[at..].chars().skip(1).collect::<String>();
            format!("{}{c}{rest}", &text[..at])
        }
        Damage::Indent(i) => {
            let i = line(i);
            let shifted = format!(" {}", lines[i]);
            lines[i] = &shifted;
            lines.join("\n") + "\n"
        }
    }
}

/// The outcome of parsing `text` is sound: a refusal names places inside the text; a config that
/// loads validates again.
fn check_config(text: &str, format: Format) -> Result<(), TestCaseError> {
    let origin = Path::new("fuzzed");
    match config::parse(text, format, origin) {
        Ok(config) => {
            // What loads is a whole config: written out and read back, it is the same.
            let yaml = serde_yaml_ng::to_string(&config).expect("a config serializes");
            let again = config::parse(&yaml, Format::Yaml, origin);
            prop_assert!(again.as_ref().is_ok_and(|c| *c == config), "{again:?}");
        }
        Err(ConfigError::Invalid(problems)) => {
            prop_assert!(!problems.is_empty());
            let lines = text.lines().count().max(1);
            for p in &problems {
                prop_assert!(!p.message.trim().is_empty(), "{p}");
                let line = p.line.unwrap_or(0);
                prop_assert!((1..=lines + 1).contains(&line), "{p}: the text has {lines} lines");
                prop_assert!(p.column.is_some_and(|c| c >= 1), "{p}");
            }
        }
        Err(e) => prop_assert!(false, "parse never reads a file: {e}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_yaml_config_is_refused_in_place_or_loads_valid(d in damage()) {
        check_config(&apply(&example("titan-lab.yaml"), &d), Format::Yaml)?;
    }

    #[test]
    fn a_damaged_toml_config_is_refused_in_place_or_loads_valid(d in damage()) {
        check_config(&apply(&example("titan-lab.toml"), &d), Format::Toml)?;
    }

    #[test]
    fn garbage_is_a_located_refusal(text in "\\PC{0,200}", toml in any::<bool>()) {
        check_config(&text, if toml { Format::Toml } else { Format::Yaml })?;
    }

    #[test]
    fn a_damaged_or_garbage_trace_is_an_error_not_a_panic(d in damage(), garbage in "\\PC{0,120}") {
        let sample = trace_sample();
        let _ = ananke_core::trace::parse(&apply(&sample, &d));
        let _ = ananke_core::trace::parse(&format!("{}{garbage}\n", sample.lines().next().unwrap_or_default()));
        let _ = ananke_core::trace::parse(&garbage);
    }
}

/// The first records of a real startup trace (`ananke-sim run titan-lab --startup --trace`).
fn trace_sample() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/trace_sample.jsonl")).unwrap()
}

#[test]
fn the_undamaged_trace_sample_parses() {
    let trace = ananke_core::trace::parse(&trace_sample()).expect("a real trace");
    assert_eq!(trace.records.len(), 3, "the header and three records");
}
