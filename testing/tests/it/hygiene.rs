//! Naming and lines-of-code hygiene (quality gate step 2): files small enough to read in one
//! sitting, functions short enough to follow, names in the domain's words.

use std::path::{Path, PathBuf};

/// Most lines a source file may have (STYLE: a soft limit of about 400).
const MAX_FILE_LINES: usize = 450;
/// Most lines a test file may have.
const MAX_TEST_FILE_LINES: usize = 600;
/// Most lines one function may have.
const MAX_FN_LINES: usize = 100;
/// Names that say nothing about the domain.
const VAGUE_NAMES: &[&str] = &["manager", "helper", "helpers", "utils", "util", "misc", "stuff", "common_utils"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("testing/ has a parent").to_owned()
}

fn rust_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for krate in ["ananke-core", "ananke-cli", "ananke-sim", "testing"] {
        let mut stack = vec![root().join(krate)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let p = entry.path();
                if p.is_dir() {
                    if p.file_name().is_some_and(|n| n != "target" && n != "snapshots") {
                        stack.push(p);
                    }
                } else if p.extension().is_some_and(|e| e == "rs") {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

fn is_test_file(p: &Path) -> bool {
    p.components().any(|c| matches!(c.as_os_str().to_str(), Some("tests" | "benches")))
        || p.file_name().is_some_and(|n| n == "tests.rs")
}

/// `line` without its `//` comment (a `//` inside a string literal, such as a URL, is code).
fn code_of(line: &str) -> &str {
    let (mut in_string, mut escaped, mut last) = (false, false, ' ');
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '/' if !in_string && last == '/' => return &line[..i - 1],
            _ => {}
        }
        last = c;
    }
    line
}

/// `(name, first line, length)` of every `fn` in `text`, by brace matching from its body's `{`.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = code_of(line);
        let Some(at) = code.find("fn ") else { continue };
        if at > 0 && !code[..at].ends_with(' ') {
            continue;
        }
        let name: String = code[at + 3..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            continue;
        }
        let mut depth = 0_i64;
        let mut opened = false;
        'scan: for (j, l) in lines.iter().enumerate().skip(i) {
            for c in code_of(l).chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    ';' if !opened => break 'scan,
                    _ => {}
                }
                if opened && depth == 0 {
                    out.push((name.clone(), i + 1, j - i + 1));
                    break 'scan;
                }
            }
        }
    }
    out
}

#[test]
fn files_and_functions_stay_small() {
    let files = rust_files();
    assert!(files.len() > 40, "found too few sources: {}", files.len());
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let limit = if is_test_file(file) { MAX_TEST_FILE_LINES } else { MAX_FILE_LINES };
        let n = text.lines().count();
        if n > limit {
            problems.push(format!("{}: {n} lines (limit {limit}): split it", file.display()));
        }
        if !is_test_file(file) {
            for (name, line, len) in functions(&text) {
                if len > MAX_FN_LINES {
                    problems
                        .push(format!("{}:{line}: fn {name} is {len} lines (limit {MAX_FN_LINES})", file.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "hygiene:\n{}", problems.join("\n"));
}

#[test]
fn names_are_snake_case_and_say_something() {
    let mut problems = Vec::new();
    for file in rust_files() {
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        if stem.chars().any(|c| c.is_ascii_uppercase() || c == '-') {
            problems.push(format!("{}: file names are snake_case", file.display()));
        }
        if VAGUE_NAMES.contains(&stem.as_str()) {
            problems.push(format!("{}: `{stem}` says nothing; name it after what it holds", file.display()));
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            for kw in ["struct ", "enum ", "trait "] {
                if let Some(at) = line.find(kw) {
                    let name: String =
                        line[at + kw.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    let lower = name.to_lowercase();
                    if VAGUE_NAMES.iter().any(|v| lower.ends_with(v)) {
                        problems.push(format!("{}:{}: type `{name}` says nothing", file.display(), i + 1));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "naming:\n{}", problems.join("\n"));
}

#[test]
fn the_function_scanner_measures_what_it_should() {
    let src = "fn a() {\n    let x = 1;\n}\n\n    pub fn b(x: u8) -> u8 {\n        if x > 0 { x } else { 0 }\n    }\nfn decl();\n";
    assert_eq!(functions(src), vec![("a".to_owned(), 1, 3), ("b".to_owned(), 5, 3)]);
    let url = "fn c() {\n    let u = S { url: \"ssh://x\" }; // a } in a comment\n}\n";
    assert_eq!(functions(url), vec![("c".to_owned(), 1, 3)], "a URL in a string is not a comment");
}
