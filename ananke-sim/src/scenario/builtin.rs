//! Built-in scenarios, shipped inside the binary. A scenario may start from another with
//! `base: NAME`: its fields are merged over the base's (lists of named items merge by `name`).

use super::parse::ScenarioError;
use super::Scenario;
use serde_yaml_ng::Value;

/// Every built-in scenario: `(name, YAML text)`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("titan-lab", include_str!("../../scenarios/titan-lab.yaml")),
    ("flux-gitea-deadlock", include_str!("../../scenarios/flux-gitea-deadlock.yaml")),
    ("vault-breakglass", include_str!("../../scenarios/vault-breakglass.yaml")),
    ("node-lost-ignored", include_str!("../../scenarios/node-lost-ignored.yaml")),
    ("node-lost-required", include_str!("../../scenarios/node-lost-required.yaml")),
    ("endpoint-flaps-during-soak", include_str!("../../scenarios/endpoint-flaps-during-soak.yaml")),
    ("pdb-blocks-drain", include_str!("../../scenarios/pdb-blocks-drain.yaml")),
    ("flux-source-drift", include_str!("../../scenarios/flux-source-drift.yaml")),
    ("power-returns-mid-shutdown", include_str!("../../scenarios/power-returns-mid-shutdown.yaml")),
    ("api-flaky", include_str!("../../scenarios/api-flaky.yaml")),
    ("slow-server-quorum", include_str!("../../scenarios/slow-server-quorum.yaml")),
    ("operator-state-preserved", include_str!("../../scenarios/operator-state-preserved.yaml")),
    ("agent-auth-refused", include_str!("../../scenarios/agent-auth-refused.yaml")),
    ("sudo-refused", include_str!("../../scenarios/sudo-refused.yaml")),
    ("k3s-wont-stop", include_str!("../../scenarios/k3s-wont-stop.yaml")),
    ("host-key-changed", include_str!("../../scenarios/host-key-changed.yaml")),
    ("nothing-answers", include_str!("../../scenarios/nothing-answers.yaml")),
];

/// Names of the built-in scenarios.
#[must_use]
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// The text of built-in `name`.
pub(crate) fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The built-in scenario `name`, parsed and checked.
///
/// # Errors
/// When `name` is not a built-in, or (a bug caught by the tests) the built-in is invalid.
pub fn builtin(name: &str) -> Result<Scenario, ScenarioError> {
    match builtin_text(name) {
        Some(text) => Scenario::parse(text, &format!("<built-in {name}>")),
        None => Err(ScenarioError::Invalid(vec![super::Problem {
            file: name.into(),
            line: None,
            column: None,
            field: String::new(),
            message: format!("no built-in scenario `{name}` (built-ins: {})", builtin_names().join(", ")),
        }])),
    }
}

/// Merge `overlay` over `base`: mappings merge key by key, lists of mappings that all have a
/// `name` merge item by item (new names are appended), anything else replaces.
pub(crate) fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(o)) if named(b) && named(&o) => {
            for item in o {
                let name = item.get("name").cloned();
                match b.iter_mut().find(|x| x.get("name") == name.as_ref()) {
                    Some(slot) => merge(slot, item),
                    None => b.push(item),
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn named(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|i| i.get("name").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_derives_a_config() {
        for name in builtin_names() {
            let s = builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.name, name);
            assert!(!s.ananke_config().inventory.nodes.is_empty());
        }
        assert!(builtin("nope").is_err());
    }

    #[test]
    fn base_merges_named_items() {
        let s = builtin("operator-state-preserved").unwrap();
        assert!(s.node("titan-05").unwrap().cordoned);
        assert_eq!(s.node("titan-05").unwrap().boot, builtin("titan-lab").unwrap().node("titan-05").unwrap().boot);
        assert!(s.component("sandbox").is_some() && s.component("vault").is_some());
        assert!(builtin("power-returns-mid-shutdown").unwrap().outage.is_none());
    }
}
