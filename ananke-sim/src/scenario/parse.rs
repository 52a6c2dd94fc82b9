//! Parsing and checking a scenario file, with errors that point at the line and field.

use super::builtin::{builtin_names, builtin_text, merge};
use super::locate::Locations;
use super::{config, validate, Scenario};
use std::path::Path;
use std::sync::Arc;

/// One problem in a scenario file: the same shape and rendering as a config problem
/// (`file:line:column: field: message`; `file` is the file or the built-in's name).
pub use ananke_core::config::Problem;

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The scenario is invalid.
    #[error("invalid scenario:\n{}", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl ScenarioError {
    /// The problems, when the scenario is invalid.
    #[must_use]
    pub fn problems(&self) -> &[Problem] {
        match self {
            ScenarioError::Invalid(p) => p,
            ScenarioError::Read { .. } => &[],
        }
    }
}

/// Split `serde_yaml_ng`'s `path: message at line L column C` into (path, message).
fn split_serde_message(text: &str) -> (String, String) {
    let text = text.split(" at line ").next().unwrap_or(text);
    if let Some((path, rest)) = text.split_once(": ") {
        let is_path = !path.is_empty() && path.chars().all(|c| c.is_ascii_alphanumeric() || "_-.[]".contains(c));
        if is_path {
            return (path.to_owned(), rest.to_owned());
        }
    }
    (String::new(), text.to_owned())
}

/// Where to look for `p` in the overlay's text: for an unknown field, the field itself under the
/// path serde names (which is empty for a top-level field).
fn unknown_field_path(p: &Problem) -> String {
    let unknown = p.message.strip_prefix("unknown field `").and_then(|m| m.split_once('`')).map(|(f, _)| f);
    match (unknown, p.field.as_str()) {
        (Some(f), "") => f.to_owned(),
        (Some(f), path) => format!("{path}.{f}"),
        (None, path) => path.to_owned(),
    }
}

/// The scenario merged over its `base:` built-in, when it names one.
fn with_base(text: &str, origin: &str) -> Result<Option<serde_yaml_ng::Value>, ScenarioError> {
    let problem = |field: &str, at: Option<(usize, usize)>, message: String| {
        let (line, column) = (at.map(|p| p.0), at.map(|p| p.1));
        ScenarioError::Invalid(vec![Problem { file: origin.into(), line, column, field: field.to_owned(), message }])
    };
    let mut raw: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
        problem("", e.location().map(|l| (l.line(), l.column())), split_serde_message(&e.to_string()).1)
    })?;
    let Some(base) = raw.as_mapping_mut().and_then(|m| m.remove("base")) else { return Ok(None) };
    let at = Locations::yaml(text).locate("base");
    let name = base.as_str().ok_or_else(|| problem("base", at, "expected the name of a built-in scenario".into()))?;
    let base_text = builtin_text(name).ok_or_else(|| {
        problem("base", at, format!("no built-in scenario `{name}` (built-ins: {})", builtin_names().join(", ")))
    })?;
    let mut merged = match with_base(base_text, name)? {
        Some(v) => v,
        None => serde_yaml_ng::from_str(base_text).map_err(|e| problem("base", at, e.to_string()))?,
    };
    merge(&mut merged, raw);
    Ok(Some(merged))
}

impl Scenario {
    /// Read and check the scenario file at `path`.
    ///
    /// # Errors
    /// When the file cannot be read or the scenario is invalid.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// Parse and check scenario text; `origin` names it in errors.
    ///
    /// # Errors
    /// When the YAML does not match the format, or the scenario is inconsistent (unknown
    /// references, a dependency cycle, a config that cannot be derived).
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let serde_problem = |e: &serde_yaml_ng::Error| {
            let (field, message) = split_serde_message(&e.to_string());
            let location = e.location();
            Problem {
                file: origin.into(),
                line: location.as_ref().map(serde_yaml_ng::Location::line),
                column: location.as_ref().map(serde_yaml_ng::Location::column),
                field,
                message,
            }
        };
        let locations = Locations::yaml(text);
        let mut scenario: Scenario = match with_base(text, origin)? {
            None => serde_yaml_ng::from_str(text).map_err(|e| ScenarioError::Invalid(vec![serde_problem(&e)]))?,
            // Through text again: serde_yaml_ng's `Value` deserializer only reads tagged enums.
            Some(merged) => {
                serde_yaml_ng::to_string(&merged).and_then(|t| serde_yaml_ng::from_str(&t)).map_err(|e| {
                    let mut p = serde_problem(&e);
                    (p.line, p.column) = (None, None);
                    if let Some((line, column)) = locations.locate(&unknown_field_path(&p)) {
                        (p.line, p.column) = (Some(line), Some(column));
                    }
                    ScenarioError::Invalid(vec![p])
                })?
            }
        };
        let located = |(field, message): (String, String)| {
            let pos = locations.locate(&field);
            Problem { file: origin.into(), line: pos.map(|p| p.0), column: pos.map(|p| p.1), field, message }
        };
        let problems = validate::check(&scenario);
        if !problems.is_empty() {
            return Err(ScenarioError::Invalid(problems.into_iter().map(located).collect()));
        }
        match config::derive(&scenario) {
            Ok(cfg) => scenario.config = Some(Arc::new(cfg)),
            Err(problems) => return Err(ScenarioError::Invalid(problems.into_iter().map(located).collect())),
        }
        Ok(scenario)
    }

    /// Check a scenario built or edited in code and derive its config again.
    ///
    /// # Errors
    /// As [`Scenario::parse`] (without line numbers).
    pub fn prepare(&mut self) -> Result<(), ScenarioError> {
        let unlocated = |(field, message): (String, String)| Problem {
            file: self.name.clone().into(),
            line: None,
            column: None,
            field,
            message,
        };
        let problems = validate::check(self);
        if !problems.is_empty() {
            return Err(ScenarioError::Invalid(problems.into_iter().map(unlocated).collect()));
        }
        let cfg = config::derive(self).map_err(|p| ScenarioError::Invalid(p.into_iter().map(unlocated).collect()))?;
        self.config = Some(Arc::new(cfg));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::split_serde_message;

    #[test]
    fn serde_messages_split_into_field_and_message() {
        let (f, m) = split_serde_message("nodes[0]: unknown field `bot`, expected `name` at line 3 column 5");
        assert_eq!(f, "nodes[0]");
        assert_eq!(m, "unknown field `bot`, expected `name`");
        let (f, m) = split_serde_message("missing field `name` at line 1 column 1");
        assert_eq!(f, "");
        assert_eq!(m, "missing field `name`");
        let (f, m) = split_serde_message("invalid type: integer `3`, expected a string at line 1 column 7");
        assert_eq!((f.as_str(), m.as_str()), ("", "invalid type: integer `3`, expected a string"), "not a field path");
    }
}
