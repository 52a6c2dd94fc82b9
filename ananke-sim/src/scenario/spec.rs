//! The parts of a scenario: the lab (nodes, power, components, Flux, services, Vault), the outage,
//! random faults, run options and expectations.

use ananke_core::config::{HumanDuration, K3sRole, WorkloadKind};
use serde::{Deserialize, Serialize};

/// Cluster-wide timings of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterTimings {
    /// Kubernetes `node-monitor-grace-period`.
    pub node_monitor_grace_period: HumanDuration,
    /// Time a Flux controller takes to reconcile one object.
    pub reconcile_delay: HumanDuration,
    /// Requeue of a Kustomization whose `dependsOn` is not Ready.
    pub requeue_dependency: HumanDuration,
    /// Address the ingress controller publishes.
    pub ingress_address: String,
}

impl Default for ClusterTimings {
    fn default() -> Self {
        Self {
            node_monitor_grace_period: HumanDuration::secs(40),
            reconcile_delay: HumanDuration::secs(5),
            requeue_dependency: HumanDuration::secs(30),
            ingress_address: "192.0.2.50".to_owned(),
        }
    }
}

/// One host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Node name.
    pub name: String,
    /// k3s role.
    pub role: K3sRole,
    /// Address (documentation range by default).
    #[serde(default)]
    pub address: Option<String>,
    /// Power domain feeding it.
    pub power_domain: String,
    /// From power restore to SSH reachable.
    #[serde(default = "d_60s")]
    pub boot: HumanDuration,
    /// From `systemctl start` to the k3s unit serving (servers count toward quorum then).
    #[serde(default = "d_20s")]
    pub k3s_start: HumanDuration,
    /// From `systemctl stop` (and killall) to the unit inactive.
    #[serde(default = "d_10s")]
    pub k3s_stop: HumanDuration,
    /// From k3s serving to the kubelet posting Ready.
    #[serde(default = "d_10s")]
    pub kubelet_ready: HumanDuration,
    /// Cordoned before the scenario starts (an operator's choice).
    #[serde(default)]
    pub cordoned: bool,
    /// The k3s unit runs when the scenario starts.
    #[serde(default = "yes")]
    pub running: bool,
}

/// A power domain and its UPS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerDomainSpec {
    /// Domain name.
    pub name: String,
    /// UPS name in NUT.
    pub ups: String,
    /// Runtime on battery at full charge.
    pub battery_runtime: HumanDuration,
}

/// What kind of thing a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentKind {
    /// A host service (the k3s datastore); runs on `host`, needed by every server.
    Datastore,
    /// Storage (Longhorn, local-path).
    Storage,
    /// The in-cluster Git server Flux sources from.
    GitServer,
    /// The Flux controllers.
    FluxControllers,
    /// The ingress controller (Traefik).
    IngressController,
    /// Vault.
    Vault,
    /// Any other workload.
    App,
}

/// A component of the dependency graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSpec {
    /// Unique name.
    pub name: String,
    /// What it is.
    pub kind: ComponentKind,
    /// Components that must be up before it can start.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// From able to start to up.
    #[serde(default = "d_20s")]
    pub start: HumanDuration,
    /// From scaled to 0 to stopped.
    #[serde(default = "d_10s")]
    pub stop: HumanDuration,
    /// The workload that runs it (every kind but `datastore`).
    #[serde(default)]
    pub workload: Option<WorkloadSpec>,
    /// The host of a `datastore`.
    #[serde(default)]
    pub host: Option<String>,
    /// Nodes its pods may run on (default: every node).
    #[serde(default)]
    pub nodes: Vec<String>,
}

/// A Deployment, `StatefulSet` or `DaemonSet`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Kind.
    pub kind: WorkloadKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Replicas in the manifest (what Flux re-applies).
    #[serde(default = "one")]
    pub replicas: i32,
    /// Replicas when the scenario starts, if an operator changed them.
    #[serde(default)]
    pub initial_replicas: Option<i32>,
}

/// Flux objects and their controllers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluxSpec {
    /// The component running the Flux controllers.
    #[serde(default)]
    pub controllers: Option<String>,
    /// `GitRepositories`.
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
    /// Kustomizations.
    #[serde(default)]
    pub kustomizations: Vec<FluxObjectSpec>,
    /// `HelmReleases`.
    #[serde(default)]
    pub helm_releases: Vec<FluxObjectSpec>,
}

