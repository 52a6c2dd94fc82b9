//! The facade's object store (reference §7 item 1): objects by kind, namespace and name, one
//! global resourceVersion counter, and a bounded change log that watches replay.

use super::kinds::Kind;
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};

/// One stored object with its resourceVersion and its compact JSON.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The object, `metadata.resourceVersion` included.
    pub obj: Value,
    /// `obj` serialized (compact), reused by lists and watches.
    pub json: Bytes,
    /// Its resourceVersion.
    pub rv: u64,
}

/// A watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Deleted (carries the last state).
    Deleted,
}

impl EventType {
    /// The upper-case wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One logged change.
#[derive(Debug, Clone)]
pub struct Change {
    /// The resourceVersion it produced.
    pub rv: u64,
    /// Kind of the object.
    pub kind: Kind,
    /// What happened.
    pub event: EventType,
    /// The object after the change (the last state for a deletion).
    pub obj: Value,
    /// The object's compact JSON.
    pub json: Bytes,
}

/// A watch asked for changes the log no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    /// The oldest resourceVersion a watch can still start from.
    pub oldest: u64,
}

type Key = (String, String);

/// Every object the facade serves.
#[derive(Debug)]
pub struct Store {
    objects: BTreeMap<Kind, BTreeMap<Key, Stored>>,
    rv: u64,
    log: VecDeque<Change>,
    /// The resourceVersion of the newest change dropped from the log (0: none dropped).
    floor: u64,
    history: usize,
    uids: u64,
}

fn stamp(obj: &mut Value, rv: u64) -> Bytes {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".to_owned(), Value::String(rv.to_string()));
    }
    Bytes::from(serde_json::to_vec(obj).unwrap_or_default())
}

/// Give every condition of `obj` a `lastTransitionTime`: the previous one while its status is
/// unchanged, `now` otherwise (and the same for nodes' `lastHeartbeatTime`).
fn stamp_conditions(obj: &mut Value, previous: Option<&Value>, now: &str) {
    let before = previous.and_then(|p| p.pointer("/status/conditions")).and_then(Value::as_array);
    let Some(conditions) = obj.pointer_mut("/status/conditions").and_then(Value::as_array_mut) else { return };
    for c in conditions {
        let old = before
            .and_then(|b| b.iter().find(|o| o.get("type") == c.get("type") && o.get("status") == c.get("status")));
        let time =
            old.and_then(|o| o.get("lastTransitionTime")).cloned().unwrap_or_else(|| Value::String(now.to_owned()));
        if let Some(fields) = c.as_object_mut() {
            if fields.contains_key("lastHeartbeatTime") {
                fields.insert("lastHeartbeatTime".to_owned(), time.clone());
            }
            fields.insert("lastTransitionTime".to_owned(), time);
        }
    }
}

impl Store {
    /// An empty store keeping the last `history` changes for watches.
    #[must_use]
    pub fn new(history: usize) -> Store {
        Store { objects: BTreeMap::new(), rv: 0, log: VecDeque::new(), floor: 0, history: history.max(1), uids: 0 }
    }

    /// The current resourceVersion.
    #[must_use]
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// One object.
    #[must_use]
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Stored> {
        self.objects.get(&kind)?.get(&(namespace.to_owned(), name.to_owned()))
    }

