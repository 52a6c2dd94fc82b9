//! The JSON Schema (`ananke config schema`) refuses what validation refuses wherever a schema can
//! say it, judged by an independent validator: Python's `jsonschema` (from `PyPI`, in a virtualenv).
//!
//! Every refused corpus case says in its header `# schema: refuses`, or
//! `# schema: accepts: WHY` when no schema can (a cross-reference, a duplicate, two fields
//! compared); the valid case and the example configs must pass the schema.

use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGES: [&str; 2] = ["jsonschema==4.26.0", "PyYAML==6.0.2"];

/// Validate each file (YAML, or TOML by extension) against the schema; prints
/// `{file: null | first error | "PARSE: why"}`.
const VALIDATE: &str = r#"
import json, sys, tomllib, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.validators.validator_for(schema).check_schema(schema)
validator = jsonschema.validators.validator_for(schema)(schema)
out = {}
for path in sys.argv[2:]:
    try:
        if path.endswith(".toml"):
            data = tomllib.load(open(path, "rb"))
        else:
            data = yaml.safe_load(open(path))
    except Exception as e:
        out[path] = f"PARSE: {e}"
        continue
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    out[path] = None if error is None else f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
print(json.dumps(out))
"#;

/// A virtualenv with the validator, made once per target dir.
fn python() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-jsonschema");
    let python = dir.join("bin/python");
    let ready = |p: &Path| Command::new(p).args(["-c", "import jsonschema, yaml"]).status().is_ok_and(|s| s.success());
    if !ready(&python) {
        let made = Command::new("python3").arg("-m").arg("venv").arg("--clear").arg(&dir).status().expect("python3");
        assert!(made.success(), "python3 -m venv (Debian: python3-venv)");
        let pip = Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PACKAGES)
            .status();
        assert!(pip.expect("pip runs").success(), "pip install {PACKAGES:?} (needs PyPI)");
        assert!(ready(&python), "the validator imports");
    }
    python
}

/// What the header says the schema does with a refused case: `Some(true)` refuses.
fn schema_header(text: &str) -> Option<bool> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("# schema: ")?;
        if rest == "refuses" {
            Some(true)
        } else {
            rest.strip_prefix("accepts: ").filter(|why| !why.trim().is_empty()).map(|_| false)
        }
    })
}

#[test]
fn the_schema_refuses_what_validation_refuses_where_a_schema_can() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, serde_json::to_string(&ananke_core::config::schema()).unwrap()).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("tests/it/config_corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    // A syntax error is the parser's, not the schema's.
    files.retain(|f| !f.file_name().unwrap().to_string_lossy().starts_with("syntax-error"));
    let examples = ["examples/titan-lab.yaml", "examples/titan-lab.toml"].map(|e| root.join("..").join(e));
    let out =
        Command::new(python()).arg("-c").arg(VALIDATE).arg(&schema).args(&files).args(&examples).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let verdicts: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let verdict = |f: &Path| verdicts[&f.display().to_string()].as_str().map(str::to_owned);
    let mut wrong = Vec::new();
    for example in &examples {
        if let Some(error) = verdict(example) {
            wrong.push(format!("{}: the schema refuses an example: {error}", example.display()));
        }
    }
    let mut refused = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expected_refused = text.contains("\n# expect: ") || text.starts_with("# expect: ");
        let got = verdict(file);
        match (expected_refused, schema_header(&text), &got) {
            (false, _, None) | (true, Some(false), None) => {}
            (false, _, Some(e)) => wrong.push(format!("{}: valid, but the schema refuses it: {e}", file.display())),
            (true, None, _) => wrong.push(format!("{}: no `# schema: refuses|accepts: WHY` header", file.display())),
            (true, Some(true), Some(e)) if e.starts_with("PARSE: ") => {
                wrong.push(format!("{}: not a document ({e}); the schema never saw it", file.display()));
            }
            (true, Some(true), Some(_)) => refused += 1,
            (true, Some(true), None) => wrong.push(format!("{}: the schema should refuse it", file.display())),
            // Not a document at all (a TOML key written twice): the parser's matter, not the schema's.
            (true, Some(false), Some(e)) if e.starts_with("PARSE: ") => {}
            (true, Some(false), Some(e)) => {
                wrong.push(format!("{}: the schema refuses it ({e}): say `# schema: refuses`", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(refused >= 30, "the schema refuses {refused} corpus cases");
}
