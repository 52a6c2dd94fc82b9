//! The journal model: what ananke changed and how to undo it.
//!
//! The machines keep the journal up to date as they decide; the runner persists it (atomically,
//! fsynced) *before* executing the effects of a step. Startup restores exactly what it records and
//! nothing else: a node an operator cordoned stays cordoned, a Kustomization an operator suspended
//! stays suspended, a workload already at 0 stays at 0.

use crate::config::WorkloadRef;
use crate::observation::FluxRef;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Current journal format version.
pub const JOURNAL_VERSION: u32 = 1;

/// The journal of the last shutdown and of the startup restoring it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Format version ([`JOURNAL_VERSION`]).
    pub version: u32,
    /// What the shutdown changed.
    pub changes: Changes,
    /// Whether the shutdown reached `Off` (the cluster is down because ananke took it down).
    pub shutdown_completed: bool,
    /// Reason given for the shutdown.
    #[serde(default)]
    pub shutdown_reason: Option<String>,
    /// When the shutdown began, on the clock of the run that began it (a real run's monotonic
    /// clock starts at 0 in each process, so across runs this is a flag, not a time); cleared when
    /// a startup has undone it (reached `Ready`).
    #[serde(default)]
    pub shutdown_started_at: Option<Time>,
    /// The shutdown saw every Flux object it suspended suspended, every workload it scaled at 0
    /// and every drain done: a resumed run need not see them again (the API may be gone by then).
    #[serde(default)]
    pub quiesced: bool,
    /// The journal file was lost after an ananke shutdown: the startup rebuilds the changes from
    /// the marks ananke left on the cluster ([`Changes::from_marks`]) once the API answers.
    #[serde(default, skip_serializing_if = "is_false")]
    pub rebuild_from_marks: bool,
}

/// Serde's `skip_serializing_if` for flags that are off by default.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

impl Journal {
    /// Whether a shutdown began and did not complete (it failed, ended incomplete, or its
    /// process died): what it changed is still to be finished or undone.
    #[must_use]
    pub fn shutdown_unfinished(&self) -> bool {
        !self.shutdown_completed && self.shutdown_started_at.is_some()
    }

    /// Whether a startup has something to restore: a shutdown (completed or not) that no startup
    /// undid yet, or changes still listed.
    #[must_use]
    pub fn pending_restore(&self) -> bool {
        self.shutdown_started_at.is_some()
            || self.shutdown_completed
            || self.rebuild_from_marks
            || !self.changes.is_empty()
    }

    /// What a startup still has to restore, one line per kind of change (empty when nothing).
    #[must_use]
    pub fn pending_lines(&self) -> Vec<String> {
        let c = &self.changes;
        let mut lines = self.restore_lines();
        if !c.stopped.is_empty() {
            let list: Vec<&str> = c.stopped.iter().map(String::as_str).collect();
            lines.push(format!("start k3s on {}", list.join(", ")));
        }
        lines
    }

    /// What a startup restores through the API once the nodes are up: scale back, resume,
    /// uncordon; one line per kind of change.
    #[must_use]
    pub fn restore_lines(&self) -> Vec<String> {
        let c = &self.changes;
        let mut lines = Vec::new();
        if !c.scaled.is_empty() {
            let list: Vec<String> = c.scaled.iter().map(|(w, n)| format!("{w} to {n}")).collect();
            lines.push(format!("scale back {}", list.join(", ")));
        }
        if !c.suspended.is_empty() {
            let list: Vec<String> = c.suspended.iter().map(ToString::to_string).collect();
            lines.push(format!("resume {}", list.join(", ")));
        }
        if !c.cordoned.is_empty() {
            let list: Vec<&str> = c.cordoned.iter().map(String::as_str).collect();
            lines.push(format!("uncordon {}", list.join(", ")));
        }
        lines
    }
}

impl Default for Journal {
    fn default() -> Self {
        Self {
            version: JOURNAL_VERSION,
            changes: Changes::default(),
            shutdown_completed: false,
            shutdown_reason: None,
            shutdown_started_at: None,
            quiesced: false,
            rebuild_from_marks: false,
        }
    }
}

