//! The model behind plain HTTP on 127.0.0.1: one Vault API per Vault pod, the Git server's
//! health endpoint, every service and critical endpoint of the scenario, and an ingress port in
//! front of the external ones (routing by `Host`). Each answers from the model as it stands:
//! only while what backs it is up.
//!
//! [`Endpoints::start`] binds free ports and [`Endpoints::rewrite_config`] points an ananke
//! [`Config`] at them, so the real HTTP and Vault adapters reach the simulated lab. The facades
//! reach the model through [`ModelAccess`]: a `Mutex<Model>`, or whatever holds the model and its
//! clock (the Kubernetes API facade's state).

pub(crate) mod server;
mod services;
mod vault;

use crate::model::Model;
use crate::scenario::Scenario;
use ananke_core::Config;
use server::{Admit, Handler};
use services::Route;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::task::JoinHandle;

/// Access to the model for the facades. An implementation locks the model, brings it up to date
/// if it owns a clock, and calls `f` exactly once.
pub trait ModelAccess: Send + Sync + 'static {
    /// Run `f` on the model.
    fn with_model(&self, f: &mut dyn FnMut(&mut Model));
}

impl ModelAccess for Mutex<Model> {
    fn with_model(&self, f: &mut dyn FnMut(&mut Model)) {
        f(&mut self.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Run `f` on the model and return what it returns.
pub(crate) fn with<R>(model: &dyn ModelAccess, f: impl FnOnce(&mut Model) -> R) -> R {
    let (mut f, mut out) = (Some(f), None);
    model.with_model(&mut |m| {
        if let Some(f) = f.take() {
            out = Some(f(m));
        }
    });
    out.expect("ModelAccess::with_model calls its closure exactly once")
}

/// The running facades and where they listen. Dropping it stops them all.
pub struct Endpoints {
    /// Vault API base URL per Vault pod (`http://127.0.0.1:PORT`).
    pub vault_addresses: BTreeMap<String, String>,
    /// The Git server's health URL, when the scenario has a Git server.
    pub gitea_url: Option<String>,
    /// URL per check name: internal checks on their own port, external ones by their host
    /// (reached through [`Endpoints::ingress_address`]).
    pub service_urls: BTreeMap<String, String>,
    /// The ingress (`127.0.0.1:PORT`), when the scenario has external checks.
    pub ingress_address: Option<String>,
    /// Every valid unseal share (`n` of them).
    pub unseal_shares: Vec<String>,
    /// Shares needed to unseal a pod (`t`).
    pub unseal_threshold: u32,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Endpoints {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

/// `path?query` of `url`, `/` when it cannot be parsed.
fn path_of(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

impl Endpoints {
    /// Serve `scenario`'s endpoints over `model` (call from within a tokio runtime).
    ///
    /// # Errors
    /// A port cannot be bound.
    pub async fn start(model: Arc<dyn ModelAccess>, scenario: &Scenario) -> std::io::Result<Endpoints> {
        let (pods, threshold) = with(&*model, |m| (m.vault_pods(), m.vault_threshold()));
        let n = scenario.vault.as_ref().map_or(0, |v| v.shares.max(v.threshold));
        let unseal = Arc::new(vault::Unseal::new(threshold, usize::try_from(n).unwrap_or(0)));
        let mut out = Endpoints {
            vault_addresses: BTreeMap::new(),
            gitea_url: None,
            service_urls: BTreeMap::new(),
            ingress_address: None,
            unseal_shares: unseal.shares.clone(),
            unseal_threshold: threshold,
            tasks: Vec::new(),
        };
        for pod in pods {
            let (m, u, p) = (Arc::clone(&model), Arc::clone(&unseal), pod.clone());
            let admit: Admit = Arc::new(move || u.admit(&*m, &p));
            let (m, u, p) = (Arc::clone(&model), Arc::clone(&unseal), pod.clone());
            let handler: Handler = Arc::new(move |call| u.handle(&*m, &p, call));
            let port = out.listen(admit, handler).await?;
            out.vault_addresses.insert(pod, format!("http://127.0.0.1:{port}"));
        }
        if with(&*model, |m| m.git_server_view().is_some()) {
            let m = Arc::clone(&model);
            let port = out.listen(Arc::new(|| true), Arc::new(move |call| services::gitea(&*m, call))).await?;
            out.gitea_url = Some(format!("http://127.0.0.1:{port}/api/healthz"));
        }
        let mut routes = Vec::new();
        for spec in &scenario.checks {
            let url = url::Url::parse(&spec.url).ok();
            let path = url.as_ref().map_or_else(|| "/".to_owned(), path_of);
            if spec.external {
                let host = url.as_ref().and_then(url::Url::host_str).unwrap_or("localhost").to_ascii_lowercase();
                out.service_urls.insert(spec.name.clone(), format!("http://{host}{path}"));
                let bare = path.split('?').next().unwrap_or("/").to_owned();
                routes.push(Route { host, path: bare, check: spec.name.clone() });
            } else {
                let (m, name) = (Arc::clone(&model), spec.name.clone());
                let port = out.listen(Arc::new(|| true), Arc::new(move |_| services::check(&*m, &name))).await?;
                out.service_urls.insert(spec.name.clone(), format!("http://127.0.0.1:{port}{path}"));
            }
        }
        if !routes.is_empty() {
            let m = Arc::clone(&model);
            let port =
                out.listen(Arc::new(|| true), Arc::new(move |call| services::ingress(&*m, &routes, call))).await?;
            out.ingress_address = Some(format!("127.0.0.1:{port}"));
        }
        Ok(out)
    }

    async fn listen(&mut self, admit: Admit, handler: Handler) -> std::io::Result<u16> {
        let (port, task) = server::start(admit, handler).await?;
        self.tasks.push(task);
        Ok(port)
    }

    /// The standard unseal shares as a shares file holds them: `t` valid shares, one per line.
    #[must_use]
    pub fn standard_shares_text(&self) -> String {
        let t = usize::try_from(self.unseal_threshold).unwrap_or(usize::MAX);
        let mut text = self.unseal_shares.iter().take(t).map(String::as_str).collect::<Vec<_>>().join("\n");
        text.push('\n');
        text
    }

    /// Point `config` at the facades: each Vault pod's address (plain HTTP, so no CA file), the
    /// checklists' URLs (external checks through the ingress address; no certificate expiry rule,
    /// the facades speak plain HTTP), and the Git server's health URL. The unseal key source is
    /// left to the caller.
    pub fn rewrite_config(&self, config: &mut Config) {
        if let Some(vault) = config.vault.as_mut() {
            for pod in &mut vault.pods {
                if let Some(address) = self.vault_addresses.get(&pod.name) {
                    pod.address.clone_from(address);
                }
            }
            vault.ca_file = None;
        }
        let startup = &mut config.startup;
        for check in startup.service_checklist.iter_mut().chain(startup.critical_service_endpoints.iter_mut()) {
            let Some(url) = self.service_urls.get(&check.name) else { continue };
            check.url.clone_from(url);
            check.tls_expiry_min = None;
            if check.exposure == ananke_core::config::Exposure::External {
                check.ingress_address.clone_from(&self.ingress_address);
            }
        }
        if let (Some(git), Some(url)) = (config.flux.git_server.as_mut(), &self.gitea_url) {
            git.health_url.clone_from(url);
        }
    }
}
