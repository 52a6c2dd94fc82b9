//! Options every subcommand takes.

use crate::exit;
use ananke_core::adapters::kube::{KubeconfigEnv, KubeconfigFlags, KubeconfigSource};
use ananke_core::config::{self, Config, ConfigError, DEFAULT_CONFIG_PATH};
use clap::{ArgAction, Args};
use std::path::PathBuf;

/// Options shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Config file: YAML, or TOML when it ends in `.toml` [default: /etc/ananke/ananke.yaml;
    /// with --sim, the scenario's own config].
    #[arg(long, global = true, value_name = "PATH", env = "ANANKE_CONFIG")]
    pub config: Option<PathBuf>,
    /// State dir for progress, reports, journal and lock [default: the config's `state_dir`,
    /// /var/lib/ananke; with --sim, /tmp/ananke-sim/<SCENARIO>].
    #[arg(long, global = true, value_name = "DIR", env = "ANANKE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// More output on stderr: every effect as it runs.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Less output on stderr: no progress lines.
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Run against the in-process simulator's SCENARIO (a built-in name such as `titan-lab`, or a
    /// scenario file) instead of a real cluster.
    #[arg(long, global = true, value_name = "SCENARIO")]
    pub sim: Option<String>,
    /// kubeconfig file, beating the config's `kubernetes.kubeconfig`. Unset and unset in the
    /// config: `KUBECONFIG` (a `:`-separated list, merged), `~/.kube/config`, then
    /// /etc/rancher/k3s/k3s.yaml, as kubectl chooses.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "sim")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context [default: the config's `kubernetes.context`, else the kubeconfig's
    /// current-context].
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "sim")]
    pub context: Option<String>,
}

impl GlobalArgs {
    /// The config file path in effect.
    #[must_use]
    pub fn config_path(&self) -> PathBuf {
        self.config.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
    }

    /// Load the config from `--config` (or the default path), printing problems on failure.
    ///
    /// # Errors
    /// The exit code to use.
    pub fn load_config(&self) -> Result<Config, u8> {
        let path = self.config_path();
        config::load(&path).map_err(|e| {
            report_config_error(&e);
            exit::USAGE_OR_CONFIG
        })
    }

    /// The kubeconfig the real adapters read: these flags, then `config`, then the environment.
    #[must_use]
    pub fn kubeconfig_source(&self, config: &Config) -> KubeconfigSource {
        let flags = KubeconfigFlags { kubeconfig: self.kubeconfig.clone(), context: self.context.clone() };
        let k = &config.kubernetes;
        KubeconfigSource::choose(&flags, k.kubeconfig.as_deref(), k.context.as_deref(), &KubeconfigEnv::from_process())
    }

    /// The options a child run gets from the daemon: the same config, kubeconfig, context and
    /// simulator, and the daemon's state dir `state`.
    #[must_use]
    pub fn forwarded(&self, state: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut pass = |flag: &str, value: Option<String>| {
            if let Some(value) = value {
                out.extend([flag.to_owned(), value]);
            }
        };
        pass("--config", self.config.as_ref().map(|p| p.display().to_string()));
        pass("--state-dir", Some(state.display().to_string()));
        pass("--sim", self.sim.clone());
        pass("--kubeconfig", self.kubeconfig.as_ref().map(|p| p.display().to_string()));
        pass("--context", self.context.clone());
        out
    }

    /// Whether progress lines should be printed.
    #[must_use]
    pub fn show_progress(&self) -> bool {
        self.quiet == 0
    }
}

/// Print a config error on stderr, one problem per line.
pub fn report_config_error(e: &ConfigError) {
    match e {
        ConfigError::Invalid(problems) => {
            use std::fmt::Write as _;
            let mut text =
                format!("invalid config ({} problem{}):", problems.len(), if problems.len() == 1 { "" } else { "s" });
            for p in problems {
                let _ = write!(text, "\n  {p}");
            }
            crate::log_error!("{text}");
        }
        ConfigError::Read { .. } => crate::log_error!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_run_gets_the_config_state_dir_simulator_and_kubeconfig() {
        let mut global = GlobalArgs {
            config: Some(PathBuf::from("/etc/a.yaml")),
            state_dir: Some(PathBuf::from("/ignored")),
            verbose: 1,
            quiet: 0,
            sim: None,
            kubeconfig: Some(PathBuf::from("/k")),
            context: Some("lab".to_owned()),
        };
        let state = std::path::Path::new("/var/lib/ananke");
        let want =
            ["--config", "/etc/a.yaml", "--state-dir", "/var/lib/ananke", "--kubeconfig", "/k", "--context", "lab"];
        assert_eq!(global.forwarded(state), want);
        (global.config, global.kubeconfig, global.context, global.sim) = (None, None, None, Some("titan-lab".into()));
        assert_eq!(global.forwarded(state), ["--state-dir", "/var/lib/ananke", "--sim", "titan-lab"]);
    }
}
