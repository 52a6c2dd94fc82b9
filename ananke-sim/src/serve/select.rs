//! Label and field selectors (reference §1.3 P2/P3 and §7 item 4).

use super::kinds::Kind;
use serde_json::Value;

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelReq {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

/// One field requirement: `(path, value, equal)`.
type FieldReq = (Vec<&'static str>, String, bool);

/// Parsed `labelSelector` and `fieldSelector` of a request.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    labels: Vec<LabelReq>,
    fields: Vec<FieldReq>,
}

/// Split on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0_i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn set(values: &str) -> Result<Vec<String>, String> {
    let inner = values
        .trim()
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised set, got {values:?}"))?;
    Ok(inner.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect())
}

fn label_req(part: &str) -> Result<LabelReq, String> {
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim_start();
        if let Some(values) = rest.strip_prefix("notin") {
            return Ok(LabelReq::NotIn((*key).to_owned(), set(values)?));
        }
        if let Some(values) = rest.strip_prefix("in") {
            return Ok(LabelReq::In((*key).to_owned(), set(values)?));
        }
    }
    let pair = |op: &str| part.split_once(op).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()));
    if let Some((k, v)) = pair("!=") {
        return Ok(LabelReq::Ne(k, v));
    }
    if let Some((k, v)) = pair("==").or_else(|| pair("=")) {
        return Ok(LabelReq::Eq(k, v));
    }
    if let Some(k) = part.strip_prefix('!') {
        return Ok(LabelReq::Absent(k.trim().to_owned()));
    }
    if part.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
        return Ok(LabelReq::Exists(part.to_owned()));
    }
    Err(format!("unable to parse requirement: {part:?}"))
}

/// The field labels `kind` supports, as JSON paths.
fn field_path(kind: Kind, field: &str) -> Option<Vec<&'static str>> {
    match (kind, field) {
        (_, "metadata.name") => Some(vec!["metadata", "name"]),
        (_, "metadata.namespace") => Some(vec!["metadata", "namespace"]),
        (Kind::Pod, "spec.nodeName") => Some(vec!["spec", "nodeName"]),
        (Kind::Pod, "status.phase") => Some(vec!["status", "phase"]),
        (Kind::Node, "spec.unschedulable") => Some(vec!["spec", "unschedulable"]),
        _ => None,
    }
}

impl Selector {
    /// Parse the selectors of a request on `kind`.
    ///
    /// # Errors
    /// The text of a `400 BadRequest` for a malformed selector or an unsupported field label.
    pub fn parse(kind: Kind, labels: Option<&str>, fields: Option<&str>) -> Result<Selector, String> {
        let labels = split_top(labels.unwrap_or_default()).into_iter().map(label_req).collect::<Result<Vec<_>, _>>()?;
        let mut reqs = Vec::new();
        for part in split_top(fields.unwrap_or_default()) {
            let (field, value, equal) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, v, true)
            } else {
                return Err(format!("invalid selector: '{part}'; can't understand '{part}'"));
            };
            let field = field.trim();
            let path = field_path(kind, field).ok_or_else(|| format!("field label not supported: {field}"))?;
            reqs.push((path, value.trim().to_owned(), equal));
        }
        Ok(Selector { labels, fields: reqs })
    }

    /// Whether the selector is empty (matches everything).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether `obj` matches.
    #[must_use]
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        let labels_ok = self.labels.iter().all(|req| match req {
            LabelReq::Eq(k, v) => label(k) == Some(v.as_str()),
            LabelReq::Ne(k, v) => label(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::NotIn(k, vs) => label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            LabelReq::Exists(k) => label(k).is_some(),
            LabelReq::Absent(k) => label(k).is_none(),
        });
        labels_ok
            && self.fields.iter().all(|(path, value, equal)| {
                let mut cur = Some(obj);
                for p in path {
                    cur = cur.and_then(|c| c.get(*p));
                }
                let actual = match cur {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(other) => other.to_string(),
                    None if path.last() == Some(&"unschedulable") => "false".to_owned(),
                    None => String::new(),
                };
                (actual == *value) == *equal
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_and_field_selectors_follow_the_apiserver_grammar() {
        let pod = json!({"metadata": {"name": "web-0", "namespace": "apps", "labels": {"app": "web", "tier": "front"}},
            "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let sel = |l: &str, f: &str| Selector::parse(Kind::Pod, Some(l), Some(f)).unwrap().matches(&pod);
        assert!(sel("app=web,tier in (front, back)", "spec.nodeName=n1,status.phase==Running"));
        assert!(sel("app==web,!missing,tier", "metadata.namespace!=other"));
        assert!(!sel("app!=web", ""));
        assert!(!sel("tier notin (front)", ""));
        assert!(!sel("", "spec.nodeName=n2"));
        assert!(Selector::parse(Kind::Pod, None, Some("spec.foo=x"))
            .unwrap_err()
            .contains("field label not supported"));
        assert!(Selector::parse(Kind::Kustomization, None, Some("spec.nodeName=x")).is_err());
        assert!(Selector::parse(Kind::Pod, Some("a in x"), None).is_err());
        let node = json!({"metadata": {"name": "n1"}, "spec": {}});
        assert!(Selector::parse(Kind::Node, None, Some("spec.unschedulable=false")).unwrap().matches(&node));
        assert!(Selector::default().is_empty());
    }
}
