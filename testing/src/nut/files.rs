//! The NUT lab's files: `ups.conf`, `upsd.conf`, `upsd.users`, the driver's `.dev` file, and the
//! permissions the daemons need when they drop from root to the `nut` user.

use super::{ADMIN, ADMIN_PASSWORD, DESCRIPTION, NO_LOGIN_PASSWORD, NO_LOGIN_USER, PASSWORD, SECOND_UPS, UPS, USER};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The driver's variables before any change: on line, full battery.
pub(super) const INITIAL: &[(&str, &str)] = &[
    ("device.type", "ups"),
    ("device.mfr", "Ananke Lab"),
    ("device.model", "Dummy 1500"),
    ("ups.status", "OL"),
    ("ups.load", "25"),
    ("battery.charge", "100"),
    ("battery.charge.low", "20"),
    ("battery.runtime", "1800"),
    ("battery.runtime.low", "300"),
    ("input.voltage", "230.0"),
];

/// The configuration directory (`NUT_CONFPATH`).
pub(super) fn etc(top: &Path) -> PathBuf {
    top.join("etc")
}

/// The state directory (`NUT_STATEPATH`): the driver's socket.
pub(super) fn run(top: &Path) -> PathBuf {
    top.join("run")
}

/// The driver's `.dev` file.
pub(super) fn dev(top: &Path) -> PathBuf {
    etc(top).join(format!("{UPS}.dev"))
}

/// The second UPS's variables: on battery, and never moved.
const SECOND: &[(&str, &str)] =
    &[("device.type", "ups"), ("ups.status", "OB DISCHRG"), ("battery.charge", "60"), ("battery.runtime", "900")];

/// Writes `ups.conf` (with [`SECOND_UPS`] when `second`) and `upsd.users`, and makes the tree
/// usable by the `nut` user.
pub(super) fn write_config(top: &Path, second: bool) -> io::Result<()> {
    let (etc, run) = (etc(top), run(top));
    fs::create_dir_all(&etc)?;
    fs::create_dir_all(&run)?;
    let escaped = DESCRIPTION.replace('\\', "\\\\").replace('"', "\\\"");
    let mut ups_conf = format!(
        "maxretry = 3\n[{UPS}]\n  driver = dummy-ups\n  port = {}\n  mode = dummy-once\n  pollinterval = 1\n  desc = \"{escaped}\"\n",
        dev(top).display()
    );
    if second {
        let dev = etc.join(format!("{SECOND_UPS}.dev"));
        let text = SECOND.iter().fold(String::new(), |mut text, (k, v)| {
            let _ = writeln!(text, "{k}: {v}");
            text
        });
        fs::write(&dev, text)?;
        fs::set_permissions(&dev, fs::Permissions::from_mode(0o644))?;
        let _ =
            write!(ups_conf, "[{SECOND_UPS}]\n  driver = dummy-ups\n  port = {}\n  mode = dummy-once\n", dev.display());
    }
    fs::write(etc.join("ups.conf"), ups_conf)?;
    let users = format!(
        "[{USER}]\n  password = {PASSWORD}\n  upsmon secondary\n\
         [{NO_LOGIN_USER}]\n  password = {NO_LOGIN_PASSWORD}\n  actions = SET\n\
         [{ADMIN}]\n  password = {ADMIN_PASSWORD}\n  actions = SET FSD\n  instcmds = ALL\n"
    );
    fs::write(etc.join("upsd.users"), users)?;
    fs::set_permissions(top, fs::Permissions::from_mode(0o755))?;
    fs::set_permissions(&etc, fs::Permissions::from_mode(0o755))?;
    if is_root() {
        // Run as root, the daemons drop to `nut`: it must read the configuration and write the
        // state directory. Run as anyone else, they stay that user and need nothing more.
        std::os::unix::fs::chown(&run, None, Some(nut_gid()?))?;
        fs::set_permissions(&run, fs::Permissions::from_mode(0o770))?;
        for name in ["ups.conf", "upsd.users"] {
            share_with_nut(&etc.join(name))?;
        }
    }
    Ok(())
}

/// Writes `upsd.conf`: listen on 127.0.0.1:`port` only, `MAXAGE` `maxage_s`.
pub(super) fn write_upsd_conf(top: &Path, port: u16, maxage_s: u32) -> io::Result<()> {
    let path = etc(top).join("upsd.conf");
    fs::write(&path, format!("LISTEN 127.0.0.1 {port}\nMAXAGE {maxage_s}\n"))?;
    if is_root() {
        share_with_nut(&path)?;
    }
    Ok(())
}

/// Rewrites the `.dev` file atomically, its mtime at least one whole second past the old one:
/// `dummy-ups` compares mtimes in whole seconds, so a second change within a second would be lost.
pub(super) fn write_dev(top: &Path, vars: &[(String, String)]) -> io::Result<()> {
    let dev = dev(top);
    let old = fs::metadata(&dev).and_then(|m| m.modified()).map_or(0, secs);
    let text = vars.iter().fold(String::new(), |mut text, (k, v)| {
        let _ = writeln!(text, "{k}: {v}");
        text
    });
    let tmp = dev.with_extension("dev.tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.set_permissions(fs::Permissions::from_mode(0o644))?;
    let mtime = secs(SystemTime::now()).max(old + 1);
    file.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))?;
    drop(file);
    fs::rename(&tmp, &dev)
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn share_with_nut(path: &Path) -> io::Result<()> {
    std::os::unix::fs::chown(path, None, Some(nut_gid()?))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o640))
}

fn nut_gid() -> io::Result<u32> {
    let groups = fs::read_to_string("/etc/group")?;
    groups
        .lines()
        .find_map(|l| l.strip_prefix("nut:").and_then(|rest| rest.split(':').nth(1)).and_then(|g| g.parse().ok()))
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no group `nut` (is nut-server installed?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dev_rewrite_moves_the_mtime_forward_by_whole_seconds() {
        let top = tempfile::tempdir().expect("temp dir");
        fs::create_dir_all(etc(top.path())).expect("etc");
        let mtime = || fs::metadata(dev(top.path())).and_then(|m| m.modified()).map(secs).expect("mtime");
        let vars = vec![("ups.status".to_owned(), "OL".to_owned())];
        write_dev(top.path(), &vars).expect("first write");
        let first = mtime();
        write_dev(top.path(), &vars).expect("second write");
        write_dev(top.path(), &vars).expect("third write");
        assert_eq!(mtime(), first + 2);
        assert_eq!(fs::read_to_string(dev(top.path())).expect("dev"), "ups.status: OL\n");
    }
}
