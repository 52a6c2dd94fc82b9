//! A fleet of real OpenSSH `sshd` (Debian `openssh-server`) on loopback for tests: instance i
//! listens on 127.0.1.i (one free port shared by all), or, where 127.0.1.x cannot be bound, on
//! 127.0.0.1 with a port each. Everything lives in a temporary directory: a generated ed25519 host
//! key per instance, one client key, per-instance `authorized_keys`, a `known_hosts` covering
//! every instance, and the [`stub`] k3s commands the sessions find on their `PATH`.
//!
//! Details from `shared/lab/sshd-fleet.sh` that matter: sshd run as root needs `/run/sshd`
//! (created if missing, removed again only if created here); sessions get `HOME` set to an empty
//! directory through the authorized key (`PermitUserEnvironment`), so root's `~/.bashrc` (pyenv
//! init, about 90 ms) never runs; `StrictModes no` because the files sit in a temporary directory.
//!
//! Nothing is installed here (`scripts/test.sh` installs `openssh-server`); without `sshd`,
//! [`SshdFleet::start`] fails and says so. [`Drop`] stops exactly the processes this fleet started:
//! each listener (run in the foreground with `-D`), the per-connection processes under it, and any
//! command still running from one of its sessions (found by the environment its sessions get).

mod files;
mod process;
mod stub;
pub mod sudo;
#[cfg(test)]
mod tests;

use ananke_core::config::{HumanDuration, K3sRole, Node, SshSettings};
use std::fs::{self, File};
use std::io;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Where Debian installs sshd; it must be started by its absolute path (it re-executes itself).
pub const SSHD: &str = "/usr/sbin/sshd";

/// Bound on every wait of the harness: generous for a loaded 2-core machine, still finite.
const WAIT: Duration = Duration::from_secs(30);

/// One sshd instance of a fleet.
#[derive(Debug)]
pub struct SshdNode {
    /// 1-based index: instance i is `n{i}`.
    pub index: usize,
    /// Listen address.
    pub address: IpAddr,
    /// Listen port.
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl SshdNode {
    /// The node's name in the fleet's inventory (`n1`, `n2`, ...).
    #[must_use]
    pub fn name(&self) -> String {
        format!("n{}", self.index)
    }

    /// The node's host name in `known_hosts` (`[address]:port`).
    #[must_use]
    pub fn known_hosts_name(&self) -> String {
        format!("[{}]:{}", self.address, self.port)
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }
}

/// N real sshd on loopback; stopped on drop.
#[derive(Debug)]
pub struct SshdFleet {
    dir: tempfile::TempDir,
    nodes: Vec<SshdNode>,
    user: String,
    _privsep: Option<process::PrivsepDir>,
    /// Held by a fleet of the sudo test user ([`sudo::LOCK`]).
    user_lock: Option<File>,
}

impl SshdFleet {
    /// Starts `n` instances and waits until each listens.
    ///
    /// # Errors
    ///
    /// sshd or ssh-keygen missing (install `openssh-server`), or an instance that does not come up
    /// (with its log).
    pub fn start(n: usize) -> io::Result<Self> {
        Self::start_as(n, current_user())
    }

