//! A real Network UPS Tools stack on loopback for tests: `upsd` and the `dummy-ups` driver
//! (Debian `nut-server`), started in a temporary directory on a free port of 127.0.0.1.
//!
//! The UPS is moved at run time by rewriting the driver's `.dev` file, which `dummy-ups` in
//! `dummy-once` mode re-reads when its mtime changes (checked every second, in whole seconds: every
//! rewrite moves the mtime forward by at least one second, or a second change within the same
//! second would be lost). `/etc/nut` is never read or written: the binaries run with
//! `NUT_CONFPATH` and `NUT_STATEPATH` pointing into the temporary directory.
//!
//! Nothing is installed here (`scripts/test.sh` installs `nut-server` and `nut-client`); without
//! the binaries, [`NutServer::start`] fails and says so. [`Drop`] stops exactly the processes this
//! server started, by their PIDs, which stay reserved until this code reaps them.

mod files;

use ananke_core::config::{PowerDomain, Ups};
use rustix::process::{kill_process, Pid, Signal};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The UPS name in `ups.conf`.
pub const UPS: &str = "dummy";
/// The UPS description in `ups.conf` (quotes included, to exercise the protocol's escapes).
pub const DESCRIPTION: &str = "ananke \"test\" UPS";
/// A NUT user that may `LOGIN` (an `upsmon secondary`).
pub const USER: &str = "monuser";
/// [`USER`]'s password.
pub const PASSWORD: &str = "monpass";
/// A NUT user that exists with a password but may not `LOGIN` (no `upsmon` line).
pub const NO_LOGIN_USER: &str = "viewer";
/// [`NO_LOGIN_USER`]'s password.
pub const NO_LOGIN_PASSWORD: &str = "viewerpass";
/// The second UPS's name, served when [`NutOptions::second_ups`] is set: on battery, 60 %, 900 s,
/// never moved.
pub const SECOND_UPS: &str = "second";
const ADMIN: &str = "admin";
const ADMIN_PASSWORD: &str = "adminpass";

/// Where Debian and other distributions put `upsd` and the drivers.
pub const BIN_DIRS: &[&str] = &["/lib/nut", "/usr/lib/nut", "/usr/libexec/nut", "/usr/sbin", "/sbin"];

/// Bound on every wait of the harness: generous for a loaded 2-core machine, still finite.
const WAIT: Duration = Duration::from_secs(20);

/// Options of a [`NutServer`].
#[derive(Debug, Clone, Copy)]
pub struct NutOptions {
    /// upsd's `MAXAGE`: seconds without news from the driver before upsd says `DATA-STALE`.
    pub maxage_s: u32,
    /// Serve [`SECOND_UPS`] as well, with its own `dummy-ups`.
    pub second_ups: bool,
}

impl Default for NutOptions {
    fn default() -> Self {
        Self { maxage_s: 15, second_ups: false }
    }
}

/// `upsd` and `dummy-ups` for one UPS named [`UPS`], on `127.0.0.1:`[`port`](Self::port).
pub struct NutServer {
    dir: tempfile::TempDir,
    upsd_bin: PathBuf,
    driver_bin: PathBuf,
    port: u16,
    vars: Vec<(String, String)>,
    upsd: Option<Child>,
    driver: Option<Child>,
    /// The second UPS's driver, when there is one.
    second: Option<Child>,
}

/// Finds `upsd` and `dummy-ups` in `dirs`, or says what to install.
///
/// # Errors
/// `NotFound`, naming the directories searched and the Debian packages.
pub fn find_binaries(dirs: &[&str]) -> io::Result<(PathBuf, PathBuf)> {
    let find = |name: &str| dirs.iter().map(|d| Path::new(d).join(name)).find(|p| p.is_file());
    match (find("upsd"), find("dummy-ups")) {
        (Some(upsd), Some(driver)) => Ok((upsd, driver)),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "NUT is not installed: upsd and dummy-ups not found in {} \
                 (install the Debian packages nut-server and nut-client; scripts/test.sh does)",
                dirs.join(", ")
            ),
        )),
    }
}

