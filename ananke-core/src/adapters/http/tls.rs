//! TLS and client construction shared by the HTTP checks, the Git server probe and Vault.
//!
//! rustls on the ring provider, handed to reqwest preconfigured: no process-wide crypto provider
//! is installed, and no aws-lc is built. Trust is the system's CA store plus any extra PEM roots
//! (a test CA, `vault.ca_file`). Clients never use a proxy (every target is a cluster or lab
//! address) and never follow redirects (a check judges what the endpoint itself answers).

use super::HttpError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Extra trust roots: the system store plus these certificates.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    extra: Vec<CertificateDer<'static>>,
}

impl Roots {
    /// Trust the system store plus every certificate of the PEM bundle `pem`.
    ///
    /// # Errors
    /// [`HttpError::Tls`] when the bundle holds a malformed certificate or none at all.
    pub fn with_pem(mut self, pem: &[u8]) -> Result<Self, HttpError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| HttpError::Tls(format!("bad PEM certificate: {e}")))?;
        if certs.is_empty() {
            return Err(HttpError::Tls("the PEM bundle holds no certificate".to_owned()));
        }
        self.extra.extend(certs);
        Ok(self)
    }

    /// Trust the system store plus the PEM bundle in the file at `path`.
    ///
    /// # Errors
    /// [`HttpError::CaFile`] when the file cannot be read; see [`Roots::with_pem`].
    pub fn with_pem_file(self, path: &Path) -> Result<Self, HttpError> {
        let pem = std::fs::read(path)
            .map_err(|e| HttpError::CaFile { path: path.display().to_string(), reason: e.to_string() })?;
        self.with_pem(&pem).map_err(|e| HttpError::CaFile { path: path.display().to_string(), reason: e.to_string() })
    }

    /// The rustls client config: ring, safe protocol versions, the system roots plus the extras.
    /// Built once per prober or Vault client (it reads the system store) and cloned per client.
    ///
    /// # Errors
    /// [`HttpError::Tls`] when an extra root is unusable.
    pub(crate) fn client_config(&self) -> Result<rustls::ClientConfig, HttpError> {
        let mut store = rustls::RootCertStore::empty();
        for cert in &self.extra {
            store.add(cert.clone()).map_err(|e| HttpError::Tls(format!("unusable CA certificate: {e}")))?;
        }
        // Unparsable system certificates are skipped, as every TLS client does; an empty store
        // makes every https check fail with an unknown issuer, which names the problem.
        store.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::Tls(e.to_string()))?
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(config)
    }
}

/// A reqwest client for the adapters: HTTP/1, no proxy, no redirects, TLS info on responses,
/// `connect_timeout` for the TCP and TLS handshake, and, when `via` is set, the host `host`
/// resolved to that address (the ingress: the URL's host still goes out as Host and TLS SNI).
pub(crate) fn client(
    tls: &rustls::ClientConfig,
    connect_timeout: Duration,
    via: Option<(&str, SocketAddr)>,
) -> Result<reqwest::Client, HttpError> {
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls.clone())
        .tls_info(true)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("ananke/", env!("CARGO_PKG_VERSION")));
    if let Some((host, addr)) = via {
        builder = builder.resolve(host, addr);
    }
    builder.build().map_err(|e| HttpError::Tls(super::error_chain(&e)))
}

/// Parse an ingress address: `ip:port`, or a bare IP (port from the URL's scheme).
pub(crate) fn ingress_addr(value: &str) -> Option<SocketAddr> {
    value.parse::<SocketAddr>().ok().or_else(|| value.parse::<std::net::IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0)))
}
