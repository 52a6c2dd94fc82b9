//! Remote commands: a closed set, rendered to a fixed argv in which every word is single-quoted.
//!
//! The remote side runs the command line through the login user's shell, so anything that is not
//! quoted is shell syntax. No variant of [`RemoteCommand`] carries a free string: unit names come
//! from [`K3sRole::unit`], and the only configurable words, the [`CommandPrefix`], are quoted like
//! every other word. A node's name or address never reaches a command line at all.

use super::error::SshError;
use crate::config::K3sRole;
use crate::observation::UnitState;

/// A command ananke runs on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoteCommand {
    /// `systemctl start <unit>`: idempotent, a running unit stays running.
    StartUnit(K3sRole),
    /// `systemctl stop <unit>`: idempotent, a stopped unit stays stopped.
    StopUnit(K3sRole),
    /// `k3s-killall.sh`: stops the containers and k3s processes a stopped unit leaves behind.
    KillAll,
    /// `systemctl is-active <unit>`: the state on stdout; the exit status is not a failure.
    IsActive(K3sRole),
    /// `systemctl poweroff`: powers the host off (only in `cluster-and-hosts` mode).
    PowerOff,
}

impl RemoteCommand {
    /// The fixed argv of this command, before any [`CommandPrefix`].
    #[must_use]
    pub fn argv(self) -> Vec<&'static str> {
        match self {
            RemoteCommand::StartUnit(role) => vec!["systemctl", "start", role.unit()],
            RemoteCommand::StopUnit(role) => vec!["systemctl", "stop", role.unit()],
            RemoteCommand::KillAll => vec!["k3s-killall.sh"],
            RemoteCommand::IsActive(role) => vec!["systemctl", "is-active", role.unit()],
            RemoteCommand::PowerOff => vec!["systemctl", "poweroff"],
        }
    }

    /// Whether the command needs root on the node, and so gets the [`CommandPrefix`]
    /// (`systemctl is-active` does not).
    #[must_use]
    pub fn privileged(self) -> bool {
        !matches!(self, RemoteCommand::IsActive(_))
    }

    /// Whether a non-zero exit status means the command failed.
    ///
    /// `systemctl is-active` answers with its exit status (3 for inactive), so for it a non-zero
    /// status is an answer, not a failure.
    #[must_use]
    pub fn fails_on_nonzero_exit(self) -> bool {
        !matches!(self, RemoteCommand::IsActive(_))
    }
}

/// Words put in front of every privileged remote command, such as `sudo -n` for a non-root user
/// (`ssh.command_prefix`), or a wrapper that hands the k3s unit commands to a test double.
///
/// Every word is quoted on its own, so a prefix can add arguments but never shell syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandPrefix(Vec<String>);

impl CommandPrefix {
    /// A prefix of these words.
    ///
    /// # Errors
    ///
    /// [`SshError::InvalidPrefix`] if a word is empty or holds a NUL byte, which no argv can carry.
    pub fn new<I, S>(words: I) -> Result<Self, SshError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let words: Vec<String> = words.into_iter().map(Into::into).collect();
        if let Some(bad) = words.iter().find(|w| w.is_empty() || w.contains('\0')) {
            return Err(SshError::InvalidPrefix { word: bad.clone() });
        }
        Ok(Self(words))
    }

    /// The words of the prefix.
    #[must_use]
    pub fn words(&self) -> &[String] {
        &self.0
    }
}

/// The command line sent to the node: the prefix and the command's argv, each word single-quoted.
#[must_use]
pub fn render(prefix: &CommandPrefix, command: RemoteCommand) -> String {
    let words = prefix.words().iter().map(String::as_str).chain(command.argv());
    words.map(shell_quote).collect::<Vec<_>>().join(" ")
}

/// Quotes one word for a POSIX shell: inside single quotes nothing is special except the single
/// quote itself, which is closed, escaped and reopened (`'` becomes `'\''`).
#[must_use]
pub fn shell_quote(word: &str) -> String {
    let mut quoted = String::with_capacity(word.len() + 2);
    quoted.push('\'');
    for c in word.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

/// The unit state that `systemctl is-active` printed.
///
/// `activating` and `reloading` count as active (the unit is up or coming up, as
/// [`UnitState::Active`] documents); anything unrecognised is [`UnitState::Unknown`].
#[must_use]
pub fn unit_state(is_active_stdout: &str) -> UnitState {
    match is_active_stdout.trim() {
        // `deactivating`: still stopping, k3s still runs.
        "active" | "activating" | "reloading" | "refreshing" | "deactivating" => UnitState::Active,
        "inactive" => UnitState::Inactive,
        "failed" => UnitState::Failed,
        _ => UnitState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_is_quoted() {
        let prefix = CommandPrefix::new(["sudo", "-n"]).unwrap();
        assert_eq!(
            render(&prefix, RemoteCommand::StartUnit(K3sRole::Agent)),
            "'sudo' '-n' 'systemctl' 'start' 'k3s-agent'"
        );
        assert_eq!(render(&CommandPrefix::default(), RemoteCommand::KillAll), "'k3s-killall.sh'");
    }

    #[test]
    fn quotes_cannot_be_escaped() {
        assert_eq!(shell_quote("x'; touch /tmp/pwned; '"), r"'x'\''; touch /tmp/pwned; '\'''");
        assert_eq!(shell_quote("$(id) `id` \\ \n"), "'$(id) `id` \\ \n'");
    }

    #[test]
    fn prefix_refuses_words_no_argv_can_carry() {
        assert!(matches!(CommandPrefix::new(["a\0b"]), Err(SshError::InvalidPrefix { .. })));
        assert!(matches!(CommandPrefix::new([""]), Err(SshError::InvalidPrefix { .. })));
    }

    #[test]
    fn is_active_answers_are_states_not_failures() {
        assert!(!RemoteCommand::IsActive(K3sRole::Server).fails_on_nonzero_exit());
        assert!(RemoteCommand::StopUnit(K3sRole::Server).fails_on_nonzero_exit());
        assert_eq!(unit_state("active\n"), UnitState::Active);
        assert_eq!(unit_state("inactive\n"), UnitState::Inactive);
        assert_eq!(unit_state("failed\n"), UnitState::Failed);
        assert_eq!(unit_state("unknown\n"), UnitState::Unknown);
    }
}
