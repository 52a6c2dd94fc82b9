//! Opening one authenticated session: address checks, curve25519 first, host keys verified
//! against the configured `known_hosts`, and a refused host key named by its fingerprint.
//!
//! async-ssh2-tokio verifies the host key in a handler it keeps private, and its error says only
//! "unknown key" or "server check failed". To name the refused key, a refusal is followed by a
//! second handshake with a handler of our own that records the presented key and refuses it too
//! (nothing is authenticated on it). Only the failure path pays for that handshake.

use super::error::SshError;
use async_ssh2_tokio::{AuthMethod, Client, ServerCheckMethod, ToSocketAddrsWithHostname};
use russh::keys::{HashAlg, PublicKey};
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What it takes to open a session to any node.
#[derive(Debug, Clone)]
pub(super) struct Credentials {
    /// Remote user.
    pub user: String,
    /// Private key file (read at each connect; its content is never kept nor logged).
    pub identity_file: PathBuf,
    /// `known_hosts` file every host key is verified against.
    pub known_hosts: PathBuf,
    /// Bound on resolving, connecting, key exchange and authentication together.
    pub connect_timeout: Duration,
}

/// One node's SSH endpoint.
#[derive(Debug, Clone, Copy)]
pub(super) struct Endpoint<'a> {
    /// Node name, for errors.
    pub node: &'a str,
    /// Address as configured (IP or host name); also the name looked up in `known_hosts`.
    pub address: &'a str,
    /// Port.
    pub port: u16,
}

impl Endpoint<'_> {
    /// `address:port`, for errors.
    pub fn target(&self) -> String {
        format!("{}:{}", self.address, self.port)
    }

    /// The name `known_hosts` records this endpoint under, as OpenSSH writes it.
    fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.address.to_owned()
        } else {
            format!("[{}]:{}", self.address, self.port)
        }
    }
}

/// Opens an authenticated session, bounded by the connect timeout.
pub(super) async fn open(creds: &Credentials, ep: Endpoint<'_>) -> Result<Client, SshError> {
    match tokio::time::timeout(creds.connect_timeout, open_unbounded(creds, ep)).await {
        Ok(result) => result,
        Err(_) => Err(SshError::ConnectTimeout {
            node: ep.node.to_owned(),
            target: ep.target(),
            after: creds.connect_timeout,
        }),
    }
}

async fn open_unbounded(creds: &Credentials, ep: Endpoint<'_>) -> Result<Client, SshError> {
    let (first, addrs) = resolve(ep).await?;
    let target = Resolved { hostname: ep.address.to_owned(), addrs };
    let auth = AuthMethod::with_key_file(&creds.identity_file, None);
    let check = ServerCheckMethod::with_known_hosts_file(&creds.known_hosts.to_string_lossy());
    match Client::connect_with_config(target, &creds.user, auth, check, client_config()).await {
        Ok(client) => Ok(client),
        Err(e) => Err(classify(creds, ep, first, e).await),
    }
}

/// The client configuration: curve25519 key exchange first (about a sixth of the client CPU of
/// OpenSSH's default post-quantum hybrid on these machines, which matters when 64 handshakes share
/// two cores), then russh's safe defaults; no Nagle delay on the small request/response packets.
pub(super) fn client_config() -> russh::client::Config {
    let preferred = russh::Preferred::default();
    let first = [russh::kex::CURVE25519, russh::kex::CURVE25519_PRE_RFC_8731];
    let mut kex = first.to_vec();
    kex.extend(preferred.kex.iter().filter(|k| !first.contains(k)).copied());
    russh::client::Config {
        preferred: russh::Preferred { kex: Cow::Owned(kex), ..preferred },
        nodelay: true,
        ..russh::client::Config::default()
    }
}

/// Resolves the address without ever handing a malformed one to the resolver: the first address
/// and all of them.
async fn resolve(ep: Endpoint<'_>) -> Result<(SocketAddr, Vec<SocketAddr>), SshError> {
    if let Ok(ip) = ep.address.parse::<IpAddr>() {
        let addr = SocketAddr::new(ip, ep.port);
        return Ok((addr, vec![addr]));
    }
    if !is_host_name(ep.address) {
        return Err(SshError::InvalidAddress { node: ep.node.to_owned(), address: ep.address.to_owned() });
    }
    let connect_error = |reason: String| SshError::Connect { node: ep.node.to_owned(), target: ep.target(), reason };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((ep.address, ep.port))
        .await
        .map_err(|e| connect_error(format!("cannot resolve: {e}")))?
        .collect();
    // A lookup that succeeds names at least one address; an empty answer is refused all the same.
    let first = addrs.first().copied().ok_or_else(|| connect_error("resolves to no address".to_owned()))?;
    Ok((first, addrs))
}