    /// Starts `n` instances that `user` logs into.
    fn start_as(n: usize, user: String) -> io::Result<Self> {
        if !Path::new(SSHD).is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{SSHD} not found: install openssh-server (scripts/test.sh does)"),
            ));
        }
        let privsep = process::PrivsepDir::claim()?;
        let dir = tempfile::Builder::new().prefix("ananke-sshd-").tempdir()?;
        let unprivileged = user != current_user();
        let mut fleet = Self { dir, nodes: Vec::new(), user, _privsep: privsep, user_lock: None };
        fleet.prepare_client()?;
        let shared_port = pick_port(IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1)));
        let mut keygens = Vec::new();
        for index in 1..=n {
            let (address, port) = listen_address(index, shared_port);
            let dir = fleet.dir.path().join(format!("n{index}"));
            fs::create_dir_all(dir.join("state"))?;
            keygens.push(files::keygen_spawn(&dir.join("ssh_host_ed25519_key"), &format!("ananke-test-n{index}"))?);
            fleet.nodes.push(SshdNode { index, address, port, dir, child: None });
        }
        for keygen in keygens {
            files::finish(keygen, "ssh-keygen (host key)")?;
        }
        if unprivileged {
            let states: Vec<PathBuf> = fleet.nodes.iter().map(SshdNode::state_dir).collect();
            sudo::open_to_user(fleet.dir.path(), &states)?;
        }
        fleet.write_known_hosts()?;
        for i in 0..n {
            fleet.write_node_config(i)?;
            fleet.nodes[i].child = Some(fleet.spawn(i)?);
        }
        for i in 0..n {
            fleet.wait_listening(i)?;
        }
        Ok(fleet)
    }

    /// The instances, in index order.
    #[must_use]
    pub fn nodes(&self) -> &[SshdNode] {
        &self.nodes
    }

    /// The login user (root when run as root, else the current user).
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The client private key every instance authorizes.
    #[must_use]
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client").join("id_ed25519")
    }

    /// The `known_hosts` file with every instance's host key.
    #[must_use]
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The fleet's temporary directory (for a test's own files).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `known_hosts` line of instance `index` (1-based).
    ///
    /// # Panics
    ///
    /// If the instance or its public host key does not exist.
    #[must_use]
    pub fn known_hosts_line(&self, index: usize) -> String {
        let node = &self.nodes[index - 1];
        let public = fs::read_to_string(node.dir.join("ssh_host_ed25519_key.pub")).expect("host public key");
        let key: Vec<&str> = public.split_whitespace().take(2).collect();
        format!("{} {}", node.known_hosts_name(), key.join(" "))
    }

    /// The SHA256 fingerprint (`SHA256:...`) of instance `index`'s host key, by `ssh-keygen -l`.
    ///
    /// # Panics
    ///
    /// If ssh-keygen fails.
    #[must_use]
    pub fn host_fingerprint(&self, index: usize) -> String {
        let public = self.nodes[index - 1].dir.join("ssh_host_ed25519_key.pub");
        let out = Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f"])
            .arg(public)
            .output()
            .expect("ssh-keygen runs");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace().nth(1).expect("ssh-keygen -l prints a fingerprint").to_owned()
    }

    /// Operator settings pointing at this fleet: its user, client key and `known_hosts`; 10 s
    /// timeouts, concurrency 64.
    #[must_use]
    pub fn ssh_settings(&self) -> SshSettings {
        SshSettings {
            user: self.user.clone(),
            identity_file: self.client_key(),
            known_hosts: self.known_hosts(),
            connect_timeout: HumanDuration::secs(10),
            command_timeout: HumanDuration::secs(10),
            concurrency: 64,
            command_prefix: Vec::new(),
        }
    }

    /// An inventory of every instance (`n1`..`nN`), all in `role`.
    #[must_use]
    pub fn inventory(&self, role: K3sRole) -> Vec<Node> {
        let node = |n: &SshdNode| Node { name: n.name(), address: n.address.to_string(), ssh_port: n.port, role };
        self.nodes.iter().map(node).collect()
    }

    /// How many public-key logins instance `index` accepted so far (from its log).
    #[must_use]
    pub fn accepted_logins(&self, index: usize) -> usize {
        self.log(index).matches("Accepted publickey").count()
    }

    /// Instance `index`'s sshd log.
    #[must_use]
    pub fn log(&self, index: usize) -> String {
        fs::read_to_string(self.nodes[index - 1].dir.join("sshd.log")).unwrap_or_default()
    }

    /// Every stub call (`systemctl ...`, `k3s-killall.sh ...`) on instance `index`, as argv.
    #[must_use]
    pub fn stub_calls(&self, index: usize) -> Vec<Vec<String>> {
        stub::calls(&self.nodes[index - 1].state_dir())
    }

    /// Sets what the stub `systemctl is-active UNIT` answers on instance `index`.
    ///
    /// # Errors
    ///
    /// The state file cannot be written.
    pub fn set_unit_state(&self, index: usize, unit: &str, state: &str) -> io::Result<()> {
        stub::set_unit(&self.nodes[index - 1].state_dir(), unit, state)
    }

    /// Forwards instance `index`'s k3s unit commands (and `systemctl poweroff`) to the node
    /// `node` of `ananke-sim serve`'s control endpoint at `control_url`
    /// (`http://127.0.0.1:PORT/control`), so a command over SSH changes the simulated cluster.
    ///
    /// # Errors
    ///
    /// The state file cannot be written.
    pub fn forward_to_control(&self, index: usize, control_url: &str, node: &str) -> io::Result<()> {
        stub::set_control(
            &self.nodes[index - 1].state_dir(),
            &format!("{}/nodes/{node}", control_url.trim_end_matches('/')),
        )
    }

    /// Makes every later stub call on instance `index` sleep this long first (zero: none).
    ///
    /// # Errors
    ///
    /// The state file cannot be written.
    pub fn set_stub_delay(&self, index: usize, delay: Duration) -> io::Result<()> {
        stub::set_delay(&self.nodes[index - 1].state_dir(), delay)
    }

    /// Stops every instance (listener and sessions); the keys and files stay until the drop, so
    /// a client configured for the fleet now finds every node unreachable.
    pub fn stop_all(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                process::stop_tree(&mut child);
            }
        }
    }

    /// Stops instance `index` (listener and sessions): a client now finds that node unreachable.
    pub fn stop(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index - 1].child.take() {
            process::stop_tree(&mut child);
        }
    }

    /// Kills instance `index`'s per-connection processes (not the listener): every open session
    /// to it breaks, as when a node reboots between two cycles.
    pub fn drop_connections(&self, index: usize) {
        if let Some(child) = &self.nodes[index - 1].child {
            if let Ok(pid) = i32::try_from(child.id()) {
                process::terminate(&process::descendants(pid));
            }
        }
    }

    /// Live processes that run, or ran, in a session of the fleet whose directory is `dir` (found
    /// by the environment its authorized key sets); empty once that fleet is dropped.
    #[must_use]
    pub fn session_processes(dir: &Path) -> Vec<i32> {
        process::with_environment(&format!("ANANKE_NODE_DIR={}/", dir.display()))
    }

    /// Generates an unencrypted ed25519 key pair at `path` (and `path.pub`).
    ///
    /// # Errors
    ///
    /// ssh-keygen is missing or fails.
    pub fn generate_key(path: &Path) -> io::Result<()> {
        files::finish(files::keygen_spawn(path, "ananke-test")?, "ssh-keygen")
    }

    fn prepare_client(&self) -> io::Result<()> {
        let root = self.dir.path();
        fs::create_dir_all(root.join("client"))?;
        fs::create_dir_all(root.join("home"))?;
        stub::install(&root.join("bin"))?;
        Self::generate_key(&self.client_key())
    }

    fn write_known_hosts(&self) -> io::Result<()> {
        let lines: String = (1..=self.nodes.len()).map(|i| self.known_hosts_line(i) + "\n").collect();
        fs::write(self.known_hosts(), lines)
    }

    fn write_node_config(&self, i: usize) -> io::Result<()> {
        let root = self.dir.path();
        let node = &self.nodes[i];
        let public = fs::read_to_string(self.client_key().with_extension("pub"))?;
        let key = files::authorized_key(&public, &root.join("home"), &root.join("bin"), &node.state_dir());
        fs::write(node.dir.join("authorized_keys"), key)?;
        fs::write(node.dir.join("sshd_config"), files::sshd_config(node.address, node.port, &node.dir))
    }

    fn spawn(&self, i: usize) -> io::Result<Child> {
        let dir = &self.nodes[i].dir;
        let log = dir.join("sshd.log");
        File::create(&log)?;
        Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(dir.join("sshd_config"))
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {SSHD}: {e}")))
    }

    /// Waits for instance i's "Server listening" line; if it exits first (its port was taken in
    /// the meantime), it is restarted once on a fresh port.
    fn wait_listening(&mut self, i: usize) -> io::Result<()> {
        let deadline = Instant::now() + WAIT;
        let mut retried = false;
        while Instant::now() < deadline {
            if self.log(i + 1).contains("Server listening on") {
                return Ok(());
            }
            let exited = self.nodes[i].child.as_mut().map(Child::try_wait).transpose()?.flatten();
            if let Some(status) = exited {
                let node = &self.nodes[i];
                if retried {
                    return Err(io::Error::other(format!(
                        "sshd n{} on {}:{} exited ({status}):\n{}",
                        i + 1,
                        node.address,
                        node.port,
                        self.log(i + 1)
                    )));
                }
                retried = true;
                let address = self.nodes[i].address;
                self.nodes[i].port = pick_port(address).unwrap_or(0);
                self.write_known_hosts()?;
                self.write_node_config(i)?;
                self.nodes[i].child = Some(self.spawn(i)?);
            }
            sleep(Duration::from_millis(5));
        }
        Err(io::Error::new(io::ErrorKind::TimedOut, format!("sshd n{} never listened:\n{}", i + 1, self.log(i + 1))))
    }
}

