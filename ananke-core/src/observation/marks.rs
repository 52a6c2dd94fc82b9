//! The marks ananke leaves on what it changes in the cluster: annotations that say the change is
//! ananke's and how to undo it, so a lost journal can be rebuilt from the cluster itself
//! ([`crate::journal::Changes::from_marks`]). Each is removed by the restore that undoes it.

/// The annotation ananke sets on a Flux object it suspends (removed when it resumes it).
pub const SUSPENDED_BY_ANANKE: &str = "ananke.io/suspended-by-ananke";
/// The annotation ananke sets on a node it cordons (removed when it uncordons it).
pub const CORDONED_BY_ANANKE: &str = "ananke.io/cordoned-by-ananke";
/// The annotation ananke sets on a workload it scales to 0: the replica count before (removed
/// when it scales it back), as kube-downscaler's `downscaler/original-replicas`.
pub const REPLICAS_BEFORE: &str = "ananke.io/replicas-before";

/// Serde's `skip_serializing_if` for flags that are off by default.
#[allow(clippy::trivially_copy_pass_by_ref)]
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
