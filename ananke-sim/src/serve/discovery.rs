//! API discovery, as `kubectl` and client libraries read it before any request: `/api` (the core
//! group's versions), `/apis` (every other group) and one `APIResourceList` per group version,
//! listing each kind with its verbs, scope, singular and short names, and the `scale` and
//! `eviction` subresources. Only the legacy (unaggregated) documents are served: a client that
//! asks for aggregated discovery first (`Accept: ...;as=APIGroupDiscoveryList`) gets these as
//! plain `application/json` and falls back to them, as against an older apiserver. There is no
//! `OpenAPI` document: `kubectl explain` answers `NotFound` (the server could not find the
//! requested resource).

use super::kinds::{Discovery, Kind};
use serde_json::{json, Value};

/// What every kind's collection and objects allow here.
const VERBS: [&str; 4] = ["get", "list", "patch", "watch"];

/// The kinds served in `group`/`version`, Flux's only when installed.
fn kinds_of<'a>(group: &'a str, version: &'a str, flux: bool) -> impl Iterator<Item = Kind> + 'a {
    Kind::ALL.into_iter().filter(move |k| k.group() == group && k.version() == version && (flux || !k.is_custom()))
}

/// The discovery document `which` names.
#[must_use]
pub fn document(which: &Discovery, flux: bool) -> Value {
    match which {
        Discovery::CoreVersions => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1" }],
        }),
        Discovery::Groups => {
            let mut groups: Vec<(&str, &str)> = Vec::new();
            for kind in Kind::ALL.into_iter().filter(|k| !k.group().is_empty() && (flux || !k.is_custom())) {
                if !groups.contains(&(kind.group(), kind.version())) {
                    groups.push((kind.group(), kind.version()));
                }
            }
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|(group, version)| {
                    let gv = json!({ "groupVersion": format!("{group}/{version}"), "version": version });
                    json!({ "name": group, "versions": [gv.clone()], "preferredVersion": gv })
                })
                .collect();
            json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
        }
        Discovery::Resources { group, version } => {
            let mut resources = Vec::new();
            for kind in kinds_of(group, version, flux) {
                resources.push(json!({
                    "name": kind.plural(),
                    "singularName": kind.name().to_lowercase(),
                    "namespaced": kind.namespaced(),
                    "kind": kind.name(),
                    "verbs": VERBS,
                    "shortNames": kind.short_names(),
                }));
                if matches!(kind, Kind::Deployment | Kind::StatefulSet) {
                    resources.push(json!({
                        "name": format!("{}/scale", kind.plural()), "singularName": "", "namespaced": true,
                        "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"],
                    }));
                }
                if kind == Kind::Pod {
                    resources.push(json!({
                        "name": "pods/eviction", "singularName": "", "namespaced": true,
                        "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"],
                    }));
                }
            }
            let group_version = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
            json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(group: &str, version: &str, flux: bool) -> Vec<Value> {
        let which = Discovery::Resources { group: group.into(), version: version.into() };
        document(&which, flux)["resources"].as_array().unwrap().clone()
    }

    #[test]
    fn every_kind_is_discoverable_with_its_short_names_and_scope() {
        let core = resources("", "v1", true);
        let names: Vec<&str> = core.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["nodes", "pods", "pods/eviction", "services", "namespaces"]);
        assert_eq!((core[0]["shortNames"].clone(), core[0]["namespaced"].clone()), (json!(["no"]), json!(false)));
        let apps = resources("apps", "v1", true);
        assert!(apps.iter().any(|r| r["name"] == "deployments" && r["shortNames"] == json!(["deploy"])), "{apps:?}");
        assert!(apps.iter().any(|r| r["name"] == "statefulsets/scale" && r["kind"] == "Scale"), "{apps:?}");
        assert_eq!(resources("kustomize.toolkit.fluxcd.io", "v1", true)[0]["shortNames"], json!(["ks"]));
        assert!(resources("kustomize.toolkit.fluxcd.io", "v1", false).is_empty());
    }

    #[test]
    fn the_group_list_names_every_group_once_and_flux_only_when_installed() {
        let groups = |flux| -> Vec<String> {
            let doc = document(&Discovery::Groups, flux);
            doc["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["preferredVersion"]["groupVersion"].as_str().unwrap().to_owned())
                .collect()
        };
        let all = groups(true);
        assert!(
            all.contains(&"apps/v1".to_owned()) && all.contains(&"helm.toolkit.fluxcd.io/v2".to_owned()),
            "{all:?}"
        );
        assert_eq!(all.iter().filter(|g| *g == "apps/v1").count(), 1);
        assert!(!groups(false).iter().any(|g| g.contains("fluxcd")));
        assert_eq!(document(&Discovery::CoreVersions, true)["versions"], json!(["v1"]));
    }
}
