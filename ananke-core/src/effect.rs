//! Effects: the closed set of commands the machines hand to the runner.
//!
//! Every effect is idempotent and has a stable key, so running it twice (after a crash, say) is
//! harmless, and a trace can compare effects by key.

use crate::config::{K3sRole, WorkloadRef};
use crate::observation::FluxRef;
use serde::{Deserialize, Serialize};

/// A command for the runner. Values only: no closures, no handles.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "kebab-case")]
pub enum Effect {
    /// Ensure the node's k3s unit is started (`systemctl start k3s|k3s-agent`).
    StartK3s {
        /// Node name.
        node: String,
        /// Role, which picks the unit.
        role: K3sRole,
    },
    /// Ensure the node's k3s unit is stopped (`systemctl stop`, then `k3s-killall.sh`).
    StopK3s {
        /// Node name.
        node: String,
        /// Role, which picks the unit.
        role: K3sRole,
    },
    /// `spec.unschedulable = true`.
    Cordon {
        /// Node name.
        node: String,
    },
    /// `spec.unschedulable = false`.
    Uncordon {
        /// Node name.
        node: String,
    },
    /// Evict the pods still running on a node (honouring PDBs).
    Drain {
        /// Node name.
        node: String,
    },
    /// Scale a Deployment or `StatefulSet` to `replicas`.
    Scale {
        /// Which workload.
        workload: WorkloadRef,
        /// Target replicas.
        replicas: i32,
    },
    /// `spec.suspend = true` on a Flux object.
    SuspendFlux {
        /// Which object.
        object: FluxRef,
    },
    /// `spec.suspend = false` on a Flux object, with a reconcile request.
    ResumeFlux {
        /// Which object.
        object: FluxRef,
    },
    /// Set `reconcile.fluxcd.io/requestedAt` to `token`.
    RequestReconcile {
        /// Which object.
        object: FluxRef,
        /// The request token (any new value).
        token: String,
    },
    /// Set a `GitRepository`'s URL and/or branch (other ref fields cleared).
    SetFluxSource {
        /// The `GitRepository`.
        object: FluxRef,
        /// New URL, when it changes.
        url: Option<String>,
        /// New branch, when it changes.
        branch: Option<String>,
    },
    /// Unseal one Vault pod with the standard unseal shares.
    UnsealVault {
        /// Pod name.
        pod: String,
    },
    /// Run `startup.vault_unseal_breakglass_command` and unseal one pod with its shares.
    UnsealVaultBreakglass {
        /// Pod name.
        pod: String,
    },
    /// Power a host off. Never emitted in `cluster-only` mode.
    PowerOffHost {
        /// Node name.
        node: String,
    },
}

/// The kind of an effect, for counts and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EffectKind {
    /// [`Effect::StartK3s`].
    StartK3s,
    /// [`Effect::StopK3s`].
    StopK3s,
    /// [`Effect::Cordon`].
    Cordon,
    /// [`Effect::Uncordon`].
    Uncordon,
    /// [`Effect::Drain`].
    Drain,
    /// [`Effect::Scale`].
    Scale,
    /// [`Effect::SuspendFlux`].
    SuspendFlux,
    /// [`Effect::ResumeFlux`].
    ResumeFlux,
    /// [`Effect::RequestReconcile`].
    RequestReconcile,
    /// [`Effect::SetFluxSource`].
    SetFluxSource,
    /// [`Effect::UnsealVault`].
    UnsealVault,
    /// [`Effect::UnsealVaultBreakglass`].
    UnsealVaultBreakglass,
    /// [`Effect::PowerOffHost`].
    PowerOffHost,
}

impl EffectKind {
    /// The kind's stable name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EffectKind::StartK3s => "start-k3s",
            EffectKind::StopK3s => "stop-k3s",
            EffectKind::Cordon => "cordon",
            EffectKind::Uncordon => "uncordon",
            EffectKind::Drain => "drain",
            EffectKind::Scale => "scale",
            EffectKind::SuspendFlux => "suspend-flux",
            EffectKind::ResumeFlux => "resume-flux",
            EffectKind::RequestReconcile => "request-reconcile",
            EffectKind::SetFluxSource => "set-flux-source",
            EffectKind::UnsealVault => "unseal-vault",
            EffectKind::UnsealVaultBreakglass => "unseal-vault-breakglass",
            EffectKind::PowerOffHost => "power-off-host",
        }
    }
}

