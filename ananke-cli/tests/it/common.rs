//! Helpers shared by the CLI tests.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The `ananke` binary with a clean environment for deterministic output.
pub fn ananke() -> Command {
    let mut cmd = Command::cargo_bin("ananke").expect("ananke binary is built");
    cmd.env_remove("ANANKE_CONFIG").env_remove("ANANKE_STATE_DIR").env("COLUMNS", "100");
    cmd
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("crate has a parent").to_owned()
}

/// Run `ananke ARGS --sim titan-lab --state-dir DIR`, returning (exit code, stdout, stderr).
pub fn sim(dir: &Path, args: &[&str]) -> (i32, String, String) {
    sim_named(dir, "titan-lab", args)
}

/// Run `ananke ARGS --sim SCENARIO --state-dir DIR`, returning (exit code, stdout, stderr).
pub fn sim_named(dir: &Path, scenario: &str, args: &[&str]) -> (i32, String, String) {
    let out = ananke()
        .args(args)
        .args(["--sim", scenario, "--state-dir"])
        .arg(dir)
        .output()
        .expect("ananke runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The shape of a JSON value: keys kept, scalars replaced by their type, arrays by the shape of
/// their first element. Golden tests pin shapes, not values that change every run.
pub fn shape(v: &Value) -> Value {
    match v {
        Value::Null => Value::String("null".into()),
        Value::Bool(_) => Value::String("bool".into()),
        Value::Number(_) => Value::String("number".into()),
        Value::String(_) => Value::String("string".into()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Read a JSON file.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let p = entry.path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}
