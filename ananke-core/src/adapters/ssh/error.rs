//! Errors of the SSH adapter, each documented as transient (a retry may succeed) or permanent
//! (only a change of config, key or host fixes it).

use crate::observation::SshStatus;
use std::path::PathBuf;
use std::time::Duration;

/// Why talking to a node over SSH failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SshError {
    /// Permanent: the configured address is neither an IP address nor a valid host name, so it is
    /// never resolved nor connected to.
    #[error("node {node}: address {address:?} is neither an IP address nor a host name")]
    InvalidAddress {
        /// Node name.
        node: String,
        /// The address as configured.
        address: String,
    },
    /// Transient: name resolution, the TCP connection or the SSH handshake failed.
    #[error("node {node}: cannot connect to {target}: {reason}")]
    Connect {
        /// Node name.
        node: String,
        /// `address:port`.
        target: String,
        /// What failed.
        reason: String,
    },
    /// Transient: no authenticated session within the connect timeout.
    #[error("node {node}: no SSH session with {target} within {after:?}")]
    ConnectTimeout {
        /// Node name.
        node: String,
        /// `address:port`.
        target: String,
        /// The timeout.
        after: Duration,
    },
    /// Permanent: the node presented a host key that the `known_hosts` file does not record.
    #[error("node {node}: host key {fingerprint} of {host} is not in {known_hosts}; refused")]
    UnknownHostKey {
        /// Node name.
        node: String,
        /// The `known_hosts` name looked up (`address` or `[address]:port`).
        host: String,
        /// SHA256 fingerprint of the presented key (`SHA256:...`).
        fingerprint: String,
        /// The `known_hosts` file.
        known_hosts: PathBuf,
    },
    /// Permanent: the node presented a host key other than the one `known_hosts` records for it.
    #[error("node {node}: host key of {host} changed: presented {fingerprint}, {known_hosts} line {line} records another; refused")]
    ChangedHostKey {
        /// Node name.
        node: String,
        /// The `known_hosts` name looked up (`address` or `[address]:port`).
        host: String,
        /// SHA256 fingerprint of the presented key (`SHA256:...`).
        fingerprint: String,
        /// The `known_hosts` file.
        known_hosts: PathBuf,
        /// The line that records the other key.
        line: usize,
    },
    /// Permanent: the host key was refused and a second look could not say more (for example the
    /// `known_hosts` file is unreadable).
    #[error("node {node}: host key {fingerprint} of {host} refused: {reason}")]
    HostKeyRefused {
        /// Node name.
        node: String,
        /// The `known_hosts` name looked up.
        host: String,
        /// SHA256 fingerprint of the presented key, or `unknown fingerprint`.
        fingerprint: String,
        /// Why.
        reason: String,
    },
    /// Permanent: the node refused the client key.
    #[error("node {node}: {target} refused public key authentication as {user}")]
    AuthRejected {
        /// Node name.
        node: String,
        /// `address:port`.
        target: String,
        /// Remote user.
        user: String,
    },
    /// Permanent: the identity file cannot be read or is not a usable private key.
    #[error("identity file {path}: {reason}")]
    Identity {
        /// The configured identity file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Transient: the command did not finish within the command timeout. It may still finish on
    /// the node (SSH cannot stop a command without a terminal); the commands are idempotent, so a
    /// retry is safe.
    #[error("node {node}: `{command}` did not finish within {after:?}")]
    CommandTimeout {
        /// Node name.
        node: String,
        /// The command line.
        command: String,
        /// The timeout.
        after: Duration,
    },
    /// Permanent: the host refused to run the command for ananke's user (`sudo` wants a password
    /// or has no rule for it, polkit wants interactive authentication, permission denied, exit
    /// status 4). Asking again changes nothing; the sudoers rule or the user must change.
    #[error("node {node}: `{command}` was refused (exit status {exit_status}): {stderr}")]
    Refused {
        /// Node name.
        node: String,
        /// The command line.
        command: String,
        /// Its exit status.
        exit_status: u32,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// Permanent: a unit command that cannot succeed by repeating it (`systemctl stop` or
    /// `poweroff` that exited non-zero, a unit that does not exist).
    #[error("node {node}: `{command}` failed with exit status {exit_status}: {stderr}")]
    CommandRejected {
        /// Node name.
        node: String,
        /// The command line.
        command: String,
        /// Its exit status.
        exit_status: u32,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// Transient: `systemctl start` exited non-zero for another reason (k3s may fail to start
    /// until its peers are up); a retry is allowed.
    #[error("node {node}: `{command}` exited with {exit_status}: {stderr}")]
    CommandFailed {
        /// Node name.
        node: String,
        /// The command line.
        command: String,
        /// Its exit status.
        exit_status: u32,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// Transient: an established session broke (channel refused, connection lost).
    #[error("node {node}: SSH session lost: {reason}")]
    Session {
        /// Node name.
        node: String,
        /// What failed.
        reason: String,
    },
    /// Permanent: no node of this name in the fleet.
    #[error("no node named {node:?} in the SSH fleet")]
    UnknownNode {
        /// The name asked for.
        node: String,
    },
    /// Permanent: a command prefix word that no argv can carry (empty, or with a NUL byte).
    #[error("command prefix word {word:?} is empty or holds a NUL byte")]
    InvalidPrefix {
        /// The word.
        word: String,
    },
}

/// What a privileged command's failure means: the standard error of `sudo -n`, polkit and
/// systemd when the user may not do it, or LSB exit status 4 ("insufficient privilege").
const REFUSALS: &[&str] = &[
    "a password is required",
    "a terminal is required",
    "is not allowed to",
    "not in the sudoers file",
    "may not run sudo",
    "Interactive authentication required",
    "Access denied",
    "Permission denied",
    "Operation not permitted",
];

impl SshError {
    /// The error for `command` on `node` exiting with `exit_status`: a refusal, a permanent
    /// failure (anything but `systemctl start` failing, or a unit that does not exist), or a
    /// transient one.
    #[must_use]
    pub fn from_exit(
        node: &str,
        command: super::RemoteCommand,
        line: String,
        exit_status: u32,
        stderr: &str,
    ) -> SshError {
        let (node, stderr) = (node.to_owned(), stderr.trim().to_owned());
        if exit_status == 4 || REFUSALS.iter().any(|r| stderr.contains(r)) {
            return SshError::Refused { node, command: line, exit_status, stderr };
        }
        let missing = exit_status == 5 || stderr.contains("not found") || stderr.contains("not loaded");
        if missing || !matches!(command, super::RemoteCommand::StartUnit(_)) {
            return SshError::CommandRejected { node, command: line, exit_status, stderr };
        }
        SshError::CommandFailed { node, command: line, exit_status, stderr }
    }

    /// Whether a retry may succeed without any change of config, keys or hosts.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SshError::Connect { .. }
                | SshError::ConnectTimeout { .. }
                | SshError::CommandTimeout { .. }
                | SshError::CommandFailed { .. }
                | SshError::Session { .. }
        )
    }

    /// What this error says about the node's SSH gate: unreachable, authentication (or host key)
    /// failed, or `None` when the node was reached and authenticated and only a command failed.
    #[must_use]
    pub fn ssh_status(&self) -> Option<SshStatus> {
        match self {
            SshError::InvalidAddress { .. }
            | SshError::Connect { .. }
            | SshError::ConnectTimeout { .. }
            | SshError::Session { .. }
            | SshError::UnknownNode { .. } => Some(SshStatus::Unreachable(self.to_string())),
            SshError::UnknownHostKey { .. }
            | SshError::ChangedHostKey { .. }
            | SshError::HostKeyRefused { .. }
            | SshError::AuthRejected { .. }
            | SshError::Identity { .. } => Some(SshStatus::AuthFailed(self.to_string())),
            SshError::CommandTimeout { .. }
            | SshError::CommandFailed { .. }
            | SshError::Refused { .. }
            | SshError::CommandRejected { .. }
            | SshError::InvalidPrefix { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SshError;
    use crate::adapters::ssh::RemoteCommand;
    use crate::config::K3sRole;

    fn exit(command: RemoteCommand, status: u32, stderr: &str) -> SshError {
        SshError::from_exit("n1", command, "line".to_owned(), status, stderr)
    }

    #[test]
    fn a_refusal_a_rejection_and_a_failed_start_are_told_apart() {
        let stop = RemoteCommand::StopUnit(K3sRole::Agent);
        let start = RemoteCommand::StartUnit(K3sRole::Server);
        for (status, stderr) in [
            (1, "sudo: a password is required\n"),
            (1, "Sorry, user ananke is not allowed to execute '/usr/bin/systemctl stop k3s' as root on n1."),
            (1, "Failed to stop k3s.service: Interactive authentication required."),
            (4, "Failed to stop k3s.service: Access denied"),
            (4, ""),
        ] {
            let err = exit(stop, status, stderr);
            assert!(matches!(&err, SshError::Refused { stderr: s, .. } if *s == stderr.trim()), "{err:?}");
            assert!(!err.is_transient() && err.ssh_status().is_none(), "{err}");
        }
        for (command, status, stderr) in [
            (stop, 1, "Job for k3s-agent.service canceled."),
            (start, 5, "Failed to start k3s.service: Unit k3s.service not found."),
            (RemoteCommand::PowerOff, 1, "Call to PowerOff failed"),
        ] {
            let err = exit(command, status, stderr);
            assert!(matches!(err, SshError::CommandRejected { .. }), "{err:?}");
            assert!(!err.is_transient(), "{err}");
        }
        let err = exit(start, 1, "Job for k3s.service failed because the control process exited with error code.");
        assert!(matches!(err, SshError::CommandFailed { .. }) && err.is_transient(), "{err:?}");
        assert_eq!(
            exit(stop, 1, "sudo: a password is required").to_string(),
            "node n1: `line` was refused (exit status 1): sudo: a password is required"
        );
    }
}
