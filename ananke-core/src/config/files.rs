//! The files and programs a config makes ananke touch on this host, each with the field that names
//! it: what `ananke config check` verifies before a run needs them (see `store::config_file`).

use super::model::Config;
use super::settings::{CommandSpec, UnsealKeySource};
use std::path::PathBuf;

/// How a referenced path is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileUse {
    /// Read; anyone may see it (a `known_hosts`, a CA bundle).
    Read,
    /// Read, and it holds a secret: it must not be readable by every user.
    Secret,
    /// Run as a program (a bare name is looked up in `PATH`).
    Program,
    /// A directory ananke writes (created when missing, if its parent allows).
    WritableDir,
}

/// One path the config refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// The field that names it (`ssh.identity_file`); empty when it is not in the file (a
    /// kubeconfig chosen by `KUBECONFIG`).
    pub field: String,
    /// What it is, for messages (`SSH private key`).
    pub what: String,
    /// The path (a bare program name for [`FileUse::Program`]).
    pub path: PathBuf,
    /// How it is used.
    pub used: FileUse,
}

impl FileRef {
    fn new(field: impl Into<String>, what: &str, path: impl Into<PathBuf>, used: FileUse) -> Self {
        Self { field: field.into(), what: what.to_owned(), path: path.into(), used }
    }
}

/// Every file, program and directory `config` names (the kubeconfig is the caller's: its choice
/// depends on the command line and the environment).
#[must_use]
pub fn referenced_files(config: &Config) -> Vec<FileRef> {
    let mut out = vec![
        FileRef::new("state_dir", "state dir", &config.state_dir, FileUse::WritableDir),
        FileRef::new("ssh.identity_file", "SSH private key", &config.ssh.identity_file, FileUse::Secret),
        FileRef::new("ssh.known_hosts", "known_hosts file", &config.ssh.known_hosts, FileUse::Read),
    ];
    for (d, domain) in config.power_domains.iter().enumerate() {
        if let Some(path) = &domain.ups.password_file {
            out.push(FileRef::new(
                format!("power_domains[{d}].ups.password_file"),
                "NUT password file",
                path,
                FileUse::Secret,
            ));
        }
    }
    let program = |out: &mut Vec<FileRef>, field: &str, what: &str, spec: &CommandSpec| {
        if let Some(argv0) = spec.argv.first().filter(|a| !a.trim().is_empty()) {
            out.push(FileRef::new(format!("{field}.argv[0]"), what, argv0, FileUse::Program));
        }
    };
    if let Some(vault) = &config.vault {
        match &vault.unseal_keys {
            UnsealKeySource::File(path) => {
                out.push(FileRef::new("vault.unseal_keys.file", "unseal share file", path, FileUse::Secret));
            }
            UnsealKeySource::Command(spec) => {
                program(&mut out, "vault.unseal_keys.command", "unseal share command", spec);
            }
        }
        if let Some(ca) = &vault.ca_file {
            out.push(FileRef::new("vault.ca_file", "Vault CA bundle", ca, FileUse::Read));
        }
    }
    if let Some(spec) = &config.startup.vault_unseal_breakglass_command {
        program(&mut out, "startup.vault_unseal_breakglass_command", "breakglass command", spec);
    }
    out
}
