//! Configuration: the model, loading (YAML, or TOML by extension), validation with precise
//! locations, and the JSON Schema for editors.

mod defaults;
mod duration;
mod files;
mod limits;
mod load;
mod locate;
mod model;
mod settings;
mod validate;

/// Reading the file is I/O: it lives in the `store` feature.
#[cfg(feature = "store")]
pub use crate::store::config_file::{check_files, load};
pub use duration::HumanDuration;
pub use files::{referenced_files, FileRef, FileUse};
pub use load::{check, locate, parse, schema, ConfigError, Format, Problem, DEFAULT_CONFIG_PATH};
pub use model::*;
pub use validate::warnings;
