//! HTTP/1.1 over TLS (hyper 1, tokio-rustls): bearer-token auth, one task per connection
//! (keep-alive), a request log entry per request, chunked watch streams flushed per event.

use super::k8s::{self, parse_query, Reply};
use super::{watch, Shared};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

type Body = BoxBody<Bytes, Infallible>;

fn full(status: u16, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body).boxed());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn streamed(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Response<Body> {
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Answer one request.
async fn serve(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().as_str().to_owned();
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let expected = format!("Bearer {}", shared.token);
    let authorized = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str());
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let path = req.uri().path().to_owned();
    let query = parse_query(req.uri().query().unwrap_or_default());
    let body = req.into_body().collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
    let reply = if authorized {
        let request = k8s::Request {
            method: &method,
            path: &path,
            query,
            content_type: &content_type,
            accept: &accept,
            body: &body,
        };
        let reply = {
            let mut state = shared.lock();
            state.refresh();
            k8s::handle(&mut state, &request)
        };
        shared.notify();
        reply
    } else {
        k8s::fail(401, "Unauthorized", "Unauthorized")
    };
    let (status, response) = match reply {
        Reply::Json(status, body) => (status, full(status, "application/json", body)),
        Reply::Text(status, text) => {
            (status, full(status, "text/plain; charset=utf-8", Bytes::from_static(text.as_bytes())))
        }
        Reply::Watch(spec) => (200, streamed(watch::stream(Arc::clone(&shared), spec))),
    };
    shared.record(&method, &target, status);
    Ok(response)
}

/// Accept TLS connections until `stop` fires; then every open connection is dropped.
pub(super) async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let (acceptor, shared) = (acceptor.clone(), Arc::clone(&shared));
                connections.spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = service_fn(move |req| serve(Arc::clone(&shared), req));
                    let _ = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(tls), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn stop_ends_the_loop_and_drops_open_connections() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("bound");
        let acceptor = TlsAcceptor::from(super::super::tls::generate().expect("tls").config);
        let (stop, stopped) = oneshot::channel();
        let shared = super::super::watch::tests::shared();
        let server = tokio::spawn(accept_loop(listener, acceptor, shared, stopped));
        let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut buf = [0_u8; 16];
        let waiting = tokio::time::timeout(Duration::from_millis(200), client.read(&mut buf)).await;
        assert!(waiting.is_err(), "the server holds the connection open, awaiting the TLS handshake");
        stop.send(()).expect("the loop listens");
        tokio::time::timeout(Duration::from_secs(5), server).await.expect("the loop ends").expect("no panic");
        let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf)).await.expect("answered");
        assert!(matches!(read, Ok(0) | Err(_)), "the connection is closed: {read:?}");
    }
}
