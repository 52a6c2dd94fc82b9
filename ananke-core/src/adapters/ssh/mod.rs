//! The nodes port over SSH (async-ssh2-tokio): reachability and authentication of every node, the
//! state of its k3s unit, and the k3s unit commands.
//!
//! A [`NodeFleet`] keeps one session per node open between observation cycles, so a later cycle
//! costs one round trip per node instead of a key exchange; a session found broken is reopened
//! once, within the same cycle. Fan-out runs at most `ssh.concurrency` nodes at a time. Every call
//! is bounded: opening a session by `ssh.connect_timeout`, a command by `ssh.command_timeout`.
//! Host keys are verified against `ssh.known_hosts`; an unknown or changed key is refused with an
//! error naming the host and the presented key's fingerprint. Commands are a closed enum rendered
//! with every word quoted (see [`command`]).

pub mod command;
mod connect;
pub mod error;
// The peer check (coordination between hosts) reads a peer's run lock, so it needs the state
// dir's lock model (feature `store`, which `runner` brings).
#[cfg(feature = "store")]
pub mod peer;

pub use command::{CommandPrefix, RemoteCommand};
pub use error::SshError;
#[cfg(feature = "store")]
pub use peer::{PeerCheck, PeerReport, PeerState};

use crate::config::{K3sRole, Node, SshSettings};
use crate::observation::{SshStatus, UnitState};
use async_ssh2_tokio::Client;
use connect::{Credentials, Endpoint};
use futures_util::stream::{self, StreamExt};
use std::time::Duration;
use tokio::sync::Mutex;

/// Options of a fleet that are not part of the operator's `ssh` settings.
#[derive(Debug, Clone, Default)]
pub struct FleetOptions {
    /// Words put in front of every privileged remote command (`sudo -n`, or a test wrapper).
    pub command_prefix: CommandPrefix,
}

/// What one probe cycle found on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeProbe {
    /// Node name.
    pub node: String,
    /// Reachability and authentication.
    pub ssh: SshStatus,
    /// The node's k3s unit (`k3s` or `k3s-agent` by role); unknown unless the session answered.
    pub k3s_unit: UnitState,
}

/// What a remote command printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit status.
    pub exit_status: u32,
}

/// One session per node, kept open across cycles.
pub struct NodeFleet {
    nodes: Vec<Slot>,
    creds: Credentials,
    command_timeout: Duration,
    concurrency: usize,
    prefix: CommandPrefix,
    /// For the commands that need no privilege.
    no_prefix: CommandPrefix,
}

/// A node and its session, if one is open. The lock also makes concurrent callers wait for one
/// connect instead of each opening their own.
struct Slot {
    node: Node,
    session: Mutex<Option<Client>>,
}

/// A session and whether it was opened by this call (a fresh one is not re-checked).
struct Session {
    client: Client,
    fresh: bool,
}

