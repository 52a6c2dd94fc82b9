//! The facade's state: the model on a real-time clock, the object store rendered from it, the
//! names of running pods, and what clients set that the model does not keep.

use super::kinds::Kind;
use super::objects::{self, PodEntry, View};
use super::patch::{compose, merge_patch};
use super::store::{status, Store};
use crate::model::{Eviction, Model, PodView};
use crate::scenario::Scenario;
use ananke_core::config::{ObjectRef, WorkloadKind, WorkloadRef};
use ananke_core::machine::EffectOutcome;
use ananke_core::observation::{FluxKind, FluxRef, CORDONED_BY_ANANKE, REPLICAS_BEFORE, SUSPENDED_BY_ANANKE};
use ananke_core::{Effect, Time};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Wall-clock time of model time 0 in rendered timestamps: 2026-01-01T00:00:00Z.
const EPOCH_SECS: u64 = 1_767_225_600;

/// RFC 3339 (UTC, `Z`) of model time `t`.
#[must_use]
pub fn rfc3339(t: Time) -> String {
    humantime::format_rfc3339_seconds(wall(t)).to_string()
}

/// Model time `t` as the wall-clock instant the served objects' timestamps name.
#[must_use]
pub fn wall(t: Time) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(EPOCH_SECS) + Duration::from_millis(t.as_millis())
}

/// Model time that runs `speed` times faster than real time (0: stopped; tests move it by hand).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
    base: Time,
    speed: f64,
}

impl Clock {
    /// A clock reading `base` now.
    #[must_use]
    pub fn new(base: Time, speed: f64) -> Clock {
        Clock { origin: Instant::now(), base, speed: speed.max(0.0) }
    }

    /// Model time now.
    #[must_use]
    pub fn now(&self) -> Time {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ms = (self.origin.elapsed().as_secs_f64() * 1000.0 * self.speed) as u64;
        Time(self.base.as_millis().saturating_add(ms))
    }

    /// Move the clock forward to `to` (never back).
    pub fn jump(&mut self, to: Time) {
        let now = self.now();
        *self = Clock { origin: Instant::now(), base: now.max(to), speed: self.speed };
    }

    /// Real time until model time `at`; `None` when the clock is stopped.
    #[must_use]
    pub fn real_until(&self, at: Time) -> Option<Duration> {
        if self.speed <= 0.0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let ms = at.as_millis().saturating_sub(self.now().as_millis()) as f64 / self.speed;
        Some(Duration::from_secs_f64(ms / 1000.0))
    }
}

/// Names for the model's pods (which are anonymous): a pod keeps its name while it stays on its
/// node; a new one takes its workload's smallest free ordinal, as the model's own names do.
#[derive(Debug, Default)]
struct PodNames {
    by_workload: HashMap<WorkloadRef, Vec<PodEntry>>,
    index: HashMap<(String, String), WorkloadRef>,
    next_ip: u32,
}

impl PodNames {
    fn assign(&mut self, pods: Vec<PodView>) -> Vec<PodEntry> {
        let mut order: Vec<WorkloadRef> = Vec::new();
        let mut groups: HashMap<WorkloadRef, Vec<PodView>> = HashMap::new();
        for p in pods {
            if !groups.contains_key(&p.workload) {
                order.push(p.workload.clone());
            }
            groups.entry(p.workload.clone()).or_default().push(p);
        }
        let mut next = HashMap::new();
        let mut out = Vec::new();
        for w in order {
            let views = groups.remove(&w).unwrap_or_default();
            let mut old: Vec<Option<PodEntry>> =
                self.by_workload.remove(&w).unwrap_or_default().into_iter().map(Some).collect();
            let mut slots: Vec<Option<PodEntry>> = views
                .iter()
                .map(|v| {
                    let found = old.iter().position(|o| o.as_ref().is_some_and(|o| o.node == v.node))?;
                    old[found].take().map(|e| PodEntry { ready: v.ready, ..e })
                })
                .collect();
            let used: BTreeSet<String> = slots.iter().flatten().map(|e| e.name.clone()).collect();
            let mut ordinal = 0_u32;
            for (slot, v) in slots.iter_mut().zip(&views) {
                if slot.is_none() {
                    while used.contains(&format!("{}-{ordinal}", w.name)) {
                        ordinal += 1;
                    }
                    let ip = format!("10.42.{}.{}", (self.next_ip / 250) % 256, self.next_ip % 250 + 2);
                    self.next_ip += 1;
                    *slot = Some(PodEntry {
                        name: format!("{}-{ordinal}", w.name),
                        workload: w.clone(),
                        node: v.node.clone(),
                        ready: v.ready,
                        ip,
                    });
                    ordinal += 1;
                }
            }
            let entries: Vec<PodEntry> = slots.into_iter().flatten().collect();
            out.extend(entries.iter().cloned());
            next.insert(w, entries);
        }
        self.by_workload = next;
        self.index = out.iter().map(|p| ((p.workload.namespace.clone(), p.name.clone()), p.workload.clone())).collect();
        out
    }

