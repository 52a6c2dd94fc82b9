//! ananke-sim: the simulated lab.
//!
//! - [`scenario`]: scenario files (the lab, its faults, what ananke must reach) and the built-ins.
//! - [`model`]: the cluster model on a virtual clock, reacting to ananke's effects.
//! - [`critical_path`]: the shortest possible startup and shutdown of a scenario.
//! - [`driver`]: drives a machine against the model, bounded in steps and virtual time.
//! - [`run`]: runs a scenario (shutdown, startup or a full cycle) and checks its expectation.
//! - [`replay`]: feeds a recorded trace to the current machine and reports divergences.
//! - [`report`] and [`cli`]: the `ananke-sim` command line.
//! - [`endpoints`]: the model behind plain HTTP: Vault per pod, Gitea health, service endpoints, ingress.
//! - [`world`]: the model behind the runner's `World`, for `ananke --sim`.
//! - [`serve`]: the model behind the Kubernetes API over HTTPS (`ananke-sim serve`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod critical_path;
pub mod driver;
#[cfg(feature = "serve")]
pub mod endpoints;
pub mod manual;
pub mod model;
pub mod replay;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
#[cfg(feature = "serve")]
pub mod serve;
pub mod world;

pub use model::{ClusterState, Model};
pub use scenario::{builtin, builtin_names, Scenario, ScenarioError};
