//! Retrieving Vault unseal shares: the standard source (a command or a file) and the breakglass
//! command. Shares are [`Secret`]s: they cannot be printed, serialized or logged, and errors
//! never quote a command's output.

use crate::config::{CommandSpec, UnsealKeySource};
use std::fmt;
use std::process::Stdio;
use tokio::io::AsyncReadExt;

/// A secret string (an unseal share). Its `Debug` and `Display` print `***`; it has no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that must send it (the unseal request body).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why shares could not be retrieved. Never contains the command's output.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The command could not be started.
    #[error("cannot run `{program}`: {reason}")]
    Spawn {
        /// argv\[0\].
        program: String,
        /// The OS error.
        reason: String,
    },
    /// The command ran too long and was killed.
    #[error("`{program}` did not finish within {secs}s and was killed")]
    Timeout {
        /// argv\[0\].
        program: String,
        /// The timeout.
        secs: u64,
    },
    /// The command exited non-zero (its output is not shown: it may hold secrets).
    #[error("`{program}` exited with {status} (output withheld)")]
    Exit {
        /// argv\[0\].
        program: String,
        /// Exit status.
        status: String,
    },
    /// The file could not be read.
    #[error("cannot read unseal shares from {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The source produced no share.
    #[error("{0} produced no unseal share")]
    Empty(String),
    /// Nothing is configured.
    #[error("no {0} is configured")]
    NotConfigured(&'static str),
}

/// Shares, one per non-empty line.
fn shares_of(text: &str) -> Vec<Secret> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| Secret::new(l.to_owned())).collect()
}

/// Run `spec` (argv, no shell) and return the shares on its stdout.
///
/// # Errors
/// Spawn failure, timeout, non-zero exit, or no share in the output.
pub async fn run_share_command(spec: &CommandSpec) -> Result<Vec<Secret>, SecretError> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(SecretError::NotConfigured("command (empty argv)"));
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SecretError::Spawn { program: program.clone(), reason: e.to_string() })?;
    let mut stdout = child.stdout.take();
    let work = async {
        let mut out = Vec::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = pipe.read_to_end(&mut out).await;
        }
        let status = child.wait().await;
        (out, status)
    };
    let (out, status) = tokio::time::timeout(spec.timeout.get(), work)
        .await
        .map_err(|_| SecretError::Timeout { program: program.clone(), secs: spec.timeout.get().as_secs() })?;
    let status = status.map_err(|e| SecretError::Spawn { program: program.clone(), reason: e.to_string() })?;
    if !status.success() {
        return Err(SecretError::Exit { program: program.clone(), status: status.to_string() });
    }
    let shares = shares_of(&String::from_utf8_lossy(&out));
    if shares.is_empty() {
        return Err(SecretError::Empty(format!("`{program}`")));
    }
    Ok(shares)
}

/// Retrieve the standard unseal shares.
///
/// # Errors
/// See [`run_share_command`]; file read errors.
pub async fn standard_shares(source: &UnsealKeySource) -> Result<Vec<Secret>, SecretError> {
    match source {
        UnsealKeySource::Command(spec) => run_share_command(spec).await,
        UnsealKeySource::File(path) => {
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| SecretError::File { path: path.display().to_string(), reason: e.to_string() })?;
            let shares = shares_of(&text);
            if shares.is_empty() {
                return Err(SecretError::Empty(path.display().to_string()));
            }
            Ok(shares)
        }
    }
}

/// Run the breakglass command, if configured.
///
/// # Errors
/// Not configured, or see [`run_share_command`].
pub async fn breakglass_shares(spec: Option<&CommandSpec>) -> Result<Vec<Secret>, SecretError> {
    match spec {
        Some(spec) => run_share_command(spec).await,
        None => Err(SecretError::NotConfigured("startup.vault_unseal_breakglass_command")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HumanDuration;

    fn cmd(argv: &[&str], secs: u64) -> CommandSpec {
        CommandSpec { argv: argv.iter().map(|s| (*s).to_owned()).collect(), timeout: HumanDuration::secs(secs) }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn shares_come_from_stdout_lines_and_never_print() {
        let shares = rt().block_on(run_share_command(&cmd(&["printf", "a1\\n\\n b2 \\nc3\\n"], 5))).unwrap();
        assert_eq!(shares.iter().map(Secret::expose).collect::<Vec<_>>(), ["a1", "b2", "c3"]);
        assert_eq!(format!("{:?} {}", shares[0], shares[0]), "Secret(***) ***");
    }

    #[test]
    fn failures_say_why_without_quoting_output() {
        let r = rt();
        let err = r.block_on(run_share_command(&cmd(&["sh", "-c", "echo CANARY-SHARE; exit 3"], 5))).unwrap_err();
        assert!(matches!(err, SecretError::Exit { .. }));
        assert!(!err.to_string().contains("CANARY"), "{err}");
        let err = r.block_on(run_share_command(&cmd(&["/nonexistent/breakglass"], 5))).unwrap_err();
        assert!(err.to_string().contains("cannot run `/nonexistent/breakglass`"), "{err}");
        let err = r.block_on(run_share_command(&cmd(&["sleep", "5"], 1))).unwrap_err();
        assert_eq!(err, SecretError::Timeout { program: "sleep".into(), secs: 1 });
        let err = r.block_on(run_share_command(&cmd(&["true"], 5))).unwrap_err();
        assert!(matches!(err, SecretError::Empty(_)));
        let err = r.block_on(breakglass_shares(None)).unwrap_err();
        assert!(err.to_string().contains("vault_unseal_breakglass_command"));
    }

    #[test]
    fn file_source_reads_one_share_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shares");
        std::fs::write(&path, "s1\ns2\n").unwrap();
        let shares = rt().block_on(standard_shares(&UnsealKeySource::File(path))).unwrap();
        assert_eq!(shares.len(), 2);
    }
}
