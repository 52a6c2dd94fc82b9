//! Scenario validation errors name the file, line and field, and say what was expected.

use ananke_sim::scenario::{Problem, Scenario};

fn problems(text: &str) -> Vec<Problem> {
    Scenario::parse(text, "lab.yaml").unwrap_err().problems().to_vec()
}

const LAB: &str = "name: lab
nodes:
  - { name: a, role: server, power_domain: p }
power_domains:
  - { name: p, ups: p, battery_runtime: 10m }
components:
  - name: app
    kind: app
    workload: { kind: Deployment, namespace: x, name: app }
expect:
  startup: { state: ready }
";

#[test]
fn a_valid_lab_parses() {
    let s = Scenario::parse(LAB, "lab.yaml").unwrap();
    assert_eq!(s.ananke_config().inventory.nodes.len(), 1);
}

#[test]
fn an_unknown_field_names_its_line_and_field() {
    let text = LAB.replace("kind: app\n", "kind: app\n    strat: 10s\n");
    let p = &problems(&text)[0];
    assert_eq!((p.file.to_str(), p.line), (Some("lab.yaml"), Some(9)), "{p}");
    assert_eq!(p.field, "components[0]");
    assert!(p.message.contains("unknown field `strat`") && p.message.contains("expected one of"), "{p}");
    assert!(p.to_string().starts_with("lab.yaml:9:"), "{p}");
}

#[test]
fn a_bad_duration_says_what_was_expected() {
    let text = LAB.replace("battery_runtime: 10m", "battery_runtime: ten minutes");
    let p = &problems(&text)[0];
    assert_eq!(p.line, Some(5), "{p}");
    assert!(p.field.starts_with("power_domains[0]"), "{p}");
    assert!(p.message.contains("expected a duration"), "{p}");
}

#[test]
fn an_unknown_reference_names_the_referring_line() {
    let text = LAB.replace("kind: app\n", "kind: app\n    depends_on: [db]\n");
    let p = &problems(&text)[0];
    assert_eq!(p.field, "components[0].depends_on[0]");
    assert_eq!(p.line, Some(9), "{p}");
    assert!(p.message.contains("unknown component `db`"), "{p}");
}

#[test]
fn a_dependency_cycle_and_a_missing_field_are_refused() {
    let text = LAB.replace("kind: app\n", "kind: app\n    depends_on: [app]\n");
    assert!(problems(&text).iter().any(|p| p.message.contains("dependency cycle")));
    let p = &problems(&LAB.replace("name: lab\n", ""))[0];
    assert!(p.message.contains("missing field `name`"), "{p}");
    let text = LAB.replace("power_domain: p", "power_domain: q");
    let p = &problems(&text)[0];
    assert_eq!((p.field.as_str(), p.line), ("nodes[0].power_domain", Some(3)), "{p}");
}

#[test]
fn a_base_overlay_is_checked_too() {
    let p = &problems("base: nowhere\nname: x\n")[0];
    assert_eq!((p.field.as_str(), p.line), ("base", Some(1)), "{p}");
    let p = &problems("base: titan-lab\nname: x\nnodes:\n  - { name: titan-03, bogus: 1 }\n")[0];
    assert!(p.message.contains("unknown field `bogus`"), "{p}");
    // The merged list's index; the overlay's `nodes:` line.
    assert_eq!((p.field.as_str(), p.line), ("nodes[3]", Some(3)), "{p}");
    let p = &problems("base: titan-lab\nname: x\n\nnodez: []\n")[0];
    assert_eq!((p.field.as_str(), p.line, p.column), ("", Some(4), Some(1)), "a top-level field's own line: {p}");
    assert!(p.to_string().starts_with("lab.yaml:4:1: unknown field `nodez`"), "{p}");
    let ok =
        Scenario::parse("base: titan-lab\nname: x\nfaults:\n  - !node-lost { node: titan-03 }\n", "x.yaml").unwrap();
    assert_eq!(ok.faults.len(), 1);
    let p = &problems("base: titan-lab\nname: x\nfaults:\n  - !node-lost { node: titan-99 }\n")[0];
    assert!(p.message.contains("unknown node `titan-99`"), "{p}");
}

