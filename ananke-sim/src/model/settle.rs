//! Time evolution: at each instant the model settles to a fixed point (power, k3s units, the API,
//! Node conditions, components, Vault, Flux), and reports the next instant anything changes.

use super::parts::{NodeSim, Phase, Unit};
use super::Model;
use crate::scenario::ComponentKind;
use ananke_core::config::K3sRole;
use ananke_core::observation::ConditionStatus;
use ananke_core::Time;

/// `t + ms`.
pub(crate) fn after(t: Time, ms: u64) -> Time {
    Time(t.as_millis().saturating_add(ms))
}

impl Model {
    /// Settle the state at `self.now` until nothing changes.
    pub(crate) fn settle(&mut self) {
        for _ in 0..32 {
            let mut changed = self.settle_power();
            changed |= self.settle_units();
            changed |= self.settle_api();
            changed |= self.settle_node_status();
            changed |= self.settle_components();
            changed |= self.settle_vault();
            changed |= self.settle_flux();
            changed |= self.settle_checks();
            if !changed {
                return;
            }
        }
    }

    /// Batteries that ran out: their hosts lose power.
    fn settle_power(&mut self) -> bool {
        let now = self.now;
        let mut changed = false;
        for (d, domain) in self.domains.iter_mut().enumerate() {
            let empty = domain.on_battery_since.is_some_and(|t| after(t, domain.runtime) <= now);
            if empty && !domain.dark {
                domain.dark = true;
                changed = true;
                for node in self.nodes.iter_mut().filter(|n| n.domain == d) {
                    cut_power(node);
                }
            }
        }
        changed
    }

    /// k3s units finishing their start or stop; units on hosts that are down stop.
    fn settle_units(&mut self) -> bool {
        let now = self.now;
        let mut changed = false;
        for node in &mut self.nodes {
            let before = node.unit;
            if node.host_up(now) {
                match node.unit {
                    Unit::Starting { serving_at } if serving_at <= now => {
                        node.unit = Unit::Serving { since: serving_at };
                        node.kubelet_at = after(serving_at, node.kubelet_ready);
                    }
                    Unit::Stopping { done_at } if done_at <= now => node.unit = Unit::Stopped,
                    _ => {}
                }
            } else {
                node.unit = Unit::Stopped;
            }
            changed |= node.unit != before;
        }
        changed
    }

    /// The API answers while a quorum of servers serves.
    fn settle_api(&mut self) -> bool {
        let now = self.now;
        let serving = self
            .nodes
            .iter()
            .filter(|n| n.role == K3sRole::Server && n.host_up(now) && matches!(n.unit, Unit::Serving { .. }))
            .count();
        let up = serving >= self.quorum;
        if up == self.api_up {
            return false;
        }
        self.api_up = up;
        if up {
            self.api_since = now;
        }
        true
    }

    /// The node lifecycle controller and the kubelets' status posts (only while the API answers).
    fn settle_node_status(&mut self) -> bool {
        if !self.api_up {
            return false;
        }
        let now = self.now;
        let grace = self.grace;
        let api_since = self.api_since;
        let mut changed = false;
        for node in &mut self.nodes {
            let (ready, reason) = (node.ready, node.reason);
            let kubelet_running = node.host_up(now) && matches!(node.unit, Unit::Serving { .. });
            if kubelet_running {
                node.heartbeat = now;
                node.posting = true;
                (node.ready, node.reason) = if node.kubelet_ready(now) {
                    (ConditionStatus::True, "KubeletReady")
                } else {
                    (ConditionStatus::False, "KubeletNotReady")
                };
            } else {
                if node.posting {
                    node.heartbeat = now;
                    node.posting = false;
                }
                if after(node.heartbeat.max(api_since), grace) <= now {
                    (node.ready, node.reason) = (ConditionStatus::Unknown, "NodeStatusUnknown");
                }
            }
            changed |= node.ready != ready || node.reason != reason;
        }
        changed
    }

    /// Whether pods can be placed on node `n` now.
    pub(crate) fn schedulable(&self, n: usize) -> bool {
        let node = &self.nodes[n];
        self.api_up && !node.cordoned && node.ready == ConditionStatus::True && node.kubelet_ready(self.now)
    }

    /// Schedulable eligible nodes of component `c`.
    fn placement(&self, c: usize) -> Vec<usize> {
        let comp = &self.comps[c];
        if comp.nodes.is_empty() {
            (0..self.nodes.len()).filter(|&n| self.schedulable(n)).collect()
        } else {
            comp.nodes.iter().copied().filter(|&n| self.schedulable(n)).collect()
        }
    }

    /// Whether component `c` is up for what depends on it (Vault also needs every pod unsealed).
    pub(crate) fn ready_for_dependents(&self, c: usize) -> bool {
        let comp = &self.comps[c];
        comp.phase == Phase::Up
            && (comp.kind != ComponentKind::Vault || self.vault.iter().take(comp.pods.len()).all(|p| !p.sealed))
    }

