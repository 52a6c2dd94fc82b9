//! Reading the config file: the one file read of the configuration, kept out of the pure
//! `config` module (which parses and validates text).

use crate::config::{parse, Config, ConfigError, Format};
use std::path::Path;

/// Load and validate the config at `path` (TOML when its extension is `.toml`, YAML otherwise).
///
/// # Errors
/// When the file cannot be read, does not parse, or fails validation.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    parse(&text, Format::of(path), path)
}
