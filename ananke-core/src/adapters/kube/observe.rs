//! One observation: one list per kind (nodes, pods, deployments, statefulsets, daemonsets, PDBs,
//! services, endpoint slices, ingresses, and the three Flux kinds), sent concurrently, never a
//! request per object. Any list that still fails after the read retries makes the whole API
//! unreachable for this cycle (a partial picture would mislead the gates); a 404 for a Flux
//! kind only says Flux is not installed.

use super::{flux, map, CallFailure, KubeCluster};
use crate::observation::{ApiStatus, FluxKind, FluxObservation, NodeObservation, Observation};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DynamicObject, ListParams};
use kube::Resource;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;

/// Everything one observation lists.
struct Snapshot {
    nodes: Vec<Node>,
    pods: Vec<Pod>,
    deployments: Vec<Deployment>,
    statefulsets: Vec<StatefulSet>,
    daemonsets: Vec<DaemonSet>,
    pdbs: Vec<PodDisruptionBudget>,
    services: Vec<Service>,
    slices: Vec<EndpointSlice>,
    ingresses: Vec<Ingress>,
    /// Per Flux kind: `None` when its API group answers 404.
    flux: [Option<Vec<DynamicObject>>; 3],
}

impl KubeCluster {
    /// Observe the API alone (the other sections stay empty).
    pub async fn observe(&self) -> Observation {
        let mut obs = Observation::default();
        self.observe_into(&mut obs).await;
        obs
    }

    /// Fill the API's sections of `obs`: `api`, `nodes[].kube` (adding nodes the API lists that
    /// `obs` lacks), `flux`, `workloads`, `pods_to_evict` and `ingresses`.
    pub async fn observe_into(&self, obs: &mut Observation) {
        for n in &mut obs.nodes {
            n.kube = None;
        }
        obs.flux = None;
        obs.workloads.clear();
        obs.pods_to_evict.clear();
        obs.ingresses.clear();
        match Box::pin(self.snapshot()).await {
            Ok(s) => {
                obs.api = ApiStatus { reachable: true, error: None };
                fill(obs, &s);
            }
            Err(f) => obs.api = ApiStatus { reachable: false, error: Some(f.message) },
        }
    }

    async fn list<K>(&self, what: &str) -> Result<Vec<K>, CallFailure>
    where
        K: Resource + Clone + DeserializeOwned + Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = Api::all(self.client.clone());
        let params = ListParams::default();
        self.read(what, || api.list(&params)).await.map(|l| l.items)
    }

    async fn list_flux(&self, kind: FluxKind) -> Result<Option<Vec<DynamicObject>>, CallFailure> {
        let resource = flux::resource(kind);
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
        let params = ListParams::default();
        match self.read(&format!("list {}", resource.plural), || api.list(&params)).await {
            Ok(list) => Ok(Some(list.items)),
            Err(f) if f.is_not_found() => Ok(None),
            Err(f) => Err(f),
        }
    }

    async fn snapshot(&self) -> Result<Snapshot, CallFailure> {
        let (nodes, pods, deployments, statefulsets, daemonsets, pdbs) = tokio::join!(
            self.list::<Node>("list nodes"),
            self.list::<Pod>("list pods"),
            self.list::<Deployment>("list deployments"),
            self.list::<StatefulSet>("list statefulsets"),
            self.list::<DaemonSet>("list daemonsets"),
            self.list::<PodDisruptionBudget>("list poddisruptionbudgets"),
        );
        let (services, slices, ingresses, sources, kustomizations, releases) = tokio::join!(
            self.list::<Service>("list services"),
            self.list::<EndpointSlice>("list endpointslices"),
            self.list::<Ingress>("list ingresses"),
            self.list_flux(FluxKind::GitRepository),
            self.list_flux(FluxKind::Kustomization),
            self.list_flux(FluxKind::HelmRelease),
        );
        Ok(Snapshot {
            nodes: nodes?,
            pods: pods?,
            deployments: deployments?,
            statefulsets: statefulsets?,
            daemonsets: daemonsets?,
            pdbs: pdbs?,
            services: services?,
            slices: slices?,
            ingresses: ingresses?,
            flux: [sources?, kustomizations?, releases?],
        })
    }
}

/// The observation's API sections from one snapshot.
fn fill(obs: &mut Observation, s: &Snapshot) {
    let mut cordoned = BTreeSet::new();
    for n in &s.nodes {
        let (name, kube) = map::node(n);
        if kube.unschedulable {
            cordoned.insert(name.clone());
        }
        match obs.nodes.iter_mut().find(|o| o.name == name) {
            Some(o) => o.kube = Some(kube),
            None => obs.nodes.push(NodeObservation { name, kube: Some(kube), ..NodeObservation::default() }),
        }
    }
    let labelled: Vec<_> = s
        .deployments
        .iter()
        .map(|d| (map::deployment(d), d.metadata.labels.clone()))
        .chain(s.statefulsets.iter().map(|x| (map::statefulset(x), x.metadata.labels.clone())))
        .chain(s.daemonsets.iter().map(|x| (map::daemonset(x), x.metadata.labels.clone())))
        .collect();
    let managed = flux::managed(&labelled);
    obs.workloads = labelled.into_iter().map(|(w, _)| w).collect();
    obs.pods_to_evict = map::pods_to_evict(&s.pods, &cordoned, &s.pdbs);
    obs.ingresses = map::ingresses(&s.ingresses, &s.services, &s.slices);
    let installed = s.flux.iter().any(Option::is_some);
    let objects =
        |i: usize, kind: FluxKind| s.flux[i].iter().flatten().map(|o| flux::object(kind, o, &managed)).collect();
    obs.flux = Some(FluxObservation {
        installed,
        sources: objects(0, FluxKind::GitRepository),
        kustomizations: objects(1, FluxKind::Kustomization),
        helm_releases: objects(2, FluxKind::HelmRelease),
    });
}
