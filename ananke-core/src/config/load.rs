//! Loading: read the file, deserialize it (YAML, or TOML by extension), validate it, and turn
//! every failure into a [`Problem`] that names the file, line, column and field.

use super::locate::{join, Locations, Position};
use super::model::Config;
use super::validate;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where ananke looks for its config when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/ananke/ananke.yaml";

/// Config file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML (`.yaml`, `.yml`, anything else).
    Yaml,
    /// TOML (`.toml`).
    Toml,
}

impl Format {
    /// The format of the file at `path`: TOML when its extension is `.toml`, YAML otherwise.
    #[must_use]
    pub fn of(path: &Path) -> Self {
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")) {
            Format::Toml
        } else {
            Format::Yaml
        }
    }
}

/// One problem found in a config, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (or `<string>`).
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Dotted path of the field (`startup.service_checklist[2].url`).
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Problem {
    fn new(file: &Path, at: Option<Position>, field: String, message: String) -> Self {
        Self { file: file.to_owned(), line: at.map(|p| p.line), column: at.map(|p| p.column), field, message }
    }
}

/// Renders `file:line:column: field: message`, leaving out what is unknown.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config is invalid: every problem found, in file order.
    #[error("invalid config: {}", render(.0))]
    Invalid(Vec<Problem>),
}

fn render(problems: &[Problem]) -> String {
    let count = match problems.len() {
        1 => "1 problem".to_owned(),
        n => format!("{n} problems"),
    };
    problems.iter().fold(count, |out, p| format!("{out}\n{p}"))
}

impl ConfigError {
    /// The problems of an invalid config (empty when the file could not be read).
    #[must_use]
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(problems) => problems,
            ConfigError::Read { .. } => &[],
        }
    }
}

/// Parse and validate config text; `origin` names the file in problems.
///
/// A syntax or type error stops at the first one; semantic problems are all reported.
///
/// # Errors
/// When it does not parse or fails validation.
pub fn parse(text: &str, format: Format, origin: &Path) -> Result<Config, ConfigError> {
    let config: Config = match format {
        Format::Yaml => serde_yaml_ng::from_str(text).map_err(|e| relocated(yaml_problem(&e, origin), text)),
        Format::Toml => toml::from_str(text).map_err(|e| toml_problem(&e, text, origin)),
    }
    .map_err(|p| ConfigError::Invalid(vec![p]))?;
    let findings = validate::check(&config);
    if findings.is_empty() {
        return Ok(config);
    }
    let locations = match format {
        Format::Yaml => Locations::yaml(text),
        Format::Toml => Locations::toml(text),
    };
    let mut problems: Vec<Problem> =
        findings.into_iter().map(|f| Problem::new(origin, locations.locate(&f.field), f.field, f.message)).collect();
    problems.sort_by_key(|p| (p.line.is_none(), p.line, p.column));
    Err(ConfigError::Invalid(problems))
}

/// Problems found after loading (`(field, message)`, the field dotted as in [`Problem`]), each
/// located in the config's `text` where its field is written; a field the text does not hold (or
/// an empty one) gets no line.
#[must_use]
pub fn locate(text: &str, format: Format, origin: &Path, findings: Vec<(String, String)>) -> Vec<Problem> {
    let locations = match format {
        Format::Yaml => Locations::yaml(text),
        Format::Toml => Locations::toml(text),
    };
    findings
        .into_iter()
        .map(|(field, message)| {
            let at = if field.is_empty() { None } else { locations.locate(&field) };
            Problem::new(origin, at, field, message)
        })
        .collect()
}

/// Validate a config built in code rather than read from a file (a simulator's derived config):
/// the semantic checks of [`parse`], with problems that name their field but no line.
///
/// # Errors
/// When the config fails validation; `origin` names it in the problems.
pub fn check(config: &Config, origin: &Path) -> Result<(), ConfigError> {
    let problems: Vec<Problem> =
        validate::check(config).into_iter().map(|f| Problem::new(origin, None, f.field, f.message)).collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// The JSON Schema of the config.
#[must_use]
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
}

/// A `serde_yaml_ng` error: its location, and the field path it prefixes its message with.
fn yaml_problem(error: &serde_yaml_ng::Error, origin: &Path) -> Problem {
    let at = error.location().map(|l| Position { line: l.line(), column: l.column() });
    let mut text = error.to_string();
    if let Some(l) = error.location() {
        // The location is in the problem already; a syntax error may also name its context.
        text = text.replacen(&format!(" at line {} column {}", l.line(), l.column()), "", 1);
    }
    // The message is `path: message`, or just `message` at the root or for a syntax error.
    let (path, message) = match text.split_once(": ") {
        Some((path, rest)) if is_field_path(path) => (path.to_owned(), rest.to_owned()),
        _ => (String::new(), text),
    };
    let (field, message) = explain(&path, &message);
    Problem::new(origin, at, field, message)
}

