//! The resource kinds the facade serves, and how request paths name them (reference §1).

/// A kind of object the facade serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `v1` Node (cluster-scoped).
    Node,
    /// `v1` Pod.
    Pod,
    /// `v1` Service.
    Service,
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` `StatefulSet`.
    StatefulSet,
    /// `apps/v1` `DaemonSet`.
    DaemonSet,
    /// `policy/v1` `PodDisruptionBudget`.
    PodDisruptionBudget,
    /// `discovery.k8s.io/v1` `EndpointSlice`.
    EndpointSlice,
    /// `networking.k8s.io/v1` Ingress.
    Ingress,
    /// `source.toolkit.fluxcd.io/v1` `GitRepository`.
    GitRepository,
    /// `kustomize.toolkit.fluxcd.io/v1` Kustomization.
    Kustomization,
    /// `helm.toolkit.fluxcd.io/v2` `HelmRelease`.
    HelmRelease,
    /// `v1` Namespace (cluster-scoped): every namespace an object of another kind lives in, and
    /// the four every cluster has. Rendered last, from the others.
    Namespace,
}

impl Kind {
    /// Every kind, in the order a sync renders them.
    pub const ALL: [Kind; 13] = [
        Kind::Node,
        Kind::Pod,
        Kind::Service,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::PodDisruptionBudget,
        Kind::EndpointSlice,
        Kind::Ingress,
        Kind::GitRepository,
        Kind::Kustomization,
        Kind::HelmRelease,
        Kind::Namespace,
    ];

    /// `(group, version, plural, kind)`.
    fn names(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Kind::Node => ("", "v1", "nodes", "Node"),
            Kind::Pod => ("", "v1", "pods", "Pod"),
            Kind::Service => ("", "v1", "services", "Service"),
            Kind::Deployment => ("apps", "v1", "deployments", "Deployment"),
            Kind::StatefulSet => ("apps", "v1", "statefulsets", "StatefulSet"),
            Kind::DaemonSet => ("apps", "v1", "daemonsets", "DaemonSet"),
            Kind::PodDisruptionBudget => ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget"),
            Kind::EndpointSlice => ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
            Kind::Ingress => ("networking.k8s.io", "v1", "ingresses", "Ingress"),
            Kind::GitRepository => ("source.toolkit.fluxcd.io", "v1", "gitrepositories", "GitRepository"),
            Kind::Kustomization => ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization"),
            Kind::HelmRelease => ("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease"),
            Kind::Namespace => ("", "v1", "namespaces", "Namespace"),
        }
    }

    /// The API group (`""` for the core group).
    #[must_use]
    pub fn group(self) -> &'static str {
        self.names().0
    }

    /// `apiVersion` of its objects.
    #[must_use]
    pub fn api_version(self) -> String {
        let (group, version, _, _) = self.names();
        if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        }
    }

    /// The resource's plural in paths.
    #[must_use]
    pub fn plural(self) -> &'static str {
        self.names().2
    }

    /// The `kind` of its objects.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.names().3
    }

    /// Whether its objects live in namespaces.
    #[must_use]
    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Node | Kind::Namespace)
    }

    /// The API version of its group (`v1`, `v2`).
    #[must_use]
    pub fn version(self) -> &'static str {
        self.names().1
    }

    /// `kubectl`'s short names for it (`no`, `po`, `deploy`, ...).
    #[must_use]
    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Kind::Node => &["no"],
            Kind::Pod => &["po"],
            Kind::Service => &["svc"],
            Kind::Deployment => &["deploy"],
            Kind::StatefulSet => &["sts"],
            Kind::DaemonSet => &["ds"],
            Kind::PodDisruptionBudget => &["pdb"],
            Kind::EndpointSlice => &[],
            Kind::Ingress => &["ing"],
            Kind::GitRepository => &["gitrepo"],
            Kind::Kustomization => &["ks"],
            Kind::HelmRelease => &["hr"],
            Kind::Namespace => &["ns"],
        }
    }

    /// Whether it is a custom resource (Flux): no strategic merge patch, only `metadata.name` and
    /// `metadata.namespace` field selectors.
    #[must_use]
    pub fn is_custom(self) -> bool {
        matches!(self, Kind::GitRepository | Kind::Kustomization | Kind::HelmRelease)
    }
}

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `GET /version`.
    Version,
    /// `/readyz`, `/livez`, `/healthz`.
    Health,
    /// `GET /api`, `/apis`, `/api/v1` or `/apis/<group>/<version>`: discovery.
    Discovery(Discovery),
    /// A collection, an object or a subresource.
    Resource(Route),
    /// A known API group without that resource: a `NotFound` Status.
    UnknownResource,
    /// Anything else: the apiserver's plain-text `404 page not found`.
    Unknown,
}

/// Which discovery document a path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// `/api`: the core group's versions.
    CoreVersions,
    /// `/apis`: every other group.
    Groups,
    /// `/api/v1` or `/apis/<group>/<version>`: the resources of one group version.
    Resources {
        /// `""` for the core group.
        group: String,
        /// `v1`, `v2`.
        version: String,
    },
}

/// A resource path, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The kind.
    pub kind: Kind,
    /// The namespace, when the path names one.
    pub namespace: Option<String>,
    /// The object, when the path names one.
    pub name: Option<String>,
    /// The subresource (`scale`, `eviction`, `status`).
    pub subresource: Option<String>,
}

/// Parse a request path; `flux` says whether the Flux CRDs are installed.
#[must_use]
pub fn parse_path(path: &str, flux: bool) -> Target {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => return Target::Version,
        ["readyz" | "livez" | "healthz"] => return Target::Health,
        ["api"] => return Target::Discovery(Discovery::CoreVersions),
        ["apis"] => return Target::Discovery(Discovery::Groups),
        _ => {}
    }
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Target::Unknown,
    };
    let known = |k: &Kind| k.group() == group && k.names().1 == version && (flux || !k.is_custom());
    if !Kind::ALL.iter().any(known) {
        return Target::Unknown;
    }
    if rest.is_empty() {
        return Target::Discovery(Discovery::Resources { group: group.to_owned(), version: version.to_owned() });
    }
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        _ => (None, rest),
    };
    let Some((plural, rest)) = rest.split_first() else { return Target::UnknownResource };
    let Some(kind) = Kind::ALL.iter().copied().find(|k| known(k) && k.plural() == *plural) else {
        return Target::UnknownResource;
    };
    if namespace.is_some() && !kind.namespaced() {
        return Target::UnknownResource;
    }
    let (name, subresource) = match rest {
        [] => (None, None),
        [name] => (Some((*name).to_owned()), None),
        [name, sub] => (Some((*name).to_owned()), Some((*sub).to_owned())),
        _ => return Target::UnknownResource,
    };
    if name.is_some() && kind.namespaced() && namespace.is_none() {
        return Target::UnknownResource;
    }
    Target::Resource(Route { kind, namespace, name, subresource })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str) -> Route {
        let target = parse_path(path, true);
        if let Target::Resource(r) = target { Some(r) } else { None }.expect(path)
    }

    #[test]
    fn paths_name_kinds_namespaces_objects_and_subresources() {
        assert_eq!(route("/api/v1/nodes").kind, Kind::Node);
        assert_eq!(route("/api/v1/nodes/n1").name.as_deref(), Some("n1"));
        let scale = route("/apis/apps/v1/namespaces/apps/deployments/web/scale");
        assert_eq!(
            (scale.kind, scale.namespace.as_deref(), scale.subresource.as_deref()),
            (Kind::Deployment, Some("apps"), Some("scale"))
        );
        assert_eq!(route("/apis/helm.toolkit.fluxcd.io/v2/helmreleases").kind, Kind::HelmRelease);
        assert_eq!(parse_path("/version", true), Target::Version);
        assert_eq!(parse_path("/readyz", true), Target::Health);
        assert_eq!(parse_path("/api/v1/namespaces/x/nodes", true), Target::UnknownResource);
        assert_eq!(parse_path("/api/v1/pods/x", true), Target::UnknownResource);
        assert_eq!(parse_path("/api/v1/configmaps", true), Target::UnknownResource);
        assert_eq!(parse_path("/apis/source.toolkit.fluxcd.io/v1/gitrepositories", false), Target::Unknown);
        assert_eq!(parse_path("/apis/example.com/v1/things", true), Target::Unknown);
        assert_eq!(parse_path("/metrics", true), Target::Unknown);
        let core = Discovery::Resources { group: String::new(), version: "v1".into() };
        assert_eq!(parse_path("/api/v1", true), Target::Discovery(core));
        assert_eq!(parse_path("/api", true), Target::Discovery(Discovery::CoreVersions));
        assert_eq!(parse_path("/apis/", true), Target::Discovery(Discovery::Groups));
        assert_eq!(route("/api/v1/namespaces").kind, Kind::Namespace);
        assert_eq!(route("/api/v1/namespaces/apps").name.as_deref(), Some("apps"));
        assert_eq!(parse_path("/api/v1/namespaces/apps/pods/web-0/log/extra", true), Target::UnknownResource);
    }
}
