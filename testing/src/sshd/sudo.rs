//! A fleet logged into as a non-root user, with real `sudo` (Debian package `sudo`) in front of
//! the privileged commands, as `ssh.command_prefix: [sudo, -n]` does on a real host.
//!
//! The user [`SUDO_USER`] is created once (`useradd --system`) and kept: a user is not a process,
//! and parallel tests share it. Its password field is `*` (no password can match, but the account
//! is not locked: sshd without PAM refuses a locked account's public key).
//!
//! Sudo rules apply to a user, not to a fleet: the fleets of that user run one at a time, each
//! holding an exclusive `flock` on [`LOCK`] from its start to its drop (across test processes).
//!
//! [`SshdFleet::allow_sudo`] installs `/etc/sudoers.d/ananke-test-<pid>-<n>` (checked by
//! `visudo -cf` before it is put in place, mode 0440) giving the user exactly ananke's privileged
//! commands, with the fleet's stubs first on sudo's `secure_path` and the stubs' state directory
//! kept in the environment; [`SudoRule`]'s drop removes it. Without a rule, `sudo -n` answers what
//! it answers on a host without one: "a password is required".

use super::SshdFleet;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The non-root login user of [`SshdFleet::start_unprivileged`].
pub const SUDO_USER: &str = "ananke-sudo-test";

/// The lock every fleet of [`SUDO_USER`] holds while it lives.
pub const LOCK: &str = "/run/lock/ananke-sudo-test.lock";

/// Waits for, then holds, the exclusive lock of the fleets of [`SUDO_USER`]; released when the
/// returned file is closed.
pub(super) fn lock_user() -> io::Result<fs::File> {
    let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(LOCK)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(file)
}

/// Where sudo reads drop-ins from (Debian's `@includedir`).
const SUDOERS_D: &str = "/etc/sudoers.d";

/// A sudoers drop-in of one fleet; removed on drop.
#[derive(Debug)]
pub struct SudoRule {
    path: PathBuf,
}

impl SudoRule {
    /// The drop-in's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SudoRule {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Runs `program args`; its failure is an error naming it, with its standard error. An exit
/// status in `ok` counts as success too.
fn checked(program: &str, args: &[&str], ok: &[i32]) -> io::Result<()> {
    let out = Command::new(program).args(args).output()?;
    if out.status.success() || out.status.code().is_some_and(|c| ok.contains(&c)) {
        return Ok(());
    }
    Err(io::Error::other(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())))
}

/// Creates [`SUDO_USER`] unless it exists (`useradd` exit 9: it does), with a password no login
/// can match but not locked.
///
/// # Errors
///
/// `useradd`/`usermod` fail (they need root).
pub(super) fn ensure_user() -> io::Result<()> {
    checked("useradd", &["--system", "--no-create-home", "--shell", "/bin/sh", SUDO_USER], &[9])?;
    checked("usermod", &["-p", "*", SUDO_USER], &[])
}

/// Opens the fleet's files to the unprivileged user: every directory traversable, the
/// `authorized_keys` readable (sshd reads them as the user), the stub state writable.
pub(super) fn open_to_user(root: &Path, state_dirs: &[PathBuf]) -> io::Result<()> {
    fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
    for entry in fs::read_dir(root)? {
        let path = entry?.path();
        if path.is_dir() {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        }
    }
    for state in state_dirs {
        fs::set_permissions(state, fs::Permissions::from_mode(0o777))?;
        // The stubs append every call, as root under sudo and as the user without it.
        let calls = state.join("calls");
        fs::write(&calls, "")?;
        fs::set_permissions(&calls, fs::Permissions::from_mode(0o666))?;
    }
    Ok(())
}

