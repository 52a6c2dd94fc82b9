//! Loading: TODO(config helper) — placeholder API so the workspace compiles.

use super::model::Config;
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
    /// The config is invalid.
    #[error("invalid config")]
    Invalid(Vec<Problem>),
}

/// Load and validate the config at `path`.
///
/// # Errors
/// When the file cannot be read, does not parse, or fails validation.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    let format = if path.extension().is_some_and(|e| e == "toml") { Format::Toml } else { Format::Yaml };
    parse(&text, format, path)
}

/// Parse and validate config text.
///
/// # Errors
/// When it does not parse or fails validation.
pub fn parse(text: &str, format: Format, origin: &Path) -> Result<Config, ConfigError> {
    let _ = (format, origin);
    serde_yaml_ng::from_str(text).map_err(|e| {
        ConfigError::Invalid(vec![Problem {
            file: origin.to_owned(),
            line: None,
            column: None,
            field: String::new(),
            message: e.to_string(),
        }])
    })
}

/// The JSON Schema of the config.
#[must_use]
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
}
