//! One plain-HTTP/1 listener on 127.0.0.1: admits a connection only while what it stands for
//! runs, and answers each request through a synchronous handler.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// Request bodies beyond this are refused (an unseal body is a few hundred bytes).
const BODY_LIMIT: usize = 64 * 1024;

/// What a handler sees of a request.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The `Host` header without its port, lowercased.
    pub host: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// A handler's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// A JSON answer.
    Json(u16, String),
    /// A plain-text answer.
    Text(u16, String),
    /// Close the connection without answering (what backs the endpoint stopped).
    HangUp,
}

/// Decides whether a new connection is served at all.
pub(crate) type Admit = Arc<dyn Fn() -> bool + Send + Sync>;
/// Answers one request.
pub(crate) type Handler = Arc<dyn Fn(&Call) -> Reply + Send + Sync>;

/// Bind a free port on 127.0.0.1 and serve it until the returned task is aborted (which drops
/// every open connection with it).
pub(crate) async fn start(admit: Admit, handler: Handler) -> std::io::Result<(u16, JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    Ok((port, tokio::spawn(accept_loop(listener, admit, handler))))
}

async fn accept_loop(listener: TcpListener, admit: Admit, handler: Handler) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                if !admit() {
                    // Dropped at once: the client sees the connection closed before any answer.
                    drop(tcp);
                    continue;
                }
                let handler = Arc::clone(&handler);
                connections.spawn(async move {
                    let service = service_fn(move |req| answer(Arc::clone(&handler), req));
                    let _ = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(tcp), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Answer one request; an error closes the connection without an answer ([`Reply::HangUp`]).
async fn answer(handler: Handler, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .map(|h| {
            h.rsplit_once(':').map_or(h, |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { h })
        })
        .map(str::to_ascii_lowercase);
    let Ok(body) = Limited::new(req.into_body(), BODY_LIMIT).collect().await.map(http_body_util::Collected::to_bytes)
    else {
        return Ok(respond(413, "text/plain", "request body too large\n".to_owned()));
    };
    let call = Call { method, path, host, body };
    match handler(&call) {
        Reply::Json(status, body) => Ok(respond(status, "application/json", body)),
        Reply::Text(status, body) => Ok(respond(status, "text/plain; charset=utf-8", body)),
        Reply::HangUp => Err(std::io::Error::other("hung up")),
    }
}

fn respond(status: u16, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}
