//! The config sections that decide behaviour: startup and its checklists, Vault, the soak, the
//! shutdown, the power daemon, and coordination between hosts.

#[allow(clippy::wildcard_imports)] // the `default = "..."` functions, named only in attributes
use super::defaults::*;
use super::duration::HumanDuration;
use super::limits::{ABSOLUTE, HOST_PORT, HTTP_URL, NON_BLANK};
use super::model::{default_state_dir, WorkloadRef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Startup settings (seed field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartupSettings {
    /// (seed) Require every inventory node (minus ignores) to be reachable and authenticated over SSH.
    #[serde(default = "yes")]
    pub require_node_inventory_reachability: bool,
    /// (seed) Nodes whose absence does not block startup. Temporary: remove once the node is back.
    #[serde(default)]
    pub ignore_unavailable_nodes: Vec<String>,
    /// (seed) Ingresses that must be admitted, published and backed by ready endpoints.
    #[serde(default)]
    pub require_ingress_checklist: Vec<IngressCheck>,
    /// (seed) Services that must answer, internal and externally exposed.
    #[serde(default)]
    pub service_checklist: Vec<HttpCheck>,
    /// (seed) Critical endpoints that must answer.
    #[serde(default)]
    pub critical_service_endpoints: Vec<HttpCheck>,
    /// (seed) Command run when the standard Vault unseal fails. Its output is never logged.
    #[serde(default)]
    pub vault_unseal_breakglass_command: Option<CommandSpec>,
    /// Time allowed for nodes to come back before the node gates fail.
    #[serde(default = "d_10m")]
    pub node_boot_timeout: HumanDuration,
    /// Time allowed for Flux and workloads to converge.
    #[serde(default = "d_30m")]
    pub converge_timeout: HumanDuration,
    /// Deadline of the whole startup.
    #[serde(default = "d_1h")]
    pub deadline: HumanDuration,
}

/// An ingress that must pass the ingress checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngressCheck {
    /// Namespace of the Ingress.
    pub namespace: String,
    /// Name of the Ingress.
    pub name: String,
    /// Host the Ingress must route.
    #[schemars(pattern(NON_BLANK))]
    pub host: String,
    /// Expected ingress class, if pinned.
    #[serde(default)]
    pub ingress_class: Option<String>,
}

/// Whether an HTTP check targets the service directly or through the ingress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Exposure {
    /// Reached directly at its URL.
    #[default]
    Internal,
    /// Reached through the ingress address with the URL's host as Host/SNI.
    External,
}

/// One HTTP check of the service or critical-endpoint checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// Unique name of the check (used in reports).
    #[schemars(pattern(NON_BLANK))]
    pub name: String,
    /// URL to request.
    #[schemars(pattern(HTTP_URL))]
    pub url: String,
    /// Internal, or externally exposed through the ingress.
    #[serde(default)]
    pub exposure: Exposure,
    /// Address (`ip:port`) of the ingress for external checks.
    #[serde(default)]
    #[schemars(pattern(HOST_PORT))]
    pub ingress_address: Option<String>,
    /// Accepted HTTP status codes.
    #[serde(default = "default_statuses")]
    #[schemars(length(min = 1), inner(range(min = 100, max = 599)))]
    pub expect_status: Vec<u16>,
    /// The body must contain this text.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// The body must match this regular expression.
    #[serde(default)]
    pub body_matches: Option<String>,
    /// Maximum accepted latency.
    #[serde(default = "d_5s")]
    pub max_latency: HumanDuration,
    /// Request timeout.
    #[serde(default = "d_10s")]
    pub timeout: HumanDuration,
    /// Fail when the TLS certificate expires within this time.
    #[serde(default)]
    pub tls_expiry_min: Option<HumanDuration>,
    /// Consecutive successes needed to pass.
    #[serde(default = "one")]
    #[schemars(range(min = 1))]
    pub consecutive_successes: u32,
    /// Consecutive failures needed to fail once passing.
    #[serde(default = "one")]
    #[schemars(range(min = 1))]
    pub consecutive_failures: u32,
}

fn default_statuses() -> Vec<u16> {
    vec![200]
}

/// A command run without a shell: argv, timeout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// Program and arguments (no shell is involved).
    #[schemars(length(min = 1))]
    pub argv: Vec<String>,
    /// Time limit.
    #[serde(default = "d_2m")]
    pub timeout: HumanDuration,
}

