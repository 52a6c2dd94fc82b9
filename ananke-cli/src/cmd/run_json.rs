//! `startup`, `shutdown` and `bootstrap` with `--json`: one versioned shape on stdout for the
//! three, whether the run was a dry run, an executed run, or a bootstrap with nothing to do.
//! Progress and errors stay on stderr, the exit codes are the same as without `--json`.

use ananke_core::runner::PlannedEffect;
use ananke_core::store::compare::Comparison;
use ananke_core::store::reports::RunReport;
use serde::Serialize;

/// Version of [`RunOutput`]: bumped when a field changes meaning or goes away.
pub const RUN_OUTPUT_VERSION: u32 = 1;

/// What a run command prints with `--json`.
#[derive(Debug, Serialize)]
pub struct RunOutput<'a> {
    /// [`RUN_OUTPUT_VERSION`].
    pub version: u32,
    /// `startup`, `shutdown` or `bootstrap`.
    pub command: &'a str,
    /// `host` or `sim:<scenario>` (none for a bootstrap that found nothing to do).
    pub target: Option<&'a str>,
    /// `--execute`.
    pub execute: bool,
    /// What bootstrap decided and why (bootstrap only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapDecision<'a>>,
    /// The dry run's plan (without `--execute`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan<'a>>,
    /// The executed run's report, as `report show RUN --json` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<&'a RunReport>,
    /// Where the report was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_path: Option<String>,
    /// The executed run against the previous run of its kind and the median of the last ones,
    /// as `report compare RUN --json` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

/// Bootstrap's decision.
#[derive(Debug, Serialize)]
pub struct BootstrapDecision<'a> {
    /// Whether it starts the cluster up.
    pub starts_up: bool,
    /// Why.
    pub why: &'a str,
}

/// A dry run's plan.
#[derive(Debug, Serialize)]
pub struct Plan<'a> {
    /// The machine's state after observing once.
    pub state: &'a str,
    /// The effects it would execute now, in order.
    pub effects: &'a [PlannedEffect],
    /// The hosts a `cluster-and-hosts` shutdown would power off once the cluster is down.
    pub power_off: &'a [String],
}

impl<'a> RunOutput<'a> {
    /// The frame every case fills in.
    #[must_use]
    pub fn new(command: &'a str, target: Option<&'a str>, execute: bool) -> Self {
        Self {
            version: RUN_OUTPUT_VERSION,
            command,
            target,
            execute,
            bootstrap: None,
            plan: None,
            report: None,
            report_path: None,
            comparison: None,
        }
    }
}
