//! The rest of the lab next to the Kubernetes API facade: the plain-HTTP [`endpoints`] (Vault per
//! pod, Gitea's health, every check, the ingress) over the same state, and the control endpoint
//! through which a node's commands change the model.
//!
//! The control endpoint listens on 127.0.0.1 (plain HTTP) and stands in for the hosts themselves:
//! the sshd test nodes' `systemctl` forwards to it, so `systemctl start k3s` over SSH starts the
//! simulated node.
//!
//! - `POST /control/nodes/{node}/k3s/start|stop|killall`: the node's k3s unit is started or
//!   stopped (`killall` stops it too); `200 ok`, `503` when the host is down (transient), `409`
//!   otherwise, with the model's message.
//! - `POST /control/nodes/{node}/poweroff`: the host loses power.
//! - `GET /control/nodes/{node}/k3s`: `active`, `inactive`, `failed` or `unknown`, as
//!   `systemctl is-active` prints it.
//!
//! [`endpoints`]: crate::endpoints

use super::Shared;
use crate::endpoints::server::{self, Call, Reply};
use crate::endpoints::{Endpoints, ModelAccess};
use crate::model::Model;
use crate::scenario::Scenario;
use ananke_core::config::K3sRole;
use ananke_core::machine::EffectOutcome;
use ananke_core::observation::UnitState;
use ananke_core::Effect;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The facade's state as the endpoints see it: the model brought to the clock's time before
/// every call, re-rendered and the watches woken after it.
pub(crate) struct StateAccess(pub(crate) Arc<Shared>);

impl ModelAccess for StateAccess {
    fn with_model(&self, f: &mut dyn FnMut(&mut Model)) {
        {
            let mut state = self.0.lock();
            state.refresh();
            let now = state.now();
            state.model.advance(now);
            f(&mut state.model);
            state.mark_dirty();
            state.refresh();
        }
        self.0.notify();
    }
}

/// What a client needs to reach the lab besides the kubeconfig (`endpoints.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct EndpointsFile {
    /// Vault API base URL per pod.
    pub vault_addresses: BTreeMap<String, String>,
    /// The Git server's health URL.
    pub gitea_url: Option<String>,
    /// URL per check name (external ones by host, reached through `ingress_address`).
    pub service_urls: BTreeMap<String, String>,
    /// The ingress (`127.0.0.1:PORT`).
    pub ingress_address: Option<String>,
    /// The control endpoint's base URL (`http://127.0.0.1:PORT/control`).
    pub control_url: String,
    /// Every valid unseal share of the simulated Vault.
    pub unseal_shares: Vec<String>,
    /// Shares needed to unseal a pod.
    pub unseal_threshold: u32,
}

impl EndpointsFile {
    /// The file's content for `endpoints` and the control URL.
    #[must_use]
    pub fn new(endpoints: &Endpoints, control_url: &str) -> EndpointsFile {
        EndpointsFile {
            vault_addresses: endpoints.vault_addresses.clone(),
            gitea_url: endpoints.gitea_url.clone(),
            service_urls: endpoints.service_urls.clone(),
            ingress_address: endpoints.ingress_address.clone(),
            control_url: control_url.to_owned(),
            unseal_shares: endpoints.unseal_shares.clone(),
            unseal_threshold: endpoints.unseal_threshold,
        }
    }
}

/// The endpoints and the control endpoint, started over `shared`.
pub(super) struct Side {
    pub endpoints: Endpoints,
    pub control_url: String,
    pub task: JoinHandle<()>,
}

/// Start the endpoints of `scenario` and the control endpoint over `shared`; with `dir`, write
/// `endpoints.json` there.
pub(super) async fn start(shared: &Arc<Shared>, scenario: &Scenario, dir: Option<&Path>) -> std::io::Result<Side> {
    let access: Arc<dyn ModelAccess> = Arc::new(StateAccess(Arc::clone(shared)));
    let endpoints = Endpoints::start(Arc::clone(&access), scenario).await?;
    let roles: BTreeMap<String, K3sRole> = scenario.nodes.iter().map(|n| (n.name.clone(), n.role)).collect();
    let roles = Arc::new(roles);
    let (port, task) = server::start(Arc::new(|| true), Arc::new(move |call| answer(&*access, &roles, call))).await?;
    let control_url = format!("http://127.0.0.1:{port}/control");
    if let Some(dir) = dir {
        let file = EndpointsFile::new(&endpoints, &control_url);
        let text = serde_json::to_string_pretty(&file).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("endpoints.json"), text + "\n")?;
    }
    Ok(Side { endpoints, control_url, task })
}

/// Answer one control request.
fn answer(model: &dyn ModelAccess, roles: &BTreeMap<String, K3sRole>, call: &Call) -> Reply {
    let parts: Vec<&str> = call.path.trim_matches('/').split('/').collect();
    let ["control", "nodes", node, rest @ ..] = parts.as_slice() else {
        return Reply::Text(404, "not found\n".to_owned());
    };
    let Some(&role) = roles.get(*node) else {
        return Reply::Text(404, format!("unknown node {node}\n"));
    };
    let node = (*node).to_owned();
    let effect = match (call.method.as_str(), rest) {
        ("GET", ["k3s"]) => return Reply::Text(200, format!("{}\n", unit_state(model, &node))),
        ("POST", ["k3s", "start"]) => Effect::StartK3s { node, role },
        ("POST", ["k3s", "stop" | "killall"]) => Effect::StopK3s { node, role },
        ("POST", ["poweroff"]) => Effect::PowerOffHost { node },
        _ => return Reply::Text(404, "not found\n".to_owned()),
    };
    let outcome = crate::endpoints::with(model, |m| {
        let now = m.now();
        m.apply_reliably(now, &effect)
    });
    match outcome {
        EffectOutcome::Ok => Reply::Text(200, "ok\n".to_owned()),
        EffectOutcome::Failed { transient: true, message } => Reply::Text(503, message + "\n"),
        EffectOutcome::Failed { message, .. } => Reply::Text(409, message + "\n"),
        EffectOutcome::BlockedByPdb { pdb } => Reply::Text(409, format!("blocked by {pdb}\n")),
    }
}

/// The node's k3s unit as `systemctl is-active` prints it.
fn unit_state(model: &dyn ModelAccess, node: &str) -> &'static str {
    let state = crate::endpoints::with(model, |m| {
        let now = m.now();
        m.serve_observation(now).nodes.into_iter().find(|n| n.name == node).map(|n| n.k3s_unit)
    });
    match state {
        Some(UnitState::Active) => "active",
        Some(UnitState::Inactive) => "inactive",
        Some(UnitState::Failed) => "failed",
        Some(UnitState::Unknown) | None => "unknown",
    }
}
