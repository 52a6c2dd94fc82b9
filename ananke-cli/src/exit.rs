//! Exit codes: the only place they are defined. Scripts and the systemd units rely on them.

use std::process::ExitCode;

/// The run did what was asked: startup reached Ready, shutdown reached Off, a check passed.
pub const SUCCESS: u8 = 0;
/// Startup ended without every gate passing (or shutdown failed a step).
pub const GATES_NOT_PASSED: u8 = 1;
/// Bad flags, or a config / scenario / state file that cannot be used.
pub const USAGE_OR_CONFIG: u8 = 2;
/// Another ananke run holds the lock on this host (or a peer runs one).
pub const LOCK_HELD: u8 = 3;
/// The run was aborted by a power event or a signal.
pub const ABORTED: u8 = 4;
/// The run's deadline passed before it finished.
pub const DEADLINE_EXCEEDED: u8 = 5;
/// The state dir could not be written (journal, reports): ananke stops before changing more.
pub const STATE_IO: u8 = 6;
/// The run ended but some of its steps were never observed done (a node that did not answer, a
/// refused `systemctl`, the API down): the report lists each with its cause.
pub const INCOMPLETE: u8 = 7;

/// Every documented code with its meaning (rendered in `--help` and the README).
pub const TABLE: &[(u8, &str)] = &[
    (SUCCESS, "success"),
    (GATES_NOT_PASSED, "gates not passed / run failed"),
    (USAGE_OR_CONFIG, "usage, config or input file error"),
    (LOCK_HELD, "lock held by another run"),
    (ABORTED, "aborted by a power event or signal"),
    (DEADLINE_EXCEEDED, "deadline exceeded"),
    (STATE_IO, "state dir not writable"),
    (INCOMPLETE, "incomplete: steps not observed done (see the report)"),
];

/// `code` as a process exit code.
#[must_use]
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}