impl Drop for SshdFleet {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                process::stop_tree(&mut child);
            }
        }
        // Commands whose session already ended are no longer under a listener; their environment
        // still names this fleet's state directories.
        process::terminate(&Self::session_processes(self.dir.path()));
    }
}

/// Where instance `index` listens: 127.0.1.index on the shared port, or 127.0.0.1 on a port of
/// its own where 127.0.1.x cannot be bound (no shared port) or past 254 instances.
fn listen_address(index: usize, shared_port: Option<u16>) -> (IpAddr, u16) {
    match shared_port {
        Some(port) if index <= 254 => (IpAddr::V4(Ipv4Addr::new(127, 0, 1, u8::try_from(index).unwrap_or(1))), port),
        _ => (IpAddr::V4(Ipv4Addr::LOCALHOST), pick_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap_or(0)),
    }
}

/// A port of `address` that was free a moment ago, or `None` if `address` cannot be bound.
fn pick_port(address: IpAddr) -> Option<u16> {
    TcpListener::bind((address, 0)).and_then(|l| l.local_addr()).ok().map(|a| a.port())
}

fn current_user() -> String {
    if rustix::process::geteuid().is_root() {
        return "root".to_owned();
    }
    std::env::var("USER").unwrap_or_else(|_| "root".to_owned())
}
