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
    let ok = Scenario::parse("base: titan-lab\nname: x\nfaults:\n  - !node-lost { node: titan-03 }\n", "x.yaml").unwrap();
    assert_eq!(ok.faults.len(), 1);
    let p = &problems("base: titan-lab\nname: x\nfaults:\n  - !node-lost { node: titan-99 }\n")[0];
    assert!(p.message.contains("unknown node `titan-99`"), "{p}");
}
