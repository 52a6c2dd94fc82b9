//! ananke-sim: the simulated lab.
//!
//! - [`scenario`]: scenario files (the lab, its faults, what ananke must reach) and the built-ins.
//! - [`model`]: the cluster model on a virtual clock, reacting to ananke's effects.
//! - [`critical_path`]: the shortest possible startup and shutdown of a scenario.
//! - [`driver`]: drives a machine against the model, bounded in steps and virtual time.
//! - [`run`]: runs a scenario (shutdown, startup or a full cycle) and checks its expectation.
//! - [`replay`]: feeds a recorded trace to the current machine and reports divergences.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod scenario;

pub use scenario::{builtin, builtin_names, Scenario, ScenarioError};
pub mod model;
pub mod rng;

pub use model::{ClusterState, Model};
pub mod critical_path;
pub mod driver;
pub mod run;
pub mod cli;
pub mod replay;
pub mod report;
pub mod world;
