//! Semantic checks of a scenario: every reference resolves, names are unique, the component graph
//! has no cycle. Each problem is `(field path, message)`; the parser adds the line.

use super::{ComponentKind, Fault, Scenario};
use ananke_core::config::K3sRole;
use std::collections::{HashMap, HashSet};

type Problems = Vec<(String, String)>;

fn unique<'a>(out: &mut Problems, list: &str, names: impl Iterator<Item = &'a str>) {
    let mut seen = HashSet::new();
    for (i, name) in names.enumerate() {
        if !seen.insert(name) {
            out.push((format!("{list}[{i}].name"), format!("duplicate name `{name}`: names must be unique")));
        }
    }
}

fn expect_in(out: &mut Problems, field: String, name: &str, known: &HashSet<&str>, what: &str) {
    if !known.contains(name) {
        let mut names: Vec<&str> = known.iter().copied().collect();
        names.sort_unstable();
        out.push((field, format!("unknown {what} `{name}` (expected one of: {})", names.join(", "))));
    }
}

/// Every problem found in `s`.
pub(crate) fn check(s: &Scenario) -> Problems {
    let mut out = Problems::new();
    let nodes: HashSet<&str> = s.nodes.iter().map(|n| n.name.as_str()).collect();
    let comps: HashSet<&str> = s.components.iter().map(|c| c.name.as_str()).collect();
    let domains: HashSet<&str> = s.power_domains.iter().map(|d| d.name.as_str()).collect();
    unique(&mut out, "nodes", s.nodes.iter().map(|n| n.name.as_str()));
    unique(&mut out, "components", s.components.iter().map(|c| c.name.as_str()));
    unique(&mut out, "power_domains", s.power_domains.iter().map(|d| d.name.as_str()));
    unique(&mut out, "checks", s.checks.iter().map(|c| c.name.as_str()));
    if !s.nodes.iter().any(|n| n.role == K3sRole::Server) {
        out.push(("nodes".into(), "no node has role `server`: the cluster needs at least one".into()));
    }
    for (i, n) in s.nodes.iter().enumerate() {
        expect_in(&mut out, format!("nodes[{i}].power_domain"), &n.power_domain, &domains, "power domain");
    }
    check_components(s, &nodes, &comps, &mut out);
    check_flux(s, &comps, &mut out);
    for (i, p) in s.pdbs.iter().enumerate() {
        expect_in(&mut out, format!("pdbs[{i}].component"), &p.component, &comps, "component");
    }
    let services: HashSet<(&str, &str)> = s.services.iter().map(|v| (v.namespace.as_str(), v.name.as_str())).collect();
    for (i, v) in s.services.iter().enumerate() {
        expect_in(&mut out, format!("services[{i}].component"), &v.component, &comps, "component");
    }
    for (i, ing) in s.ingresses.iter().enumerate() {
        for (j, b) in ing.backends.iter().enumerate() {
            if !services.contains(&(ing.namespace.as_str(), b.as_str())) {
                out.push((
                    format!("ingresses[{i}].backends[{j}]"),
                    format!("no service `{}/{b}` in `services`", ing.namespace),
                ));
            }
        }
    }
    let mut backers = comps.clone();
    backers.insert("api");
    for (i, c) in s.checks.iter().enumerate() {
        for (j, b) in c.backed_by.iter().enumerate() {
            expect_in(&mut out, format!("checks[{i}].backed_by[{j}]"), b, &backers, "component (or `api`)");
        }
    }
    if let Some(v) = &s.vault {
        expect_in(&mut out, "vault.component".into(), &v.component, &comps, "component");
        let replicas = s.component(&v.component).and_then(|c| c.workload.as_ref()).map(|w| w.replicas);
        if replicas.is_some_and(|r| usize::try_from(r).ok() != Some(v.pods.len())) {
            out.push((
                "vault.pods".into(),
                format!("{} pods listed but the component runs {} replicas", v.pods.len(), replicas.unwrap_or(0)),
            ));
        }
        if v.threshold == 0 || v.threshold > v.shares {
            out.push((
                "vault.threshold".into(),
                format!("threshold {} must be between 1 and shares ({})", v.threshold, v.shares),
            ));
        }
    }
    check_faults(s, &nodes, &mut out);
    if !(0.0..=1.0).contains(&s.random.api_error_rate) {
        out.push(("random.api_error_rate".into(), "expected a probability between 0 and 1".into()));
    }
    let outcomes: [(&str, _, &[&str]); 2] = [
        ("expect.shutdown", &s.expect.shutdown, &["off", "incomplete", "failed"]),
        ("expect.startup", &s.expect.startup, &["ready", "failed"]),
    ];
    for (field, outcome, allowed) in outcomes {
        if let Some(o) = outcome.as_ref().filter(|o| !allowed.contains(&o.state.as_str())) {
            let quoted: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
            out.push((
                format!("{field}.state"),
                format!("unknown state `{}` (expected one of {})", o.state, quoted.join(", ")),
            ));
        }
    }
    out
}

