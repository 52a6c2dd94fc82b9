//! The in-cluster Git server's health (Gitea `GET /api/healthz`, reference §5.2).
//!
//! Healthy only on `200` with `"status":"pass"` and a `database:ping` check: Gitea's installer
//! stage serves the same path and always says `pass`, without the database check. A `424 Failed
//! Dependency` names the failing checks.

use super::attempt::describe_error;
use super::{tls, HttpError, Roots};
use crate::config::GitServer;
use crate::observation::GitServerHealth;
use serde_json::Value;
use std::time::Duration;

/// Probes the Git server's health URL.
#[derive(Debug, Clone)]
pub struct GitServerProbe {
    url: String,
    client: reqwest::Client,
    timeout: Duration,
}

impl GitServerProbe {
    /// A probe of `git.health_url`, each request bounded by `timeout`.
    ///
    /// # Errors
    /// An unusable CA certificate in `roots`.
    pub fn new(git: &GitServer, roots: &Roots, timeout: Duration) -> Result<GitServerProbe, HttpError> {
        let tls = roots.client_config()?;
        let client = tls::client(&tls, timeout, None)?;
        Ok(GitServerProbe { url: git.health_url.clone(), client, timeout })
    }

    /// Ask the health endpoint once.
    pub async fn probe(&self) -> GitServerHealth {
        let work = async {
            let response = self.client.get(&self.url).timeout(self.timeout).send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        };
        // reqwest's timeout runs from connecting to the end of the body.
        let reason = match work.await {
            Err(e) => Some(describe_error(&e, self.timeout)),
            Ok((status, body)) => verdict(status, &body),
        };
        match reason {
            None => GitServerHealth { healthy: true, reason: None },
            Some(why) => GitServerHealth { healthy: false, reason: Some(format!("GET {}: {why}", self.url)) },
        }
    }
}

/// `None` when the answer says healthy, otherwise why not.
fn verdict(status: u16, body: &[u8]) -> Option<String> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let overall = json.as_ref().and_then(|v| v.get("status")).and_then(Value::as_str);
    let checks = json.as_ref().and_then(|v| v.get("checks")).and_then(Value::as_object);
    match status {
        200 => match (overall, checks) {
            (Some("pass"), Some(c)) if c.contains_key("database:ping") => None,
            (Some("pass"), _) => {
                Some("no database:ping check in the answer (Gitea's installer stage, or not Gitea)".to_owned())
            }
            (Some(other), _) => Some(format!("status {other:?}, not \"pass\"")),
            (None, _) => Some("status 200 without a health status in the body".to_owned()),
        },
        424 => {
            let failed: Vec<&str> = checks
                .map(|c| {
                    c.iter()
                        .filter(|(_, runs)| {
                            runs.as_array().is_some_and(|r| {
                                r.iter().any(|x| x.get("status").and_then(Value::as_str) == Some("fail"))
                            })
                        })
                        .map(|(name, _)| name.as_str())
                        .collect()
                })
                .unwrap_or_default();
            Some(if failed.is_empty() {
                "424 Failed Dependency".to_owned()
            } else {
                format!("424 Failed Dependency: {} failing", failed.join(", "))
            })
        }
        other => Some(format!("status {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn only_a_pass_with_a_database_check_is_healthy() {
        let pass =
            br#"{"status":"pass","checks":{"database:ping":[{"status":"pass"}],"cache:ping":[{"status":"pass"}]}}"#;
        assert_eq!(verdict(200, pass), None);
        let installer = br#"{"status":"pass","description":"Gitea: Installation stage","checks":{}}"#;
        assert!(verdict(200, installer).unwrap().contains("no database:ping"));
        assert!(verdict(200, br#"{"status":"warn","checks":{"database:ping":[]}}"#).unwrap().contains("\"warn\""));
        assert!(verdict(200, b"<html>").unwrap().contains("without a health status"));
        let failing = br#"{"status":"fail","checks":{"database:ping":[{"status":"fail","output":"dial tcp"}],"cache:ping":[{"status":"pass"}]}}"#;
        assert_eq!(verdict(424, failing).unwrap(), "424 Failed Dependency: database:ping failing");
        assert_eq!(verdict(424, b"").unwrap(), "424 Failed Dependency");
        assert_eq!(verdict(503, b"").unwrap(), "status 503");
    }
}
