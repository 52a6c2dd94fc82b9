//! Readiness rules (reference §3), shared by the gates and the machines.
//!
//! [`workload_health`] follows kstatus (kubernetes-sigs/cli-utils `pkg/kstatus/status`): the
//! generic rules, then the `Deployment`, `StatefulSet` and `DaemonSet` rules. It differs on purpose in one
//! place: a workload whose controller has not written a status yet, or has not observed any
//! generation, is `InProgress`. kstatus calls such a resource Current, which lets a Deployment that
//! was applied a moment ago pass a gate before a single pod exists.
//!
//! [`flux_ready`] is the flux CLI's rule for `GitRepository`, `Kustomization` and `HelmRelease` objects
//! (fluxcd/flux2 `cmd/flux/readiness.go`).

use crate::config::WorkloadKind;
use crate::observation::{Condition, ConditionStatus, FluxObject, Workload};
use std::fmt;

/// The kstatus verdict on one workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Fully rolled out and available: the gate's "healthy".
    Current,
    /// Still converging; the message says what it waits for.
    InProgress(String),
    /// Will not converge without a change (progress deadline exceeded, `Stalled=True`).
    Failed(String),
    /// Being deleted.
    Terminating,
}

impl Health {
    /// Whether the workload is Current.
    #[must_use]
    pub fn is_current(&self) -> bool {
        matches!(self, Health::Current)
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Current => f.write_str("current"),
            Health::InProgress(why) => write!(f, "in progress: {why}"),
            Health::Failed(why) => write!(f, "failed: {why}"),
            Health::Terminating => f.write_str("terminating"),
        }
    }
}

/// The word Kubernetes writes for a condition status.
#[must_use]
pub fn status_str(status: ConditionStatus) -> &'static str {
    match status {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

/// A condition as an operator reads it: `Ready=False (DependencyNotReady): dependency ... not ready`.
#[must_use]
pub fn describe_condition(c: &Condition) -> String {
    let mut text = format!("{}={}", c.type_, status_str(c.status));
    if !c.reason.is_empty() {
        text.push_str(" (");
        text.push_str(&c.reason);
        text.push(')');
    }
    if !c.message.is_empty() {
        text.push_str(": ");
        text.push_str(&c.message);
    }
    text
}

fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn is_true<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    find(conditions, type_).filter(|c| c.status == ConditionStatus::True)
}

/// The kstatus verdict on a `Deployment`, `StatefulSet` or `DaemonSet`.
///
/// In order: terminating; no status or no `status.observedGeneration` (not healthy, unlike
/// kstatus); generation not observed; `Reconciling=True`; `Stalled=True`; then the kind's rule.
#[must_use]
pub fn workload_health(w: &Workload) -> Health {
    if w.terminating {
        return Health::Terminating;
    }
    if !w.has_status {
        return Health::InProgress("no status yet: its controller has not acted on it".to_owned());
    }
    let Some(observed) = w.observed_generation else {
        return Health::InProgress(format!(
            "generation {} not observed: status.observedGeneration is absent",
            w.generation
        ));
    };
    // kstatus skips the comparison when metadata.generation is absent (read here as 0).
    if w.generation != 0 && observed != w.generation {
        return Health::InProgress(format!("generation {} not observed yet (observed {observed})", w.generation));
    }
    if let Some(c) = is_true(&w.conditions, "Reconciling") {
        return Health::InProgress(describe_condition(c));
    }
    if let Some(c) = is_true(&w.conditions, "Stalled") {
        return Health::Failed(describe_condition(c));
    }
    match w.id.kind {
        WorkloadKind::Deployment => deployment(w),
        WorkloadKind::StatefulSet => stateful_set(w),
        WorkloadKind::DaemonSet => daemon_set(w),
    }
}

fn in_progress(why: String) -> Health {
    Health::InProgress(why)
}

