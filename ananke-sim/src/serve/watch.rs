//! Watches (reference §1.8): newline-delimited compact JSON events, synthetic `ADDED`s for a watch
//! from resourceVersion 0, a replay of the change log after a known one, bookmarks, and an
//! in-stream `410 Expired` (HTTP 200) for one the log no longer holds.

use super::kinds::Kind;
use super::select::Selector;
use super::state::State;
use super::store::{status, Change};
use super::Shared;
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A watch request.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// The kind watched.
    pub kind: Kind,
    /// Only this namespace, when given.
    pub namespace: Option<String>,
    /// Label and field selectors.
    pub selector: Selector,
    /// Start after this resourceVersion; `None` (unset or `0`) starts with every object `ADDED`.
    pub rv: Option<u64>,
    /// Send bookmarks (`allowWatchBookmarks=true`).
    pub bookmarks: bool,
    /// End the initial `ADDED`s with the `k8s.io/initial-events-end` bookmark
    /// (`sendInitialEvents=true`).
    pub initial_end: bool,
    /// End the stream after this long (`timeoutSeconds`).
    pub timeout: Duration,
    /// Send each object as a one-row `Table` (`kubectl get --watch` asks for them).
    pub table: Option<super::table::Include>,
}

impl WatchSpec {
    fn wants(&self, obj: &Value) -> bool {
        let ns_ok = self
            .namespace
            .as_deref()
            .is_none_or(|ns| obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns));
        ns_ok && (self.selector.is_empty() || self.selector.matches(obj))
    }

    /// The event line for `obj` (stored as `obj_json`): the object, or its one-row Table.
    fn event(&self, kind: &str, obj: &Value, obj_json: &[u8], now: std::time::SystemTime) -> Bytes {
        match self.table {
            Some(include) => {
                let rv = obj.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default();
                let table = super::table::table(self.kind, &[obj], rv, include, now);
                event(kind, &serde_json::to_vec(&table).unwrap_or_default())
            }
            None => event(kind, obj_json),
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({ "resourceVersion": rv.to_string() });
        if initial_end {
            meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let object = json!({"kind": self.kind.name(), "apiVersion": self.kind.api_version(), "metadata": meta});
        line(&json!({"type": "BOOKMARK", "object": object}))
    }
}

fn line(v: &Value) -> Bytes {
    let mut out = serde_json::to_vec(v).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

fn event(kind: &str, obj_json: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(obj_json.len() + 32);
    out.put_slice(br#"{"type":""#);
    out.put_slice(kind.as_bytes());
    out.put_slice(br#"","object":"#);
    out.put_slice(obj_json);
    out.put_slice(b"}\n");
    out.freeze()
}

fn expired(asked: u64, current: u64) -> Bytes {
    let message = format!("too old resource version: {asked} ({current})");
    line(&json!({"type": "ERROR", "object": status(410, "Expired", &message, None)}))
}

/// What a watcher does next after reading the log.
enum Step {
    /// Send these lines; the watcher has now seen everything up to `rv`.
    Send(Vec<Bytes>, u64),
    /// Send these lines and end the stream.
    End(Vec<Bytes>),
}

fn changes(state: &State, spec: &WatchSpec, after: u64) -> Step {
    let (store, now) = (&state.store, super::state::wall(state.now()));
    match store.changes_after(after) {
        Ok(iter) => {
            let lines = iter
                .filter(|c: &&Change| c.kind == spec.kind && spec.wants(&c.obj))
                .map(|c| spec.event(c.event.as_str(), &c.obj, &c.json, now))
                .collect();
            Step::Send(lines, store.rv().max(after))
        }
        Err(_) => Step::End(vec![expired(after, store.rv())]),
    }
}

fn start(state: &State, spec: &WatchSpec) -> Step {
    if let Some(rv) = spec.rv {
        return changes(state, spec, rv);
    }
    let (store, now) = (&state.store, super::state::wall(state.now()));
    let mut lines: Vec<Bytes> = store
        .list(spec.kind, spec.namespace.as_deref())
        .filter(|s| spec.wants(&s.obj))
        .map(|s| spec.event("ADDED", &s.obj, &s.json, now))
        .collect();
    if spec.initial_end {
        lines.push(spec.bookmark(store.rv(), true));
    }
    Step::Send(lines, store.rv())
}

async fn send_all(tx: &mpsc::Sender<Bytes>, lines: Vec<Bytes>) -> bool {
    for l in lines {
        if tx.send(l).await.is_err() {
            return false;
        }
    }
    true
}

/// Start the watch `spec`: its lines arrive on the returned channel until it ends.
pub(crate) fn stream(shared: Arc<Shared>, spec: WatchSpec) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(run(shared, spec, tx));
    rx
}

async fn run(shared: Arc<Shared>, spec: WatchSpec, tx: mpsc::Sender<Bytes>) {
    let mut notified = shared.changes.subscribe();
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut bookmarks = tokio::time::interval(shared.bookmark_every);
    bookmarks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    bookmarks.tick().await;
    let mut step = start(&shared.lock(), &spec);
    loop {
        let cursor = match step {
            Step::Send(lines, rv) => {
                if !send_all(&tx, lines).await {
                    return;
                }
                rv
            }
            Step::End(lines) => {
                send_all(&tx, lines).await;
                return;
            }
        };
        // The store's sender lives in `shared`, which this task holds: `changed` cannot fail.
        let bookmark = tokio::select! {
            () = tokio::time::sleep_until(deadline) => return,
            () = tx.closed() => return,
            Ok(()) = notified.changed() => false,
            _ = bookmarks.tick(), if spec.bookmarks => true,
        };
        step = match changes(&shared.lock(), &spec, cursor) {
            Step::Send(mut lines, rv) if bookmark => {
                lines.push(spec.bookmark(rv, false));
                Step::Send(lines, rv)
            }
            other => other,
        };
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::serve::state::State;
    use std::sync::Mutex;

    /// What `Server::start` shares, over titan-lab with a stopped clock.
    pub(in crate::serve) fn shared() -> Arc<Shared> {
        let state = State::new(crate::builtin("titan-lab").expect("built in"), 0, 0.0, 64, true);
        let rv = state.store.rv();
        Arc::new(Shared {
            state: Mutex::new(state),
            token: "sim-test".to_owned(),
            log: Mutex::default(),
            log_file: None,
            changes: tokio::sync::watch::channel(rv).0,
            bookmark_every: Duration::from_millis(50),
        })
    }

    #[tokio::test]
    async fn a_watch_whose_client_has_gone_ends_at_once() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        assert!(!send_all(&tx, vec![Bytes::from_static(b"{}\n")]).await);
        assert!(send_all(&tx, Vec::new()).await, "nothing to send is no failure");
        let spec = WatchSpec {
            kind: Kind::Node,
            namespace: None,
            selector: Selector::default(),
            rv: None,
            bookmarks: true,
            initial_end: false,
            timeout: Duration::from_secs(3600),
            table: None,
        };
        tokio::time::timeout(Duration::from_secs(5), run(shared(), spec, tx))
            .await
            .expect("the watch ends without waiting for its hour");
    }
}
