//! What a command acts on: the in-process simulator (`--sim`) or a real cluster.

use crate::exit;
use crate::global::{report_config_error, GlobalArgs};
use ananke_core::store::StateDir;
use ananke_core::Config;
use ananke_sim::world::{Purpose, SimWorld};
use std::path::PathBuf;

/// The resolved target of a command.
pub struct Target {
    /// The config in effect.
    pub config: Config,
    /// The state dir in effect.
    pub state: StateDir,
    /// `host` or `sim:<scenario>`.
    pub label: String,
    /// The world to observe and act on.
    pub world: SimWorld,
    /// A journal the target supplies (the simulated shutdown before a first simulated startup).
    pub journal: Option<ananke_core::Journal>,
}

impl Target {
    /// Resolve the config, the state dir and the world from the global options.
    ///
    /// # Errors
    /// The exit code to use (the message is already printed).
    pub fn open(global: &GlobalArgs, purpose: Purpose, persist: bool) -> Result<Target, u8> {
        let Some(scenario) = &global.sim else {
            // Load the config anyway so a bad config is reported before anything else.
            let _config = global.load_config()?;
            eprintln!(
                "error: this build of ananke has no real-cluster adapters yet (Kubernetes, SSH, Vault, NUT);\n\
                 use --sim SCENARIO to run against the in-process simulator (see `ananke-sim list`)"
            );
            return Err(exit::USAGE_OR_CONFIG);
        };
        let state_root = global.state_dir.clone().unwrap_or_else(|| sim_state_dir(scenario));
        let state = StateDir::new(state_root);
        let opened = SimWorld::open(scenario, state.root(), purpose, persist).map_err(|e| {
            eprintln!("error: {e}");
            exit::USAGE_OR_CONFIG
        })?;
        let config = match &global.config {
            Some(path) => ananke_core::config::load(path).map_err(|e| {
                report_config_error(&e);
                exit::USAGE_OR_CONFIG
            })?,
            None => opened.config,
        };
        Ok(Target { config, state, label: format!("sim:{scenario}"), world: opened.world, journal: opened.journal })
    }
}

/// The default state dir of a simulated run: `$TMPDIR/ananke-sim/<scenario>`.
#[must_use]
pub fn sim_state_dir(scenario: &str) -> PathBuf {
    std::env::temp_dir().join("ananke-sim").join(scenario_slug(scenario))
}

/// A file-system-safe name for a scenario given by name or path.
fn scenario_slug(scenario: &str) -> String {
    let base = PathBuf::from(scenario)
        .file_stem()
        .and_then(|s| s.to_str())
        .map_or_else(|| scenario.to_owned(), str::to_owned);
    base.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}
