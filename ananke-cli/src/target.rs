//! What a command acts on: the in-process simulator (`--sim`) or a real cluster.

use crate::exit;
use crate::global::{report_config_error, GlobalArgs};
use ananke_core::adapters::host::HostWorld;
use ananke_core::machine::EffectOutcome;
use ananke_core::runner::World;
use ananke_core::store::StateDir;
use ananke_core::{Config, Effect, Observation, Time};
use ananke_sim::world::{Purpose, SimWorld};
use std::path::PathBuf;

/// The world a command acts on: the in-process simulator or the real cluster and its hosts
/// (each boxed: both are large, and of very different sizes).
pub enum TargetWorld {
    /// `--sim SCENARIO`.
    Sim(Box<SimWorld>),
    /// The cluster and hosts the config names, through the real adapters.
    Host(Box<HostWorld>),
}

impl TargetWorld {
    /// Make the simulated world's log durable; nothing to do for a real cluster.
    ///
    /// # Errors
    /// The simulator's log cannot be synced.
    pub fn save(&self) -> std::io::Result<()> {
        match self {
            TargetWorld::Sim(world) => world.save(),
            TargetWorld::Host(_) => Ok(()),
        }
    }

    /// The kubeconfig the real adapters read and the rule that chose it (none for `--sim`).
    #[must_use]
    pub fn kubeconfig(&self) -> Option<String> {
        match self {
            TargetWorld::Sim(_) => None,
            TargetWorld::Host(world) => Some(world.kube_source().to_string()),
        }
    }
}

impl World for TargetWorld {
    async fn observe(&self) -> Observation {
        match self {
            TargetWorld::Sim(world) => world.observe().await,
            TargetWorld::Host(world) => world.observe().await,
        }
    }

    async fn execute(&self, effect: &Effect) -> EffectOutcome {
        match self {
            TargetWorld::Sim(world) => world.execute(effect).await,
            TargetWorld::Host(world) => world.execute(effect).await,
        }
    }

    fn now(&self) -> Time {
        match self {
            TargetWorld::Sim(world) => world.now(),
            TargetWorld::Host(world) => world.now(),
        }
    }

    async fn sleep_until(&self, at: Time) {
        match self {
            TargetWorld::Sim(world) => world.sleep_until(at).await,
            TargetWorld::Host(world) => world.sleep_until(at).await,
        }
    }

    fn virtual_clock(&self) -> bool {
        match self {
            TargetWorld::Sim(world) => world.virtual_clock(),
            TargetWorld::Host(world) => world.virtual_clock(),
        }
    }
}

/// The resolved target of a command.
pub struct Target {
    /// The config in effect.
    pub config: Config,
    /// The state dir in effect.
    pub state: StateDir,
    /// `host` or `sim:<scenario>`.
    pub label: String,
    /// What traces name as their source: the scenario (replayable by name) or the host.
    pub source: String,
    /// The world to observe and act on.
    pub world: TargetWorld,
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
            return Self::open_host(global);
        };
        let state = state_dir_for(global)?;
        let opened = SimWorld::open(scenario, state.root(), purpose, persist).map_err(|e| {
            crate::log_error!("{e}");
            exit::USAGE_OR_CONFIG
        })?;
        let mut world = opened.world;
        let config = match &global.config {
            Some(path) => {
                let config = ananke_core::config::load(path).map_err(|e| {
                    report_config_error(&e);
                    exit::USAGE_OR_CONFIG
                })?;
                world.use_config(config.clone());
                config
            }
            None => opened.config,
        };
        Ok(Target {
            config,
            state,
            label: format!("sim:{scenario}"),
            source: scenario.clone(),
            world: TargetWorld::Sim(Box::new(world)),
            journal: opened.journal,
        })
    }

    /// The real cluster and hosts of the config, through the real adapters.
    fn open_host(global: &GlobalArgs) -> Result<Target, u8> {
        let config = global.load_config()?;
        let state = state_dir_for(global)?;
        let world = HostWorld::from_config(&config)
            .map_err(|e| {
                crate::log_error!("{e}");
                exit::USAGE_OR_CONFIG
            })?
            .with_kube_source(global.kubeconfig_source(&config));
        let source = format!("host:{}", config.cluster_name);
        Ok(Target {
            config,
            state,
            label: "host".to_owned(),
            source,
            world: TargetWorld::Host(Box::new(world)),
            journal: None,
        })
    }
}

/// The state dir in effect: `--state-dir`, the simulator's default, or the config's `state_dir`.
///
/// # Errors
/// The exit code to use (the message is already printed).
pub fn state_dir_for(global: &GlobalArgs) -> Result<StateDir, u8> {
    if let Some(dir) = &global.state_dir {
        return Ok(StateDir::new(dir.clone()));
    }
    if let Some(scenario) = &global.sim {
        return Ok(StateDir::new(sim_state_dir(scenario)));
    }
    global.load_config().map(|c| StateDir::new(c.state_dir))
}

/// The state dir, as [`state_dir_for`], for a config already loaded.
#[must_use]
pub fn state_dir_with(global: &GlobalArgs, config: &Config) -> StateDir {
    match (&global.state_dir, &global.sim) {
        (Some(dir), _) => StateDir::new(dir.clone()),
        (None, Some(scenario)) => StateDir::new(sim_state_dir(scenario)),
        (None, None) => StateDir::new(config.state_dir.clone()),
    }
}

/// The default state dir of a simulated run: `$TMPDIR/ananke-sim/<scenario>`.
#[must_use]
pub fn sim_state_dir(scenario: &str) -> PathBuf {
    std::env::temp_dir().join("ananke-sim").join(scenario_slug(scenario))
}

/// A file-system-safe name for a scenario given by name or path.
fn scenario_slug(scenario: &str) -> String {
    let base =
        PathBuf::from(scenario).file_stem().and_then(|s| s.to_str()).map_or_else(|| scenario.to_owned(), str::to_owned);
    base.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_dir_of_a_loaded_config_follows_the_flags_then_the_config() {
        let config = ananke_sim::builtin("titan-lab").expect("the built-in lab").ananke_config();
        let global = |state_dir: Option<&str>, sim: Option<&str>| GlobalArgs {
            config: None,
            state_dir: state_dir.map(PathBuf::from),
            verbose: 0,
            quiet: 0,
            sim: sim.map(str::to_owned),
            kubeconfig: None,
            context: None,
        };
        let with = |g: &GlobalArgs| state_dir_with(g, &config).root().to_path_buf();
        assert_eq!(with(&global(Some("/srv/state"), Some("titan-lab"))), PathBuf::from("/srv/state"));
        assert_eq!(with(&global(None, Some("titan-lab"))), sim_state_dir("titan-lab"));
        assert_eq!(with(&global(None, None)), config.state_dir);
    }
}