/// A deserializer problem moved to where it is: a duplicate key to its second occurrence (serde
/// stops at the mapping), a field missing at the top level to the end of the file, which says how
/// the file ends (a truncated file is the usual cause).
fn relocated(mut problem: Problem, text: &str) -> Problem {
    if problem.message.starts_with("duplicate field") {
        if let Some(at) = Locations::yaml(text).again(&problem.field) {
            (problem.line, problem.column) = (Some(at.line), Some(at.column));
        }
    }
    if problem.message.starts_with("missing field") {
        let end = super::locate::LineIndex::new(text).position(text.trim_end().len());
        let how = if text.ends_with('\n') { "" } else { " mid-line, without a final newline" };
        let root = !problem.field.contains(['.', '[']);
        if root || !how.is_empty() {
            problem.message = format!(
                "{}; the file ends at line {}{how}: if it was cut short (a partial copy, a full disk), restore it, \
                 otherwise add `{}`",
                problem.message,
                end.line,
                problem.field.rsplit(['.', ']']).next().unwrap_or_default()
            );
        }
        if root {
            (problem.line, problem.column) = (Some(end.line), Some(end.column));
        }
    }
    problem
}

/// A toml error: its span gives the location, and the field written there gives the path.
fn toml_problem(error: &toml::de::Error, text: &str, origin: &Path) -> Problem {
    let span = error.span();
    let at = span.as_ref().map(|s| super::locate::LineIndex::new(text).position(s.start));
    let locations = Locations::toml(text);
    let mut path = span.and_then(|s| locations.path_at(s.start)).unwrap_or_default().to_owned();
    // An unknown field's span is its own key; `explain` wants the mapping that holds it.
    if unknown_name(error.message(), "unknown field").is_some() {
        path = super::locate::parent(&path).unwrap_or_default().to_owned();
    }
    let (field, message) = explain(&path, error.message().trim_end());
    Problem::new(origin, at, field, message)
}

/// Whether `s` looks like `serde_yaml_ng`'s field path (`startup.service_checklist[0]`).
fn is_field_path(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.[]?".contains(c))
}

/// The field a deserializer message is about, and the message with a suggestion where one helps.
///
/// `path` is where the deserializer was: for a missing or unknown field, the mapping holding it.
fn explain(path: &str, message: &str) -> (String, String) {
    if let Some(name) = unknown_name(message, "missing field") {
        return (join(path, name), format!("missing field `{name}`"));
    }
    if let Some(name) = unknown_name(message, "duplicate field") {
        return (join(path, name), format!("duplicate field `{name}`; each field is written once"));
    }
    for (prefix, what) in [("unknown field", "field"), ("unknown variant", "value")] {
        if let Some(name) = unknown_name(message, prefix) {
            let expected = expected_names(message);
            let field = if what == "field" { join(path, name) } else { path.to_owned() };
            let message = match nearest(name, &expected) {
                Some(best) => format!("{prefix} `{name}`, did you mean `{best}`?"),
                None if expected.is_empty() => message.to_owned(),
                None => format!("{prefix} `{name}`, expected one of {}", quoted(&expected)),
            };
            return (field, message);
        }
    }
    (path.to_owned(), message.to_owned())
}

/// The name in `` PREFIX `name` `` at the start of a serde message.
fn unknown_name<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    message.strip_prefix(prefix)?.strip_prefix(" `")?.split('`').next()
}

/// The names serde lists after `expected` (`` expected one of `a`, `b` ``).
fn expected_names(message: &str) -> Vec<&str> {
    let Some((_, list)) = message.split_once(", expected ") else { return Vec::new() };
    list.split('`').skip(1).step_by(2).collect()
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The candidate nearest to `name`, if it is near enough to be a plausible typo.
fn nearest<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_gets_the_nearest_name() {
        let msg = "unknown field `service_checklst`, expected one of `service_checklist`, `deadline`";
        let (field, message) = explain("startup", msg);
        assert_eq!(field, "startup.service_checklst");
        assert_eq!(message, "unknown field `service_checklst`, did you mean `service_checklist`?");
    }

    #[test]
    fn unknown_field_far_from_everything_lists_the_expected_names() {
        let (field, message) = explain("", "unknown field `zzz`, expected `role` or `peer_hosts`");
        assert_eq!(field, "zzz");
        assert_eq!(message, "unknown field `zzz`, expected one of `role`, `peer_hosts`");
    }

    #[test]
    fn unknown_variant_stays_on_its_field() {
        let (field, message) =
            explain("coordination.role", "unknown variant `coordinater`, expected `coordinator` or `peer`");
        assert_eq!(field, "coordination.role");
        assert_eq!(message, "unknown variant `coordinater`, did you mean `coordinator`?");
    }

    #[test]
    fn missing_field_names_the_field() {
        let (field, message) = explain("startup.service_checklist[0]", "missing field `url`");
        assert_eq!((field.as_str(), message.as_str()), ("startup.service_checklist[0].url", "missing field `url`"));
    }

    #[test]
    fn problem_display_leaves_out_what_is_unknown() {
        let mut p =
            Problem::new(Path::new("a.yaml"), Some(Position { line: 3, column: 7 }), "x.y".into(), "bad".into());
        assert_eq!(p.to_string(), "a.yaml:3:7: x.y: bad");
        p.line = None;
        p.field.clear();
        assert_eq!(p.to_string(), "a.yaml: bad");
    }

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(Format::of(Path::new("/etc/ananke/ananke.toml")), Format::Toml);
        assert_eq!(Format::of(Path::new(DEFAULT_CONFIG_PATH)), Format::Yaml);
        assert_eq!(Format::of(Path::new("ananke")), Format::Yaml);
    }
}
