//! The real world: the runner's [`World`] over the real adapters, on a monotonic clock.
//!
//! [`HostWorld`] composes every port the config names: the Kubernetes API ([`kube`]), the nodes
//! over SSH ([`ssh`]), the service and critical-endpoint checks and the Git server's health
//! ([`http`]), Vault's seal status and unseal ([`vault`]), and the UPSes ([`nut`]).
//!
//! - [`World::observe`] asks every port at once and merges the answers into one [`Observation`].
//!   A port that fails is data in the observation (an unreachable API, a node that refuses the
//!   key, a stale UPS), never an error.
//! - [`World::execute`] hands each [`Effect`] to the port that carries it: k3s unit commands and
//!   host power-off over SSH, cordon, drain, scale and Flux through the API, unseals to Vault.
//! - Time is a monotonic clock in milliseconds since the world was built (tokio's `Instant`):
//!   a step of the wall clock moves no deadline. Sleeping is tokio's, on the same clock.
//!
//! The Kubernetes client is built at the first call, inside the runtime that drives the world:
//! kube's client spawns a task on the runtime current at its creation, so building it earlier,
//! in another runtime, would leave a client whose worker is gone.
//!
//! [`kube`]: super::kube
//! [`ssh`]: super::ssh
//! [`http`]: super::http
//! [`vault`]: super::vault
//! [`nut`]: super::nut

use super::http::{GitServerProbe, HttpError, Prober, ProberOptions, Roots};
use super::kube::{KubeCluster, KubeSettings, KubeconfigEnv, KubeconfigFlags, KubeconfigSource};
use super::nut::{MonitorSettings, NutError, UpsMonitor};
use super::ssh::{CommandPrefix, FleetOptions, NodeFleet, NodeProbe, RemoteCommand, SshError};
use super::vault::VaultClient;
use crate::config::Config;
use crate::effect::Effect;
use crate::machine::EffectOutcome;
use crate::observation::{ApiStatus, NodeObservation, Observation};
use crate::runner::World;
use crate::time::Time;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::{Mutex, OnceCell};

/// Bound of one Git server health or Vault request.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the world could not be built. Every variant is permanent: the config or a file it names
/// must change.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The SSH settings (the identity file) cannot be used.
    #[error("ssh: {0}")]
    Ssh(#[from] SshError),
    /// An HTTP check, the Git server's health URL or Vault's CA file cannot be used.
    #[error("http: {0}")]
    Http(#[from] HttpError),
    /// A power domain's UPS credentials cannot be used.
    #[error("ups: {0}")]
    Nut(#[from] NutError),
}

/// A real cluster and its hosts, as the runner sees them.
pub struct HostWorld {
    kube_source: KubeconfigSource,
    kube_settings: KubeSettings,
    kube: OnceCell<Result<KubeCluster, String>>,
    fleet: NodeFleet,
    prober: Mutex<Prober>,
    git: Option<GitServerProbe>,
    vault: Option<VaultClient>,
    /// Blocking (see [`super::nut`]): polled on a blocking thread.
    ups: std::sync::Arc<std::sync::Mutex<UpsMonitor>>,
    /// The origin of [`World::now`]: when the world was built, on the monotonic clock.
    origin: tokio::time::Instant,
}

impl std::fmt::Debug for HostWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostWorld").field("kube_source", &self.kube_source).finish_non_exhaustive()
    }
}

