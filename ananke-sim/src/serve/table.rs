//! Server-side printing: what `kubectl get` asks for (`Accept: application/json;as=Table;
//! v=v1;g=meta.k8s.io`). A `meta.k8s.io/v1` `Table` with the columns an operator knows from a
//! real apiserver: nodes (STATUS with `SchedulingDisabled`, ROLES, AGE, VERSION; INTERNAL-IP and
//! OS-IMAGE with `-o wide`), pods, workloads, PDBs, namespaces, services and the Flux kinds
//! (READY, STATUS, SUSPENDED). Every row carries the object's metadata (or the whole object with
//! `includeObject=Object`), which `kubectl` reads for `-A`'s NAMESPACE column. Kinds without
//! columns of their own get NAME and AGE.

use super::kinds::Kind;
use serde_json::{json, Value};
use std::time::SystemTime;

/// Whether the `Accept` header asks for a Table (kubectl lists it first, JSON as the fallback).
#[must_use]
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|part| part.split(';').any(|p| p.trim() == "as=Table"))
}

/// One column: (name, type, priority: 0 always shown, 1 with `-o wide`).
type Column = (&'static str, &'static str, u8);

fn columns(kind: Kind) -> Vec<Column> {
    let mut out: Vec<Column> = vec![("Name", "string", 0)];
    out.extend_from_slice(match kind {
        Kind::Node => &[
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("OS-Image", "string", 1),
        ][..],
        Kind::Pod => {
            &[("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "integer", 0), ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1)][..]
        }
        Kind::Deployment => &[("Ready", "string", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0), ("Age", "string", 0)][..],
        Kind::StatefulSet => &[("Ready", "string", 0), ("Age", "string", 0)][..],
        Kind::DaemonSet => &[("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0), ("Age", "string", 0)][..],
        Kind::PodDisruptionBudget => {
            &[("Min Available", "string", 0), ("Max Unavailable", "string", 0), ("Allowed Disruptions", "integer", 0), ("Age", "string", 0)][..]
        }
        Kind::Namespace => &[("Status", "string", 0), ("Age", "string", 0)][..],
        Kind::Service => &[("Type", "string", 0), ("Cluster-IP", "string", 0), ("Age", "string", 0)][..],
        Kind::GitRepository | Kind::Kustomization | Kind::HelmRelease => {
            &[("Age", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Suspended", "boolean", 0)][..]
        }
        Kind::EndpointSlice | Kind::Ingress => &[("Age", "string", 0)][..],
    });
    out
}

/// A string field at `path`, or `""`.
fn text<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(obj, |v, k| v.get(k)).and_then(Value::as_str).unwrap_or_default()
}

/// An integer field at `path`, or 0.
fn int(obj: &Value, path: &[&str]) -> i64 {
    path.iter().try_fold(obj, |v, k| v.get(k)).and_then(Value::as_i64).unwrap_or_default()
}

/// The `status` of condition `type` in `obj.status.conditions`, and its message.
fn condition<'a>(obj: &'a Value, type_: &str) -> (&'a str, &'a str) {
    let conditions = obj["status"]["conditions"].as_array().map(Vec::as_slice).unwrap_or_default();
    conditions
        .iter()
        .find(|c| c["type"] == type_)
        .map_or(("Unknown", ""), |c| (c["status"].as_str().unwrap_or("Unknown"), c["message"].as_str().unwrap_or("")))
}

/// `kubectl`'s short age: `45s`, `3m12s`, `5h`, `12d`, `2y`.
#[must_use]
pub fn age(secs: u64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{m}m{}s", s % 60),
        s if s < 3 * 3600 => format!("{m}m"),
        s if s < 8 * 3600 => format!("{h}h{}m", m % 60),
        s if s < 48 * 3600 => format!("{h}h"),
        s if s < 8 * 86_400 => format!("{d}d{}h", h % 24),
        s if s < 2 * 365 * 86_400 => format!("{d}d"),
        _ => format!("{}y", d / 365),
    }
}

fn age_of(obj: &Value, now: SystemTime) -> String {
    let created = humantime::parse_rfc3339(text(obj, &["metadata", "creationTimestamp"]));
    created.ok().and_then(|c| now.duration_since(c).ok()).map_or_else(|| "<unknown>".to_owned(), |d| age(d.as_secs()))
}

fn cells(kind: Kind, obj: &Value, now: SystemTime) -> Vec<Value> {
    let name = json!(text(obj, &["metadata", "name"]));
    let age = json!(age_of(obj, now));
    let replicas = |ready: &str| json!(format!("{}/{}", int(obj, &["status", ready]), int(obj, &["spec", "replicas"])));
    let mut out = vec![name];
    out.extend(match kind {
        Kind::Node => {
            let ready = match condition(obj, "Ready").0 {
                "True" => "Ready",
                "False" => "NotReady",
                _ => "Unknown",
            };
            let status = if obj["spec"]["unschedulable"] == true {
                format!("{ready},SchedulingDisabled")
            } else {
                ready.to_owned()
            };
            let labels = obj["metadata"]["labels"].as_object();
            let roles: Vec<&str> =
                labels.into_iter().flatten().filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/")).collect();
            let roles = if roles.is_empty() { "<none>".to_owned() } else { roles.join(",") };
            let addresses = obj["status"]["addresses"].as_array().map(Vec::as_slice).unwrap_or_default();
            let ip = addresses
                .iter()
                .find(|a| a["type"] == "InternalIP")
                .and_then(|a| a["address"].as_str())
                .unwrap_or("<none>");
            vec![
                json!(status),
                json!(roles),
                age,
                json!(text(obj, &["status", "nodeInfo", "kubeletVersion"])),
                json!(ip),
                json!(text(obj, &["status", "nodeInfo", "osImage"])),
            ]
        }
        Kind::Pod => {
            let statuses = obj["status"]["containerStatuses"].as_array().map(Vec::as_slice).unwrap_or_default();
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let total = obj["spec"]["containers"].as_array().map_or(0, Vec::len);
            let restarts: i64 = statuses.iter().map(|c| c["restartCount"].as_i64().unwrap_or_default()).sum();
            let phase = text(obj, &["status", "phase"]);
            vec![
                json!(format!("{ready}/{total}")),
                json!(phase),
                json!(restarts),
                age,
                json!(text(obj, &["status", "podIP"])),
                json!(text(obj, &["spec", "nodeName"])),
            ]
        }
        Kind::Deployment => vec![
            replicas("readyReplicas"),
            json!(int(obj, &["status", "updatedReplicas"])),
            json!(int(obj, &["status", "availableReplicas"])),
            age,
        ],
        Kind::StatefulSet => vec![replicas("readyReplicas"), age],
        Kind::DaemonSet => vec![
            json!(int(obj, &["status", "desiredNumberScheduled"])),
            json!(int(obj, &["status", "currentNumberScheduled"])),
            json!(int(obj, &["status", "numberReady"])),
            age,
        ],
        Kind::PodDisruptionBudget => {
            let field = |k: &str| {
                obj["spec"]
                    .get(k)
                    .map_or_else(|| "N/A".to_owned(), |v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            };
            vec![
                json!(field("minAvailable")),
                json!(field("maxUnavailable")),
                json!(int(obj, &["status", "disruptionsAllowed"])),
                age,
            ]
        }
        Kind::Namespace => vec![json!(text(obj, &["status", "phase"])), age],
        Kind::Service => vec![json!(text(obj, &["spec", "type"])), json!(text(obj, &["spec", "clusterIP"])), age],
        Kind::GitRepository | Kind::Kustomization | Kind::HelmRelease => {
            let (ready, message) = condition(obj, "Ready");
            vec![age, json!(ready), json!(message), json!(obj["spec"]["suspend"] == true)]
        }
        Kind::EndpointSlice | Kind::Ingress => vec![age],
    });
    out
}

/// How much of each object a row carries (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    /// `None`: cells only.
    Nothing,
    /// `Metadata` (the default): a `PartialObjectMetadata`.
    Metadata,
    /// `Object`: the whole object.
    Object,
}

impl Include {
    /// The query's `includeObject`, `Metadata` when absent or unknown.
    #[must_use]
    pub fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("None") => Include::Nothing,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// The Table of `objects` of `kind`.
#[must_use]
pub fn table(kind: Kind, objects: &[&Value], resource_version: &str, include: Include, now: SystemTime) -> Value {
    let definitions: Vec<Value> = columns(kind)
        .into_iter()
        .map(|(name, type_, priority)| {
            let format = if name == "Name" { "name" } else { "" };
            json!({"name": name, "type": type_, "format": format, "description": "", "priority": priority})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut row = json!({ "cells": cells(kind, obj, now) });
            match include {
                Include::Nothing => {}
                Include::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]});
                }
                Include::Object => row["object"] = (*obj).clone(),
            }
            row
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_an_accept_header_naming_a_table_gets_one() {
        assert!(wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"));
        assert!(!wants_table("application/json"));
        assert!(!wants_table("application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io"));
    }

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        let cases = [
            (45, "45s"),
            (192, "3m12s"),
            (1800, "30m"),
            (5 * 3600 + 60, "5h1m"),
            (30 * 3600, "30h"),
            (3 * 86_400 + 7200, "3d2h"),
            (40 * 86_400, "40d"),
            (800 * 86_400, "2y"),
        ];
        for (secs, expected) in cases {
            assert_eq!(age(secs), expected, "{secs}");
        }
    }

    #[test]
    fn a_cordoned_node_reads_scheduling_disabled_with_its_roles_and_a_wide_address() {
        let node = json!({"metadata": {"name": "titan-db", "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"node-role.kubernetes.io/control-plane": "true", "kubernetes.io/os": "linux"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "192.0.2.10"}],
                "nodeInfo": {"kubeletVersion": "v1.33.5+k3s1", "osImage": "Debian"}}});
        let now = humantime::parse_rfc3339("2026-01-03T00:00:00Z").unwrap() + Duration::from_secs(3600);
        let t = table(Kind::Node, &[&node], "7", Include::Metadata, now);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "titan-db",
                "Ready,SchedulingDisabled",
                "control-plane",
                "2d1h",
                "v1.33.5+k3s1",
                "192.0.2.10",
                "Debian"
            ])
        );
        assert_eq!(t["rows"][0]["object"]["metadata"]["name"], "titan-db");
        assert_eq!(t["columnDefinitions"][5]["priority"], 1, "wide only");
        let bare = table(Kind::Ingress, &[&json!({"metadata": {"name": "x"}})], "7", Include::Nothing, now);
        assert_eq!(bare["rows"][0], json!({"cells": ["x", "<unknown>"]}));
        let whole = table(
            Kind::Kustomization,
            &[&json!({"metadata": {"name": "apps"}, "spec": {"suspend": true}})],
            "7",
            Include::Object,
            now,
        );
        assert_eq!(whole["rows"][0]["cells"], json!(["apps", "<unknown>", "Unknown", "", true]));
        assert_eq!(whole["rows"][0]["object"]["spec"]["suspend"], true);
    }

    #[test]
    fn every_kind_has_a_cell_for_each_of_its_columns() {
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"replicas": 2, "minAvailable": 1, "type": "ClusterIP", "clusterIP": "10.43.0.1", "containers": [{}]},
            "status": {"readyReplicas": 1, "phase": "Running", "containerStatuses": [{"ready": true, "restartCount": 2}]}});
        let now = humantime::parse_rfc3339("2026-01-01T00:01:00Z").unwrap();
        for kind in Kind::ALL {
            let t = table(kind, &[&obj], "1", Include::Metadata, now);
            let cells = t["rows"][0]["cells"].as_array().unwrap().len();
            assert_eq!(cells, t["columnDefinitions"].as_array().unwrap().len(), "{kind:?}: {t}");
        }
        let pdb = table(Kind::PodDisruptionBudget, &[&obj], "1", Include::Nothing, now);
        assert_eq!(pdb["rows"][0]["cells"], json!(["x", "1", "N/A", 0, "60s"]));
        let pod = table(Kind::Pod, &[&obj], "1", Include::Nothing, now);
        assert_eq!(pod["rows"][0]["cells"], json!(["x", "1/1", "Running", 2, "60s", "", ""]));
        let sts = table(Kind::StatefulSet, &[&obj], "1", Include::Nothing, now);
        assert_eq!(sts["rows"][0]["cells"], json!(["x", "1/2", "60s"]));
        let unready =
            json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert_eq!(table(Kind::Node, &[&unready], "1", Include::Nothing, now)["rows"][0]["cells"][1], "NotReady");
        assert_eq!(table(Kind::Node, &[&obj], "1", Include::Nothing, now)["rows"][0]["cells"][1], "Unknown");
        assert_eq!(Include::from_query(Some("None")), Include::Nothing);
        assert_eq!(Include::from_query(Some("Object")), Include::Object);
        assert_eq!(Include::from_query(None), Include::Metadata);
    }
}