/// Vault: pods and unseal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultSettings {
    /// Every Vault pod, each sealed independently after a power loss.
    #[schemars(length(min = 1))]
    pub pods: Vec<VaultPod>,
    /// Where the standard unseal shares come from.
    // serde_yaml_ng reads an externally tagged enum only from a YAML tag (`!command`); a one-key
    // mapping (`command: {...}`) is what TOML, the JSON Schema and editors expect.
    #[serde(with = "serde_yaml_ng::with::singleton_map")]
    #[schemars(with = "UnsealKeySource")]
    pub unseal_keys: UnsealKeySource,
    /// CA bundle to verify Vault's TLS certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// One Vault pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultPod {
    /// Pod name (`vault-0`).
    pub name: String,
    /// API address (`https://vault-0.vault-internal:8200`).
    #[schemars(pattern(HTTP_URL))]
    pub address: String,
}

/// How the standard unseal shares are retrieved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum UnsealKeySource {
    /// A command whose stdout holds the shares, one per line.
    Command(CommandSpec),
    /// A file holding the shares, one per line.
    File(#[schemars(length(min = 1))] PathBuf),
}

/// The stability soak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SoakSettings {
    /// How long every gate must stay green.
    #[serde(default = "d_5m")]
    pub duration: HumanDuration,
    /// How often the gates are checked during the soak.
    #[serde(default = "d_15s")]
    pub interval: HumanDuration,
    /// How many regressions restart the soak before startup fails.
    #[serde(default = "default_max_regressions")]
    pub max_regressions: u32,
}

impl Default for SoakSettings {
    fn default() -> Self {
        Self { duration: d_5m(), interval: d_15s(), max_regressions: default_max_regressions() }
    }
}

fn default_max_regressions() -> u32 {
    3
}

/// Shutdown mode. `cluster-only` never powers a host off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ShutdownMode {
    /// Stop the cluster; hosts stay powered (the default, for drills and outages).
    #[default]
    ClusterOnly,
    /// Stop the cluster, then power the hosts off. Must be chosen explicitly.
    ClusterAndHosts,
}

impl ShutdownMode {
    /// The mode as written in the config and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownMode::ClusterOnly => "cluster-only",
            ShutdownMode::ClusterAndHosts => "cluster-and-hosts",
        }
    }
}

/// What to do when a `PodDisruptionBudget` still blocks a drain after `drain_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PdbPolicy {
    /// Name the blocking PDB in the report and carry on stopping the node.
    #[default]
    Proceed,
    /// Stop the shutdown with an error naming the PDB.
    Fail,
}

/// When one workload of the shutdown tiers may stop: once these are observed stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopAfter {
    /// A workload listed in `shutdown.tiers`.
    pub workload: WorkloadRef,
    /// Workloads of earlier tiers that must be stopped first (empty: none, it stops at once).
    pub after: Vec<WorkloadRef>,
}

/// Graceful shutdown settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSettings {
    /// Default mode (`cluster-only`).
    #[serde(default)]
    pub mode: ShutdownMode,
    /// Workload tiers scaled down in order (first tier first); unlisted workloads go last.
    #[serde(default)]
    pub tiers: Vec<Vec<WorkloadRef>>,
    /// A finer order than the tiers: a listed workload named here is scaled down as soon as the
    /// workloads it names are observed stopped, instead of once every earlier tier is.
    #[serde(default)]
    pub order: Vec<StopAfter>,
    /// Namespaces whose workloads are never scaled (k3s and Flux manage their own).
    #[serde(default = "default_exclude_namespaces")]
    pub exclude_namespaces: Vec<String>,
    /// Bounded wait for a node's drain.
    #[serde(default = "d_2m")]
    pub drain_timeout: HumanDuration,
    /// What to do when a PDB still blocks after `drain_timeout`.
    #[serde(default)]
    pub pdb_policy: PdbPolicy,
    /// Bounded wait for workloads to scale down.
    #[serde(default = "d_5m")]
    pub scale_down_timeout: HumanDuration,
    /// Bounded wait for k3s to stop on a node.
    #[serde(default = "d_2m")]
    pub node_stop_timeout: HumanDuration,
    /// Deadline of the whole shutdown.
    #[serde(default = "d_20m")]
    pub deadline: HumanDuration,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        Self {
            mode: ShutdownMode::default(),
            tiers: Vec::new(),
            order: Vec::new(),
            exclude_namespaces: default_exclude_namespaces(),
            drain_timeout: d_2m(),
            pdb_policy: PdbPolicy::default(),
            scale_down_timeout: d_5m(),
            node_stop_timeout: d_2m(),
            deadline: d_20m(),
        }
    }
}

