//! `ananke config check` and `ananke config schema`.

use crate::exit;
use crate::global::{report_config_error, GlobalArgs};
use crate::output;
use ananke_core::adapters::kube::KubeconfigOrigin;
use ananke_core::config::{Config, ConfigError, FileRef, FileUse, K3sRole, Problem};
use clap::{Args, Subcommand};
use serde::Serialize;
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
    /// Check the config file alone, not the files, programs and state dir it names (for a config
    /// written on another machine).
    #[arg(long)]
    pub config_only: bool,
    /// Print the result as JSON (shape `version` 1: `ok`, `problems`, `warnings`, `summary`).
    #[arg(long)]
    pub json: bool,
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
            ConfigCommand::Check(args) => check(&args),
            ConfigCommand::Schema(_) => match output::print_json(&ananke_core::config::schema()) {
                Ok(()) => exit::SUCCESS,
                Err(e) => {
                    crate::log_error!("{e}");
                    exit::STATE_IO
                }
            },
        }
    }
}

/// The `config check --json` shape.
#[derive(Debug, Serialize)]
struct CheckResult {
    version: u32,
    config: String,
    ok: bool,
    problems: Vec<ProblemRow>,
    warnings: Vec<String>,
    summary: Option<Summary>,
}

#[derive(Debug, Serialize)]
struct ProblemRow {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    field: String,
    message: String,
}

impl From<&Problem> for ProblemRow {
    fn from(p: &Problem) -> Self {
        Self {
            file: p.file.display().to_string(),
            line: p.line,
            column: p.column,
            field: p.field.clone(),
            message: p.message.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Summary {
    cluster: String,
    servers: usize,
    agents: usize,
    power_domains: Vec<DomainRow>,
    flux_source: String,
    expected_flux_source_url: String,
    expected_flux_branch: String,
    required_kustomizations: usize,
    checklists: Checklists,
    coordination: String,
    peers: Vec<String>,
    state_dir: String,
    kubeconfig: String,
    files_checked: usize,
}

#[derive(Debug, Serialize)]
struct DomainRow {
    name: String,
    nodes: usize,
}

#[derive(Debug, Serialize)]
struct Checklists {
    ingresses: usize,
    services: usize,
    critical_endpoints: usize,
}

/// Every file the config names, and the kubeconfig the real adapters would read.
fn files_of(global: &GlobalArgs, config: &Config) -> Vec<FileRef> {
    let mut files = ananke_core::config::referenced_files(config);
    let source = global.kubeconfig_source(config);
    let field = if source.origin == KubeconfigOrigin::Config { "kubernetes.kubeconfig" } else { "" };
    let what = format!("kubeconfig (from {})", source.origin);
    // From `KUBECONFIG`, a listed file that does not exist is skipped, as kubectl skips it.
    let mut paths: Vec<_> =
        source.paths.iter().filter(|p| source.origin != KubeconfigOrigin::Env || p.exists()).collect();
    if paths.is_empty() {
        paths = source.paths.iter().take(1).collect();
    }
    for path in paths {
        files.push(FileRef { field: field.to_owned(), what: what.clone(), path: path.clone(), used: FileUse::Secret });
    }
    files
}

fn summary(global: &GlobalArgs, config: &Config, files_checked: usize) -> Summary {
    let servers = config.inventory.nodes.iter().filter(|n| n.role == K3sRole::Server).count();
    Summary {
        cluster: config.cluster_name.clone(),
        servers,
        agents: config.inventory.nodes.len() - servers,
        power_domains: config
            .power_domains
            .iter()
            .map(|d| DomainRow { name: d.name.clone(), nodes: d.nodes.len() })
            .collect(),
        flux_source: config.flux.source.to_string(),
        expected_flux_source_url: config.expected_flux_source_url.clone(),
        expected_flux_branch: config.expected_flux_branch.clone(),
        required_kustomizations: config.flux.required_kustomizations.len(),
        checklists: Checklists {
            ingresses: config.startup.require_ingress_checklist.len(),
            services: config.startup.service_checklist.len(),
            critical_endpoints: config.startup.critical_service_endpoints.len(),
        },
        coordination: format!("{:?}", config.coordination.role).to_lowercase(),
        peers: config.coordination.peer_hosts.clone(),
        state_dir: config.state_dir.display().to_string(),
        kubeconfig: global.kubeconfig_source(config).to_string(),
        files_checked,
    }
}

fn check(args: &CheckArgs) -> u8 {
    let global = &args.global;
    let path = global.config_path();
    let loaded = ananke_core::config::load(&path);
    let (problems, warnings, summary) = match &loaded {
        Ok(config) => {
            let files = if args.config_only { Vec::new() } else { files_of(global, config) };
            let problems = ananke_core::config::check_files(&path, &files);
            (problems, ananke_core::config::warnings(config), Some(summary(global, config, files.len())))
        }
        Err(ConfigError::Invalid(problems)) => (problems.clone(), Vec::new(), None),
        Err(e @ ConfigError::Read { .. }) => {
            let problem =
                Problem { file: path.clone(), line: None, column: None, field: String::new(), message: e.to_string() };
            (vec![problem], Vec::new(), None)
        }
    };
    let ok = problems.is_empty();
    let code = if ok { exit::SUCCESS } else { exit::USAGE_OR_CONFIG };
    if args.json {
        let result = CheckResult {
            version: 1,
            config: path.display().to_string(),
            ok,
            problems: problems.iter().map(ProblemRow::from).collect(),
            warnings,
            summary,
        };
        return match output::print_json(&result) {
            Ok(()) => code,
            Err(_) => exit::STATE_IO,
        };
    }
    match &loaded {
        Err(e) => report_config_error(e),
        Ok(_) if !ok => report_config_error(&ConfigError::Invalid(problems)),
        Ok(_) => {}
    }
    let Some(s) = summary.filter(|_| ok) else { return code };
    let domains: Vec<String> = s.power_domains.iter().map(|d| format!("{} ({} nodes)", d.name, d.nodes)).collect();
    let checked = if args.config_only {
        "not checked (--config-only)".to_owned()
    } else {
        format!("{} checked", s.files_checked)
    };
    let mut text = format!(
        "{}: ok\n  cluster: {}\n  nodes: {} ({} servers, {} agents)\n  power domains: {}\n  flux source: {} -> {} @ {}\n  required kustomizations: {}\n  checklists: {} ingresses, {} services, {} critical endpoints\n  coordination: {}, peers [{}]\n  state dir: {}\n  kubeconfig: {}\n  files: {checked}\n",
        path.display(),
        s.cluster,
        s.servers + s.agents,
        s.servers,
        s.agents,
        domains.join(", "),
        s.flux_source,
        s.expected_flux_source_url,
        s.expected_flux_branch,
        s.required_kustomizations,
        s.checklists.ingresses,
        s.checklists.services,
        s.checklists.critical_endpoints,
        s.coordination,
        s.peers.join(", "),
        s.state_dir,
        s.kubeconfig,
    );
    for warning in &warnings {
        let _ = writeln!(text, "{}", output::wrapped("warning: ", warning));
    }
    match output::print_text(&text) {
        Ok(()) => exit::SUCCESS,
        Err(_) => exit::STATE_IO,
    }
}
