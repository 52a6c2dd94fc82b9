//! The configuration model: every field an operator sets in `/etc/ananke/ananke.yaml`.
//!
//! Field names marked "seed" are fixed by the original operator's README and must not change.
//! Every struct rejects unknown fields so a typo is an error, never a silent default.

#[allow(clippy::wildcard_imports)] // the `default = "..."` functions, named only in attributes
use super::defaults::*;
use super::duration::HumanDuration;
use super::limits::{ABSOLUTE, ADDRESS, GIT_URL, HTTP_URL, NODE_NAME, NON_BLANK, UPS_NAME};
pub use super::settings::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The whole configuration of one ananke host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the cluster, used in reports and traces.
    #[schemars(pattern(NON_BLANK))]
    pub cluster_name: String,
    /// Where progress, reports, the journal and the run history live.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// How often a startup or shutdown observes the cluster while it waits (the machines' own
    /// deadlines wake it earlier).
    #[serde(default = "d_5s")]
    pub observe_interval: HumanDuration,
    /// (seed) The URL the Flux `GitRepository` must point at for the drift guard to pass.
    #[schemars(pattern(GIT_URL))]
    pub expected_flux_source_url: String,
    /// (seed) The branch the Flux `GitRepository` must track for the drift guard to pass.
    #[schemars(pattern(NON_BLANK))]
    pub expected_flux_branch: String,
    /// The node inventory: every host of the cluster.
    pub inventory: Inventory,
    /// How ananke reaches the nodes over SSH.
    pub ssh: SshSettings,
    /// How ananke reaches the Kubernetes API.
    #[serde(default)]
    pub kubernetes: KubernetesSettings,
    /// Power domains: which UPS feeds which nodes. Every node is in exactly one.
    pub power_domains: Vec<PowerDomain>,
    /// The Flux objects ananke guards, suspends and resumes.
    pub flux: FluxSettings,
    /// Startup behaviour and the checklists that decide "startup complete".
    pub startup: StartupSettings,
    /// Vault: where its pods are and how they are unsealed.
    #[serde(default)]
    pub vault: Option<VaultSettings>,
    /// The stability soak that ends a startup.
    #[serde(default)]
    pub soak: SoakSettings,
    /// The graceful shutdown.
    #[serde(default)]
    pub shutdown: ShutdownSettings,
    /// The power daemon's UPS policy.
    #[serde(default)]
    pub daemon: DaemonSettings,
    /// Coordination between the hosts that may run ananke.
    pub coordination: Coordination,
}

pub(super) fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/ananke")
}

/// The node inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Every node of the cluster.
    #[schemars(length(min = 1))]
    pub nodes: Vec<Node>,
}

/// One host of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// The Kubernetes node name (also the host name in reports).
    #[schemars(pattern(NODE_NAME), length(max = 253))]
    pub name: String,
    /// Address ananke connects to over SSH (IP or host name).
    #[schemars(pattern(ADDRESS))]
    pub address: String,
    /// SSH port (default 22).
    #[serde(default = "default_ssh_port")]
    #[schemars(range(min = 1))]
    pub ssh_port: u16,
    /// The node's k3s role.
    pub role: K3sRole,
}

fn default_ssh_port() -> u16 {
    22
}

/// A node's k3s role: servers run the control plane and the datastore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum K3sRole {
    /// `k3s.service`: control plane (and embedded etcd member).
    Server,
    /// `k3s-agent.service`: worker.
    Agent,
}

impl K3sRole {
    /// The systemd unit that runs k3s in this role.
    #[must_use]
    pub fn unit(self) -> &'static str {
        match self {
            K3sRole::Server => "k3s",
            K3sRole::Agent => "k3s-agent",
        }
    }
}

/// SSH settings shared by every node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshSettings {
    /// Remote user.
    pub user: String,
    /// Private key used for authentication.
    pub identity_file: PathBuf,
    /// `known_hosts` file every host key is verified against.
    pub known_hosts: PathBuf,
    /// Timeout for connecting and authenticating.
    #[serde(default = "d_10s")]
    pub connect_timeout: HumanDuration,
    /// Timeout for one remote command.
    #[serde(default = "d_2m")]
    pub command_timeout: HumanDuration,
    /// Maximum concurrent SSH sessions.
    #[serde(default = "default_ssh_concurrency")]
    #[schemars(range(min = 1))]
    pub concurrency: u32,
    /// Words put before every privileged remote command (`systemctl start|stop`, `k3s-killall.sh`,
    /// `systemctl poweroff`), such as `[sudo, -n]` for a non-root `ssh.user`; empty by default.
    #[serde(default)]
    pub command_prefix: Vec<String>,
}