/// A `GitRepository`'s source before ananke changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceBefore {
    /// `spec.url` before.
    pub url: Option<String>,
    /// `spec.ref.branch` before.
    pub branch: Option<String>,
}

/// Every change ananke made that a startup must undo, and what it found already so.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Changes {
    /// Workloads ananke scaled down, with their replica counts before (restored on startup).
    #[serde(with = "pairs")]
    pub scaled: BTreeMap<WorkloadRef, i32>,
    /// Workloads already at 0 replicas before the shutdown (left at 0).
    pub already_scaled_to_zero: BTreeSet<WorkloadRef>,
    /// Flux objects ananke suspended, in the order it suspended them.
    pub suspended: Vec<FluxRef>,
    /// Flux objects already suspended before the shutdown (never resumed by ananke).
    pub already_suspended: BTreeSet<FluxRef>,
    /// Nodes ananke cordoned (uncordoned on startup).
    pub cordoned: BTreeSet<String>,
    /// Nodes already cordoned before the shutdown (left cordoned).
    pub already_cordoned: BTreeSet<String>,
    /// Nodes whose k3s ananke stopped.
    pub stopped: BTreeSet<String>,
    /// Nodes whose k3s was already stopped before the shutdown (left stopped by the startup).
    #[serde(default)]
    pub already_stopped: BTreeSet<String>,
    /// `GitRepositories` whose source ananke changed, with the source before.
    #[serde(with = "pairs")]
    pub sources_before: BTreeMap<FluxRef, SourceBefore>,
}

impl Changes {
    /// What the cluster's own marks say ananke changed, for a journal that was lost: workloads at
    /// 0 with ananke's replica count before, Flux objects suspended with ananke's mark, nodes
    /// cordoned with ananke's mark (the annotations of [`crate::observation`]).
    #[must_use]
    pub fn from_marks(obs: &crate::observation::Observation) -> Changes {
        let mut changes = Changes::default();
        for w in obs.workloads.iter().filter(|w| w.spec_replicas == Some(0)) {
            if let Some(n) = w.replicas_before.filter(|n| *n > 0) {
                changes.scaled.insert(w.id.clone(), n);
            }
        }
        let flux = obs.flux.iter().flat_map(|f| f.kustomizations.iter().chain(&f.helm_releases));
        changes.suspended = flux.filter(|o| o.suspend && o.suspended_by_ananke).map(|o| o.id.clone()).collect();
        for node in &obs.nodes {
            if node.kube.as_ref().is_some_and(|k| k.unschedulable && k.cordoned_by_ananke) {
                changes.cordoned.insert(node.name.clone());
            }
        }
        changes
    }

    /// Whether nothing remains to restore.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.scaled.is_empty() && self.suspended.is_empty() && self.cordoned.is_empty()
    }

    /// Whether ananke scaled `w` down and has not restored it yet.
    #[must_use]
    pub fn scaled_by_ananke(&self, w: &WorkloadRef) -> Option<i32> {
        self.scaled.get(w).copied()
    }

    /// Whether ananke suspended `f` and has not resumed it yet.
    #[must_use]
    pub fn suspended_by_ananke(&self, f: &FluxRef) -> bool {
        self.suspended.contains(f)
    }
}