/// An RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
pub(super) fn is_host_name(s: &str) -> bool {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !s.is_empty() && s.len() <= 253 && s.split('.').all(label_ok)
}

/// Addresses resolved beforehand, with the name the host key is looked up under.
struct Resolved {
    hostname: String,
    addrs: Vec<SocketAddr>,
}

impl ToSocketAddrsWithHostname for Resolved {
    fn to_socket_addrs(&self) -> std::io::Result<Vec<SocketAddr>> {
        Ok(self.addrs.clone())
    }

    fn hostname(&self) -> String {
        self.hostname.clone()
    }
}

/// Turns async-ssh2-tokio's error into ours; a host-key refusal gets the presented key's fingerprint.
async fn classify(creds: &Credentials, ep: Endpoint<'_>, addr: SocketAddr, e: async_ssh2_tokio::Error) -> SshError {
    use async_ssh2_tokio::Error as E;
    let node = ep.node.to_owned();
    match e {
        E::SshError(russh::Error::UnknownKey) | E::ServerCheckFailed => host_key_refusal(creds, ep, addr).await,
        E::KeyAuthFailed => SshError::AuthRejected { node, target: ep.target(), user: creds.user.clone() },
        E::KeyInvalid(err) => SshError::Identity { path: creds.identity_file.clone(), reason: err.to_string() },
        E::SshError(russh::Error::IO(io)) | E::IoError(io) => {
            SshError::Connect { node, target: ep.target(), reason: io.to_string() }
        }
        other => SshError::Connect { node, target: ep.target(), reason: other.to_string() },
    }
}

/// Handshakes once more to read the presented key, then says why `known_hosts` refuses it.
async fn host_key_refusal(creds: &Credentials, ep: Endpoint<'_>, addr: SocketAddr) -> SshError {
    let host = ep.known_hosts_name();
    let node = ep.node.to_owned();
    let Some(key) = presented_key(addr).await else {
        return SshError::HostKeyRefused {
            node,
            host,
            fingerprint: "unknown fingerprint".to_owned(),
            reason: "not accepted by the known_hosts check, and a second handshake to read the key failed".to_owned(),
        };
    };
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    let known_hosts = creds.known_hosts.clone();
    match check_known_hosts(ep, &key, &known_hosts) {
        Ok(false) => SshError::UnknownHostKey { node, host, fingerprint, known_hosts },
        Err(russh::keys::Error::KeyChanged { line }) => {
            SshError::ChangedHostKey { node, host, fingerprint, known_hosts, line }
        }
        Ok(true) => SshError::HostKeyRefused {
            node,
            host,
            fingerprint,
            reason: "the node presented a different key on a second handshake".to_owned(),
        },
        Err(err) => {
            SshError::HostKeyRefused { node, host, fingerprint, reason: format!("{}: {err}", known_hosts.display()) }
        }
    }
}

fn check_known_hosts(ep: Endpoint<'_>, key: &PublicKey, path: &Path) -> Result<bool, russh::keys::Error> {
    russh::keys::check_known_hosts_path(ep.address, ep.port, key, path)
}

/// The host key the server at `addr` presents, read by a handshake that refuses it.
async fn presented_key(addr: SocketAddr) -> Option<PublicKey> {
    let seen = Arc::new(Mutex::new(None));
    let handler = KeyScan { seen: Arc::clone(&seen) };
    // The handshake ends in our own refusal; its error is expected and carries nothing new.
    let _refused = russh::client::connect(Arc::new(client_config()), addr, handler).await;
    let key = seen.lock().map(|mut k| k.take()).unwrap_or_default();
    key
}

/// A handler that records the server's key and refuses it.
struct KeyScan {
    seen: Arc<Mutex<Option<PublicKey>>>,
}