fn check_components(s: &Scenario, nodes: &HashSet<&str>, comps: &HashSet<&str>, out: &mut Problems) {
    for (i, c) in s.components.iter().enumerate() {
        for (j, d) in c.depends_on.iter().enumerate() {
            expect_in(out, format!("components[{i}].depends_on[{j}]"), d, comps, "component");
        }
        for (j, n) in c.nodes.iter().enumerate() {
            expect_in(out, format!("components[{i}].nodes[{j}]"), n, nodes, "node");
        }
        match (c.kind, &c.workload, &c.host) {
            (ComponentKind::Datastore, None, Some(h)) => {
                expect_in(out, format!("components[{i}].host"), h, nodes, "node");
            }
            (ComponentKind::Datastore, _, _) => {
                out.push((format!("components[{i}]"), "a datastore runs on a `host` and has no `workload`".into()));
            }
            (_, Some(w), None) => {
                let counts = [("replicas", Some(w.replicas)), ("initial_replicas", w.initial_replicas)];
                for (field, _) in counts.into_iter().filter(|(_, r)| r.is_some_and(|r| r < 0)) {
                    out.push((
                        format!("components[{i}].workload.{field}"),
                        "expected a replica count of 0 or more".into(),
                    ));
                }
            }
            _ => out.push((format!("components[{i}]"), "expected a `workload` (and no `host`) for this kind".into())),
        }
    }
    // Depth-first search for a cycle.
    let index: HashMap<&str, usize> = s.components.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
    let mut mark = vec![0u8; s.components.len()];
    for i in 0..s.components.len() {
        if mark[i] == 0 && visit(i, s, &index, &mut mark) {
            out.push((
                format!("components[{i}].depends_on"),
                format!("dependency cycle through `{}`", s.components[i].name),
            ));
            break;
        }
    }
}

/// Depth-first search from `i`: whether a cycle is reachable (`mark`: 0 new, 1 open, 2 done).
fn visit(i: usize, s: &Scenario, index: &HashMap<&str, usize>, mark: &mut [u8]) -> bool {
    if mark[i] == 1 {
        return true;
    }
    if mark[i] == 2 {
        return false;
    }
    mark[i] = 1;
    let cyclic =
        s.components[i].depends_on.iter().filter_map(|d| index.get(d.as_str())).any(|&j| visit(j, s, index, mark));
    mark[i] = 2;
    cyclic
}

fn check_flux(s: &Scenario, comps: &HashSet<&str>, out: &mut Problems) {
    if let Some(c) = &s.flux.controllers {
        expect_in(out, "flux.controllers".into(), c, comps, "component");
    }
    let sources: HashSet<&str> = s.flux.sources.iter().map(|x| x.name.as_str()).collect();
    let objects: Vec<String> = s
        .flux
        .kustomizations
        .iter()
        .chain(&s.flux.helm_releases)
        .map(|o| format!("{}/{}", o.namespace, o.name))
        .collect();
    let known: HashSet<&str> = objects.iter().map(String::as_str).collect();
    let ks: HashSet<String> = s.flux.kustomizations.iter().map(|o| format!("{}/{}", o.namespace, o.name)).collect();
    let ks: HashSet<&str> = ks.iter().map(String::as_str).collect();
    for (i, src) in s.flux.sources.iter().enumerate() {
        if let Some(by) = &src.served_by {
            expect_in(out, format!("flux.sources[{i}].served_by"), by, comps, "component");
        }
    }
    for (list, objs) in [("kustomizations", &s.flux.kustomizations), ("helm_releases", &s.flux.helm_releases)] {
        for (i, o) in objs.iter().enumerate() {
            let at = format!("flux.{list}[{i}]");
            if let Some(src) = &o.source {
                expect_in(out, format!("{at}.source"), src, &sources, "GitRepository");
            }
            for (j, d) in o.depends_on.iter().enumerate() {
                expect_in(out, format!("{at}.depends_on[{j}]"), d, &known, "Flux object (namespace/name)");
            }
            if let Some(m) = &o.managed_by {
                expect_in(out, format!("{at}.managed_by"), m, &ks, "Kustomization (namespace/name)");
            }
            for (j, c) in o.manages.iter().enumerate() {
                expect_in(out, format!("{at}.manages[{j}]"), c, comps, "component");
            }
        }
    }
}

fn check_faults(s: &Scenario, nodes: &HashSet<&str>, out: &mut Problems) {
    let checks: HashSet<&str> = s.checks.iter().map(|c| c.name.as_str()).collect();
    let sources: HashSet<&str> = s.flux.sources.iter().map(|x| x.name.as_str()).collect();
    for (i, f) in s.faults.iter().enumerate() {
        let at = format!("faults[{i}]");
        match f {
            Fault::NodeLost { node }
            | Fault::SshAuthFails { node }
            | Fault::HostKeyChanged { node }
            | Fault::SudoRefused { node }
            | Fault::K3sWontStop { node }
            | Fault::SlowK3s { node, .. } => {
                expect_in(out, at, node, nodes, "node");
            }
            Fault::EndpointFlap { check, .. } => expect_in(out, at, check, &checks, "check"),
            Fault::BranchChange { source, .. } => expect_in(out, at, source, &sources, "GitRepository"),
            Fault::ApiFlaky { rate, .. } if !(0.0..=1.0).contains(rate) => {
                out.push((at, "expected a probability between 0 and 1".into()));
            }
            _ => {}
        }
    }
}