/// Maps with structured keys are written as lists of `[key, value]` pairs (JSON keys must be
/// strings).
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(map: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ObjectRef, WorkloadKind};
    use crate::observation::FluxKind;

    #[test]
    fn a_journal_round_trips_through_json() {
        let mut j = Journal::default();
        let w = WorkloadRef { kind: WorkloadKind::Deployment, namespace: "apps".into(), name: "web".into() };
        j.changes.scaled.insert(w, 3);
        let f = FluxRef {
            kind: FluxKind::GitRepository,
            object: ObjectRef { namespace: "flux-system".into(), name: "flux-system".into() },
        };
        j.changes.sources_before.insert(f, SourceBefore { url: Some("ssh://x".into()), branch: Some("main".into()) });
        j.changes.cordoned.insert("titan-07".into());
        let text = serde_json::to_string(&j).unwrap();
        assert_eq!(serde_json::from_str::<Journal>(&text).unwrap(), j);
    }

    fn web() -> WorkloadRef {
        WorkloadRef { kind: WorkloadKind::Deployment, namespace: "apps".into(), name: "web".into() }
    }

    fn apps() -> FluxRef {
        FluxRef {
            kind: FluxKind::Kustomization,
            object: ObjectRef { namespace: "flux-system".into(), name: "apps".into() },
        }
    }

    #[test]
    fn only_what_ananke_changed_is_left_to_restore() {
        let mut c = Changes::default();
        assert!(c.is_empty());
        // What ananke found already so, or only stopped, is not something a startup undoes.
        c.already_scaled_to_zero.insert(web());
        c.already_suspended.insert(apps());
        c.already_cordoned.insert("titan-01".into());
        c.stopped.insert("titan-01".into());
        assert!(c.is_empty());
        assert_eq!(c.scaled_by_ananke(&web()), None);
        assert!(!c.suspended_by_ananke(&apps()));
        for change in 0..3 {
            let mut c = c.clone();
            match change {
                0 => {
                    c.scaled.insert(web(), 2);
                }
                1 => c.suspended.push(apps()),
                _ => {
                    c.cordoned.insert("titan-02".into());
                }
            }
            assert!(!c.is_empty(), "change {change} must be restored");
        }
        c.scaled.insert(web(), 2);
        c.suspended.push(apps());
        assert_eq!(c.scaled_by_ananke(&web()), Some(2));
        assert!(c.suspended_by_ananke(&apps()));
    }

    #[test]
    fn structured_keys_are_written_as_pairs_and_old_journals_default_the_optional_fields() {
        let mut j = Journal::default();
        j.changes.scaled.insert(web(), 3);
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["changes"]["scaled"][0][1], 3);
        assert_eq!(v["changes"]["scaled"][0][0]["name"], "web");
        let mut old = v.clone();
        let obj = old.as_object_mut().unwrap();
        obj.remove("shutdown_reason");
        obj.remove("shutdown_started_at");
        assert_eq!(serde_json::from_value::<Journal>(old).unwrap(), j);
    }

    #[test]
    fn what_is_left_to_restore_after_a_shutdown_that_did_not_complete() {
        let mut j = Journal::default();
        assert!(!j.pending_restore() && !j.shutdown_unfinished() && j.pending_lines().is_empty());
        j.shutdown_started_at = Some(Time(5));
        assert!(j.pending_restore() && j.shutdown_unfinished(), "started, not completed");
        j.changes.scaled.insert(web(), 2);
        j.changes.suspended.push(apps());
        j.changes.cordoned.insert("titan-02".into());
        j.changes.stopped.insert("titan-03".into());
        assert_eq!(
            j.pending_lines(),
            [
                "scale back Deployment/apps/web to 2",
                "resume Kustomization/flux-system/apps",
                "uncordon titan-02",
                "start k3s on titan-03"
            ]
        );
        j.shutdown_completed = true;
        assert!(j.pending_restore() && !j.shutdown_unfinished(), "completed: the cluster is down");
        let restored = Journal {
            changes: Changes { already_stopped: ["titan-04".into()].into(), ..Changes::default() },
            ..Journal::default()
        };
        assert!(!restored.pending_restore(), "what ananke found so is not a restore");
    }

    #[test]
    fn a_damaged_pairs_list_is_an_error_not_an_empty_map() {
        let mut v = serde_json::to_value(Journal::default()).unwrap();
        v["changes"]["scaled"] = serde_json::json!({"apps/web": 3});
        let err = serde_json::from_value::<Journal>(v).unwrap_err().to_string();
        assert!(err.contains("sequence"), "{err}");
    }
}