fn deployment(w: &Workload) -> Health {
    // Without progressDeadlineSeconds the controller never sets a Progressing reason to wait for.
    let mut progressing = !w.has_progress_deadline;
    let mut available = false;
    for c in &w.conditions {
        match c.type_.as_str() {
            "Progressing" => {
                if c.reason == "ProgressDeadlineExceeded" {
                    return Health::Failed(format!("progress deadline exceeded: {}", describe_condition(c)));
                }
                if c.status == ConditionStatus::True && c.reason == "NewReplicaSetAvailable" {
                    progressing = true;
                }
            }
            "Available" => available |= c.status == ConditionStatus::True,
            _ => {}
        }
    }
    let spec = w.spec_replicas.unwrap_or(1);
    let s = &w.status;
    if spec > s.replicas {
        return in_progress(format!("{}/{spec} replicas created", s.replicas));
    }
    if spec > s.updated {
        return in_progress(format!("{}/{spec} replicas updated", s.updated));
    }
    if s.replicas > spec {
        return in_progress(format!("{} old replicas pending termination", s.replicas - spec));
    }
    if s.updated > s.available {
        return in_progress(format!("{}/{} updated replicas available", s.available, s.updated));
    }
    if spec > s.ready {
        return in_progress(format!("{}/{spec} replicas ready", s.ready));
    }
    if !progressing {
        return in_progress("new ReplicaSet not available yet (Progressing is not NewReplicaSetAvailable)".to_owned());
    }
    if !available {
        return in_progress("Deployment not Available".to_owned());
    }
    Health::Current
}

fn stateful_set(w: &Workload) -> Health {
    // OnDelete: the operator rolls pods by hand, so the controller never converges on its own.
    if w.on_delete {
        return Health::Current;
    }
    let spec = w.spec_replicas.unwrap_or(1);
    let s = &w.status;
    if spec > s.replicas {
        return in_progress(format!("{}/{spec} replicas created", s.replicas));
    }
    if spec > s.ready {
        return in_progress(format!("{}/{spec} replicas ready", s.ready));
    }
    if s.replicas > spec {
        return in_progress(format!("{} extra replicas pending termination", s.replicas - spec));
    }
    if spec > s.current {
        return in_progress(format!("{}/{spec} replicas at the current revision", s.current));
    }
    if !s.revisions_match {
        return in_progress("waiting for the update revision to become current".to_owned());
    }
    Health::Current
}

fn daemon_set(w: &Workload) -> Health {
    // The daemonset controller always sets both once it has acted; kstatus insists on them here.
    if w.generation == 0 {
        return in_progress("metadata.generation is absent".to_owned());
    }
    let s = &w.status;
    let Some(desired) = s.desired else {
        return in_progress("status.desiredNumberScheduled is absent".to_owned());
    };
    if desired > s.current {
        return in_progress(format!("{}/{desired} pods scheduled", s.current));
    }
    if desired > s.updated {
        return in_progress(format!("{}/{desired} pods updated", s.updated));
    }
    if desired > s.available {
        return in_progress(format!("{}/{desired} pods available", s.available));
    }
    if desired > s.ready {
        return in_progress(format!("{}/{desired} pods ready", s.ready));
    }
    Health::Current
}

/// The flux CLI's readiness rule for a `GitRepository`, `Kustomization` or `HelmRelease`.
///
/// Ready when: `status.observedGeneration >= 1`; a `Ready` condition exists; that condition is
/// about the current generation (its own `observedGeneration` when non-zero, else the status's);
/// kstatus says Current (generation observed, no `Reconciling=True`, no `Stalled=True`); and
/// `Ready=True`. The error is an operator-facing sentence that quotes the Ready condition.
///
/// # Errors
///
/// Why the object is not ready.
pub fn flux_ready(o: &FluxObject) -> Result<(), String> {
    let observed = o.observed_generation.unwrap_or(0);
    if observed < 1 {
        return Err("not reconciled yet: status.observedGeneration is absent".to_owned());
    }
    let Some(ready) = o.condition("Ready") else {
        return Err("no Ready condition yet".to_owned());
    };
    if ready.observed_generation != 0 && ready.observed_generation != o.generation {
        return Err(format!(
            "Ready condition is for generation {}, the object is at generation {}; {}",
            ready.observed_generation,
            o.generation,
            describe_condition(ready)
        ));
    }
    // The CLI's own check when the condition carries no generation (HelmRelease), and kstatus's
    // generic check in every case: the flux CLI runs both.
    if observed != o.generation {
        return Err(format!(
            "generation {} not observed yet (observed {observed}); {}",
            o.generation,
            describe_condition(ready)
        ));
    }
    if let Some(c) = is_true(&o.conditions, "Reconciling") {
        return Err(format!("{}; {}", describe_condition(c), describe_condition(ready)));
    }
    if let Some(c) = is_true(&o.conditions, "Stalled") {
        return Err(format!("{}; {}", describe_condition(c), describe_condition(ready)));
    }
    if ready.status != ConditionStatus::True {
        return Err(describe_condition(ready));
    }
    Ok(())
}
