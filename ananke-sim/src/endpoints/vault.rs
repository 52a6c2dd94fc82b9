//! Vault's unseal API for one pod (reference §5.1): `GET /v1/sys/seal-status`, `PUT` or `POST
//! /v1/sys/unseal` with `{"key": share}` or `{"reset": true}`, and `GET /v1/sys/health`.
//!
//! Each pod keeps its own progress (the distinct shares submitted since the last reset). Once a
//! threshold of shares is in, the pod unseals if every one of them is a valid share; otherwise
//! Vault answers `400` and the progress starts over. A pod that does not run in the model does
//! not answer, and loses its progress, as a restarted Vault process would.

use super::server::{Call, Reply};
use super::{with, ModelAccess};
use serde_json::{json, Value};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt::Write;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, PoisonError};

/// The shares and every pod's progress.
pub(crate) struct Unseal {
    /// The valid shares (`n`).
    pub shares: Vec<String>,
    /// Shares needed (`t`).
    pub threshold: u32,
    progress: Mutex<HashMap<String, Vec<String>>>,
}

/// `n` random shares: 33 bytes each, hex-encoded, as `vault operator init` prints them.
pub(crate) fn generate_shares(n: usize) -> Vec<String> {
    let state = RandomState::new();
    (0..n)
        .map(|i| {
            (0..5u64).fold(String::new(), |mut share, part| {
                let mut hasher = state.build_hasher();
                hasher.write_usize(i);
                hasher.write_u64(part);
                let bytes = hasher.finish().to_be_bytes();
                let take = if part == 4 { 1 } else { 8 };
                bytes[..take].iter().for_each(|b| {
                    let _ = write!(share, "{b:02x}");
                });
                share
            })
        })
        .collect()
}

/// Vault accepts shares in hex or base64.
fn well_formed(key: &str) -> bool {
    let hex = key.len().is_multiple_of(2) && key.bytes().all(|b| b.is_ascii_hexdigit());
    let base64 = key.len().is_multiple_of(4)
        && key.trim_end_matches('=').bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    !key.is_empty() && (hex || base64)
}

fn errors(status: u16, message: &str) -> Reply {
    Reply::Json(status, json!({ "errors": [message] }).to_string())
}

impl Unseal {
    /// `n` fresh shares, `threshold` of which unseal a pod.
    pub fn new(threshold: u32, n: usize) -> Unseal {
        Unseal { shares: generate_shares(n), threshold, progress: Mutex::new(HashMap::new()) }
    }

    fn progress_of(&self, pod: &str) -> usize {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner).get(pod).map_or(0, Vec::len)
    }

    /// Whether `pod` answers; a pod that does not run forgets its progress.
    pub fn admit(&self, model: &dyn ModelAccess, pod: &str) -> bool {
        let running = with(model, |m| m.vault_pod_running(pod));
        if !running {
            self.progress.lock().unwrap_or_else(PoisonError::into_inner).remove(pod);
        }
        running
    }

    fn status(&self, pod: &str, sealed: bool) -> Value {
        let progress = self.progress_of(pod);
        let mut status = json!({
            "type": "shamir", "initialized": true, "sealed": sealed,
            "t": self.threshold, "n": self.shares.len(), "progress": progress,
            "nonce": if progress > 0 { format!("sim-unseal-{pod}") } else { String::new() },
            "version": "1.19.0", "build_date": "2025-03-04T12:36:40Z",
            "migration": false, "recovery_seal": false, "storage_type": "raft",
        });
        if !sealed {
            status["cluster_name"] = json!("vault-cluster-sim");
            status["cluster_id"] = json!("00000000-0000-4000-8000-00000000a11e");
        }
        status
    }

    /// Answer one request to `pod`'s API.
    pub fn handle(&self, model: &dyn ModelAccess, pod: &str, call: &Call) -> Reply {
        let (running, sealed) = with(model, |m| (m.vault_pod_running(pod), m.vault_pod_sealed(pod)));
        let Some(sealed) = sealed.filter(|_| running) else {
            return Reply::HangUp;
        };
        match (call.method.as_str(), call.path.as_str()) {
            ("GET", "/v1/sys/seal-status") => Reply::Json(200, self.status(pod, sealed).to_string()),
            ("GET" | "HEAD", "/v1/sys/health") => {
                let body = json!({"initialized": true, "sealed": sealed, "standby": false, "version": "1.19.0"});
                Reply::Json(if sealed { 503 } else { 200 }, body.to_string())
            }
            ("PUT" | "POST", "/v1/sys/unseal") => self.unseal(model, pod, sealed, &call.body),
            (_, "/v1/sys/unseal" | "/v1/sys/seal-status") => errors(405, "unsupported operation"),
            _ => errors(404, "unsupported path"),
        }
    }

    fn unseal(&self, model: &dyn ModelAccess, pod: &str, sealed: bool, body: &[u8]) -> Reply {
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return errors(400, "failed to parse JSON input");
        };
        if request.get("reset").and_then(Value::as_bool) == Some(true) {
            self.progress.lock().unwrap_or_else(PoisonError::into_inner).remove(pod);
            return Reply::Json(200, self.status(pod, sealed).to_string());
        }
        let Some(key) = request.get("key").and_then(Value::as_str) else {
            return errors(400, "'key' must be specified in request body as JSON, or 'reset' set to true");
        };
        if !well_formed(key) {
            return errors(400, "'key' must be a valid hex or base64 string");
        }
        if !sealed {
            return Reply::Json(200, self.status(pod, false).to_string());
        }
        let complete = {
            let mut all = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
            let progress = all.entry(pod.to_owned()).or_default();
            if !progress.iter().any(|k| k == key) {
                progress.push(key.to_owned());
            }
            if progress.len() >= usize::try_from(self.threshold).unwrap_or(usize::MAX) {
                all.remove(pod)
            } else {
                None
            }
        };
        match complete {
            None => Reply::Json(200, self.status(pod, true).to_string()),
            Some(keys) if keys.iter().all(|k| self.shares.contains(k)) => {
                let unsealed = with(model, |m| m.unseal_vault_pod(pod));
                Reply::Json(200, self.status(pod, !unsealed).to_string())
            }
            Some(_) => errors(400, "Error unsealing: cipher: message authentication failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_look_like_vault_shares() {
        let shares = generate_shares(5);
        assert_eq!(shares.len(), 5);
        assert!(shares.iter().all(|s| s.len() == 66 && well_formed(s)), "{shares:?}");
        let mut unique = shares.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 5);
        assert!(well_formed("aGVsbG8="));
        assert!(!well_formed("not a share!"));
        assert!(!well_formed(""));
    }
}
