//! The secrets port against Vault's HTTP API (reference §5.1): seal status and unseal, per pod.
//!
//! Every Vault pod is sealed on its own after a power loss, so each is asked and unsealed at its
//! own address. [`VaultClient::unseal`] submits one share at a time (`PUT /v1/sys/unseal`) until
//! the pod says unsealed; [`VaultClient::execute_unseal`] runs the runner's unseal effects with
//! the standard shares (`vault.unseal_keys`) or the breakglass command's
//! (`startup.vault_unseal_breakglass_command`), both retrieved by [`crate::runner::secrets`].
//!
//! Each source is asked once per client, that is once per run, however many pods are sealed: a
//! breakglass path may page a person or spend a one-time code. Its answer (the shares, or why
//! there are none) is kept for the other pods.
//!
//! Shares are [`Secret`]s: they go into one request body and nowhere else. Every message this
//! module builds, including the errors Vault itself returns, has every share scrubbed out.

use super::http::{HttpError, Roots};
use crate::config::{CommandSpec, Config, UnsealKeySource, VaultPod, VaultSettings};
use crate::machine::EffectOutcome;
use crate::observation::VaultStatus;
use crate::runner::secrets::{breakglass_shares, standard_shares, Secret, SecretError};
use crate::Effect;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Why a Vault call failed. Never holds a share.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// The pod is not in `vault.pods` (permanent).
    #[error("unknown vault pod {0}")]
    UnknownPod(String),
    /// The pod did not answer: connection refused, reset, timed out (transient).
    #[error("vault pod {pod} unreachable: {reason}")]
    Unreachable {
        /// Pod name.
        pod: String,
        /// Why.
        reason: String,
    },
    /// Vault refused a share (`400`): malformed, or a threshold of shares that does not
    /// reconstruct the key (Vault then resets the progress). Permanent: these shares are wrong.
    #[error("vault pod {pod} refused the unseal: {errors}")]
    Rejected {
        /// Pod name.
        pod: String,
        /// Vault's own error messages, shares scrubbed.
        errors: String,
    },
    /// An unexpected HTTP status (transient for 5xx and 429, permanent otherwise).
    #[error("vault pod {pod} answered {status}: {errors}")]
    Status {
        /// Pod name.
        pod: String,
        /// HTTP status.
        status: u16,
        /// Vault's error messages, shares scrubbed.
        errors: String,
    },
    /// The answer is not a seal status (transient: a pod starting up may answer oddly).
    #[error("vault pod {pod} sent an unreadable seal status: {reason}")]
    Answer {
        /// Pod name.
        pod: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// Every share was accepted and the pod is still sealed (permanent: too few shares).
    #[error("vault pod {pod} still sealed after {submitted} shares (progress {progress} of {threshold})")]
    StillSealed {
        /// Pod name.
        pod: String,
        /// Shares submitted.
        submitted: usize,
        /// Vault's progress afterwards.
        progress: u32,
        /// Vault's threshold.
        threshold: u32,
    },
}

impl VaultError {
    /// Whether trying again later may help.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            VaultError::Unreachable { .. } | VaultError::Answer { .. } => true,
            VaultError::Status { status, .. } => *status >= 500 || *status == 429,
            VaultError::UnknownPod(_) | VaultError::Rejected { .. } | VaultError::StillSealed { .. } => false,
        }
    }
}

/// What `/v1/sys/seal-status` and `/v1/sys/unseal` answer (the fields ananke reads).
#[derive(Debug, Deserialize)]
struct SealStatus {
    sealed: bool,
    #[serde(default)]
    t: u32,
    #[serde(default)]
    progress: u32,
}

/// Vault's error body.
#[derive(Debug, Deserialize, Default)]
struct Errors {
    #[serde(default)]
    errors: Vec<String>,
}

/// The answer of one share source, kept for the run: the shares, or whether retrying could have
/// helped and why there are none.
type Shares = Result<Vec<Secret>, (bool, String)>;

/// Talks to every Vault pod of the config.
#[derive(Debug, Clone)]
pub struct VaultClient {
    pods: Vec<VaultPod>,
    client: reqwest::Client,
    timeout: Duration,
    keys: UnsealKeySource,
    breakglass: Option<CommandSpec>,
    /// The standard source's answer, once asked.
    standard: std::sync::Arc<tokio::sync::OnceCell<Shares>>,
    /// The breakglass command's answer, once run.
    breakglass_answer: std::sync::Arc<tokio::sync::OnceCell<Shares>>,
}