impl HostWorld {
    /// The world `config` describes: its kubeconfig, inventory and SSH settings, checklists, Git
    /// server, Vault pods and power domains. Nothing is connected yet.
    ///
    /// # Errors
    /// An unusable SSH identity, HTTP check, CA file or UPS credentials ([`HostError`]).
    pub fn from_config(config: &Config) -> Result<HostWorld, HostError> {
        let command_prefix = CommandPrefix::new(config.ssh.command_prefix.iter().cloned())?;
        let fleet = NodeFleet::new(&config.ssh, &config.inventory.nodes, FleetOptions { command_prefix })?;
        let prober = Prober::from_config(config, &ProberOptions::default())?;
        let git = match &config.flux.git_server {
            Some(git) => Some(GitServerProbe::new(git, &Roots::default(), HTTP_TIMEOUT)?),
            None => None,
        };
        let vault = VaultClient::from_config(config, HTTP_TIMEOUT)?;
        let ups = UpsMonitor::new(&config.power_domains, MonitorSettings::from_daemon(&config.daemon))?;
        let request_timeout = config.kubernetes.request_timeout.get();
        Ok(HostWorld {
            kube_source: KubeconfigSource::choose(
                &KubeconfigFlags::default(),
                config.kubernetes.kubeconfig.as_deref(),
                config.kubernetes.context.as_deref(),
                &KubeconfigEnv::from_process(),
            ),
            kube_settings: KubeSettings { request_timeout, ..KubeSettings::default() },
            kube: OnceCell::new(),
            fleet,
            prober: Mutex::new(prober),
            git,
            vault,
            ups: std::sync::Arc::new(std::sync::Mutex::new(ups)),
            origin: tokio::time::Instant::now(),
        })
    }

    /// Read the kubeconfig of `source` instead of the one the config and environment choose
    /// (the command line's `--kubeconfig` and `--context`).
    #[must_use]
    pub fn with_kube_source(mut self, source: KubeconfigSource) -> Self {
        self.kube_source = source;
        self.kube = OnceCell::new();
        self
    }

    /// The kubeconfig in use.
    #[must_use]
    pub fn kube_source(&self) -> &KubeconfigSource {
        &self.kube_source
    }

    /// The Kubernetes client, built at the first call; why not, when it cannot be.
    async fn kube(&self) -> Result<&KubeCluster, &str> {
        let built = self
            .kube
            .get_or_init(|| async {
                KubeCluster::from_source(&self.kube_source, self.kube_settings.clone())
                    .await
                    .map_err(|e| format!("{e} (chosen by {})", self.kube_source.origin))
            })
            .await;
        built.as_ref().map_err(String::as_str)
    }

    /// The API's view alone: an observation with `api`, `nodes[].kube`, Flux, workloads, pods to
    /// evict and ingresses filled in.
    async fn observe_api(&self) -> Observation {
        match self.kube().await {
            Ok(kube) => kube.observe().await,
            Err(why) => Observation {
                api: ApiStatus { reachable: false, error: Some(why.to_owned()) },
                ..Observation::default()
            },
        }
    }

    /// Run one unit command on `node`, as an effect outcome.
    async fn run_on(&self, node: &str, commands: &[RemoteCommand]) -> EffectOutcome {
        for command in commands {
            if let Err(e) = self.fleet.run(node, *command).await {
                return failed(e.is_transient(), e.to_string());
            }
        }
        EffectOutcome::Ok
    }

    /// Closes every SSH session politely (the other connections close with the world).
    pub async fn close(&self) {
        self.fleet.close().await;
    }
}

/// A failed outcome.
fn failed(transient: bool, message: impl Into<String>) -> EffectOutcome {
    EffectOutcome::Failed { transient, message: message.into() }
}

/// One observation from the ports' answers: the nodes in inventory order (SSH's view with the
/// API's), then nodes only the API lists.
fn merge(mut api: Observation, probes: Vec<NodeProbe>) -> Observation {
    let mut kube: BTreeMap<String, NodeObservation> = api.nodes.drain(..).map(|n| (n.name.clone(), n)).collect();
    let mut nodes: Vec<NodeObservation> = probes
        .into_iter()
        .map(|p| NodeObservation {
            kube: kube.remove(&p.node).and_then(|n| n.kube),
            name: p.node,
            ssh: p.ssh,
            k3s_unit: p.k3s_unit,
        })
        .collect();
    nodes.extend(kube.into_values());
    api.nodes = nodes;
    api
}

