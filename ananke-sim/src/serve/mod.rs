//! `ananke-sim serve`: a scenario's model behind the Kubernetes API subset of the reference
//! (§1, §2, §7), over HTTPS on 127.0.0.1 with a generated CA and a bearer token, advancing in real
//! time times a speed-up factor.
//!
//! Objects are rendered from the model ([`state`], [`objects`], [`flux`]) into a store with one
//! resourceVersion counter and a change log ([`store`]) that lists and watches ([`watch`]) read;
//! `PATCH`es and evictions become the model's effects ([`patch`], [`k8s`]). Every request is logged
//! (method, path and query, status) in memory and, with an output dir, to `requests.jsonl`.
//!
//! Next to it, on the same state, run the plain-HTTP [`endpoints`](crate::endpoints) (Vault per
//! pod, Gitea's health, the checks, the ingress) and the [`control`] endpoint through which a
//! node's k3s commands reach the model; their addresses go to `endpoints.json` in the output dir.

pub mod args;
pub mod control;
mod discovery;
pub mod flux;
mod http;
pub mod k8s;
pub mod kinds;
pub mod objects;
pub mod patch;
pub mod select;
pub mod state;
pub mod store;
pub mod table;
pub mod tls;
pub mod watch;

use crate::scenario::Scenario;
use ananke_core::Time;
use serde::{Deserialize, Serialize};
use state::State;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// TCP port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Model seconds per real second (0 stops the clock; [`Server::advance`] moves it).
    pub speed: f64,
    /// Seed of the scenario's random faults.
    pub seed: u64,
    /// Where to write `kubeconfig.yaml`, `endpoints.json` and `requests.jsonl` (nothing is written
    /// without one).
    pub dir: Option<PathBuf>,
    /// Changes the watch log keeps (older resourceVersions get `410 Expired`).
    pub history: usize,
    /// Interval between bookmarks on watches that allow them.
    pub bookmark_every: Duration,
    /// Serve the Flux CRDs (false: their groups answer `404 page not found`).
    pub flux_installed: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            port: 0,
            speed: 1.0,
            seed: 0,
            dir: None,
            history: 10_000,
            bookmark_every: Duration::from_secs(30),
            flux_installed: true,
        }
    }
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Method.
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// Status code answered.
    pub status: u16,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// TLS setup failed.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// Binding or writing files failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What the connection tasks share.
pub(crate) struct Shared {
    state: Mutex<State>,
    token: String,
    log: Mutex<Vec<RequestRecord>>,
    log_file: Option<Mutex<File>>,
    changes: tokio::sync::watch::Sender<u64>,
    bookmark_every: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wake the watches when the store has changed.
    fn notify(&self) {
        let rv = self.lock().store.rv();
        self.changes.send_if_modified(|seen| std::mem::replace(seen, rv) != rv);
    }

    fn record(&self, method: &str, target: &str, status: u16) {
        let entry = RequestRecord { method: method.to_owned(), target: target.to_owned(), status };
        if let Some(file) = &self.log_file {
            let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = serde_json::to_writer(&mut *file, &entry).map(|()| file.write_all(b"\n"));
        }
        self.log.lock().unwrap_or_else(PoisonError::into_inner).push(entry);
    }
}