    fn find(&self, namespace: &str, name: &str) -> Option<&PodEntry> {
        let w = self.index.get(&(namespace.to_owned(), name.to_owned()))?;
        self.by_workload.get(w)?.iter().find(|p| p.name == name)
    }

    fn remove(&mut self, namespace: &str, name: &str) {
        if let Some(w) = self.index.remove(&(namespace.to_owned(), name.to_owned())) {
            if let Some(list) = self.by_workload.get_mut(&w) {
                list.retain(|p| p.name != name);
            }
        }
    }
}

/// What one eviction request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evicted {
    /// 201: the pod is gone.
    Done,
    /// 404: no such pod.
    NotFound,
    /// 429: a PDB refuses.
    Blocked {
        /// PDB name.
        pdb: String,
        /// Its `minAvailable`.
        min_available: i32,
        /// Healthy pods.
        healthy: i32,
    },
}

/// A failure the facade answers instead of serving a request (tests inject them): the next `count`
/// requests with method `method` whose path contains `path` get a `Status` with code `code`, sent
/// with HTTP status `http`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// Only requests with this method (empty: any).
    pub method: String,
    /// Only requests whose path contains this (empty: any).
    pub path: String,
    /// The `Status` code.
    pub code: u16,
    /// The HTTP status it is sent with: `code`, unless the test wants the apiserver's 2xx
    /// `Failure` (an eviction of a pod that several PDBs select comes back as a 500 `Status` sent
    /// with 201).
    pub http: u16,
    /// How many matching requests fail.
    pub count: u32,
}

impl Injection {
    /// One failure with `code` for the next `method` request (empty: any) whose path contains `path`.
    #[must_use]
    pub fn new(method: &str, path: &str, code: u16) -> Injection {
        Injection { method: method.to_owned(), path: path.to_owned(), code, http: code, count: 1 }
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.count > 0 && (self.method.is_empty() || self.method == method) && path.contains(&self.path)
    }
}

/// Everything behind the facade.
pub struct State {
    /// The simulated lab.
    pub model: Model,
    /// Its scenario.
    pub scenario: Scenario,
    /// The rendered objects.
    pub store: Store,
    /// Model time.
    pub clock: Clock,
    /// Whether the Flux CRDs are served.
    pub flux_installed: bool,
    /// Eviction requests per pod (`namespace`, `name`).
    pub evictions: BTreeMap<(String, String), u32>,
    /// Failures to answer requests with instead of serving them, the first matching one first
    /// (tests inject them).
    pub inject: Vec<Injection>,
    pods: PodNames,
    overlays: HashMap<(Kind, String, String), Value>,
    dirty: bool,
}

impl State {
    /// The facade over `scenario`'s lab (seed `seed`), its clock at model time 0 running
    /// `time_factor` times faster than real time.
    #[must_use]
    pub fn new(scenario: Scenario, seed: u64, time_factor: f64, history: usize, flux_installed: bool) -> State {
        let model = Model::new(&scenario, seed);
        let clock = Clock::new(model.now(), time_factor);
        let mut state = State {
            model,
            scenario,
            store: Store::new(history),
            clock,
            flux_installed,
            evictions: BTreeMap::new(),
            inject: Vec::new(),
            pods: PodNames::default(),
            overlays: HashMap::new(),
            dirty: true,
        };
        state.refresh();
        state
    }

    /// Model time now.
    #[must_use]
    pub fn now(&self) -> Time {
        self.clock.now().max(self.model.now())
    }

    /// Bring the model to the clock's time and re-render when anything changed.
    pub fn refresh(&mut self) {
        let now = self.now();
        if self.model.next_event_after(self.model.now()).is_some_and(|t| t <= now) {
            self.model.advance(now);
            self.dirty = true;
        }
        if self.dirty && self.model.api_reachable() {
            self.sync(now);
        }
    }

