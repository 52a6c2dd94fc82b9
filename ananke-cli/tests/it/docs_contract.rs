//! The docs contract: the README documents every subcommand, flag and config field that exists,
//! and no command, flag or field that does not.

use crate::common::repo;
use clap::CommandFactory;
use serde_json::Value;
use std::collections::BTreeSet;

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// Every `ananke` subcommand path (`config check`) and every long flag.
fn cli_surface() -> (BTreeSet<String>, BTreeSet<String>) {
    fn walk(cmd: &clap::Command, prefix: &str, subs: &mut BTreeSet<String>, flags: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                if long != "help" && long != "version" {
                    flags.insert(format!("--{long}"));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let path =
                if prefix.is_empty() { sub.get_name().to_owned() } else { format!("{prefix} {}", sub.get_name()) };
            subs.insert(path.clone());
            walk(sub, &path, subs, flags);
        }
    }
    let mut subs = BTreeSet::new();
    let mut flags = BTreeSet::new();
    walk(&ananke_cli::Cli::command(), "", &mut subs, &mut flags);
    (subs, flags)
}

/// Every config field as a dotted path (`startup.service_checklist`), from the JSON Schema.
fn config_fields() -> BTreeSet<String> {
    fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
        if let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or_default();
            return &root["$defs"][name];
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(items) = v.get(key).and_then(Value::as_array) {
                if let Some(obj) = items
                    .iter()
                    .map(|i| resolve(root, i))
                    .find(|i| i.get("properties").is_some() || i.get("items").is_some())
                {
                    return obj;
                }
            }
        }
        v
    }
    fn walk(root: &Value, v: &Value, prefix: &str, out: &mut BTreeSet<String>, depth: usize) {
        let v = resolve(root, v);
        if depth > 6 {
            return;
        }
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (name, sub) in props {
                let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
                out.insert(path.clone());
                walk(root, sub, &path, out, depth + 1);
            }
        }
        if let Some(items) = v.get("items") {
            walk(root, items, prefix, out, depth + 1);
        }
    }
    let schema = ananke_core::config::schema();
    let mut out = BTreeSet::new();
    walk(&schema, &schema, "", &mut out, 0);
    out
}

/// The README's code: fenced blocks and inline code spans.
fn code_spans(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            out.push(line.to_owned());
        } else {
            out.extend(line.split('`').skip(1).step_by(2).map(str::to_owned));
        }
    }
    out
}

#[test]
fn every_subcommand_and_flag_is_documented() {
    let text = readme();
    let (subs, flags) = cli_surface();
    assert!(subs.len() >= 7 && flags.len() >= 8, "{subs:?} {flags:?}");
    let missing: Vec<_> = subs.iter().filter(|s| !text.contains(&format!("ananke {s}"))).collect();
    assert!(missing.is_empty(), "README does not document: {missing:?}");
    let missing: Vec<_> = flags.iter().filter(|f| !text.contains(f.as_str())).collect();
    assert!(missing.is_empty(), "README does not document flags: {missing:?}");
}

#[test]
fn no_documented_command_or_flag_is_missing_from_the_binary() {
    let text = readme();
    let (subs, flags) = cli_surface();
    let firsts: BTreeSet<&str> = subs.iter().map(|s| s.split(' ').next().unwrap_or_default()).collect();
    for code in code_spans(&text) {
        for (i, _) in code.match_indices("ananke ") {
            let before = code[..i].chars().last().unwrap_or(' ');
            if before.is_alphanumeric() || before == '-' || before == '_' {
                continue;
            }
            let word: String = code[i + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
            if word.is_empty() || word.starts_with('-') {
                continue;
            }
            assert!(firsts.contains(word.as_str()), "README mentions `ananke {word}`, which does not exist");
        }
    }
    for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        if let Some(rest) = token.strip_prefix("--") {
            if !rest.starts_with(|c: char| c.is_ascii_lowercase()) {
                continue;
            }
            let sim_flags = [
                "--cycle",
                "--seed",
                "--trace",
                "--startup",
                "--shutdown",
                "--dir",
                "--speed",
                "--port",
                "--release",
                "--locked",
                "--workspace",
                "--no-fail-fast",
                "--now",
                "--root",
                // cargo fmt's, in the quality gate.
                "--check",
                // cargo test's and the test harness's, in the benchmarks.
                "--test",
                "--ignored",
                "--nocapture",
                // clap's own, on every command.
                "--version",
                "--help",
            ];
            // kubectl's, in the README's commands against `ananke-sim serve`.
            let kubectl_flags = ["--ignore-daemonsets", "--delete-emptydir-data", "--replicas", "--watch", "--timeout"];
            assert!(
                flags.contains(token) || sim_flags.contains(&token) || kubectl_flags.contains(&token),
                "README mentions flag {token}, which ananke does not have"
            );
        }
    }
}

#[test]
fn every_config_field_is_documented_and_every_documented_field_exists() {
    let text = readme();
    let fields = config_fields();
    assert!(fields.contains("startup.service_checklist") && fields.contains("coordination.peer_hosts"), "{fields:?}");
    let missing: Vec<_> = fields.iter().filter(|f| !text.contains(&format!("`{f}`"))).collect();
    assert!(missing.is_empty(), "README does not document config fields: {missing:#?}");
    for (i, _) in text.match_indices('`') {
        let rest = &text[i + 1..];
        let Some(end) = rest.find('`') else { break };
        let token = &rest[..end];
        let top = token.split('.').next().unwrap_or_default();
        let looks_like_field = token.contains('.')
            && token.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            && fields.contains(top);
        if looks_like_field {
            assert!(fields.contains(token), "README documents config field `{token}`, which does not exist");
        }
    }
}
