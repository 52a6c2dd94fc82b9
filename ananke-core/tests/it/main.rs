//! ananke-core's integration tests: one binary, one module per area.

mod config;
mod config_schema;
mod drill_record;
mod fixtures;
mod gates;
mod machines;
mod parsers;