/// The sudoers text letting [`SUDO_USER`] run exactly ananke's privileged commands, the stubs in
/// `bin` standing for `/usr/bin/systemctl` and `/usr/local/bin/k3s-killall.sh`.
fn rule_text(bin: &Path) -> String {
    let b = bin.display();
    let commands = [
        format!("{b}/systemctl start k3s"),
        format!("{b}/systemctl stop k3s"),
        format!("{b}/systemctl start k3s-agent"),
        format!("{b}/systemctl stop k3s-agent"),
        format!("{b}/systemctl poweroff"),
        format!("{b}/k3s-killall.sh \"\""),
    ];
    format!(
        "# ananke test fleet {b} (testing/src/sshd/sudo.rs); removed when the test ends\n\
         Defaults:{SUDO_USER} secure_path=\"{b}:/usr/sbin:/usr/bin:/sbin:/bin\"\n\
         Defaults:{SUDO_USER} env_keep += \"ANANKE_NODE_DIR\"\n\
         {SUDO_USER} ALL=(root) NOPASSWD: {}\n",
        commands.join(", ")
    )
}

/// `visudo -cf path`: whether sudo would accept the drop-in.
///
/// # Errors
///
/// visudo refuses it (its words), or cannot run.
fn check_sudoers(path: &Path) -> io::Result<()> {
    checked("visudo", &["-cf", &path.display().to_string()], &[])
        .map_err(|e| io::Error::other(format!("sudoers drop-in refused: {e}")))
}

impl SshdFleet {
    /// Starts `n` instances logged into as the non-root [`SUDO_USER`] (created if missing). Its
    /// `systemctl is-active` works as it is; every privileged command needs `sudo -n` and a rule
    /// ([`Self::allow_sudo`]).
    ///
    /// # Errors
    ///
    /// Not root (the user must be created and sshd must switch to it), or see [`Self::start`].
    pub fn start_unprivileged(n: usize) -> io::Result<Self> {
        ensure_user()?;
        let lock = lock_user()?;
        let mut fleet = Self::start_as(n, SUDO_USER.to_owned())?;
        fleet.user_lock = Some(lock);
        Ok(fleet)
    }

    /// Installs the sudoers drop-in that lets the fleet's user run ananke's privileged commands.
    ///
    /// # Errors
    ///
    /// The drop-in cannot be written, or `visudo` refuses it (it is then not installed).
    pub fn allow_sudo(&self) -> io::Result<SudoRule> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("ananke-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        // sudo skips drop-ins whose name holds a dot: the draft is never read before it is checked.
        let draft = Path::new(SUDOERS_D).join(format!("{name}.draft"));
        fs::write(&draft, rule_text(&self.dir().join("bin")))?;
        fs::set_permissions(&draft, fs::Permissions::from_mode(0o440))?;
        if let Err(e) = check_sudoers(&draft) {
            let _ = fs::remove_file(&draft);
            return Err(e);
        }
        let path = Path::new(SUDOERS_D).join(name);
        fs::rename(&draft, &path)?;
        Ok(SudoRule { path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visudo_refuses_a_broken_rule_and_a_failing_command_says_what_failed() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad");
        fs::write(&bad, "ananke ALL=(root NOPASSWD: /bin/true\n").unwrap();
        let err = check_sudoers(&bad).unwrap_err().to_string();
        assert!(err.starts_with("sudoers drop-in refused: visudo -cf"), "{err}");
        let err = checked("false", &["x"], &[]).unwrap_err().to_string();
        assert_eq!(err, "false x: ");
        assert!(checked("false", &[], &[1]).is_ok(), "an accepted exit status");
        assert!(checked("/nonexistent/program", &[], &[]).is_err());
    }

    #[test]
    fn the_rule_names_each_command_and_keeps_the_stub_state() {
        let text = rule_text(Path::new("/tmp/f/bin"));
        assert!(text.contains("secure_path=\"/tmp/f/bin:/usr/sbin"), "{text}");
        assert!(text.contains("env_keep += \"ANANKE_NODE_DIR\""), "{text}");
        assert!(text.contains("NOPASSWD: /tmp/f/bin/systemctl start k3s, /tmp/f/bin/systemctl stop k3s,"), "{text}");
        assert!(text.contains("/tmp/f/bin/k3s-killall.sh \"\"\n"), "{text}");
        assert!(!text.contains("is-active"), "is-active needs no privilege");
    }
}
