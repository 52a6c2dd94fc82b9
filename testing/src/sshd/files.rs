//! The files of an sshd fleet: each instance's `sshd_config` and `authorized_keys`, and keys.

use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// An instance's `sshd_config`: key auth only, root by key, the session environment taken from
/// the authorized key, and logins logged (the tests count them).
pub(super) fn sshd_config(address: IpAddr, port: u16, dir: &Path) -> String {
    let d = dir.display();
    format!(
        "ListenAddress {address}:{port}\nHostKey {d}/ssh_host_ed25519_key\nPidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
         PermitUserEnvironment HOME,PATH,ANANKE_NODE_DIR\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nUseDNS no\nPrintMotd no\nPrintLastLog no\n\
         MaxStartups 200:30:400\nMaxSessions 64\nLogLevel INFO\n"
    )
}

/// The client key's `authorized_keys` line: an empty `HOME` (no `~/.bashrc`), the stubs first on
/// `PATH`, and the node's stub state directory.
pub(super) fn authorized_key(public: &str, home: &Path, bin: &Path, state: &Path) -> String {
    format!(
        "environment=\"HOME={}\",environment=\"PATH={}:/usr/bin:/bin\",environment=\"ANANKE_NODE_DIR={}\" {}\n",
        home.display(),
        bin.display(),
        state.display(),
        public.trim_end()
    )
}

/// Starts `ssh-keygen` writing an unencrypted ed25519 key pair at `path`.
pub(super) fn keygen_spawn(path: &Path, comment: &str) -> io::Result<Child> {
    Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run ssh-keygen: {e} (install openssh-client)")))
}

/// Waits for a helper process; its failure is an error naming `what`.
pub(super) fn finish(child: Child, what: &str) -> io::Result<()> {
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{what} failed ({})", out.status)))
    }
}