const FULL: &str = "name: lab
nodes:
  - { name: a, role: server, power_domain: p }
power_domains:
  - { name: p, ups: p, battery_runtime: 10m }
components:
  - name: db
    kind: datastore
    host: a
  - name: app
    kind: app
    workload: { kind: Deployment, namespace: x, name: app }
  - name: vault
    kind: vault
    workload: { kind: StatefulSet, namespace: vault, name: vault }
services:
  - { namespace: x, name: web, component: app }
ingresses:
  - { namespace: x, name: web, host: web.lab, backends: [web] }
checks:
  - { name: web, url: 'http://web.lab', backed_by: [app] }
flux:
  sources:
    - { namespace: flux-system, name: repo, url: 'ssh://git/x', branch: main }
vault: { component: vault, pods: [vault-0], threshold: 1, shares: 1 }
faults:
  - !branch-change { source: repo, branch: dev, at: { phase: startup } }
  - !api-flaky { rate: 0.5 }
random: { api_error_rate: 0.1 }
expect:
  shutdown: { state: 'off' }
  startup: { state: ready }
";

/// An edit of `FULL` and the one problem it must give, rendered `file:line:column: field: message`.
type Broken = (&'static str, &'static str, &'static str);

/// Semantic problems: duplicates, references, counts and probabilities.
const REFERENCES: &[Broken] = &[
    (
        "}\npower_domains",
        "}\n  - { name: a, role: agent, power_domain: p }\npower_domains",
        "lab.yaml:4:7: nodes[1].name: duplicate name `a`: names must be unique",
    ),
    ("role: server", "role: agent", "lab.yaml:2:1: nodes: no node has role `server`: the cluster needs at least one"),
    (
        "backends: [web]",
        "backends: [web, api]",
        "lab.yaml:19:63: ingresses[0].backends[1]: no service `x/api` in `services`",
    ),
    (
        "pods: [vault-0]",
        "pods: [vault-0, vault-1]",
        "lab.yaml:25:28: vault.pods: 2 pods listed but the component runs 1 replicas",
    ),
    ("threshold: 1", "threshold: 2", "lab.yaml:25:45: vault.threshold: threshold 2 must be between 1 and shares (1)"),
    (
        "api_error_rate: 0.1",
        "api_error_rate: 1.5",
        "lab.yaml:29:11: random.api_error_rate: expected a probability between 0 and 1",
    ),
    (
        "state: ready",
        "state: up",
        "lab.yaml:32:14: expect.startup.state: unknown state `up` (expected one of `ready`, `failed`)",
    ),
    (
        "state: 'off'",
        "state: down",
        "lab.yaml:31:15: expect.shutdown.state: unknown state `down` (expected one of `off`, `incomplete`, `failed`)",
    ),
    (
        "source: repo",
        "source: other",
        "lab.yaml:27:22: faults[0]: unknown GitRepository `other` (expected one of: repo)",
    ),
    ("rate: 0.5", "rate: 2", "lab.yaml:28:18: faults[1]: expected a probability between 0 and 1"),
];

/// Components: where they run and how many replicas.
const COMPONENTS: &[Broken] = &[
    (
        "name: app }\n",
        "name: app }\n    nodes: [a, b]\n",
        "lab.yaml:13:16: components[1].nodes[1]: unknown node `b` (expected one of: a)",
    ),
    (
        "    host: a\n",
        "    workload: { kind: Deployment, namespace: x, name: db }\n",
        "lab.yaml:7:5: components[0]: a datastore runs on a `host` and has no `workload`",
    ),
    ("    host: a\n", "    host: z\n", "lab.yaml:9:5: components[0].host: unknown node `z` (expected one of: a)"),
    (
        "name: app }",
        "name: app, replicas: -1 }",
        "lab.yaml:12:60: components[1].workload.replicas: expected a replica count of 0 or more",
    ),
    (
        "name: app }",
        "name: app, initial_replicas: -2 }",
        "lab.yaml:12:60: components[1].workload.initial_replicas: expected a replica count of 0 or more",
    ),
    (
        "    workload: { kind: Deployment, namespace: x, name: app }\n",
        "    host: a\n",
        "lab.yaml:10:5: components[1]: expected a `workload` (and no `host`) for this kind",
    ),
];

/// The file's form: syntax, `base:`, and the `ananke:` config overrides.
const FORM: &[Broken] = &[
    ("name: lab\n", "name: [lab\n", "lab.yaml:2:6: did not find expected ',' or ']'"),
    ("name: lab\n", "name: lab\nbase: [titan-lab]\n", "lab.yaml:2:1: base: expected the name of a built-in scenario"),
    ("name: lab\n", "name: lab\nananke: 3\n", "lab.yaml:2:1: ananke: expected a mapping of config fields"),
    (
        "name: lab\n",
        "name: lab\nananke: { soak: { duration: soon } }\n",
        "lab.yaml:2:11: ananke: the derived ananke config is invalid: invalid duration `soon`: expected number at 0 \
         (expected a duration such as `30s`, `5m` or `1h 30m`)",
    ),
];

#[test]
fn each_problem_names_its_line_column_and_field() {
    Scenario::parse(FULL, "lab.yaml").expect("the unedited lab is valid");
    for (from, to, expected) in REFERENCES.iter().chain(COMPONENTS).chain(FORM) {
        assert!(FULL.contains(from), "{from}");
        let err = Scenario::parse(&FULL.replacen(from, to, 1), "lab.yaml").expect_err(to);
        let rendered: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
        assert_eq!(rendered, [*expected], "{from:?} -> {to:?}");
        assert_eq!(err.to_string(), format!("invalid scenario:\n  {expected}"));
    }
}

#[test]
fn an_unreadable_file_has_no_problems_to_locate() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("missing.yaml");
    let err = Scenario::load(&path).expect_err("no such file");
    assert!(err.problems().is_empty());
    assert!(err.to_string().starts_with(&format!("cannot read scenario {}: ", path.display())), "{err}");
    std::fs::write(&path, FULL).unwrap();
    assert_eq!(Scenario::load(&path).expect("a valid file").name, "lab");
}