impl Effect {
    /// The effect's kind.
    #[must_use]
    pub fn kind(&self) -> EffectKind {
        match self {
            Effect::StartK3s { .. } => EffectKind::StartK3s,
            Effect::StopK3s { .. } => EffectKind::StopK3s,
            Effect::Cordon { .. } => EffectKind::Cordon,
            Effect::Uncordon { .. } => EffectKind::Uncordon,
            Effect::Drain { .. } => EffectKind::Drain,
            Effect::Scale { .. } => EffectKind::Scale,
            Effect::SuspendFlux { .. } => EffectKind::SuspendFlux,
            Effect::ResumeFlux { .. } => EffectKind::ResumeFlux,
            Effect::RequestReconcile { .. } => EffectKind::RequestReconcile,
            Effect::SetFluxSource { .. } => EffectKind::SetFluxSource,
            Effect::UnsealVault { .. } => EffectKind::UnsealVault,
            Effect::UnsealVaultBreakglass { .. } => EffectKind::UnsealVaultBreakglass,
            Effect::PowerOffHost { .. } => EffectKind::PowerOffHost,
        }
    }

    /// A stable idempotency key: two effects with the same key do the same thing.
    #[must_use]
    pub fn key(&self) -> String {
        let kind = self.kind().as_str();
        match self {
            Effect::StartK3s { node, .. }
            | Effect::StopK3s { node, .. }
            | Effect::Cordon { node }
            | Effect::Uncordon { node }
            | Effect::Drain { node }
            | Effect::PowerOffHost { node } => format!("{kind}:{node}"),
            Effect::Scale { workload, replicas } => format!("{kind}:{workload}={replicas}"),
            Effect::SuspendFlux { object } | Effect::ResumeFlux { object } => format!("{kind}:{object}"),
            Effect::RequestReconcile { object, token } => format!("{kind}:{object}@{token}"),
            Effect::SetFluxSource { object, url, branch } => {
                format!("{kind}:{object}:{}#{}", url.as_deref().unwrap_or("-"), branch.as_deref().unwrap_or("-"))
            }
            Effect::UnsealVault { pod } | Effect::UnsealVaultBreakglass { pod } => format!("{kind}:{pod}"),
        }
    }

    /// Whether the effect changes the cluster or a host (everything does, today: observation is not an
    /// effect). Kept explicit so a future read-only effect cannot slip past `--execute`.
    #[must_use]
    pub fn is_mutating(&self) -> bool {
        true
    }

    /// One line saying why an operator would see this effect in a plan.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Effect::StartK3s { node, role } => format!("start {} on {node}", role.unit()),
            Effect::StopK3s { node, role } => format!("stop {} on {node}", role.unit()),
            Effect::Cordon { node } => format!("cordon node {node}"),
            Effect::Uncordon { node } => format!("uncordon node {node} (ananke cordoned it)"),
            Effect::Drain { node } => format!("evict the pods still on {node}"),
            Effect::Scale { workload, replicas } => format!("scale {workload} to {replicas}"),
            Effect::SuspendFlux { object } => format!("suspend {object}"),
            Effect::ResumeFlux { object } => format!("resume {object} (ananke suspended it)"),
            Effect::RequestReconcile { object, .. } => format!("request a reconcile of {object}"),
            Effect::SetFluxSource { object, url, branch } => format!(
                "set {object} source to {} branch {}",
                url.as_deref().unwrap_or("(unchanged url)"),
                branch.as_deref().unwrap_or("(unchanged)")
            ),
            Effect::UnsealVault { pod } => format!("unseal vault pod {pod} with the standard shares"),
            Effect::UnsealVaultBreakglass { pod } => {
                format!("unseal vault pod {pod} with the breakglass command's shares")
            }
            Effect::PowerOffHost { node } => format!("power off host {node}"),
        }
    }
}

#[cfg(test)]
mod tests;
