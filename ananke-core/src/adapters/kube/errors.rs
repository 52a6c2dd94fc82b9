//! How a failed call is reported: transient (retrying may help: connection errors, timeouts, 409,
//! 429, 5xx) or permanent (other 4xx, unusable responses), with a message that never carries a
//! secret (kube's errors hold no token; bodies are the server's `Status`).

use crate::machine::EffectOutcome;
use std::time::Duration;

/// One failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    /// Whether trying again later may help.
    pub transient: bool,
    /// HTTP status of an API error (0 for transport errors and timeouts).
    pub code: u16,
    /// What went wrong, naming the call.
    pub message: String,
}

impl CallFailure {
    /// Classify a kube error from call `what`.
    #[must_use]
    pub fn from_kube(what: &str, e: &kube::Error) -> CallFailure {
        match e {
            kube::Error::Api(status) => {
                let code = status.code;
                let transient = code == 409 || code == 429 || code >= 500 || code == 0;
                let reason = if status.reason.is_empty() { String::new() } else { format!(" {}", status.reason) };
                let message =
                    if status.message.is_empty() { String::new() } else { format!(": {}", status.message.trim()) };
                CallFailure { transient, code, message: format!("{what}: {code}{reason}{message}") }
            }
            kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
                CallFailure { transient: true, code: 0, message: format!("{what}: cannot reach the API: {}", chain(e)) }
            }
            other => CallFailure { transient: false, code: 0, message: format!("{what}: {}", chain(other)) },
        }
    }

    /// A call that did not finish within `limit`.
    #[must_use]
    pub fn timeout(what: &str, limit: Duration) -> CallFailure {
        CallFailure { transient: true, code: 0, message: format!("{what}: timed out after {} ms", limit.as_millis()) }
    }

    /// The API answered 404: for a named object, it is gone.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }

    /// As an effect outcome.
    #[must_use]
    pub fn outcome(self) -> EffectOutcome {
        EffectOutcome::Failed { transient: self.transient, message: self.message }
    }
}

/// The error and its sources, one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str) -> kube::Error {
        let mut s = Status::failure("boom", reason);
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn api_errors_are_transient_only_when_retrying_can_help() {
        for (code, transient) in
            [(429, true), (503, true), (504, true), (500, true), (409, true), (404, false), (422, false), (403, false)]
        {
            let f = CallFailure::from_kube("list nodes", &api(code, "X"));
            assert_eq!((f.code, f.transient), (code, transient), "{code}");
            assert!(f.message.starts_with(&format!("list nodes: {code} X: boom")));
        }
        assert!(CallFailure::from_kube("x", &api(404, "")).is_not_found());
        assert!(CallFailure::timeout("x", Duration::from_millis(5)).transient);
        let outcome = CallFailure::from_kube("x", &api(422, "Invalid")).outcome();
        assert!(matches!(outcome, EffectOutcome::Failed { transient: false, .. }));
    }
}
