//! Scenario files: a simulated lab, the faults it suffers, and what ananke must reach.
//!
//! A scenario is YAML (every struct refuses unknown fields). [`Scenario::parse`] checks it and
//! reports problems with the file, line, field and what was expected; it also derives the ananke
//! [`Config`] for the lab once, so [`Scenario::ananke_config`] cannot fail.

mod builtin;
mod config;
mod faults;
mod locate;
mod parse;
mod spec;
mod validate;

pub use builtin::{builtin, builtin_names, BUILTIN};
pub use faults::{Fault, Phase, PhaseAt};
pub use parse::{Problem, ScenarioError};
pub use spec::*;

use ananke_core::Config;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A simulated lab and what ananke must do with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Scenario name (built-ins are listed by `ananke-sim list`).
    pub name: String,
    /// One paragraph: what the scenario exercises.
    #[serde(default)]
    pub description: String,
    /// What `ananke-sim run` does by default.
    #[serde(default)]
    pub drive: Drive,
    /// Cluster-wide timings.
    #[serde(default)]
    pub cluster: ClusterTimings,
    /// Every host.
    pub nodes: Vec<NodeSpec>,
    /// UPS-fed power domains; every node is in exactly one.
    pub power_domains: Vec<PowerDomainSpec>,
    /// The component dependency graph.
    pub components: Vec<ComponentSpec>,
    /// Flux objects.
    #[serde(default)]
    pub flux: FluxSpec,
    /// `PodDisruptionBudgets`.
    #[serde(default)]
    pub pdbs: Vec<PdbSpec>,
    /// Services and what backs their endpoints.
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// Ingresses (routed by the ingress controller component).
    #[serde(default)]
    pub ingresses: Vec<IngressSpec>,
    /// HTTP checks: the config's service checklist and critical endpoints.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// Vault, if the lab runs one.
    #[serde(default)]
    pub vault: Option<VaultSpec>,
    /// The power outage between shutdown and startup in a cycle (none: power stays on).
    #[serde(default)]
    pub outage: Option<OutageSpec>,
    /// Scheduled faults.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Random faults drawn from the run's seed.
    #[serde(default)]
    pub random: RandomFaults,
    /// Options given to ananke (`--force-flux-branch`, `--reason`).
    #[serde(default)]
    pub options: RunOptions,
    /// What ananke must reach.
    pub expect: Expectation,
    /// Further runs of the same lab with other options and expectations.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// Overrides merged into the derived ananke config (any config field).
    #[serde(default)]
    pub ananke: serde_json::Value,
    /// The derived ananke config (filled by [`Scenario::parse`]).
    #[serde(skip)]
    pub(crate) config: Option<Arc<Config>>,
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Drive {
    /// Startup against the lab as it starts.
    Startup,
    /// Shutdown of the running lab.
    Shutdown,
    /// Shutdown, power loss, power restore, startup.
    #[default]
    Cycle,
}

impl Scenario {
    /// The ananke config for this lab (derived when the scenario was parsed).
    ///
    /// # Panics
    /// Never for a scenario from [`Scenario::parse`] or [`builtin`]; a scenario built by hand
    /// must be passed through [`Scenario::prepare`] first.
    #[must_use]
    pub fn ananke_config(&self) -> Config {
        Config::clone(&self.config_arc())
    }

    /// The derived config, shared.
    ///
    /// # Panics
    /// As [`Scenario::ananke_config`].
    #[must_use]
    pub fn config_arc(&self) -> Arc<Config> {
        match &self.config {
            Some(c) => Arc::clone(c),
            None => panic!("scenario `{}` was not prepared: call Scenario::prepare", self.name),
        }
    }

    /// The component named `name`.
    #[must_use]
    pub fn component(&self, name: &str) -> Option<&ComponentSpec> {
        self.components.iter().find(|c| c.name == name)
    }

    /// The node named `name`.
    #[must_use]
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// This scenario with a variant's options and expectation.
    #[must_use]
    pub fn with_variant(&self, variant: &Variant) -> Scenario {
        let mut s = self.clone();
        s.name = format!("{}:{}", self.name, variant.name);
        s.options = variant.options.clone();
        s.expect = variant.expect.clone();
        s.variants.clear();
        s
    }
}
