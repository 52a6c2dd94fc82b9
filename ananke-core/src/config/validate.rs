//! Semantic validation: what serde cannot see, checked on the deserialized [`Config`].
//!
//! Every check runs and every problem is kept, so an operator fixes a config in one pass.
//! A finding names its field by dotted path; the loader turns the path into a line and column.

mod checklist;
mod inventory;
mod names;
mod timeouts;

use super::duration::HumanDuration;
use super::model::Config;

/// One semantic problem: the field it is about and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// Dotted path of the field (`inventory.nodes[3].name`).
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Check `config`; empty when it is valid.
pub(crate) fn check(config: &Config) -> Vec<Finding> {
    let mut out = Findings::default();
    inventory::check(config, &mut out);
    names::check(config, &mut out);
    checklist::check(config, &mut out);
    timeouts::check(config, &mut out);
    out.0
}

/// What is valid but deserves an operator's second look, one sentence each (the field first).
#[must_use]
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if config.shutdown.mode == super::ShutdownMode::ClusterAndHosts {
        out.push(
            "shutdown.mode: cluster-and-hosts makes every `ananke shutdown --execute` without `--mode` power the hosts off \
             (agents, then servers; never coordination.local_node); the daemon always shuts down cluster-only. \
             Prefer cluster-only here and `--mode cluster-and-hosts` when you mean it"
                .to_owned(),
        );
        if config.coordination.local_node.is_none() {
            out.push(
                "coordination.local_node is unset: if ananke runs on an inventory node, a cluster-and-hosts shutdown \
                 powers that host off too, mid-run; name it here and ananke never powers it off"
                    .to_owned(),
            );
        }
    }
    out
}

/// The findings so far, with the small checks every area shares.
#[derive(Debug, Default)]
pub(crate) struct Findings(Vec<Finding>);

impl Findings {
    /// Record a problem with `field`.
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Finding { field: field.into(), message: message.into() });
    }

    /// `value` must hold something other than blanks.
    pub(crate) fn non_empty(&mut self, field: impl Into<String>, value: &str, what: &str) {
        if value.trim().is_empty() {
            self.push(field, format!("{what} is empty; expected a non-empty value"));
        }
    }

    /// `value` must be an absolute URL with a host and one of `schemes`.
    pub(crate) fn url(&mut self, field: impl Into<String>, value: &str, schemes: &[&str]) {
        let why = match url::Url::parse(value) {
            Err(e) => format!("is not a valid URL ({e})"),
            Ok(u) if !schemes.contains(&u.scheme()) => format!("has scheme `{}`", u.scheme()),
            Ok(u) if u.host_str().is_none_or(str::is_empty) => "has no host".to_owned(),
            Ok(_) => return,
        };
        let expected = schemes.iter().map(|s| format!("{s}://")).collect::<Vec<_>>().join(" or ");
        self.push(field, format!("`{value}` {why}; expected a URL starting with {expected}"));
    }

    /// A wait that must be able to elapse: zero is impossible.
    pub(crate) fn positive(&mut self, field: impl Into<String>, value: HumanDuration) {
        if value.get().is_zero() {
            self.push(field, "is zero; expected a duration longer than zero (no wait finishes in no time)");
        }
    }

    /// `value` (at `field`) must fit within `limit` (at `limit_field`).
    pub(crate) fn within(&mut self, field: &str, value: HumanDuration, limit_field: &str, limit: HumanDuration) {
        if value > limit {
            self.push(field, format!("{value} is longer than `{limit_field}` ({limit}); it could never be reached"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_accepts_listed_schemes_with_a_host() {
        let mut out = Findings::default();
        out.url("a", "https://vault-0.vault-internal:8200", &["http", "https"]);
        out.url("b", "ssh://git@gitea:22/titan/titan-iac.git", &["http", "https", "ssh"]);
        assert_eq!(out.0, []);
    }

    #[test]
    fn url_refuses_garbage_other_schemes_and_missing_hosts() {
        let mut out = Findings::default();
        out.url("a", "not a url", &["http", "https"]);
        out.url("b", "ftp://example.org/", &["http", "https"]);
        out.url("c", "ssh:/titan/titan-iac.git", &["ssh"]);
        let fields: Vec<_> = out.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["a", "b", "c"]);
        assert!(out.0[0].message.contains("is not a valid URL"), "{:?}", out.0);
        assert!(out.0[1].message.contains("scheme `ftp`"), "{:?}", out.0);
    }

    #[test]
    fn durations_must_be_positive_and_within_their_limit() {
        let mut out = Findings::default();
        out.positive("a", HumanDuration::secs(0));
        out.positive("b", HumanDuration::secs(1));
        out.within("c", HumanDuration::secs(61), "d", HumanDuration::secs(60));
        out.within("e", HumanDuration::secs(60), "d", HumanDuration::secs(60));
        assert_eq!(out.0.len(), 2);
        assert_eq!(out.0[1].message, "1m 1s is longer than `d` (1m); it could never be reached");
    }
}
