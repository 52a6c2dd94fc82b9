//! TLS for the facade (reference §8 pitfall 17): a generated CA and a leaf certificate signed by
//! it (`CA:FALSE`, `serverAuth`, SAN `IP:127.0.0.1` and `DNS:localhost`), a rustls server config
//! on the ring provider, and the kubeconfig clients read.

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// The generated CA and server identity.
pub struct Identity {
    /// The CA certificate, PEM (what `certificate-authority-data` carries).
    pub ca_pem: String,
    /// The rustls config serving the leaf.
    pub config: Arc<ServerConfig>,
    /// A bearer token derived from the fresh CA key (unguessable, never logged).
    pub token: String,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("cannot generate the test CA: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("cannot build the TLS config: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Generate a CA and a leaf for 127.0.0.1 and localhost.
///
/// # Errors
/// When key generation or signing fails.
pub fn generate() -> Result<Identity, TlsError> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "ananke-sim CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key)?;
    let token = {
        let digest = Sha256::digest(ca_key.serialize_der());
        digest.iter().take(24).fold(String::from("sim-"), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()])?;
    leaf.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    leaf.distinguished_name.push(DnType::CommonName, "ananke-sim apiserver");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;
    let chain = vec![CertificateDer::from(leaf_cert.der().to_vec()), CertificateDer::from(ca_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity { ca_pem: ca_cert.pem(), config: Arc::new(config), token })
}

/// A kubeconfig for `https://127.0.0.1:port` trusting `ca_pem`, with a bearer-token user.
#[must_use]
pub fn kubeconfig(ca_pem: &str, port: u16, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: ananke-sim\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority-data: {ca}\n\
         users:\n- name: ananke-sim\n  user:\n    token: {token}\ncontexts:\n- name: ananke-sim\n  context:\n    cluster: ananke-sim\n    user: ananke-sim\n\
         current-context: ananke-sim\n"
    )
}