    /// The objects of `kind`, in `namespace` when given, in namespace and name order.
    pub fn list<'a>(&'a self, kind: Kind, namespace: Option<&'a str>) -> impl Iterator<Item = &'a Stored> + 'a {
        self.objects
            .get(&kind)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(move |((ns, _), _)| namespace.is_none_or(|n| n == ns))
            .map(|(_, s)| s)
    }

    fn log_change(&mut self, kind: Kind, event: EventType, obj: Value, json: Bytes) {
        self.log.push_back(Change { rv: self.rv, kind, event, obj, json });
        while self.log.len() > self.history {
            if let Some(dropped) = self.log.pop_front() {
                self.floor = dropped.rv;
            }
        }
    }

    /// Make `kind`'s objects exactly `desired` (keyed by namespace and name, without
    /// resourceVersion, uid or creationTimestamp): changed objects get a new resourceVersion and a
    /// log entry, missing ones are deleted. `now` is the RFC 3339 time of new conditions.
    pub fn replace_kind(&mut self, kind: Kind, desired: Vec<(Key, Value)>, now: &str) {
        let mut old = self.objects.remove(&kind).unwrap_or_default();
        let mut next = BTreeMap::new();
        for (key, mut obj) in desired {
            let previous = old.remove(&key);
            stamp_conditions(&mut obj, previous.as_ref().map(|p| &p.obj), now);
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                let prev_meta = previous.as_ref().and_then(|p| p.obj.get("metadata"));
                let keep = |field: &str| prev_meta.and_then(|m| m.get(field)).cloned();
                let uid = keep("uid").unwrap_or_else(|| {
                    self.uids += 1;
                    Value::String(format!("00000000-0000-4000-8000-{:012x}", self.uids))
                });
                meta.insert("uid".to_owned(), uid);
                meta.insert(
                    "creationTimestamp".to_owned(),
                    keep("creationTimestamp").unwrap_or_else(|| Value::String(now.to_owned())),
                );
                if let Some(rv) = keep("resourceVersion") {
                    meta.insert("resourceVersion".to_owned(), rv);
                }
            }
            let stored = match previous {
                Some(p) if p.obj == obj => p,
                previous => {
                    self.rv += 1;
                    let json = stamp(&mut obj, self.rv);
                    let event = if previous.is_some() { EventType::Modified } else { EventType::Added };
                    self.log_change(kind, event, obj.clone(), json.clone());
                    Stored { obj, json, rv: self.rv }
                }
            };
            next.insert(key, stored);
        }
        for (_, mut gone) in old {
            self.rv += 1;
            let json = stamp(&mut gone.obj, self.rv);
            self.log_change(kind, EventType::Deleted, gone.obj, json);
        }
        self.objects.insert(kind, next);
    }

    /// The changes after resourceVersion `rv`, oldest first.
    ///
    /// # Errors
    /// When the log no longer holds every change after `rv`.
    pub fn changes_after(&self, rv: u64) -> Result<impl Iterator<Item = &Change>, Expired> {
        if rv < self.floor {
            return Err(Expired { oldest: self.floor });
        }
        let start = self.log.partition_point(|c| c.rv <= rv);
        Ok(self.log.range(start..))
    }
}

/// A `Status` object (reference §2.1).
#[must_use]
pub fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": if code < 300 { "Success" } else { "Failure" }, "code": code});
    if !reason.is_empty() {
        s["reason"] = Value::String(reason.to_owned());
    }
    if !message.is_empty() {
        s["message"] = Value::String(message.to_owned());
    }
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str, v: i64) -> ((String, String), Value) {
        (
            ("ns".into(), name.into()),
            json!({"metadata": {"name": name, "namespace": "ns"}, "spec": {"v": v},
            "status": {"conditions": [{"type": "Ready", "status": if v > 0 { "True" } else { "False" }}]}}),
        )
    }

    #[test]
    fn changes_get_new_versions_and_the_log_expires() {
        let mut store = Store::new(2);
        store.replace_kind(Kind::Pod, vec![obj("a", 1), obj("b", 1)], "2026-01-01T00:00:00Z");
        assert_eq!(store.rv(), 2);
        store.replace_kind(Kind::Pod, vec![obj("a", 1), obj("b", 1)], "2026-01-01T00:00:01Z");
        assert_eq!(store.rv(), 2, "an unchanged render changes nothing");
        store.replace_kind(Kind::Pod, vec![obj("a", 0)], "2026-01-01T00:00:02Z");
        assert_eq!(store.rv(), 4);
        let a = store.get(Kind::Pod, "ns", "a").unwrap();
        assert_eq!(a.obj.pointer("/status/conditions/0/lastTransitionTime").unwrap(), "2026-01-01T00:00:02Z");
        assert_eq!(a.obj.pointer("/metadata/resourceVersion").unwrap(), "3");
        let events: Vec<_> = store.changes_after(2).unwrap().map(|c| (c.rv, c.event)).collect();
        assert_eq!(events, vec![(3, EventType::Modified), (4, EventType::Deleted)]);
        assert_eq!(store.changes_after(1).err(), Some(Expired { oldest: 2 }));
        assert_eq!(store.list(Kind::Pod, Some("ns")).count(), 1);
        assert_eq!(status(404, "NotFound", "x", None)["code"], 404);
    }
}
