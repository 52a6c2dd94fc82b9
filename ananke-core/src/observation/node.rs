//! What SSH says of a node: whether ananke reaches it, and the state of its k3s unit.

use serde::{Deserialize, Serialize};

/// What SSH said about a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", content = "detail", rename_all = "kebab-case")]
pub enum SshStatus {
    /// Not probed this cycle.
    #[default]
    Unknown,
    /// Connected and authenticated.
    Reachable,
    /// Could not connect (refused, timeout, no route).
    Unreachable(String),
    /// Connected but authentication or host-key verification failed.
    AuthFailed(String),
}

impl SshStatus {
    /// Connected and authenticated.
    #[must_use]
    pub fn is_reachable(&self) -> bool {
        matches!(self, SshStatus::Reachable)
    }
}

/// State of the node's k3s systemd unit, as seen over SSH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnitState {
    /// Not known (node unreachable or not asked).
    #[default]
    Unknown,
    /// `systemctl is-active` says active (or activating).
    Active,
    /// Stopped.
    Inactive,
    /// Failed.
    Failed,
}