fn default_exclude_namespaces() -> Vec<String> {
    vec!["kube-system".to_owned(), "flux-system".to_owned()]
}

/// What the daemon does when power returns in the middle of a shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PowerReturnPolicy {
    /// Finish the shutdown, then start up once power is stable.
    #[default]
    Finish,
    /// Abort the shutdown and restore through the journal.
    Abort,
}

/// What the daemon does when a UPS cannot be read or its data is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UpsLostPolicy {
    /// Report it loudly and keep the cluster as it is.
    #[default]
    Alert,
    /// Treat a lost UPS as on battery (start the debounce).
    AssumeOnBattery,
}

/// The power daemon's policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaemonSettings {
    /// UPS poll interval.
    #[serde(default = "d_1s")]
    pub poll_interval: HumanDuration,
    /// On battery for less than this is a blip: reported, nothing else.
    #[serde(default = "d_30s")]
    pub debounce: HumanDuration,
    /// Shutdown duration assumed before `runs.json` holds any shutdown.
    #[serde(default = "d_10m")]
    pub default_shutdown_budget: HumanDuration,
    /// Percentile of past shutdown durations used as the budget (0-100).
    #[serde(default = "default_percentile")]
    #[schemars(range(max = 100))]
    pub shutdown_budget_percentile: u8,
    /// Multiplier applied to the budget (at least 1.0).
    #[serde(default = "default_margin")]
    #[schemars(range(min = 1.0))]
    pub safety_margin: f64,
    /// Data older than this is stale.
    #[serde(default = "d_15s")]
    pub stale_after: HumanDuration,
    /// What to do when a UPS is unreachable or stale.
    #[serde(default)]
    pub ups_lost_policy: UpsLostPolicy,
    /// What to do when power returns mid-shutdown.
    #[serde(default)]
    pub power_return_policy: PowerReturnPolicy,
    /// Start the cluster when power is back and stable after an ananke shutdown.
    #[serde(default = "yes")]
    pub auto_startup: bool,
    /// How long power must be stable before an automatic startup.
    #[serde(default = "d_5m")]
    pub stable_for: HumanDuration,
    /// Minimum battery charge (percent) before an automatic startup.
    #[serde(default = "default_min_charge")]
    #[schemars(range(max = 100))]
    pub min_battery_charge: u8,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        Self {
            poll_interval: d_1s(),
            debounce: d_30s(),
            default_shutdown_budget: d_10m(),
            shutdown_budget_percentile: default_percentile(),
            safety_margin: default_margin(),
            stale_after: d_15s(),
            ups_lost_policy: UpsLostPolicy::default(),
            power_return_policy: PowerReturnPolicy::default(),
            auto_startup: true,
            stable_for: d_5m(),
            min_battery_charge: default_min_charge(),
        }
    }
}

fn default_percentile() -> u8 {
    95
}

fn default_margin() -> f64 {
    1.5
}

fn default_min_charge() -> u8 {
    50
}

/// Role of this host among the hosts that may run ananke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CoordinationRole {
    /// Normally drives startup and shutdown.
    Coordinator,
    /// Acts on its own UPS when the coordinator is unreachable.
    Peer,
}

/// Coordination between hosts (seed field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Coordination {
    /// (seed) This host's role.
    pub role: CoordinationRole,
    /// (seed) Inventory node names of the other ananke hosts, checked over SSH before a mutating run.
    #[serde(default)]
    pub peer_hosts: Vec<String>,
    /// State dir of ananke on the peers.
    #[serde(default = "default_state_dir")]
    #[schemars(pattern(ABSOLUTE))]
    pub peer_state_dir: PathBuf,
    /// The inventory node this host is; a peer with it set watches only that node's power domain.
    #[serde(default)]
    pub local_node: Option<String>,
}