impl VaultClient {
    /// The client for the config's `vault` section, `None` when there is none. Each request is
    /// bounded by `timeout`.
    ///
    /// # Errors
    /// See [`VaultClient::new`].
    pub fn from_config(config: &Config, timeout: Duration) -> Result<Option<VaultClient>, HttpError> {
        config
            .vault
            .as_ref()
            .map(|v| VaultClient::new(v, config.startup.vault_unseal_breakglass_command.as_ref(), timeout))
            .transpose()
    }

    /// A client for `vault`'s pods, trusting `vault.ca_file` on top of the system's CAs.
    ///
    /// # Errors
    /// The CA file cannot be read or holds no usable certificate.
    pub fn new(
        vault: &VaultSettings,
        breakglass: Option<&CommandSpec>,
        timeout: Duration,
    ) -> Result<VaultClient, HttpError> {
        let roots = match &vault.ca_file {
            Some(path) => Roots::default().with_pem_file(path)?,
            None => Roots::default(),
        };
        let client = super::http::tls_client(&roots, timeout)?;
        Ok(VaultClient {
            pods: vault.pods.clone(),
            client,
            timeout,
            keys: vault.unseal_keys.clone(),
            breakglass: breakglass.cloned(),
            standard: std::sync::Arc::default(),
            breakglass_answer: std::sync::Arc::default(),
        })
    }

    fn url(&self, pod: &str, path: &str) -> Result<String, VaultError> {
        let pod = self.pods.iter().find(|p| p.name == pod).ok_or_else(|| VaultError::UnknownPod(pod.to_owned()))?;
        Ok(format!("{}{path}", pod.address.trim_end_matches('/')))
    }

