//! Configuration: the lab examples load, and every broken config of `config_corpus/` is refused
//! with the location, field and message its `# expect:` lines name.
//!
//! A corpus file is a whole config with one defect (or a few). Each header line
//! `# expect: LINE:COLUMN FIELD MESSAGE-FRAGMENT` names one problem, in file order; `-` stands for
//! an unknown line, column or field. A file without `# expect:` lines must load.

use ananke_core::config::{self, ConfigError, Format, Problem, DEFAULT_CONFIG_PATH};
use ananke_core::synth::{self, LabSize};
use std::path::{Path, PathBuf};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/config_corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    files
}

/// One `# expect:` line.
#[derive(Debug)]
struct Expected {
    line: Option<usize>,
    column: Option<usize>,
    field: String,
    fragment: String,
}

impl Expected {
    fn parse(spec: &str) -> Self {
        let mut parts = spec.splitn(3, ' ');
        let (at, field, fragment) = (parts.next(), parts.next(), parts.next());
        let (line, column) = at.and_then(|a| a.split_once(':')).unwrap_or(("-", "-"));
        let number = |s: &str| if s == "-" { None } else { Some(s.parse().expect("a line or column number")) };
        Self {
            line: number(line),
            column: number(column),
            field: field.filter(|f| *f != "-").unwrap_or_default().to_owned(),
            fragment: fragment.unwrap_or_default().to_owned(),
        }
    }

    fn matches(&self, p: &Problem) -> bool {
        p.line == self.line && p.column == self.column && p.field == self.field && p.message.contains(&self.fragment)
    }
}

fn expectations(text: &str) -> Vec<Expected> {
    text.lines().filter_map(|l| l.strip_prefix("# expect: ")).map(Expected::parse).collect()
}

/// What is wrong with one corpus file's outcome, if anything.
fn check_case(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).expect("corpus file");
    let expected = expectations(&text);
    let problems = match config::load(path) {
        Ok(_) if expected.is_empty() => return None,
        Ok(_) => return Some("loaded, but problems were expected".to_owned()),
        Err(ConfigError::Invalid(problems)) => problems,
        Err(e) => return Some(format!("unexpected error: {e}")),
    };
    let fits = problems.len() == expected.len() && expected.iter().zip(&problems).all(|(e, p)| e.matches(p));
    if fits {
        return None;
    }
    let got: Vec<String> = problems.iter().map(|p| format!("    {p}")).collect();
    Some(format!("expected {expected:#?}\n  got:\n{}", got.join("\n")))
}

#[test]
fn every_corpus_case_is_refused_where_its_header_says() {
    let files = corpus();
    assert!(files.len() >= 30, "the corpus holds {} files", files.len());
    let failures: Vec<String> =
        files.iter().filter_map(|path| check_case(path).map(|why| format!("{}: {why}", path.display()))).collect();
    assert!(failures.is_empty(), "{} corpus case(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn the_corpus_has_a_case_for_every_check() {
    let names: Vec<String> =
        corpus().iter().filter_map(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).collect();
    for case in [
        "valid-minimal",
        "syntax-error",
        "unknown-field-top-level",
        "unknown-field-nested",
        "unknown-field-toml",
        "unknown-variant",
        "wrong-type",
        "bad-duration",
        "missing-checklist-url",
        "missing-top-level-field",
        "duplicate-node",
        "empty-node-address",
        "node-in-two-domains",
        "node-in-no-domain",
        "domain-unknown-node",
        "duplicate-domain",
        "ignored-node-not-in-inventory",
        "peer-host-not-in-inventory",
        "bad-url",
        "bad-url-scheme",
        "bad-flux-source-url",
        "bad-git-server-health-url",
        "bad-vault-address",
        "duplicate-check-name",
        "empty-check-name",
        "bad-expect-status",
        "external-without-ingress-address",
        "zero-consecutive",
        "zero-timeout",
        "max-latency-over-timeout",
        "soak-interval-over-duration",
        "startup-timeout-over-deadline",
        "shutdown-timeout-over-deadline",
        "zero-ssh-concurrency",
        "daemon-limits",
        "empty-flux-branch",
        "empty-breakglass-argv",
        "many-problems-toml",
    ] {
        assert!(names.iter().any(|n| n == case), "no corpus case `{case}`");
    }
}

#[test]
fn the_yaml_example_loads() {
    let config = config::load(&repo_file("examples/titan-lab.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.cluster_name, "titan");
    assert_eq!(config.inventory.nodes.len(), 10);
    assert_eq!(config.power_domain_of("titan-jh").map(|d| d.name.as_str()), Some("statera"));
    assert_eq!(config.power_domain_of("titan-db").map(|d| d.name.as_str()), Some("pyrphoros"));
    assert_eq!(config.coordination.peer_hosts, ["titan-24"]);
    assert_eq!(config.vault.as_ref().map(|v| v.pods.len()), Some(3));
}

#[test]
fn the_toml_example_equals_the_yaml_one() {
    let yaml = config::load(&repo_file("examples/titan-lab.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let toml = config::load(&repo_file("examples/titan-lab.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(toml, yaml);
}

#[test]
fn a_config_written_as_yaml_reads_back_equal() {
    let lab = config::load(&repo_file("examples/titan-lab.yaml")).unwrap_or_else(|e| panic!("{e}"));
    for config in [lab, synth::lab_config(LabSize::SMALL)] {
        let text = serde_yaml_ng::to_string(&config).expect("serializable");
        let back = config::parse(&text, Format::Yaml, Path::new("<written>")).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, config);
    }
}

#[test]
fn the_synthesized_benchmark_lab_is_valid() {
    let config = synth::lab_config(LabSize::BENCHMARK);
    let text = serde_yaml_ng::to_string(&config).expect("serializable");
    config::parse(&text, Format::Yaml, Path::new("<benchmark>")).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_config_built_in_code_is_validated_without_positions() {
    let mut config = synth::lab_config(LabSize::SMALL);
    config::check(&config, Path::new("<derived>")).unwrap_or_else(|e| panic!("{e}"));
    config.soak.interval = config.soak.duration.get().saturating_mul(2).into();
    let err = config::check(&config, Path::new("<derived>")).expect_err("interval over duration");
    let shown: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].starts_with("<derived>: soak.interval: "), "{shown:?}");
}

#[test]
fn the_default_path_is_the_seed_one() {
    assert_eq!(DEFAULT_CONFIG_PATH, "/etc/ananke/ananke.yaml");
    assert_eq!(Format::of(Path::new(DEFAULT_CONFIG_PATH)), Format::Yaml);
}

#[test]
fn an_invalid_config_lists_every_problem_one_per_line() {
    let path = repo_file("ananke-core/tests/it/config_corpus/many-problems-toml.toml");
    let err = config::load(&path).expect_err("invalid");
    let shown = err.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), err.problems().len() + 1, "{shown}");
    assert_eq!(lines[0], format!("invalid config: {} problems", err.problems().len()));
    for (line, problem) in lines[1..].iter().zip(err.problems()) {
        assert_eq!(*line, problem.to_string());
        let prefix = format!(
            "{}:{}:{}: {}: ",
            path.display(),
            problem.line.expect("a line"),
            problem.column.expect("a column"),
            problem.field
        );
        assert!(line.starts_with(&prefix), "{line}");
    }
}

#[test]
fn a_missing_file_is_a_read_error() {
    let err = config::load(Path::new("/nonexistent/ananke.yaml")).expect_err("missing");
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.problems().is_empty());
    assert!(err.to_string().contains("/nonexistent/ananke.yaml"), "{err}");
}