/// A running facade.
pub struct Server {
    shared: Arc<Shared>,
    port: u16,
    kubeconfig: String,
    kubeconfig_path: Option<PathBuf>,
    endpoints: crate::endpoints::Endpoints,
    control_url: String,
    stop: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Serve `scenario` on 127.0.0.1 (call from within a tokio runtime).
    ///
    /// # Errors
    /// TLS generation, binding the port, or writing the output dir.
    pub async fn start(scenario: Scenario, options: ServeOptions) -> Result<Server, ServeError> {
        let identity = tls::generate()?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
        let port = listener.local_addr()?.port();
        let kubeconfig = tls::kubeconfig(&identity.ca_pem, port, &identity.token);
        let (mut kubeconfig_path, mut log_file) = (None, None);
        if let Some(dir) = &options.dir {
            std::fs::create_dir_all(dir)?;
            let path = dir.join("kubeconfig.yaml");
            write_private(&path, &kubeconfig)?;
            kubeconfig_path = Some(path);
            log_file = Some(Mutex::new(File::create(dir.join("requests.jsonl"))?));
        }
        let lab = scenario.clone();
        let state = State::new(scenario, options.seed, options.speed, options.history, options.flux_installed);
        let rv = state.store.rv();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            token: identity.token,
            log: Mutex::new(Vec::new()),
            log_file,
            changes: tokio::sync::watch::channel(rv).0,
            bookmark_every: options.bookmark_every,
        });
        let (stop, stopped) = oneshot::channel();
        let acceptor = tokio_rustls::TlsAcceptor::from(identity.config);
        let side = control::start(&shared, &lab, options.dir.as_deref()).await?;
        let tasks = vec![
            tokio::spawn(http::accept_loop(listener, acceptor, Arc::clone(&shared), stopped)),
            tokio::spawn(tick(Arc::clone(&shared))),
            side.task,
        ];
        let (endpoints, control_url) = (side.endpoints, side.control_url);
        Ok(Server { shared, port, kubeconfig, kubeconfig_path, endpoints, control_url, stop: Some(stop), tasks })
    }

    /// The port it listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The kubeconfig text (CA, `https://127.0.0.1:PORT`, token user).
    #[must_use]
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// Where the kubeconfig was written, when an output dir was given.
    #[must_use]
    pub fn kubeconfig_path(&self) -> Option<&Path> {
        self.kubeconfig_path.as_deref()
    }

    /// The plain-HTTP endpoints (Vault, Gitea, checks, ingress) over the same model.
    #[must_use]
    pub fn endpoints(&self) -> &crate::endpoints::Endpoints {
        &self.endpoints
    }

    /// The control endpoint's base URL (`http://127.0.0.1:PORT/control`).
    #[must_use]
    pub fn control_url(&self) -> &str {
        &self.control_url
    }

    /// The bearer token clients must send.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Every request so far, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Forget the requests logged so far (the JSONL file keeps them).
    pub fn clear_requests(&self) {
        self.shared.log.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// Run `f` on the state (model, store, clock), then re-render and wake the watches.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let out = {
            let mut state = self.shared.lock();
            let out = f(&mut state);
            state.mark_dirty();
            state.refresh();
            out
        };
        self.shared.notify();
        out
    }

    /// Move model time forward to `to`.
    pub fn advance(&self, to: Time) {
        self.with_state(|s| s.clock.jump(to));
    }

    /// Answer the next requests with these status codes (a `Status` each), in order.
    pub fn inject(&self, codes: &[u16]) {
        self.with_state(|s| s.inject.extend(codes.iter().map(|&code| state::Injection::new("", "", code))));
    }

    /// Answer the requests `injection` aims at with its failure (after the failures injected
    /// before it that match them too).
    pub fn inject_for(&self, injection: state::Injection) {
        self.with_state(|s| s.inject.push(injection));
    }

    /// Stop listening and drop every connection (clients then see connection errors).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Advance the model with the clock and wake watches, at the model's next event (at most 1 s
/// apart, at least 10 ms).
async fn tick(shared: Arc<Shared>) {
    loop {
        let wait = {
            let mut state = shared.lock();
            state.refresh();
            let next = state.model.next_event_after(state.model.now());
            next.and_then(|t| state.clock.real_until(t)).unwrap_or(Duration::from_secs(1))
        };
        shared.notify();
        tokio::time::sleep(wait.clamp(Duration::from_millis(10), Duration::from_secs(1))).await;
    }
}

/// `ananke-sim serve`: serve until SIGTERM or SIGINT; prints the kubeconfig path and the port.
///
/// # Errors
/// When the runtime, the server or the signal handlers cannot start.
pub fn run(scenario: Scenario, options: ServeOptions) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let name = scenario.name.clone();
        let server = Server::start(scenario, options).await?;
        let path = server.kubeconfig_path().map_or_else(|| "(not written)".to_owned(), |p| p.display().to_string());
        println!("kubeconfig: {path}");
        println!("port: {}", server.port());
        println!("control: {}", server.control_url());
        eprintln!("ananke-sim: serving {name} on https://127.0.0.1:{} until SIGTERM or SIGINT", server.port());
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        server.shutdown().await;
        Ok(())
    })
}

/// Writes `text` to `path` readable by its owner only (0600): the kubeconfig holds the bearer
/// token. A file already there is truncated and narrowed to 0600 as well.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())
}
