//! `ananke config check` and `ananke config schema`.

use crate::exit;
use crate::global::GlobalArgs;
use crate::output;
use clap::{Args, Subcommand};
use std::fmt::Write as _;

/// Config subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and print a short summary; problems name file, line, column and field.
    Check(CheckArgs),
    /// Print the JSON Schema of the config (for editors).
    Schema(SchemaArgs),
}

/// `config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// `config schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
}

impl ConfigCommand {
    /// Run the command; returns the exit code.
    #[must_use]
    pub fn exec(self) -> u8 {
        match self {
            ConfigCommand::Check(args) => check(&args.global),
            ConfigCommand::Schema(_) => match output::print_json(&ananke_core::config::schema()) {
                Ok(()) => exit::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    exit::STATE_IO
                }
            },
        }
    }
}

fn check(global: &GlobalArgs) -> u8 {
    let path = global.config_path();
    let config = match global.load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let servers = config.inventory.nodes.iter().filter(|n| n.role == ananke_core::config::K3sRole::Server).count();
    let domains: Vec<String> =
        config.power_domains.iter().map(|d| format!("{} ({} nodes)", d.name, d.nodes.len())).collect();
    let text = format!(
        "{}: ok\n  cluster: {}\n  nodes: {} ({} servers, {} agents)\n  power domains: {}\n  flux source: {} -> {} @ {}\n  required kustomizations: {}\n  checklists: {} ingresses, {} services, {} critical endpoints\n  coordination: {:?}, peers [{}]\n  state dir: {}\n",
        path.display(),
        config.cluster_name,
        config.inventory.nodes.len(),
        servers,
        config.inventory.nodes.len() - servers,
        domains.join(", "),
        config.flux.source,
        config.expected_flux_source_url,
        config.expected_flux_branch,
        config.flux.required_kustomizations.len(),
        config.startup.require_ingress_checklist.len(),
        config.startup.service_checklist.len(),
        config.startup.critical_service_endpoints.len(),
        config.coordination.role,
        config.coordination.peer_hosts.join(", "),
        config.state_dir.display(),
    );
    let mut text = text;
    for warning in ananke_core::config::warnings(&config) {
        let _ = writeln!(text, "{}", output::wrapped("warning: ", &warning));
    }
    match output::print_text(&text) {
        Ok(()) => exit::SUCCESS,
        Err(_) => exit::STATE_IO,
    }
}