    /// Components starting, healing, stopping, losing pods with their nodes.
    fn settle_components(&mut self) -> bool {
        let now = self.now;
        let mut changed = false;
        for c in 0..self.comps.len() {
            if self.comps[c].kind == ComponentKind::Datastore {
                changed |= self.settle_datastore(c);
                continue;
            }
            let before = (self.comps[c].phase, self.comps[c].pods.len(), self.comps[c].heal_at);
            let alive: Vec<bool> = self.nodes.iter().map(|n| n.alive(now)).collect();
            self.comps[c].pods.retain(|&n| alive[n]);
            let desired = self.comps[c].workload.as_ref().map_or(0, |w| w.desired);
            let deps_ok = self.comps[c].deps.iter().all(|&d| self.ready_for_dependents(d));
            let places = self.placement(c);
            let can_start = self.api_up && desired > 0 && deps_ok && !places.is_empty();
            let comp = &mut self.comps[c];
            match comp.phase {
                Phase::Down if can_start => comp.phase = Phase::Starting { ready_at: after(now, comp.start) },
                Phase::Starting { .. } if !can_start => comp.phase = Phase::Down,
                Phase::Starting { ready_at } if ready_at <= now => {
                    comp.phase = Phase::Up;
                    fill(&mut comp.pods, desired, &places, c);
                }
                Phase::Up if desired == 0 => comp.phase = Phase::Stopping { done_at: after(now, comp.stop) },
                Phase::Up if comp.pods.is_empty() => comp.phase = Phase::Down,
                Phase::Up => {
                    comp.pods.truncate(usize::try_from(desired).unwrap_or(0));
                    let missing = comp.pods.len() < usize::try_from(desired).unwrap_or(0);
                    match comp.heal_at {
                        Some(t) if t <= now => {
                            fill(&mut comp.pods, desired, &places, c);
                            comp.heal_at = None;
                        }
                        None if missing && !places.is_empty() => comp.heal_at = Some(after(now, comp.start)),
                        Some(_) if !missing => comp.heal_at = None,
                        _ => {}
                    }
                }
                Phase::Stopping { .. } if desired > 0 && !comp.pods.is_empty() => comp.phase = Phase::Up,
                Phase::Stopping { done_at } if done_at <= now || comp.pods.is_empty() => {
                    comp.phase = Phase::Down;
                    comp.pods.clear();
                }
                _ => {}
            }
            if comp.phase == Phase::Down {
                comp.pods.clear();
                comp.heal_at = None;
            }
            changed |= (comp.phase, comp.pods.len(), comp.heal_at) != before;
        }
        changed
    }

    /// A host service: up `start` after its host came up.
    fn settle_datastore(&mut self, c: usize) -> bool {
        let now = self.now;
        let comp = &self.comps[c];
        let host = comp.host.map(|h| &self.nodes[h]);
        let phase = match host.and_then(|h| if h.powered { h.up_at } else { None }) {
            Some(up) if after(up, comp.start) <= now => Phase::Up,
            Some(up) => Phase::Starting { ready_at: after(up, comp.start) },
            None => Phase::Down,
        };
        let changed = phase != comp.phase;
        self.comps[c].phase = phase;
        changed
    }

    /// Vault pods that are not running are sealed.
    fn settle_vault(&mut self) -> bool {
        let Some(c) = self.vault_comp else { return false };
        let running = if self.comps[c].phase == Phase::Up { self.comps[c].pods.len() } else { 0 };
        let mut changed = false;
        for pod in self.vault.iter_mut().skip(running) {
            changed |= !pod.sealed;
            pod.sealed = true;
        }
        changed
    }

    /// The next instant after `now` at which the model changes on its own.
    #[must_use]
    pub fn next_event_after(&self, now: Time) -> Option<Time> {
        let mut next: Option<Time> = None;
        let mut consider = |t: Option<Time>| {
            if let Some(t) = t.filter(|t| *t > now) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for d in &self.domains {
            consider(d.on_battery_since.filter(|_| !d.dark).map(|t| after(t, d.runtime)));
        }
        for n in &self.nodes {
            consider(if n.powered { n.up_at } else { None });
            match n.unit {
                Unit::Starting { serving_at } => consider(Some(serving_at)),
                Unit::Stopping { done_at } => consider(Some(done_at)),
                Unit::Serving { .. } => consider(Some(n.kubelet_at)),
                Unit::Stopped => {}
            }
            if self.api_up && !n.posting && n.ready != ConditionStatus::Unknown {
                consider(Some(after(n.heartbeat.max(self.api_since), self.grace)));
            }
        }
        for c in &self.comps {
            match c.phase {
                Phase::Starting { ready_at } => consider(Some(ready_at)),
                Phase::Stopping { done_at } => consider(Some(done_at)),
                _ => {}
            }
            consider(c.heal_at);
        }
        if self.flux_running() {
            for f in &self.flux {
                consider(f.next_reconcile);
            }
        }
        for (t, _) in &self.timed {
            consider(Some(*t));
        }
        for check in &self.checks {
            if let (Some((wait, len)), Some(ok)) = (check.flap, check.first_ok) {
                consider(Some(after(ok, wait)));
                consider(Some(after(ok, wait + len)));
            }
        }
        next
    }
}

/// Place pods up to `desired` on `places`, round robin from an offset per component.
fn fill(pods: &mut Vec<usize>, desired: i32, places: &[usize], c: usize) {
    if places.is_empty() {
        return;
    }
    let want = usize::try_from(desired).unwrap_or(0);
    let mut k = c + pods.len();
    while pods.len() < want {
        pods.push(places[k % places.len()]);
        k += 1;
    }
}

/// A host loses power: everything on it stops at once.
pub(crate) fn cut_power(node: &mut NodeSim) {
    node.powered = false;
    node.up_at = None;
    node.unit = Unit::Stopped;
}
