//! The `ananke` command line: thin, over `ananke-core`.

use std::process::ExitCode;

/// Run the command line.
#[must_use]
pub fn run() -> ExitCode {
    ExitCode::SUCCESS
}
