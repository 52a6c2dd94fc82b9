//! `ananke-sim serve SCENARIO [--dir D] [--speed N] [--port P] [--seed S]`.

use super::{run, ServeOptions};
use crate::cli::{resolve_scenario, EXIT_ERROR, EXIT_OK};
use clap::Args;
use std::path::PathBuf;

/// `ananke-sim serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A built-in scenario name or a scenario file.
    pub scenario: String,
    /// Where to write kubeconfig.yaml, endpoints.json (Vault, Gitea, checks, ingress and control
    /// addresses) and the request log (requests.jsonl).
    #[arg(long, value_name = "DIR", default_value = "ananke-sim-serve")]
    pub dir: PathBuf,
    /// Model seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed of the scenario's random faults.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ServeArgs {
    /// Serve until SIGTERM or SIGINT; the exit code.
    #[must_use]
    pub fn exec(&self) -> u8 {
        let scenario = match resolve_scenario(&self.scenario) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ananke-sim: {e}");
                return EXIT_ERROR;
            }
        };
        let options = ServeOptions {
            port: self.port,
            speed: self.speed,
            seed: self.seed,
            dir: Some(self.dir.clone()),
            ..ServeOptions::default()
        };
        match run(scenario, options) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("ananke-sim: serve: {e}");
                EXIT_ERROR
            }
        }
    }
}
