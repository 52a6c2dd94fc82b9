//! One attempt of one check: request, read the body, and judge it against the check's rules.

use super::cert;
use crate::config::HttpCheck;
use regex::Regex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The body read for `body_contains` / `body_matches` is capped: a check never buffers more.
const BODY_LIMIT: usize = 1 << 20;

/// What one attempt saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Attempt {
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Time from sending the request to the end of the body, when a response arrived.
    pub latency_ms: Option<u64>,
    /// Why the attempt fails; `None` when it passes.
    pub failure: Option<String>,
}

/// A check ready to run: its rules and the client that reaches its target.
#[derive(Debug)]
pub(crate) struct Target {
    pub check: HttpCheck,
    pub client: reqwest::Client,
    pub body_regex: Option<Regex>,
}

/// What the response says of the peer certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerCert {
    /// The response did not come over TLS.
    None,
    /// A certificate whose expiry cannot be read.
    Unreadable,
    /// `notAfter`, in Unix seconds.
    NotAfter(i64),
}

/// A duration for a reason: `2s`, `500ms`.
pub(crate) fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Describe a request error by its cause: refused, timed out, certificate, or the innermost error.
pub(crate) fn describe_error(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("timed out after {}", human(timeout));
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(why) => format!("certificate invalid: {why}"),
                other => format!("TLS handshake failed: {other}"),
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => return format!("timed out after {}", human(timeout)),
                _ => {}
            }
            // An io::Error's source() skips the error it wraps (rustls puts its error there).
            if let Some(inner) = io.get_ref() {
                source = Some(inner);
                continue;
            }
        }
        source = e.source();
    }
    let what = if err.is_connect() { "connect failed" } else { "request failed" };
    format!("{what}: {}", super::error_chain(err))
}

/// Run one attempt of `target` now.
pub(crate) async fn run(target: &Target) -> Attempt {
    let check = &target.check;
    let timeout = check.timeout.get();
    let started = Instant::now();
    let work = async {
        let response = target.client.get(&check.url).timeout(timeout).send().await?;
        let status = response.status().as_u16();
        let peer = match response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(reqwest::tls::TlsInfo::peer_certificate)
        {
            None => PeerCert::None,
            Some(der) => cert::not_after(der).map_or(PeerCert::Unreadable, PeerCert::NotAfter),
        };
        let body = read_capped(response).await?;
        Ok::<_, reqwest::Error>((status, peer, body))
    };
    // reqwest's timeout runs from connecting to the end of the body: it bounds the whole attempt.
    let (status, peer, body) = match work.await {
        Ok(seen) => seen,
        Err(e) => return Attempt { failure: Some(describe_error(&e, timeout)), ..Attempt::default() },
    };
    let latency = started.elapsed();
    let mut failures = Vec::new();
    if !check.expect_status.contains(&status) {
        failures.push(format!("status {status} not in {:?}", check.expect_status));
    }
    let text = String::from_utf8_lossy(&body);
    if let Some(needle) = &check.body_contains {
        if !text.contains(needle.as_str()) {
            failures.push(format!("body does not contain {:?}", shorten(needle)));
        }
    }
    if let Some(re) = &target.body_regex {
        if !re.is_match(&text) {
            failures.push(format!("body does not match /{}/", shorten(re.as_str())));
        }
    }
    let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    if latency > check.max_latency.get() {
        failures.push(format!("latency {latency_ms} ms over {} ms", check.max_latency.get().as_millis()));
    }
    if let Some(min) = check.tls_expiry_min {
        failures.extend(expiry_failure(peer, min.get()));
    }
    let failure = (!failures.is_empty()).then(|| failures.join("; "));
    Attempt { status: Some(status), latency_ms: Some(latency_ms), failure }
}

/// Read at most [`BODY_LIMIT`] bytes of the body.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = BODY_LIMIT - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == BODY_LIMIT {
            break;
        }
    }
    Ok(body)
}

/// The certificate rule: `None` when the peer certificate lives at least `min` longer.
fn expiry_failure(peer: PeerCert, min: Duration) -> Option<String> {
    let not_after = match peer {
        PeerCert::None => {
            return Some("certificate expiry cannot be checked: the response did not come over TLS".to_owned())
        }
        PeerCert::Unreadable => return Some("certificate invalid: cannot read its expiry date".to_owned()),
        PeerCert::NotAfter(t) => t,
    };
    let now =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let left = not_after - now;
    let min_secs = i64::try_from(min.as_secs()).unwrap_or(i64::MAX);
    if left >= min_secs {
        return None;
    }
    let minimum = if min_secs % 86_400 == 0 { format!("{}", min_secs / 86_400) } else { human(min) };
    Some(if left < 0 {
        format!("certificate expired {} days ago (minimum {minimum})", -left / 86_400)
    } else {
        format!("certificate expires in {} days (minimum {minimum})", left / 86_400)
    })
}

/// At most 80 characters of `text` for a reason.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_reasons_count_whole_days() {
        let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
        let days = |n: i64| Duration::from_secs(u64::try_from(n).unwrap() * 86_400);
        assert_eq!(expiry_failure(PeerCert::NotAfter(now + 30 * 86_400), days(14)), None);
        assert_eq!(
            expiry_failure(PeerCert::NotAfter(now + 3 * 86_400 + 60), days(14)).unwrap(),
            "certificate expires in 3 days (minimum 14)"
        );
        assert_eq!(
            expiry_failure(PeerCert::NotAfter(now + 3_600), Duration::from_secs(7_200)).unwrap(),
            "certificate expires in 0 days (minimum 2h)"
        );
        assert!(expiry_failure(PeerCert::NotAfter(now - 2 * 86_400 - 60), days(1))
            .unwrap()
            .starts_with("certificate expired 2 days ago"));
        assert!(expiry_failure(PeerCert::Unreadable, days(1)).unwrap().starts_with("certificate invalid"));
        assert!(expiry_failure(PeerCert::None, days(1)).unwrap().contains("did not come over TLS"));
    }

    #[test]
    fn long_texts_are_shortened() {
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(100);
        assert_eq!(shorten(&long).chars().count(), 83);
    }
}