/// A `GitRepository`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.url` in the manifest.
    pub url: String,
    /// `spec.ref.branch` in the manifest.
    pub branch: String,
    /// The live branch when the scenario starts, if someone changed it (a drill).
    #[serde(default)]
    pub live_branch: Option<String>,
    /// Branches that exist on the server (default: `branch` and `live_branch`).
    #[serde(default)]
    pub branches: Vec<String>,
    /// The component serving the repository in-cluster (the Git server), if any.
    #[serde(default)]
    pub served_by: Option<String>,
    /// `spec.interval` (also its retry after a failed fetch).
    #[serde(default = "d_60s")]
    pub interval: HumanDuration,
    /// Required by the config's drift guard (`flux.source`).
    #[serde(default = "yes")]
    pub guarded: bool,
}

/// A Kustomization or `HelmRelease`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluxObjectSpec {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Source (`GitRepository` name in the same namespace); Kustomizations only.
    #[serde(default)]
    pub source: Option<String>,
    /// `dependsOn`, as `namespace/name`.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The Kustomization that applies this object, as `namespace/name`.
    #[serde(default)]
    pub managed_by: Option<String>,
    /// Components whose workloads it manages.
    #[serde(default)]
    pub manages: Vec<String>,
    /// `spec.suspend` in the manifest (and when the scenario starts).
    #[serde(default)]
    pub suspend: bool,
    /// Required by the config's `flux.required_kustomizations`.
    #[serde(default)]
    pub required: bool,
    /// `spec.interval`.
    #[serde(default = "d_10m")]
    pub interval: HumanDuration,
}

/// A `PodDisruptionBudget` over one component's pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdbSpec {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The component whose pods it selects.
    pub component: String,
    /// `minAvailable`.
    pub min_available: i32,
}

/// A Service whose endpoints are the component's ready pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The component backing it.
    pub component: String,
}

/// An Ingress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressSpec {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Host it routes.
    pub host: String,
    /// `spec.ingressClassName`.
    #[serde(default)]
    pub class: Option<String>,
    /// Backend services (same namespace).
    pub backends: Vec<String>,
}

/// Which checklist a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckList {
    /// `startup.service_checklist`.
    #[default]
    Service,
    /// `startup.critical_service_endpoints`.
    Critical,
}

/// An HTTP check and what must be up for it to pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Check name (the config's checklist entry name).
    pub name: String,
    /// Checklist.
    #[serde(default)]
    pub list: CheckList,
    /// URL.
    pub url: String,
    /// Reached through the ingress controller.
    #[serde(default)]
    pub external: bool,
    /// Components that must be up (the API answers when `api` is listed).
    pub backed_by: Vec<String>,
}

/// Vault pods and unseal shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSpec {
    /// The component running Vault (one pod per replica).
    pub component: String,
    /// Pod names, one per replica.
    pub pods: Vec<String>,
    /// Shares needed to unseal (`t`).
    pub threshold: u32,
    /// Shares in all (`n`).
    pub shares: u32,
}

/// The outage in a cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageSpec {
    /// How long mains power is lost (hosts go dark when their battery runs out first).
    pub duration: HumanDuration,
}

/// Random faults, drawn from the run's seed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomFaults {
    /// Probability that an API call fails with a 5xx or times out.
    pub api_error_rate: f64,
}

/// Options given to ananke.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunOptions {
    /// `--force-flux-branch`.
    pub force_flux_branch: Option<String>,
    /// `--reason` of the shutdown.
    pub reason: Option<String>,
}

/// What the run must reach.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The shutdown's end.
    #[serde(default)]
    pub shutdown: Option<Outcome>,
    /// The startup's end.
    #[serde(default)]
    pub startup: Option<Outcome>,
    /// After a cycle, the cluster state equals the state before (replicas, suspends, cordons).
    #[serde(default)]
    pub restored: bool,
    /// States the startup machine must pass through, in this order (others may come between).
    #[serde(default)]
    pub visits: Vec<String>,
}

/// The end state of one machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// Terminal state name (`ready`, `off`, `incomplete`, `failed`).
    pub state: String,
    /// For `failed`: the gate named by the failure.
    #[serde(default)]
    pub gate: Option<String>,
    /// For `failed`: a fragment of the failure's reason; for `incomplete`: a fragment of the
    /// list of what was not confirmed (`titan-04: k3s-agent stopped: permission denied`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Another run of the same lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Variant name.
    pub name: String,
    /// Options of this run.
    #[serde(default)]
    pub options: RunOptions,
    /// What it must reach.
    pub expect: Expectation,
}

fn yes() -> bool {
    true
}
fn one() -> i32 {
    1
}
fn d_10s() -> HumanDuration {
    HumanDuration::secs(10)
}
fn d_20s() -> HumanDuration {
    HumanDuration::secs(20)
}
fn d_60s() -> HumanDuration {
    HumanDuration::secs(60)
}
fn d_10m() -> HumanDuration {
    HumanDuration::secs(600)
}