impl World for HostWorld {
    async fn observe(&self) -> Observation {
        let probes = async {
            let mut prober = self.prober.lock().await;
            prober.probe().await
        };
        let git = async {
            match &self.git {
                Some(git) => Some(git.probe().await),
                None => None,
            }
        };
        let vault = async {
            match &self.vault {
                Some(vault) => vault.observe().await,
                None => Vec::new(),
            }
        };
        let ups = std::sync::Arc::clone(&self.ups);
        let power = tokio::task::spawn_blocking(move || {
            // A poll that panicked left nothing half-done that matters: the next poll reconnects.
            let mut monitor = ups.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            monitor.poll()
        });
        let (api, nodes, probes, git, vault, power) =
            tokio::join!(self.observe_api(), self.fleet.probe_all(), probes, git, vault, power);
        let mut obs = merge(api, nodes);
        obs.at = self.now();
        obs.probes = probes;
        obs.git_server = git;
        obs.vault = vault;
        // A poll that could not finish (it panicked, or the runtime is going away) leaves this
        // observation without UPS readings; no gate reads them, the status shows none.
        obs.power = power.map(|domains| domains.into_iter().map(|d| d.status).collect()).unwrap_or_default();
        obs
    }

    async fn execute(&self, effect: &Effect) -> EffectOutcome {
        match effect {
            Effect::StartK3s { node, role } => self.run_on(node, &[RemoteCommand::StartUnit(*role)]).await,
            Effect::StopK3s { node, role } => {
                self.run_on(node, &[RemoteCommand::StopUnit(*role), RemoteCommand::KillAll]).await
            }
            Effect::PowerOffHost { node } => self.run_on(node, &[RemoteCommand::PowerOff]).await,
            Effect::UnsealVault { .. } | Effect::UnsealVaultBreakglass { .. } => match &self.vault {
                Some(vault) => vault.execute_unseal(effect).await,
                None => failed(false, format!("{}: the config has no vault section", effect.describe())),
            },
            Effect::Cordon { .. }
            | Effect::Uncordon { .. }
            | Effect::Drain { .. }
            | Effect::Scale { .. }
            | Effect::SuspendFlux { .. }
            | Effect::ResumeFlux { .. }
            | Effect::RequestReconcile { .. }
            | Effect::SetFluxSource { .. } => match self.kube().await {
                Ok(kube) => kube.execute(effect).await,
                Err(why) => failed(false, why),
            },
        }
    }

