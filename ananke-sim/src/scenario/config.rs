//! Deriving the ananke [`Config`] of a scenario's lab, so `ananke --sim NAME` needs no file.
//!
//! The lab's facts (inventory, power domains, Flux objects, checklists, Vault) become config
//! fields; the scenario's `ananke:` section is then merged on top (RFC 7386 merge patch), so a
//! scenario can set any config field (soak duration, ignored nodes, PDB policy, ...).

use super::{CheckList, ComponentKind, Scenario};
use ananke_core::config::WorkloadKind;
use ananke_core::Config;
use serde_json::{json, Map, Value};

/// `(field, message)` problems.
type Problems = Vec<(String, String)>;

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn workload_ref(s: &Scenario, component: &str) -> Value {
    s.component(component)
        .and_then(|c| c.workload.as_ref())
        .map_or(Value::Null, |w| json!({"kind": w.kind, "namespace": w.namespace, "name": w.name}))
}

/// The lab's facts as a config document, before the scenario's overrides.
fn base(s: &Scenario) -> Value {
    let nodes: Vec<Value> = s
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let address = n.address.clone().unwrap_or_else(|| format!("192.0.2.{}", 10 + i));
            json!({"name": n.name, "address": address, "role": n.role})
        })
        .collect();
    let domains: Vec<Value> = s
        .power_domains
        .iter()
        .map(|d| {
            let members: Vec<&str> =
                s.nodes.iter().filter(|n| n.power_domain == d.name).map(|n| n.name.as_str()).collect();
            json!({"name": d.name, "ups": {"name": d.ups}, "nodes": members})
        })
        .collect();
    let source = s.flux.sources.iter().find(|x| x.guarded).or(s.flux.sources.first());
    let mut flux = json!({
        "source": source.map_or(json!({"namespace": "flux-system", "name": "flux-system"}), |x| json!({"namespace": x.namespace, "name": x.name})),
        "required_kustomizations": s.flux.kustomizations.iter().filter(|k| k.required).map(|k| json!({"namespace": k.namespace, "name": k.name})).collect::<Vec<_>>(),
    });
    if let Some(server) = source.and_then(|x| x.served_by.as_ref()) {
        let w = workload_ref(s, server);
        let health = format!(
            "http://{}-http.{}.svc.cluster.local:3000/api/healthz",
            w["name"].as_str().unwrap_or(server),
            w["namespace"].as_str().unwrap_or("default")
        );
        flux["git_server"] = json!({"workload": w, "health_url": health});
    }
    let ingress_address = format!("{}:443", s.cluster.ingress_address);
    let check = |c: &super::CheckSpec| {
        let mut v = json!({"name": c.name, "url": c.url});
        if c.external {
            v["exposure"] = json!("external");
            v["ingress_address"] = json!(ingress_address);
        }
        v
    };
    let list = |l: CheckList| s.checks.iter().filter(|c| c.list == l).map(check).collect::<Vec<_>>();
    let ingresses: Vec<Value> = s
        .ingresses
        .iter()
        .map(|i| json!({"namespace": i.namespace, "name": i.name, "host": i.host, "ingress_class": i.class}))
        .collect();
    let mut doc = json!({
        "cluster_name": s.name,
        "expected_flux_source_url": source.map_or("", |x| x.url.as_str()),
        "expected_flux_branch": source.map_or("main", |x| x.branch.as_str()),
        "inventory": {"nodes": nodes},
        "ssh": {"user": "ananke", "identity_file": "/etc/ananke/ssh/id_ed25519", "known_hosts": "/etc/ananke/ssh/known_hosts"},
        "power_domains": domains,
        "flux": flux,
        "startup": {
            "require_ingress_checklist": ingresses,
            "service_checklist": list(CheckList::Service),
            "critical_service_endpoints": list(CheckList::Critical),
        },
        "coordination": {"role": "coordinator"},
    });
    if let Some(v) = &s.vault {
        let ns = s.component(&v.component).and_then(|c| c.workload.as_ref()).map_or("vault", |w| w.namespace.as_str());
        let pods: Vec<Value> = v
            .pods
            .iter()
            .map(|p| json!({"name": p, "address": format!("https://{p}.vault-internal.{ns}.svc.cluster.local:8200")}))
            .collect();
        doc["vault"] = json!({"pods": pods, "unseal_keys": {"command": {"argv": ["/usr/local/bin/unseal-shares"]}}});
        doc["startup"]["vault_unseal_breakglass_command"] =
            json!({"argv": ["/usr/local/bin/breakglass-unseal-shares"]});
    }
    doc
}

