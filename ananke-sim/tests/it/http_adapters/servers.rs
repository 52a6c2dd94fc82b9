//! Real HTTP and HTTPS servers on 127.0.0.1 that answer as a test scripts them, and record the
//! Host header, TLS SNI and path of every request.

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

impl Answer {
    pub fn new(status: u16, body: &str) -> Answer {
        Answer { status, body: body.to_owned(), delay: Duration::ZERO }
    }

    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

/// What the server saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub host: Option<String>,
    pub sni: Option<String>,
    pub path: String,
}

type Script = Arc<dyn Fn() -> Answer + Send + Sync>;

/// A running server; dropping it stops it.
pub struct TestServer {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A plain-HTTP server answering `script()` to every request.
pub async fn plain(script: impl Fn() -> Answer + Send + Sync + 'static) -> TestServer {
    start(Arc::new(script), None).await
}

/// An HTTPS server with `identity`'s certificate.
pub async fn tls(identity: &Identity, script: impl Fn() -> Answer + Send + Sync + 'static) -> TestServer {
    start(Arc::new(script), Some(TlsAcceptor::from(Arc::clone(&identity.config)))).await
}

async fn start(script: Script, tls: Option<TlsAcceptor>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let (script, log, tls) = (Arc::clone(&script), Arc::clone(&log), tls.clone());
            connections.spawn(async move {
                match tls {
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(tcp).await else { return };
                        let sni = stream.get_ref().1.server_name().map(str::to_owned);
                        serve(stream, sni, script, log).await;
                    }
                    None => serve(tcp, None, script, log).await,
                }
            });
        }
    });
    TestServer { port, seen, task }
}

async fn serve<I>(io: I, sni: Option<String>, script: Script, log: Arc<Mutex<Vec<Seen>>>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        let host = req.headers().get(hyper::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned);
        log.lock().unwrap().push(Seen { host, sni: sni.clone(), path: req.uri().path().to_owned() });
        let answer = script();
        async move {
            tokio::time::sleep(answer.delay).await;
            let mut response = Response::new(Full::new(Bytes::from(answer.body)));
            *response.status_mut() = hyper::StatusCode::from_u16(answer.status).unwrap();
            Ok::<_, Infallible>(response)
        }
    });
    let _ = http1::Builder::new().serve_connection(TokioIo::new(io), service).await;
}

/// A test CA and a server certificate it signed.
pub struct Identity {
    pub ca_pem: String,
    config: Arc<ServerConfig>,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A CA and a leaf for `names` (and IP 127.0.0.1) valid from 10 days ago until `expires_in`
/// seconds from now (negative: already expired).
pub fn identity(names: &[&str], expires_in: i64) -> Identity {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let at = |offset: i64| epoch + Duration::from_secs(unix_now().checked_add_signed(offset).unwrap());
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "ananke test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    leaf.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    leaf.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("localhost"));
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = at(-10 * 86_400);
    leaf.not_after = at(expires_in);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let chain = vec![CertificateDer::from(leaf_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Identity { ca_pem: ca_cert.pem(), config: Arc::new(config) }
}

/// One raw HTTP/1.1 request (`Connection: close`), for what the adapters never send (POST,
/// malformed bodies): `(status, body)`, or `None` when the server hung up without answering.
pub async fn raw(address: &str, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let address = address.trim_start_matches("http://");
    raw_to(address, address, method, path, body).await
}

/// [`raw`] with `host` as the Host header.
pub async fn raw_to(address: &str, host: &str, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}
