//! The Kubernetes adapter: observes the cluster and executes API effects through `kube` 5 and
//! `k8s-openapi` (reference `kubernetes-api.md` §1, §3, §4, §8).
//!
//! - One list per resource kind per observation, never a request per object ([`observe`]); an
//!   unreachable API is data in the observation, not an error.
//! - Effects ([`act`]): cordon and uncordon (strategic merge, as `kubectl cordon`), scale (the scale
//!   subresource), drain (evictions, with PDB refusals told apart), Flux suspend, resume, reconcile
//!   requests and source changes (merge patches; custom resources refuse strategic merge).
//! - kube's silent retry of 429/503/504 is off (pitfall 1): reads get this adapter's own bounded
//!   retry, effects get exactly one attempt (the runner retries transient failures itself).
//! - "Flux is not installed" (a 404 for its API groups, whatever the body) and "object gone" are
//!   told apart from real errors (pitfalls 2 and 25).

mod act;
mod errors;
mod flux;
mod map;
mod observe;
mod source;

pub use errors::CallFailure;
pub use source::{KubeconfigEnv, KubeconfigFlags, KubeconfigOrigin, KubeconfigSource, K3S_KUBECONFIG};

use kube::{Client, Config};
use std::path::Path;
use std::time::Duration;

/// Timeouts and retries of the adapter.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// Bound of one request (connect, send and the whole response).
    pub request_timeout: Duration,
    /// Bound of establishing a connection.
    pub connect_timeout: Duration,
    /// Extra attempts of a list that failed transiently (reads only; effects are never retried
    /// here).
    pub read_retries: u32,
    /// Wait before the first read retry; doubled for each further one.
    pub retry_backoff: Duration,
}

impl Default for KubeSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            read_retries: 2,
            retry_backoff: Duration::from_millis(200),
        }
    }
}

/// Why the adapter could not be built (every variant is permanent: fix the kubeconfig).
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The kubeconfig could not be read or understood.
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The client could not be built from it (TLS material, auth settings).
    #[error("cannot build the Kubernetes client: {0}")]
    Client(String),
}

/// The cluster, as the Kubernetes API shows it.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    settings: KubeSettings,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl KubeCluster {
    /// Connect (lazily: no request is sent yet) with the kubeconfig at `path`.
    ///
    /// # Errors
    /// As [`KubeCluster::from_source`].
    pub async fn from_kubeconfig(path: &Path, settings: KubeSettings) -> Result<KubeCluster, KubeError> {
        Self::from_source(&KubeconfigSource::file(path), settings).await
    }

    /// Connect (lazily: no request is sent yet) with the kubeconfig(s) and context of `source`.
    ///
    /// The client never retries by itself (`default_retry = false`) and never goes through a
    /// proxy (the API is on the lab's network; `HTTPS_PROXY` is ignored).
    ///
    /// # Errors
    /// An unreadable or invalid kubeconfig, an unknown context, or TLS or auth settings that
    /// cannot be used.
    pub async fn from_source(source: &KubeconfigSource, settings: KubeSettings) -> Result<KubeCluster, KubeError> {
        let bad = |message: String| KubeError::Kubeconfig { path: source.paths_display(), message };
        let (kubeconfig, options) = source.read().map_err(bad)?;
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| bad(e.to_string()))?;
        config.default_retry = false;
        config.proxy_url = None;
        config.connect_timeout = Some(settings.connect_timeout);
        config.read_timeout = Some(settings.request_timeout);
        config.write_timeout = Some(settings.request_timeout);
        let client = Client::try_from(config).map_err(|e| KubeError::Client(e.to_string()))?;
        Ok(KubeCluster { client, settings })
    }

    /// The settings in force.
    #[must_use]
    pub fn settings(&self) -> &KubeSettings {
        &self.settings
    }

    /// Bound `call` by the request timeout.
    async fn bounded<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, CallFailure> {
        match tokio::time::timeout(self.settings.request_timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(CallFailure::from_kube(what, &e)),
            Err(_) => Err(CallFailure::timeout(what, self.settings.request_timeout)),
        }
    }

    /// `call` bounded, retried while it fails transiently (reads only).
    async fn read<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, CallFailure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        let mut wait = self.settings.retry_backoff;
        let mut attempt = 0;
        loop {
            match self.bounded(what, call()).await {
                Err(f) if f.transient && attempt < self.settings.read_retries => {
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                other => return other,
            }
        }
    }
}
