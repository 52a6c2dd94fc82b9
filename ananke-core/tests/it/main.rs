//! ananke-core's integration tests: one binary, one module per area.

mod config;
mod fixtures;
mod gates;
mod machines;