impl russh::client::Handler for KeyScan {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKey) -> Result<bool, Self::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(key.clone());
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_checked_before_any_lookup() {
        assert!(is_host_name("titan-23"));
        assert!(is_host_name("node1.lab.example"));
        assert!(!is_host_name("x; touch /tmp/pwned"));
        assert!(!is_host_name("$(id)"));
        assert!(!is_host_name("-oProxyCommand=x"));
        assert!(!is_host_name(""));
        assert!(!is_host_name("a..b"));
    }

    #[test]
    fn known_hosts_names_follow_openssh() {
        let ep = Endpoint { node: "n", address: "10.0.0.1", port: 22 };
        assert_eq!(ep.known_hosts_name(), "10.0.0.1");
        let ep = Endpoint { port: 2222, ..ep };
        assert_eq!(ep.known_hosts_name(), "[10.0.0.1]:2222");
    }

    fn creds(dir: &Path, timeout: Duration) -> Credentials {
        Credentials {
            user: "ananke".into(),
            identity_file: dir.join("id_ed25519"),
            known_hosts: dir.join("known_hosts"),
            connect_timeout: timeout,
        }
    }

    #[tokio::test]
    async fn a_malformed_address_never_reaches_the_resolver() {
        let dir = tempfile::tempdir().unwrap();
        let ep = Endpoint { node: "titan-01", address: "x; touch /tmp/pwned", port: 22 };
        let err = open(&creds(dir.path(), Duration::from_secs(5)), ep).await.unwrap_err();
        assert!(
            matches!(&err, SshError::InvalidAddress { node, address } if node == "titan-01" && address == "x; touch /tmp/pwned"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error_naming_the_target() {
        let dir = tempfile::tempdir().unwrap();
        // A port that was free a moment ago: nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // `localhost` goes through the resolver (the hosts file), a literal IP does not.
        for address in ["127.0.0.1", "localhost"] {
            let ep = Endpoint { node: "titan-01", address, port };
            let err = open(&creds(dir.path(), Duration::from_secs(5)), ep).await.unwrap_err();
            assert!(
                matches!(&err, SshError::Connect { node, target, .. } if node == "titan-01" && *target == format!("{address}:{port}")),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn a_silent_peer_is_a_connect_timeout() {
        let dir = tempfile::tempdir().unwrap();
        // Never accepted: the kernel completes the TCP handshake, and no SSH banner ever comes.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let ep = Endpoint { node: "titan-02", address: "127.0.0.1", port };
        let err = open(&creds(dir.path(), Duration::from_millis(300)), ep).await.unwrap_err();
        assert!(
            matches!(&err, SshError::ConnectTimeout { node, after, .. } if node == "titan-02" && *after == Duration::from_millis(300)),
            "{err}"
        );
        drop(listener);
    }

    #[tokio::test]
    async fn a_peer_that_is_not_ssh_is_a_connect_error() {
        use tokio::io::AsyncWriteExt;
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        });
        let ep = Endpoint { node: "titan-03", address: "127.0.0.1", port };
        let err = open(&creds(dir.path(), Duration::from_secs(5)), ep).await.unwrap_err();
        assert!(matches!(&err, SshError::Connect { node, .. } if node == "titan-03"), "{err}");
        peer.abort();
    }

    #[tokio::test]
    async fn a_peer_that_breaks_the_protocol_after_its_banner_is_a_connect_error() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            // A valid banner, then a packet claiming 4 GiB: not SSH, and the peer stays connected.
            sock.write_all(b"SSH-2.0-OpenSSH_9.2p1\r\n").await.unwrap();
            sock.write_all(&[0xff; 64]).await.unwrap();
            let mut sink = Vec::new();
            let _ = sock.read_to_end(&mut sink).await;
        });
        let ep = Endpoint { node: "titan-04", address: "127.0.0.1", port };
        let err = open(&creds(dir.path(), Duration::from_secs(5)), ep).await.unwrap_err();
        assert!(
            matches!(&err, SshError::Connect { node, reason, .. } if node == "titan-04" && reason.contains("Bad packet size")),
            "{err}"
        );
        assert!(err.is_transient());
        // The client hung up: the peer's read ends.
        peer.await.unwrap();
    }

    #[test]
    fn curve25519_comes_first() {
        let config = client_config();
        assert_eq!(config.preferred.kex[0], russh::kex::CURVE25519);
        assert!(config.nodelay);
    }
}