    /// Render every kind from the model into the store.
    fn sync(&mut self, now: Time) {
        let obs = self.model.serve_observation(now);
        if !obs.api.reachable {
            return;
        }
        let pods = self.pods.assign(self.model.serve_pods());
        let (pdbs, services) = (self.model.serve_pdbs(), self.model.serve_services());
        let view = View { obs: &obs, pods: &pods, pdbs: &pdbs, services: &services, scenario: &self.scenario };
        let labels = objects::flux_labels(&obs);
        let time = rfc3339(now);
        let mut namespaces: std::collections::BTreeSet<String> =
            objects::BUILTIN_NAMESPACES.iter().map(|n| (*n).to_owned()).collect();
        for kind in Kind::ALL {
            let mut rendered = match kind {
                Kind::Namespace => objects::namespaces(&namespaces),
                Kind::Node => objects::nodes(&view),
                Kind::Pod => objects::pods(&view),
                Kind::Service => objects::services(&view),
                Kind::Deployment => objects::workloads(&view, WorkloadKind::Deployment, &labels),
                Kind::StatefulSet => objects::workloads(&view, WorkloadKind::StatefulSet, &labels),
                Kind::DaemonSet => objects::workloads(&view, WorkloadKind::DaemonSet, &labels),
                Kind::PodDisruptionBudget => objects::pdbs(&view),
                Kind::EndpointSlice => objects::endpoint_slices(&view),
                Kind::Ingress => objects::ingresses(&view),
                Kind::GitRepository | Kind::Kustomization | Kind::HelmRelease if self.flux_installed => {
                    super::flux::objects(&obs, kind)
                }
                Kind::GitRepository | Kind::Kustomization | Kind::HelmRelease => Vec::new(),
            };
            namespaces.extend(rendered.iter().map(|((ns, _), _)| ns.clone()).filter(|ns| !ns.is_empty()));
            for ((ns, name), obj) in &mut rendered {
                if let Some(overlay) = self.overlays.get(&(kind, ns.clone(), name.clone())) {
                    merge_patch(obj, overlay);
                }
            }
            self.store.replace_kind(kind, rendered, &time);
        }
        self.dirty = false;
    }

    /// Apply `effect` to the model now (a mutation through the API).
    pub fn apply(&mut self, effect: &Effect) -> EffectOutcome {
        let now = self.now();
        self.dirty = true;
        self.model.apply_reliably(now, effect)
    }

    /// Keep merge patch `patch` over every render of object `kind` `namespace/name`.
    pub fn add_overlay(&mut self, kind: Kind, namespace: &str, name: &str, patch: &Value) {
        let overlay = self.overlays.entry((kind, namespace.to_owned(), name.to_owned())).or_insert(Value::Null);
        compose(overlay, patch);
        let overlay = overlay.clone();
        self.sync_marks(kind, &ObjectRef { namespace: namespace.to_owned(), name: name.to_owned() }, &overlay);
        self.dirty = true;
    }

    /// ananke's marks in an object's overlay are the model's too: its own observation and
    /// `ananke --sim` read them.
    fn sync_marks(&mut self, kind: Kind, id: &ObjectRef, overlay: &Value) {
        let mark =
            |key: &str| overlay.pointer("/metadata/annotations").and_then(|a| a.get(key)).filter(|v| !v.is_null());
        let workload = |kind| WorkloadRef { kind, namespace: id.namespace.clone(), name: id.name.clone() };
        let flux = |kind| FluxRef { kind, object: id.clone() };
        let before = mark(REPLICAS_BEFORE).and_then(Value::as_str).and_then(|n| n.parse().ok());
        let suspended = mark(SUSPENDED_BY_ANANKE).is_some();
        match kind {
            Kind::Node => self.model.mark_cordoned(&id.name, mark(CORDONED_BY_ANANKE).is_some()),
            Kind::Deployment => self.model.mark_replicas_before(&workload(WorkloadKind::Deployment), before),
            Kind::StatefulSet => self.model.mark_replicas_before(&workload(WorkloadKind::StatefulSet), before),
            Kind::Kustomization => self.model.mark_suspended(&flux(FluxKind::Kustomization), suspended),
            Kind::HelmRelease => self.model.mark_suspended(&flux(FluxKind::HelmRelease), suspended),
            _ => {}
        }
    }

    /// Evict pod `namespace/name`.
    pub fn evict(&mut self, namespace: &str, name: &str) -> Evicted {
        let Some(pod) = self.pods.find(namespace, name).cloned() else { return Evicted::NotFound };
        *self.evictions.entry((namespace.to_owned(), name.to_owned())).or_default() += 1;
        let now = self.now();
        match self.model.evict_one(now, &pod.workload, &pod.node) {
            Eviction::Evicted => {
                self.pods.remove(namespace, name);
                self.dirty = true;
                Evicted::Done
            }
            Eviction::Blocked { pdb, min_available, healthy } => {
                self.dirty = true;
                Evicted::Blocked { pdb, min_available, healthy }
            }
            Eviction::NotFound => Evicted::NotFound,
        }
    }

    /// The injected failure request `method path` gets, if any: the HTTP status and the `Status`
    /// body of the first injection matching it, which then has one failure fewer.
    pub fn take_injection(&mut self, method: &str, path: &str) -> Option<(u16, Value)> {
        let at = self.inject.iter().position(|i| i.matches(method, path))?;
        let injection = &mut self.inject[at];
        injection.count -= 1;
        let (code, http) = (injection.code, injection.http);
        if injection.count == 0 {
            self.inject.remove(at);
        }
        let reason = match code {
            403 => "Forbidden",
            404 => "NotFound",
            409 => "Conflict",
            422 => "Invalid",
            429 => "TooManyRequests",
            500 => "InternalError",
            504 => "Timeout",
            _ => "ServiceUnavailable",
        };
        let message = "the server is currently unable to handle the request (injected)";
        Some((http, status(code, reason, message, None)))
    }

    /// Re-render after the next refresh even if the model reports no event.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }
}