#[test]
fn parse_names_the_origin_it_is_given() {
    let err = config::parse("cluster_name: [", Format::Yaml, Path::new("<string>")).expect_err("syntax");
    assert_eq!(err.problems().len(), 1);
    assert_eq!(err.problems()[0].file, Path::new("<string>"));
}

#[test]
fn the_schema_is_json_and_names_the_seed_fields() {
    let schema = config::schema();
    let text = serde_json::to_string_pretty(&schema).expect("serializable");
    let back: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(back, schema);
    assert!(schema.get("$schema").is_some(), "{text}");
    for field in [
        "expected_flux_source_url",
        "expected_flux_branch",
        "service_checklist",
        "critical_service_endpoints",
        "require_ingress_checklist",
        "require_node_inventory_reachability",
        "ignore_unavailable_nodes",
        "vault_unseal_breakglass_command",
        "peer_hosts",
        "role",
    ] {
        assert!(text.contains(&format!("\"{field}\"")), "schema does not mention `{field}`");
    }
}

#[test]
fn every_file_the_config_names_is_listed_with_its_field() {
    use ananke_core::config::{referenced_files, FileUse, UnsealKeySource};
    let mut config = config::load(&repo_file("examples/titan-lab.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let listed = |config: &config::Config| -> Vec<(String, FileUse)> {
        referenced_files(config).into_iter().map(|f| (f.field, f.used)).collect()
    };
    let fields = listed(&config);
    for (field, used) in [
        ("state_dir", FileUse::WritableDir),
        ("ssh.identity_file", FileUse::Secret),
        ("ssh.known_hosts", FileUse::Read),
        ("power_domains[0].ups.password_file", FileUse::Secret),
        ("power_domains[1].ups.password_file", FileUse::Secret),
        ("vault.unseal_keys.command.argv[0]", FileUse::Program),
        ("vault.ca_file", FileUse::Read),
        ("startup.vault_unseal_breakglass_command.argv[0]", FileUse::Program),
    ] {
        assert!(fields.contains(&(field.to_owned(), used)), "{field} missing from {fields:?}");
    }
    let vault = config.vault.as_mut().expect("the example has Vault");
    vault.unseal_keys = UnsealKeySource::File("/etc/ananke/shares".into());
    vault.ca_file = None;
    if let Some(spec) = config.startup.vault_unseal_breakglass_command.as_mut() {
        spec.argv = vec!["  ".to_owned()];
    }
    let fields = listed(&config);
    assert!(fields.contains(&("vault.unseal_keys.file".to_owned(), FileUse::Secret)), "{fields:?}");
    for gone in
        ["vault.ca_file", "vault.unseal_keys.command.argv[0]", "startup.vault_unseal_breakglass_command.argv[0]"]
    {
        assert!(!fields.iter().any(|(f, _)| f == gone), "{gone} still listed: {fields:?}");
    }
}