impl NutServer {
    /// Starts the driver and upsd with default options and waits until upsd serves the UPS.
    ///
    /// # Errors
    /// Missing binaries, or a component that did not come up in time (the error holds its log).
    pub fn start() -> io::Result<Self> {
        Self::start_with(NutOptions::default())
    }

    /// Starts the driver and upsd with `options` and waits until upsd serves the UPS.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_with(options: NutOptions) -> io::Result<Self> {
        let (upsd_bin, driver_bin) = find_binaries(BIN_DIRS)?;
        let dir = tempfile::Builder::new().prefix("ananke-nut-").tempdir()?;
        let vars = files::INITIAL.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut server = Self { dir, upsd_bin, driver_bin, port: 0, vars, upsd: None, driver: None, second: None };
        files::write_config(server.dir.path(), options.second_ups)?;
        files::write_dev(server.dir.path(), &server.vars)?;
        server.start_driver()?;
        if options.second_ups {
            server.start_second()?;
        }
        for attempt in 1..=5 {
            server.port = free_port()?;
            files::write_upsd_conf(server.dir.path(), server.port, options.maxage_s)?;
            match server.start_upsd() {
                Ok(()) => break,
                // Another process took the port between our probe and upsd's bind: pick another.
                Err(e) if attempt < 5 && server.upsd.is_none() => drop(e),
                Err(e) => return Err(e),
            }
        }
        Ok(server)
    }

    /// Always `127.0.0.1`.
    #[must_use]
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The port upsd listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A power domain named `name` fed by this UPS, without credentials.
    #[must_use]
    pub fn power_domain(&self, name: &str) -> PowerDomain {
        self.power_domain_of(name, UPS)
    }

    /// A power domain named `name` fed by the UPS upsd calls `ups` (which may be a name it does
    /// not serve), without credentials.
    #[must_use]
    pub fn power_domain_of(&self, name: &str, ups: &str) -> PowerDomain {
        let ups = Ups {
            name: ups.to_owned(),
            host: self.host().to_owned(),
            port: self.port,
            username: None,
            password_file: None,
            driver_socket: None,
        };
        PowerDomain { name: name.to_owned(), ups, nodes: Vec::new() }
    }

    /// The driver's own socket (what `power_domains.ups.driver_socket` names).
    #[must_use]
    pub fn driver_socket(&self) -> PathBuf {
        files::run(self.dir.path()).join(format!("dummy-ups-{UPS}"))
    }

    /// A power domain named `name` that reads this UPS through its driver's socket.
    #[must_use]
    pub fn power_domain_pushed(&self, name: &str) -> PowerDomain {
        let mut domain = self.power_domain(name);
        domain.ups.driver_socket = Some(self.driver_socket());
        domain
    }

    /// A power domain that logs in as [`USER`] with `password`, written to a password file here.
    ///
    /// # Errors
    /// The password file cannot be written.
    pub fn power_domain_with_login(&self, name: &str, password: &str) -> io::Result<PowerDomain> {
        self.power_domain_as(name, UPS, USER, password)
    }

    /// A power domain named `name` on UPS `ups` that logs in as `user` with `password`.
    ///
    /// # Errors
    /// The password file cannot be written.
    pub fn power_domain_as(&self, name: &str, ups: &str, user: &str, password: &str) -> io::Result<PowerDomain> {
        let file = self.dir.path().join(format!("{name}.password"));
        fs::write(&file, format!("{password}\n"))?;
        let mut domain = self.power_domain_of(name, ups);
        domain.ups.username = Some(user.to_owned());
        domain.ups.password_file = Some(file);
        Ok(domain)
    }

    /// Sets `ups.status` (`"OL"`, `"OB DISCHRG"`, `"OB DISCHRG LB"`, ...); seen within about 2 s.
    ///
    /// # Errors
    /// The `.dev` file cannot be rewritten.
    pub fn set_state(&mut self, status: &str) -> io::Result<()> {
        self.set_vars(&[("ups.status", status)])
    }

    /// Sets one variable of the driver.
    ///
    /// # Errors
    /// The `.dev` file cannot be rewritten.
    pub fn set_var(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.set_vars(&[(name, value)])
    }

    /// Sets several variables at once (one rewrite, so the driver sees them together).
    ///
    /// # Errors
    /// The `.dev` file cannot be rewritten.
    pub fn set_vars(&mut self, vars: &[(&str, &str)]) -> io::Result<()> {
        for (name, value) in vars {
            match self.vars.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => (*value).clone_into(&mut slot.1),
                None => self.vars.push(((*name).to_owned(), (*value).to_owned())),
            }
        }
        files::write_dev(self.dir.path(), &self.vars)
    }

    /// Raises forced shutdown through upsd itself (`FSD` as an admin), as a primary upsmon would.
    ///
    /// # Errors
    /// upsd did not answer `OK FSD-SET`.
    pub fn force_shutdown(&self) -> io::Result<()> {
        let replies =
            self.ask(&[&format!("USERNAME {ADMIN}"), &format!("PASSWORD {ADMIN_PASSWORD}"), &format!("FSD {UPS}")])?;
        if replies.last().map(String::as_str) == Some("OK FSD-SET") {
            Ok(())
        } else {
            Err(io::Error::other(format!("FSD refused: {replies:?}")))
        }
    }

    /// Stops upsd (the driver keeps running).
    pub fn stop_upsd(&mut self) {
        if let Some(child) = self.upsd.take() {
            stop(child);
        }
    }

    /// Starts upsd again on the same port and waits until it serves the UPS.
    ///
    /// # Errors
    /// upsd exited or did not serve data in time; the error holds its log.
    pub fn start_upsd(&mut self) -> io::Result<()> {
        if self.upsd.is_some() {
            return Ok(());
        }
        let child = self.spawn(&self.upsd_bin, &[], "upsd.log")?;
        self.upsd = Some(child);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        self.wait_until("upsd to accept connections", |s| {
            s.exited("upsd")?;
            Ok(TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok())
        })?;
        self.wait_until("upsd to serve the UPS's status", |s| Ok(s.driver.is_none() || s.serves_status()))
    }

    /// Stops the driver: upsd then answers `ERR DRIVER-NOT-CONNECTED`.
    pub fn stop_driver(&mut self) {
        if let Some(child) = self.driver.take() {
            stop(child);
        }
    }

    /// Starts the driver again; when upsd runs, waits until it serves fresh data.
    ///
    /// # Errors
    /// The driver exited or did not come up in time; the error holds its log.
    pub fn start_driver(&mut self) -> io::Result<()> {
        if self.driver.is_some() {
            return Ok(());
        }
        let child = self.spawn(&self.driver_bin, &["-a", UPS], "driver.log")?;
        self.driver = Some(child);
        let socket = self.driver_socket();
        self.wait_until("dummy-ups to open its socket", |s| {
            s.exited("dummy-ups")?;
            Ok(socket.exists())
        })?;
        self.wait_until("upsd to serve the UPS's status", |s| Ok(s.upsd.is_none() || s.serves_status()))
    }

    /// Starts the second UPS's driver and waits until upsd (when it runs) serves its status.
    fn start_second(&mut self) -> io::Result<()> {
        let child = self.spawn(&self.driver_bin, &["-a", SECOND_UPS], "second.log")?;
        self.second = Some(child);
        let socket = files::run(self.dir.path()).join(format!("dummy-ups-{SECOND_UPS}"));
        self.wait_until("the second dummy-ups to open its socket", |s| {
            s.exited("second")?;
            Ok(socket.exists())
        })
    }

    /// Suspends the driver (`SIGSTOP`): after `MAXAGE` upsd answers `ERR DATA-STALE`.
    pub fn freeze_driver(&self) {
        self.signal_driver(Signal::STOP);
    }

    /// Resumes a suspended driver (`SIGCONT`).
    pub fn thaw_driver(&self) {
        self.signal_driver(Signal::CONT);
    }

    /// upsd's and the driver's logs, for a failing test's message.
    #[must_use]
    pub fn logs(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "--- upsd.log\n{}--- driver.log\n{}--- second.log\n{}",
            read("upsd.log"),
            read("driver.log"),
            read("second.log")
        )
    }

    fn signal_driver(&self, signal: Signal) {
        if let Some(child) = &self.driver {
            // The child is not reaped yet, so its PID cannot name another process.
            let _ = kill_process(Pid::from_child(child), signal);
        }
    }

    fn spawn(&self, bin: &Path, args: &[&str], log: &str) -> io::Result<Child> {
        let log = File::options().create(true).append(true).open(self.dir.path().join(log))?;
        Command::new(bin)
            .args(args)
            .arg("-F")
            .env("NUT_CONFPATH", files::etc(self.dir.path()))
            .env("NUT_STATEPATH", files::run(self.dir.path()))
            .env("NUT_ALTPIDPATH", files::run(self.dir.path()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
    }

    /// Fails when the named child has exited, with its log.
    fn exited(&mut self, which: &str) -> io::Result<()> {
        let slot = match which {
            "upsd" => &mut self.upsd,
            "second" => &mut self.second,
            _ => &mut self.driver,
        };
        if let Some(status) = slot.as_mut().map(Child::try_wait).transpose()?.flatten() {
            *slot = None;
            return Err(io::Error::other(format!("{which} exited ({status}) on port {}\n{}", self.port, self.logs())));
        }
        Ok(())
    }

    fn wait_until(&mut self, what: &str, mut ready: impl FnMut(&mut Self) -> io::Result<bool>) -> io::Result<()> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if ready(self)? {
                return Ok(());
            }
            sleep(Duration::from_millis(50));
        }
        Err(io::Error::new(io::ErrorKind::TimedOut, format!("timed out waiting for {what}\n{}", self.logs())))
    }

    /// upsd answers with a real status (not `WAIT`, not an error).
    fn serves_status(&self) -> bool {
        let replies = self.ask(&[&format!("GET VAR {UPS} ups.status")]).unwrap_or_default();
        replies.first().is_some_and(|r| r.starts_with("VAR ") && !r.ends_with("\"WAIT\"") && !r.ends_with("\"\""))
    }

    /// Sends `lines` to upsd over a fresh connection, one reply line each; a harness-side client,
    /// independent of the adapter under test.
    fn ask(&self, lines: &[&str]) -> io::Result<Vec<String>> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut replies = Vec::new();
        for line in lines {
            stream.write_all(format!("{line}\n").as_bytes())?;
            let mut reply = String::new();
            reader.read_line(&mut reply)?;
            replies.push(reply.trim_end().to_owned());
        }
        Ok(replies)
    }
}

impl Drop for NutServer {
    fn drop(&mut self) {
        self.stop_upsd();
        self.stop_driver();
        if let Some(child) = self.second.take() {
            stop(child);
        }
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// Stops one child: `SIGCONT` (it may be frozen), `SIGTERM`, a bounded wait, then `SIGKILL`.
fn stop(mut child: Child) {
    let pid = Pid::from_child(&child);
    let _ = kill_process(pid, Signal::CONT);
    let _ = kill_process(pid, Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_are_named_with_the_packages_to_install() {
        let empty = tempfile::tempdir().expect("temp dir");
        let err = find_binaries(&[empty.path().to_str().expect("utf-8 path")]).expect_err("nothing there");
        assert!(err.to_string().contains("nut-server"), "{err}");
    }
}
