//! ananke-core: the pure core of ananke, the host-side recovery orchestrator for a k3s cluster
//! around power events.
//!
//! The core decides; it never acts. Adapters observe the world into an [`observation::Observation`],
//! the [`machine`]s turn observations into [`effect::Effect`]s, and a runner executes them. Nothing
//! in this crate's default build touches the network, a process, or a clock: time is a parameter.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(feature = "nut", feature = "ssh", feature = "kube", feature = "http", feature = "vault"))]
pub mod adapters;
pub mod config;
pub mod effect;
pub mod gates;
pub mod journal;
pub mod machine;
pub mod observation;
pub mod power;
#[cfg(feature = "runner")]
pub mod runner;
#[cfg(feature = "store")]
pub mod store;
pub mod synth;
pub mod time;
pub mod trace;

pub use config::Config;
pub use effect::{Effect, EffectKind};
pub use gates::{GateId, GateOutcome, GateReport, Verdict};
pub use journal::Journal;
pub use machine::{EffectOutcome, Input, Machine};
pub use observation::Observation;
pub use time::Time;
