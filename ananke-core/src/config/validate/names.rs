//! Names that reach another system: node names (Kubernetes), addresses (SSH, NUT) and UPS names
//! (the NUT protocol). Each must be what that system accepts, so that no value can turn into an
//! option (`-oProxyCommand=...`), a second command, or a broken protocol line.

use super::Findings;
use crate::config::model::Config;
// `core::net`: address parsing is pure (no socket), unlike the rest of `std::net`.
use core::net::IpAddr;

/// Check every node name, node address, UPS name and UPS host.
pub(super) fn check(config: &Config, out: &mut Findings) {
    for (i, node) in config.inventory.nodes.iter().enumerate() {
        if !node.name.trim().is_empty() {
            if let Err(why) = dns_subdomain(&node.name) {
                out.push(
                    format!("inventory.nodes[{i}].name"),
                    format!("`{}` is not a Kubernetes node name: {why}", shown(&node.name)),
                );
            }
        }
        address(out, &format!("inventory.nodes[{i}].address"), &node.address);
    }
    for (d, domain) in config.power_domains.iter().enumerate() {
        let ups = &domain.ups;
        if !ups.name.trim().is_empty() {
            if let Err(why) = nut_name(&ups.name) {
                out.push(
                    format!("power_domains[{d}].ups.name"),
                    format!("`{}` is not a NUT UPS name: {why}", shown(&ups.name)),
                );
            }
        }
        address(out, &format!("power_domains[{d}].ups.host"), &ups.host);
    }
}

/// A host name or an IP address (empty is reported by the caller's non-empty check).
fn address(out: &mut Findings, field: &str, value: &str) {
    if value.trim().is_empty() || value.parse::<IpAddr>().is_ok() {
        return;
    }
    if let Err(why) = host_name(value) {
        out.push(field, format!("`{}` is neither an IP address nor a host name: {why}", shown(value)));
    }
}

/// `value` with control characters made visible, for a message on one line.
fn shown(value: &str) -> String {
    value.chars().flat_map(char::escape_debug).collect::<String>().replace('`', "'")
}

/// RFC 1123 DNS subdomain, as Kubernetes requires of a node name: at most 253 characters, dot
/// separated labels of lowercase letters, digits and `-`, each starting and ending alphanumeric.
pub(crate) fn dns_subdomain(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!("{} characters; at most 253", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.')) {
        return Err(format!(
            "`{}` is not allowed; expected lowercase letters, digits, `-` and `.` (RFC 1123)",
            c.escape_debug()
        ));
    }
    labels(name)
}

/// RFC 1123 host name: as [`dns_subdomain`], in either case (DNS ignores case).
fn host_name(name: &str) -> Result<(), String> {
    if name.starts_with('-') {
        return Err("it begins with `-`, which a command would take for an option".to_owned());
    }
    dns_subdomain(&name.to_ascii_lowercase()).map_err(|why| why.replace("lowercase letters", "letters"))
}

/// Every dot-separated label is 1 to 63 characters and starts and ends alphanumeric.
fn labels(name: &str) -> Result<(), String> {
    for label in name.split('.') {
        if label.is_empty() {
            return Err("an empty label (`..`, or a leading or trailing `.`)".to_owned());
        }
        if label.len() > 63 {
            return Err(format!("label `{label}` has {} characters; at most 63", label.len()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` begins or ends with `-`"));
        }
    }
    Ok(())
}

/// A UPS name NUT's protocol carries as one word: letters, digits, `-`, `_` and `.`, not
/// beginning with `-`, and not `default` (upsd reserves it).
fn nut_name(name: &str) -> Result<(), String> {
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c))) {
        return Err(format!("`{}` is not allowed; expected letters, digits, `-`, `_` and `.`", c.escape_debug()));
    }
    if name.starts_with('-') {
        return Err("it begins with `-`".to_owned());
    }
    if name == "default" {
        return Err("upsd reserves `default`".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_node_names() {
        for ok in ["titan-03", "a", "node-1.lab.example", &"a".repeat(63)] {
            assert_eq!(dns_subdomain(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("titan-03; touch x", "`;` is not allowed"),
            ("titan 03", "` ` is not allowed"),
            ("titan-03\n", "`\\n` is not allowed"),
            ("Titan-03", "`T` is not allowed"),
            ("-titan", "begins or ends with `-`"),
            ("titan-", "begins or ends with `-`"),
            ("a..b", "an empty label"),
            (&"a".repeat(64), "at most 63"),
            (&["a"; 128].join("."), "at most 253"),
        ] {
            let err = dns_subdomain(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn addresses_and_ups_names() {
        let mut out = Findings::default();
        for ok in ["192.168.22.10", "::1", "fe80::1", "titan-03.lab", "TITAN-03"] {
            address(&mut out, "a", ok);
        }
        assert_eq!(out.0, []);
        for bad in ["-oProxyCommand=x", "titan 03", "a;b", "host_name", "10.0.0.1:22"] {
            address(&mut out, bad, bad);
        }
        let fields: Vec<&str> = out.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["-oProxyCommand=x", "titan 03", "a;b", "host_name", "10.0.0.1:22"]);
        assert!(out.0[0].message.contains("begins with `-`"), "{}", out.0[0].message);
        for ok in ["statera", "ups_1", "eaton-5px.rack"] {
            assert_eq!(nut_name(ok), Ok(()));
        }
        for (bad, why) in [("my ups", "` `"), ("ups\u{7}", "`\\u{7}`"), ("-ups", "begins"), ("default", "reserves")] {
            assert!(nut_name(bad).unwrap_err().contains(why), "{bad:?}");
        }
        assert_eq!(shown("a\nb`c"), "a\\nb'c");
    }
}