/// Shutdown tiers and order from the component graph: what nothing depends on first, storage
/// last, and each workload scaled down as soon as the workloads that depend on it are stopped
/// (`shutdown.order`). Flux is suspended before any scale-down, so nothing pulls from the Git
/// server during a shutdown: it stops with the other workloads, by the graph alone.
fn tiers(s: &Scenario, excluded: &[String]) -> (Vec<Vec<Value>>, Vec<Value>) {
    let scaled = |c: &super::ComponentSpec| {
        c.workload.as_ref().is_some_and(|w| w.kind != WorkloadKind::DaemonSet && !excluded.contains(&w.namespace))
            && c.kind != ComponentKind::Datastore
    };
    let index = |name: &str| s.components.iter().position(|x| x.name == name);
    let deps_of = |i: usize| s.components[i].depends_on.iter().filter_map(|d| index(d)).collect::<Vec<_>>();
    // height(c) = 0 when no scaled component depends on c, else 1 + the max height of those that do.
    let mut height = vec![0usize; s.components.len()];
    for _ in 0..s.components.len() {
        for (i, c) in s.components.iter().enumerate() {
            if !scaled(c) {
                continue;
            }
            for j in deps_of(i) {
                height[j] = height[j].max(height[i] + 1);
            }
        }
    }
    let max = height.iter().copied().max().unwrap_or(0);
    let tiers = (0..=max)
        .map(|h| {
            s.components
                .iter()
                .enumerate()
                .filter(|(i, c)| scaled(c) && height[*i] == h)
                .map(|(_, c)| workload_ref(s, &c.name))
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    let order = s
        .components
        .iter()
        .enumerate()
        .filter(|(i, c)| scaled(c) && height[*i] > 0)
        .map(|(i, c)| {
            let dependents: Vec<Value> = s
                .components
                .iter()
                .enumerate()
                .filter(|(j, d)| scaled(d) && deps_of(*j).contains(&i))
                .map(|(_, d)| workload_ref(s, &d.name))
                .collect();
            json!({"workload": workload_ref(s, &c.name), "after": dependents})
        })
        .collect();
    (tiers, order)
}

/// The config of the scenario's lab.
pub(crate) fn derive(s: &Scenario) -> Result<Config, Problems> {
    let mut doc = base(s);
    let overrides = match &s.ananke {
        Value::Null => Value::Object(Map::new()),
        v @ Value::Object(_) => v.clone(),
        _ => return Err(vec![("ananke".into(), "expected a mapping of config fields".into())]),
    };
    merge_patch(&mut doc, &overrides);
    let mut config: Config = serde_json::from_value(doc)
        .map_err(|e| vec![("ananke".to_owned(), format!("the derived ananke config is invalid: {e}"))])?;
    let tiers_set = overrides.get("shutdown").and_then(|v| v.get("tiers")).is_some();
    if !tiers_set {
        let (tiers, order) = tiers(s, &config.shutdown.exclude_namespaces);
        config.shutdown.tiers =
            serde_json::from_value(json!(tiers)).map_err(|e| vec![("components".to_owned(), e.to_string())])?;
        config.shutdown.order =
            serde_json::from_value(json!(order)).map_err(|e| vec![("components".to_owned(), e.to_string())])?;
    }
    Ok(config)
}
