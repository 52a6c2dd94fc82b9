//! One module per subcommand; each `Args` struct has an `exec` method returning an exit code.

pub mod bootstrap;
pub mod config;
pub mod daemon;
pub mod report;
mod run;
mod run_json;
pub mod shutdown;
pub mod startup;
pub mod status;