#[test]
fn a_scenario_edited_in_code_is_checked_again_without_lines() {
    let mut s = ananke_sim::scenario::builtin("titan-lab").unwrap();
    let mut lost = s.clone();
    lost.nodes[1].power_domain = "nowhere".into();
    let err = lost.prepare().expect_err("an unknown power domain");
    let rendered: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        ["titan-lab: nodes[1].power_domain: unknown power domain `nowhere` (expected one of: pyrphoros, statera)"]
    );
    s.ananke = serde_json::json!(["not", "a", "mapping"]);
    let err = s.prepare().expect_err("config overrides that are not a mapping");
    let rendered: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(rendered, ["titan-lab: ananke: expected a mapping of config fields"]);
}

#[test]
fn a_bad_value_in_a_base_overlay_names_its_line() {
    let text = "base: titan-lab\nname: x\npower_domains:\n  - { name: statera, ups: statera, battery_runtime: soon }\n";
    let rendered: Vec<String> = problems(text).iter().map(ToString::to_string).collect();
    // The merged document's field, located in the overlay's text.
    assert_eq!(
        rendered,
        ["lab.yaml:4:36: power_domains[0].battery_runtime: invalid duration `soon`: expected number at 0 \
          (expected a duration such as `30s`, `5m` or `1h 30m`)"]
    );
}