fn default_ssh_concurrency() -> u32 {
    64
}

/// How ananke reaches the Kubernetes API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSettings {
    /// kubeconfig file. Unset: `--kubeconfig`, then `KUBECONFIG`, then `~/.kube/config`, then the
    /// file k3s writes, `/etc/rancher/k3s/k3s.yaml` (a set `--kubeconfig` beats this field too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context (`--context` beats it). Unset: the kubeconfig's `current-context`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Timeout of one API request.
    #[serde(default = "d_10s")]
    pub request_timeout: HumanDuration,
}

impl Default for KubernetesSettings {
    fn default() -> Self {
        Self { kubeconfig: None, context: None, request_timeout: d_10s() }
    }
}

/// A power domain: a UPS and the nodes it feeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerDomain {
    /// Domain name (for example `statera`).
    pub name: String,
    /// The UPS that feeds it, as NUT knows it.
    pub ups: Ups,
    /// Node names fed by this UPS.
    pub nodes: Vec<String>,
}

/// A UPS reached through NUT's `upsd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ups {
    /// UPS name in `upsd` (`upsc NAME@HOST`).
    #[schemars(pattern(UPS_NAME))]
    pub name: String,
    /// `upsd` host.
    #[serde(default = "default_ups_host")]
    #[schemars(pattern(ADDRESS))]
    pub host: String,
    /// `upsd` port.
    #[serde(default = "default_ups_port")]
    #[schemars(range(min = 1))]
    pub port: u16,
    /// Optional NUT user.
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the NUT password (never the password itself).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The UPS driver's socket on this host (`/run/nut/<driver>-<ups>`): the daemon hears each
    /// change the moment the driver publishes it, instead of polling upsd.
    #[serde(default)]
    #[schemars(pattern(ABSOLUTE))]
    pub driver_socket: Option<PathBuf>,
}

fn default_ups_host() -> String {
    "127.0.0.1".to_owned()
}

fn default_ups_port() -> u16 {
    3493
}

/// A namespaced Kubernetes object reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The Flux objects ananke cares about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FluxSettings {
    /// The `GitRepository` the cluster is reconciled from (checked by the drift guard).
    pub source: ObjectRef,
    /// Kustomizations that must be Ready for startup to complete.
    pub required_kustomizations: Vec<ObjectRef>,
    /// The in-cluster Git server Flux sources from, if any (the deadlock).
    #[serde(default)]
    pub git_server: Option<GitServer>,
}

/// An in-cluster Git server (Gitea) that Flux sources from: it cannot be deployed by Flux after a
/// full outage, so ananke brings it up out of band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitServer {
    /// The workload that runs it.
    pub workload: WorkloadRef,
    /// Health URL (Gitea: `/api/healthz`).
    #[schemars(pattern(HTTP_URL))]
    pub health_url: String,
}

/// A workload reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadRef {
    /// Kind of the workload.
    pub kind: WorkloadKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.kind.as_str(), self.namespace, self.name)
    }
}

/// Kinds of workload ananke scales or checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum WorkloadKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` `StatefulSet`.
    StatefulSet,
    /// `apps/v1` `DaemonSet` (cannot be scaled).
    DaemonSet,
}

impl WorkloadKind {
    /// The kind's name as Kubernetes writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }

    /// Whether the kind has a `scale` subresource.
    #[must_use]
    pub fn scalable(self) -> bool {
        !matches!(self, WorkloadKind::DaemonSet)
    }
}

impl Config {
    /// The node named `name`.
    #[must_use]
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.inventory.nodes.iter().find(|n| n.name == name)
    }

    /// The power domain that feeds `node`.
    #[must_use]
    pub fn power_domain_of(&self, node: &str) -> Option<&PowerDomain> {
        self.power_domains.iter().find(|d| d.nodes.iter().any(|n| n == node))
    }

    /// Whether `node` is listed in `startup.ignore_unavailable_nodes`.
    #[must_use]
    pub fn is_ignored(&self, node: &str) -> bool {
        self.startup.ignore_unavailable_nodes.iter().any(|n| n == node)
    }
}
