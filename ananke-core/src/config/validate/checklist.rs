//! What ananke probes and acts on: the Flux source and objects, the startup checklists, Vault,
//! commands and shutdown tiers.

use super::Findings;
use crate::config::model::{CommandSpec, Config, Exposure, HttpCheck, ObjectRef, UnsealKeySource, WorkloadRef};
use std::collections::HashMap;

const HTTP: &[&str] = &["http", "https"];

/// Check every URL, checklist entry, object reference and command.
pub(super) fn check(config: &Config, out: &mut Findings) {
    out.non_empty("cluster_name", &config.cluster_name, "cluster name");
    flux(config, out);
    http_checks(config, out);
    for (i, ingress) in config.startup.require_ingress_checklist.iter().enumerate() {
        let at = format!("startup.require_ingress_checklist[{i}]");
        out.non_empty(format!("{at}.namespace"), &ingress.namespace, "ingress namespace");
        out.non_empty(format!("{at}.name"), &ingress.name, "ingress name");
        out.non_empty(format!("{at}.host"), &ingress.host, "ingress host");
    }
    if let Some(breakglass) = &config.startup.vault_unseal_breakglass_command {
        command(out, "startup.vault_unseal_breakglass_command", breakglass);
    }
    vault(config, out);
    for (t, tier) in config.shutdown.tiers.iter().enumerate() {
        for (w, workload) in tier.iter().enumerate() {
            scalable(out, &format!("shutdown.tiers[{t}][{w}]"), workload);
        }
    }
    stop_order(config, out);
}

/// `shutdown.order`: each entry names a listed workload once, and only workloads of earlier tiers
/// before it (so the order has no cycle and the tiers still read top-down).
fn stop_order(config: &Config, out: &mut Findings) {
    let tiers = &config.shutdown.tiers;
    let tier_of = |w: &WorkloadRef| tiers.iter().position(|t| t.contains(w));
    let mut seen: HashMap<&WorkloadRef, usize> = HashMap::new();
    for (i, entry) in config.shutdown.order.iter().enumerate() {
        let at = format!("shutdown.order[{i}]");
        let Some(tier) = tier_of(&entry.workload) else {
            out.push(format!("{at}.workload"), format!("{} is not listed in shutdown.tiers", entry.workload));
            continue;
        };
        if let Some(first) = seen.insert(&entry.workload, i) {
            out.push(
                format!("{at}.workload"),
                format!("{} already has an order at shutdown.order[{first}]", entry.workload),
            );
        }
        for (j, before) in entry.after.iter().enumerate() {
            match tier_of(before) {
                Some(t) if t < tier => {}
                Some(t) => out.push(
                    format!("{at}.after[{j}]"),
                    format!(
                        "{before} is in tier {t}, not before {}'s tier {tier}: list it in an earlier tier",
                        entry.workload
                    ),
                ),
                None => out.push(format!("{at}.after[{j}]"), format!("{before} is not listed in shutdown.tiers")),
            }
        }
    }
}

fn flux(config: &Config, out: &mut Findings) {
    out.url("expected_flux_source_url", &config.expected_flux_source_url, &["http", "https", "ssh"]);
    out.non_empty("expected_flux_branch", &config.expected_flux_branch, "Flux branch");
    object(out, "flux.source", &config.flux.source);
    for (i, kustomization) in config.flux.required_kustomizations.iter().enumerate() {
        object(out, &format!("flux.required_kustomizations[{i}]"), kustomization);
    }
    if let Some(git) = &config.flux.git_server {
        out.non_empty("flux.git_server.workload.namespace", &git.workload.namespace, "namespace");
        out.non_empty("flux.git_server.workload.name", &git.workload.name, "name");
        out.url("flux.git_server.health_url", &git.health_url, HTTP);
    }
}

/// Both checklists: probe results are keyed by name, so names are unique across the two.
fn http_checks(config: &Config, out: &mut Findings) {
    let mut names: HashMap<&str, String> = HashMap::new();
    let lists = [
        ("startup.service_checklist", &config.startup.service_checklist),
        ("startup.critical_service_endpoints", &config.startup.critical_service_endpoints),
    ];
    for (list, checks) in lists {
        for (i, check) in checks.iter().enumerate() {
            let at = format!("{list}[{i}]");
            http_check(out, &at, check);
            if check.name.trim().is_empty() {
                continue;
            }
            if let Some(first) = names.get(check.name.as_str()) {
                out.push(
                    format!("{at}.name"),
                    format!(
                        "duplicate check name `{}` (already used by {first}); probe results are keyed by name, \
                         so names are unique across `service_checklist` and `critical_service_endpoints`",
                        check.name
                    ),
                );
            } else {
                names.insert(&check.name, at);
            }
        }
    }
}