impl std::fmt::Debug for NodeFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.nodes.iter().map(|s| s.node.name.as_str()).collect();
        f.debug_struct("NodeFleet")
            .field("nodes", &names)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl NodeFleet {
    /// A fleet over these nodes; nothing is connected until the first cycle or command.
    ///
    /// # Errors
    ///
    /// [`SshError::Identity`] (permanent) if the identity file is not a readable, unencrypted
    /// private key; it is checked here so a bad key is one clear error, not one per node.
    pub fn new(settings: &SshSettings, nodes: &[Node], options: FleetOptions) -> Result<Self, SshError> {
        russh::keys::load_secret_key(&settings.identity_file, None)
            .map_err(|e| SshError::Identity { path: settings.identity_file.clone(), reason: e.to_string() })?;
        let creds = Credentials {
            user: settings.user.clone(),
            identity_file: settings.identity_file.clone(),
            known_hosts: settings.known_hosts.clone(),
            connect_timeout: settings.connect_timeout.get(),
        };
        Ok(Self {
            nodes: nodes.iter().map(|n| Slot { node: n.clone(), session: Mutex::new(None) }).collect(),
            creds,
            command_timeout: settings.command_timeout.get(),
            concurrency: usize::try_from(settings.concurrency.max(1)).unwrap_or(usize::MAX),
            prefix: options.command_prefix,
            no_prefix: CommandPrefix::default(),
        })
    }

    /// The reachability-and-authentication gate's input: every node's [`SshStatus`], in
    /// inventory order. An open session is checked with one round trip (a channel opened and
    /// closed, no remote process); a missing or broken one is (re)opened.
    pub async fn check_all(&self) -> Vec<(String, SshStatus)> {
        self.fan_out(|slot| async move {
            let status = match self.live_session(slot).await {
                Ok(_) => SshStatus::Reachable,
                Err(e) => e.ssh_status().unwrap_or(SshStatus::Reachable),
            };
            (slot.node.name.clone(), status)
        })
        .await
    }

    /// One observation cycle over every node, in inventory order: reachability and
    /// authentication, and the state of the node's k3s unit (`systemctl is-active`).
    pub async fn probe_all(&self) -> Vec<NodeProbe> {
        self.fan_out(|slot| async move {
            let (ssh, k3s_unit) = match self.exec(slot, RemoteCommand::IsActive(slot.node.role)).await {
                Ok(out) => (SshStatus::Reachable, command::unit_state(&out.stdout)),
                Err(e) => (e.ssh_status().unwrap_or(SshStatus::Reachable), UnitState::Unknown),
            };
            NodeProbe { node: slot.node.name.clone(), ssh, k3s_unit }
        })
        .await
    }

    /// Runs one command on the named node.
    ///
    /// # Errors
    ///
    /// Any [`SshError`]: connecting, a host key or authentication, the command timeout, or (for
    /// every command but [`RemoteCommand::IsActive`]) a non-zero exit status.
    pub async fn run(&self, node: &str, command: RemoteCommand) -> Result<CommandOutput, SshError> {
        let slot = self.slot(node)?;
        let out = self.exec(slot, command).await?;
        if command.fails_on_nonzero_exit() && out.exit_status != 0 {
            let line = command::render(self.prefix_for(command), command);
            return Err(SshError::from_exit(node, command, line, out.exit_status, &out.stderr));
        }
        Ok(out)
    }

    /// The role of the named node, which picks its k3s unit.
    ///
    /// # Errors
    ///
    /// [`SshError::UnknownNode`] if the fleet has no such node.
    pub fn role(&self, node: &str) -> Result<K3sRole, SshError> {
        Ok(self.slot(node)?.node.role)
    }

    /// How many sessions are open now.
    pub async fn open_sessions(&self) -> usize {
        let mut open = 0;
        for slot in &self.nodes {
            if slot.session.lock().await.as_ref().is_some_and(|c| !c.is_closed()) {
                open += 1;
            }
        }
        open
    }

    /// Closes every session (politely: an SSH disconnect, not just a dropped socket).
    pub async fn close(&self) {
        self.fan_out(|slot| async move {
            if let Some(client) = slot.session.lock().await.take() {
                // The session is going away either way; a failed goodbye changes nothing.
                let _ = client.disconnect().await;
            }
        })
        .await;
    }

    fn slot(&self, node: &str) -> Result<&Slot, SshError> {
        self.nodes.iter().find(|s| s.node.name == node).ok_or_else(|| SshError::UnknownNode { node: node.to_owned() })
    }

    async fn fan_out<'a, F, Fut, T>(&'a self, per_node: F) -> Vec<T>
    where
        F: FnMut(&'a Slot) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        stream::iter(&self.nodes).map(per_node).buffered(self.concurrency).collect().await
    }

    fn endpoint(slot: &Slot) -> Endpoint<'_> {
        Endpoint { node: &slot.node.name, address: &slot.node.address, port: slot.node.ssh_port }
    }

    /// The node's session, opened if there is none or the last one closed.
    async fn session(&self, slot: &Slot) -> Result<Session, SshError> {
        let mut guard = slot.session.lock().await;
        if let Some(client) = guard.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Session { client: client.clone(), fresh: false });
        }
        *guard = None;
        let client = connect::open(&self.creds, Self::endpoint(slot)).await?;
        *guard = Some(client.clone());
        Ok(Session { client, fresh: true })
    }

    /// A session that has just answered. A kept one must open and close a channel: if it fails
    /// to, it is reopened once; if it does not answer within the connect timeout, it is dropped
    /// and the node reported unreachable (a second wait would most likely time out too).
    async fn live_session(&self, slot: &Slot) -> Result<Client, SshError> {
        let session = self.session(slot).await?;
        if session.fresh {
            return Ok(session.client);
        }
        let ping = async {
            let channel = session.client.get_channel().await?;
            channel.close().await.map_err(async_ssh2_tokio::Error::from)
        };
        match tokio::time::timeout(self.creds.connect_timeout, ping).await {
            Ok(Ok(())) => Ok(session.client),
            Ok(Err(_)) => {
                *slot.session.lock().await = None;
                Ok(self.session(slot).await?.client)
            }
            Err(_) => {
                *slot.session.lock().await = None;
                let ep = Self::endpoint(slot);
                Err(SshError::ConnectTimeout {
                    node: ep.node.to_owned(),
                    target: ep.target(),
                    after: self.creds.connect_timeout,
                })
            }
        }
    }

    /// The prefix of `command`: the configured one for a privileged command, none for
    /// `systemctl is-active`, which any user may run.
    fn prefix_for(&self, command: RemoteCommand) -> &CommandPrefix {
        if command.privileged() {
            &self.prefix
        } else {
            &self.no_prefix
        }
    }

    /// Runs a command over the node's session; a kept session that turns out broken is reopened
    /// once (the commands are idempotent, so a repeat is harmless).
    async fn exec(&self, slot: &Slot, command: RemoteCommand) -> Result<CommandOutput, SshError> {
        self.exec_line(slot, &command::render(self.prefix_for(command), command)).await
    }

    /// Runs an already rendered (every word quoted) command line, as [`Self::exec`] does.
    async fn exec_line(&self, slot: &Slot, line: &str) -> Result<CommandOutput, SshError> {
        let session = self.session(slot).await?;
        match self.exec_on(slot, &session.client, line).await {
            Err(SshError::Session { .. }) if !session.fresh => {
                *slot.session.lock().await = None;
                let session = self.session(slot).await?;
                self.exec_on(slot, &session.client, line).await
            }
            other => other,
        }
    }

    async fn exec_on(&self, slot: &Slot, client: &Client, line: &str) -> Result<CommandOutput, SshError> {
        let node = slot.node.name.clone();
        match tokio::time::timeout(self.command_timeout, client.execute(line)).await {
            Ok(Ok(out)) => Ok(CommandOutput { stdout: out.stdout, stderr: out.stderr, exit_status: out.exit_status }),
            Ok(Err(e)) => Err(SshError::Session { node, reason: e.to_string() }),
            Err(_) => Err(SshError::CommandTimeout { node, command: line.to_owned(), after: self.command_timeout }),
        }
    }
}