    /// Send one request and read a seal status from the answer.
    async fn call(
        &self,
        pod: &str,
        request: reqwest::RequestBuilder,
        shares: &[Secret],
    ) -> Result<SealStatus, VaultError> {
        let unreachable = |e: &reqwest::Error| VaultError::Unreachable {
            pod: pod.to_owned(),
            reason: scrub(&super::http::describe_error(e, self.timeout), shares),
        };
        let response = request.timeout(self.timeout).send().await.map_err(|e| unreachable(&e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| unreachable(&e))?;
        if status != 200 {
            let errors = serde_json::from_slice::<Errors>(&body).unwrap_or_default().errors.join("; ");
            let errors = scrub(&errors, shares);
            return Err(if status == 400 {
                VaultError::Rejected { pod: pod.to_owned(), errors }
            } else {
                VaultError::Status { pod: pod.to_owned(), status, errors }
            });
        }
        serde_json::from_slice(&body).map_err(|e| VaultError::Answer { pod: pod.to_owned(), reason: e.to_string() })
    }

    /// `GET /v1/sys/seal-status` of `pod`.
    ///
    /// # Errors
    /// Unknown pod, unreachable, or an unexpected answer.
    pub async fn seal_status(&self, pod: &str) -> Result<VaultStatus, VaultError> {
        let url = self.url(pod, "/v1/sys/seal-status")?;
        let s = self.call(pod, self.client.get(url), &[]).await?;
        Ok(status_of(pod, &s))
    }

    /// Every pod's seal status, asked concurrently; a pod that does not answer is unreachable.
    pub async fn observe(&self) -> Vec<VaultStatus> {
        let asks = self.pods.iter().map(|p| async move {
            self.seal_status(&p.name).await.unwrap_or_else(|_| VaultStatus {
                pod: p.name.clone(),
                reachable: false,
                ..VaultStatus::default()
            })
        });
        futures_util::future::join_all(asks).await
    }

    /// Unseal `pod` with `shares`, one at a time, until it says unsealed. A pod already unsealed
    /// is left alone; a pod with progress from someone else's attempt is reset first, so stale
    /// shares cannot spoil this attempt.
    ///
    /// # Errors
    /// Unreachable, a share refused (the message names no share), or still sealed at the end.
    pub async fn unseal(&self, pod: &str, shares: &[Secret]) -> Result<VaultStatus, VaultError> {
        let url = self.url(pod, "/v1/sys/unseal")?;
        let mut status = self.seal_status(pod).await?;
        if !status.sealed {
            return Ok(status);
        }
        if status.progress > 0 {
            let s = self.call(pod, put_json(&self.client, &url, &json!({"reset": true})), shares).await?;
            status = status_of(pod, &s);
        }
        for share in shares {
            let body = json!({ "key": share.expose() });
            let s = self.call(pod, put_json(&self.client, &url, &body), shares).await?;
            status = status_of(pod, &s);
            if !status.sealed {
                return Ok(status);
            }
        }
        Err(VaultError::StillSealed {
            pod: pod.to_owned(),
            submitted: shares.len(),
            progress: status.progress,
            threshold: status.threshold,
        })
    }

    /// Execute [`Effect::UnsealVault`] (standard shares) or [`Effect::UnsealVaultBreakglass`]
    /// (the breakglass command's shares). Shares are retrieved only for a pod that is sealed.
    /// No share and no command output ever appears in the outcome.
    pub async fn execute_unseal(&self, effect: &Effect) -> EffectOutcome {
        let (pod, breakglass) = match effect {
            Effect::UnsealVault { pod } => (pod, false),
            Effect::UnsealVaultBreakglass { pod } => (pod, true),
            other => return failed(false, format!("{} is not a Vault effect", other.describe())),
        };
        match self.seal_status(pod).await {
            Ok(s) if !s.sealed => return EffectOutcome::Ok,
            Ok(_) => {}
            Err(e) => return failed(e.is_transient(), e.to_string()),
        }
        let shares = if breakglass {
            self.breakglass_answer
                .get_or_init(|| async {
                    let shares = breakglass_shares(self.breakglass.as_ref()).await;
                    shares.map_err(|e| share_error("breakglass command failed", &e))
                })
                .await
        } else {
            // A timeout of the standard source may pass: it is asked again (it pages no one).
            let shares = self.standard.get_or_try_init(|| async {
                match standard_shares(&self.keys).await {
                    Err(e) if matches!(e, SecretError::Timeout { .. }) => {
                        Err(share_error("cannot retrieve the standard unseal shares", &e))
                    }
                    other => Ok(other.map_err(|e| share_error("cannot retrieve the standard unseal shares", &e))),
                }
            });
            match shares.await {
                Ok(kept) => kept,
                Err((transient, why)) => return failed(transient, why),
            }
        };
        let shares = match shares {
            Ok(shares) => shares,
            Err((transient, why)) => return failed(*transient, why.clone()),
        };
        match self.unseal(pod, shares).await {
            Ok(_) => EffectOutcome::Ok,
            Err(e) => failed(e.is_transient(), scrub(&e.to_string(), shares)),
        }
    }
}

/// A `PUT` with a JSON body (Vault's Go client sends PUT; the docs show POST; Vault takes both).
fn put_json(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
    client.put(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string())
}

/// Why a share source gave no shares, and whether a retry could have helped.
fn share_error(what: &str, e: &SecretError) -> (bool, String) {
    (matches!(e, SecretError::Timeout { .. }), format!("{what}: {e}"))
}

fn failed(transient: bool, message: String) -> EffectOutcome {
    EffectOutcome::Failed { transient, message }
}

fn status_of(pod: &str, s: &SealStatus) -> VaultStatus {
    VaultStatus { pod: pod.to_owned(), reachable: true, sealed: s.sealed, threshold: s.t, progress: s.progress }
}

/// `text` with every share replaced by `***`.
fn scrub(text: &str, shares: &[Secret]) -> String {
    shares.iter().filter(|s| !s.expose().is_empty()).fold(text.to_owned(), |t, s| t.replace(s.expose(), "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_every_share_and_errors_say_if_retrying_helps() {
        let shares = [Secret::new("abc123".into()), Secret::new(String::new())];
        assert_eq!(scrub("bad key abc123 (abc123)", &shares), "bad key *** (***)");
        assert!(VaultError::Unreachable { pod: "v".into(), reason: String::new() }.is_transient());
        assert!(VaultError::Status { pod: "v".into(), status: 503, errors: String::new() }.is_transient());
        assert!(!VaultError::Status { pod: "v".into(), status: 403, errors: String::new() }.is_transient());
        assert!(!VaultError::Rejected { pod: "v".into(), errors: String::new() }.is_transient());
    }
}