fn http_check(out: &mut Findings, at: &str, check: &HttpCheck) {
    out.non_empty(format!("{at}.name"), &check.name, "check name");
    out.url(format!("{at}.url"), &check.url, HTTP);
    if check.expect_status.is_empty() {
        out.push(format!("{at}.expect_status"), "no accepted status; expected at least one HTTP status code (100-599)");
    }
    for (k, status) in check.expect_status.iter().enumerate() {
        if !(100..=599).contains(status) {
            out.push(
                format!("{at}.expect_status[{k}]"),
                format!("{status} is not an HTTP status code; expected 100-599"),
            );
        }
    }
    match (&check.exposure, &check.ingress_address) {
        (Exposure::External, None) => out.push(
            format!("{at}.ingress_address"),
            "an external check goes through the ingress; expected `ingress_address` (`ip:port` of the ingress)",
        ),
        (_, Some(address)) if !is_host_port(address) => out.push(
            format!("{at}.ingress_address"),
            format!("`{address}` is not an address; expected `ip:port` of the ingress, such as `192.0.2.10:443`"),
        ),
        _ => {}
    }
    out.positive(format!("{at}.timeout"), check.timeout);
    out.positive(format!("{at}.max_latency"), check.max_latency);
    out.within(&format!("{at}.max_latency"), check.max_latency, &format!("{at}.timeout"), check.timeout);
    if check.consecutive_successes == 0 {
        out.push(format!("{at}.consecutive_successes"), "0 successes can never be observed; expected at least 1");
    }
    if check.consecutive_failures == 0 {
        out.push(format!("{at}.consecutive_failures"), "0 failures can never be observed; expected at least 1");
    }
    if check.tls_expiry_min.is_some() && check.url.starts_with("http:") {
        out.push(format!("{at}.tls_expiry_min"), "a plain http:// URL has no certificate; expected an https:// URL");
    }
}

fn vault(config: &Config, out: &mut Findings) {
    let Some(vault) = &config.vault else { return };
    if vault.pods.is_empty() {
        out.push("vault.pods", "no Vault pods; expected every pod to unseal (or leave out `vault`)");
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, pod) in vault.pods.iter().enumerate() {
        let at = format!("vault.pods[{i}]");
        out.non_empty(format!("{at}.name"), &pod.name, "Vault pod name");
        match names.get(pod.name.as_str()) {
            _ if pod.name.trim().is_empty() => {}
            Some(first) => out.push(
                format!("{at}.name"),
                format!("duplicate Vault pod `{}` (already used by vault.pods[{first}])", pod.name),
            ),
            None => {
                names.insert(&pod.name, i);
            }
        }
        out.url(format!("{at}.address"), &pod.address, HTTP);
    }
    match &vault.unseal_keys {
        UnsealKeySource::Command(spec) => command(out, "vault.unseal_keys.command", spec),
        UnsealKeySource::File(path) if path.as_os_str().is_empty() => {
            out.push("vault.unseal_keys.file", "no file; expected the path of the unseal shares");
        }
        UnsealKeySource::File(_) => {}
    }
}

fn command(out: &mut Findings, at: &str, spec: &CommandSpec) {
    match spec.argv.first() {
        None => out
            .push(format!("{at}.argv"), "no program to run; expected argv such as [\"/usr/local/bin/tool\", \"arg\"]"),
        Some(program) => out.non_empty(format!("{at}.argv[0]"), program, "program"),
    }
    out.positive(format!("{at}.timeout"), spec.timeout);
}

fn object(out: &mut Findings, at: &str, object: &ObjectRef) {
    out.non_empty(format!("{at}.namespace"), &object.namespace, "namespace");
    out.non_empty(format!("{at}.name"), &object.name, "name");
}

fn scalable(out: &mut Findings, at: &str, workload: &WorkloadRef) {
    out.non_empty(format!("{at}.namespace"), &workload.namespace, "namespace");
    out.non_empty(format!("{at}.name"), &workload.name, "name");
    if !workload.kind.scalable() {
        out.push(
            format!("{at}.kind"),
            format!("a {} cannot be scaled; expected a Deployment or a StatefulSet", workload.kind.as_str()),
        );
    }
}

/// `host:port` with a non-empty host and a non-zero port (`[::1]:443` included).
fn is_host_port(address: &str) -> bool {
    address.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0))
}

#[cfg(test)]
mod tests {
    use super::is_host_port;

    #[test]
    fn host_port_needs_both_halves() {
        assert!(is_host_port("192.0.2.10:443"));
        assert!(is_host_port("[2001:db8::1]:443"));
        assert!(!is_host_port("192.0.2.10"));
        assert!(!is_host_port(":443"));
        assert!(!is_host_port("ingress:0"));
    }
}