    fn now(&self) -> Time {
        Time(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    async fn sleep_until(&self, at: Time) {
        match self.origin.checked_add(Duration::from_millis(at.as_millis())) {
            Some(at) => tokio::time::sleep_until(at).await,
            // Beyond what the clock can represent: never.
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{KubeNode, SshStatus, UnitState};

    fn probe(node: &str) -> NodeProbe {
        NodeProbe { node: node.to_owned(), ssh: SshStatus::Reachable, k3s_unit: UnitState::Active }
    }

    /// A world of two nodes and one UPS on loopback ports nothing listens on, a kubeconfig that
    /// does not exist, and neither Git server nor Vault.
    fn unreachable_world(dir: &std::path::Path) -> HostWorld {
        let key = dir.join("id_ed25519");
        let keygen = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen runs (openssh-client)");
        assert!(keygen.success());
        // Ports that were free a moment ago.
        let closed = || std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
        let size = crate::synth::LabSize {
            nodes: 2,
            power_domains: 1,
            kustomizations: 1,
            workloads: 1,
            ingress_checks: 0,
            service_checks: 0,
            critical_endpoints: 0,
        };
        let mut config = crate::synth::lab_config(size);
        for node in &mut config.inventory.nodes {
            node.address = "127.0.0.1".to_owned();
            node.ssh_port = closed();
        }
        config.ssh.identity_file = key;
        config.ssh.known_hosts = dir.join("known_hosts");
        config.kubernetes.kubeconfig = Some(dir.join("no-kubeconfig"));
        config.power_domains[0].ups.port = closed();
        HostWorld::from_config(&config).expect("a world")
    }

    #[tokio::test]
    async fn unreachable_ports_are_data_in_the_observation_and_failed_effects() {
        let dir = tempfile::tempdir().expect("tempdir");
        let world = unreachable_world(dir.path());
        let debug = format!("{world:?}");
        assert!(debug.starts_with("HostWorld { kube_source: ") && debug.ends_with(".. }"), "{debug}");
        let before = world.now();
        let obs = world.observe().await;
        assert!(obs.at >= before && obs.at <= world.now());
        let api_error = obs.api.error.clone().expect("why the API is unreachable");
        assert!(!obs.api.reachable && api_error.contains("no-kubeconfig"), "{api_error}");
        assert!(api_error.ends_with("(chosen by the config's kubernetes.kubeconfig)"), "{api_error}");
        let names: Vec<&str> = obs.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["node-00001", "node-00002"]);
        assert!(obs.nodes.iter().all(|n| matches!(n.ssh, SshStatus::Unreachable(_)) && n.kube.is_none()), "{obs:?}");
        assert_eq!((obs.git_server, obs.vault.len()), (None, 0), "neither is configured");
        assert_eq!(obs.power.len(), 1);
        assert!(!obs.power[0].reachable && obs.power[0].domain == "domain-1", "{:?}", obs.power);

        let node = "node-00001".to_owned();
        let outcome = world.execute(&Effect::Cordon { node: node.clone() }).await;
        assert_eq!(outcome, failed(false, api_error), "the kubeconfig must change");
        let unseal = Effect::UnsealVault { pod: "vault-0".to_owned() };
        let outcome = world.execute(&unseal).await;
        assert_eq!(outcome, failed(false, format!("{}: the config has no vault section", unseal.describe())));
        for effect in [
            Effect::PowerOffHost { node: node.clone() },
            Effect::StartK3s { node: node.clone(), role: crate::config::K3sRole::Server },
            Effect::StopK3s { node: node.clone(), role: crate::config::K3sRole::Server },
        ] {
            let outcome = world.execute(&effect).await;
            assert!(
                matches!(&outcome, EffectOutcome::Failed { transient: true, message } if message.contains(&node)),
                "{effect:?}: {outcome:?}"
            );
        }
        world.close().await;
        let flag = dir.path().join("flagged-kubeconfig");
        let source =
            KubeconfigSource { paths: vec![flag], origin: super::super::kube::KubeconfigOrigin::Flag, context: None };
        let world = world.with_kube_source(source.clone());
        assert_eq!(world.kube_source(), &source);
        let why = world.observe().await.api.error.expect("unreachable");
        assert!(why.contains("flagged-kubeconfig") && why.ends_with("(chosen by --kubeconfig)"), "{why}");
        world.close().await;
    }

    #[tokio::test]
    async fn sleep_until_waits_for_a_future_time_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let world = unreachable_world(dir.path());
        let start = std::time::Instant::now();
        world.sleep_until(Time(0)).await;
        assert!(start.elapsed() < Duration::from_millis(40), "a past time does not wait");
        world.sleep_until(Time(world.now().as_millis() + 60)).await;
        assert!(start.elapsed() >= Duration::from_millis(50), "{:?}", start.elapsed());
        assert!(world.now() < Time(60_000), "the clock starts when the world is built: {}", world.now());
        let never = tokio::time::timeout(Duration::from_millis(30), world.sleep_until(Time(u64::MAX))).await;
        assert!(never.is_err(), "a time beyond the clock's range never comes");
    }

    #[test]
    fn merge_keeps_inventory_order_and_adds_nodes_only_the_api_lists() {
        let api_node = |name: &str| NodeObservation {
            name: name.to_owned(),
            kube: Some(KubeNode::default()),
            ..NodeObservation::default()
        };
        let api = Observation { nodes: vec![api_node("extra"), api_node("b")], ..Observation::default() };
        let obs = merge(api, vec![probe("a"), probe("b")]);
        let names: Vec<&str> = obs.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "extra"]);
        assert!(obs.nodes[0].kube.is_none() && obs.nodes[1].kube.is_some());
        assert_eq!(obs.nodes[1].ssh, SshStatus::Reachable);
        assert_eq!(obs.nodes[2].ssh, SshStatus::Unknown);
    }
}
