//! The Debian package (`scripts/package-deb.sh`): its contents, modes and maintainer scripts
//! (`dpkg-deb`), then a real install, upgrade, removal and purge by `dpkg` into a throwaway root.

use crate::common::repo;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(out.status.success(), "{cmd:?}:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// Build the package of the test build's binary, at `version`, into `out`.
fn build(out: &Path, version: &str) -> PathBuf {
    let binary = assert_cmd::cargo::cargo_bin("ananke");
    let stdout = run(Command::new(repo().join("scripts/package-deb.sh"))
        .env("ANANKE_BINARY", &binary)
        .env("ANANKE_DEB_VERSION", version)
        .env("ANANKE_DEB_OUT", out)
        .env("ANANKE_DEB_LEVEL", "0"));
    PathBuf::from(stdout.trim())
}

/// `dpkg` acting on `root` only, running the maintainer scripts outside a chroot with `DPKG_ROOT`.
fn dpkg(root: &Path, args: &[&str]) -> String {
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--force-script-chrootless", "--force-depends", "--log=/dev/null"])
        .args(args))
}

#[test]
fn the_package_holds_the_binary_units_conffile_completions_and_man_pages() {
    let dir = tempfile::tempdir().unwrap();
    let deb = build(dir.path(), "0.1.0-1");
    assert!(deb.file_name().unwrap().to_string_lossy().starts_with("ananke_0.1.0-1_"), "{}", deb.display());
    let contents = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    let entry = |path: &str| {
        contents.lines().find(|l| l.ends_with(&format!(" ./{path}"))).unwrap_or_else(|| panic!("{path}:\n{contents}"))
    };
    for (path, mode) in [
        ("usr/bin/ananke", "-rwxr-xr-x root/root"),
        ("etc/ananke/", "drwxr-x--- root/root"),
        ("etc/ananke/ananke.yaml", "-rw-r----- root/root"),
        ("lib/systemd/system/ananke.service", "-rw-r--r-- root/root"),
        ("lib/systemd/system/ananke-bootstrap.service", "-rw-r--r-- root/root"),
        ("usr/share/bash-completion/completions/ananke", "-rw-r--r-- root/root"),
        ("usr/share/zsh/vendor-completions/_ananke", "-rw-r--r-- root/root"),
        ("usr/share/fish/vendor_completions.d/ananke.fish", "-rw-r--r-- root/root"),
        ("usr/share/man/man1/ananke.1.gz", "-rw-r--r-- root/root"),
        ("usr/share/man/man1/ananke-startup.1.gz", "-rw-r--r-- root/root"),
        ("usr/share/man/man1/ananke-config-check.1.gz", "-rw-r--r-- root/root"),
    ] {
        assert!(entry(path).starts_with(mode), "{path}: {}", entry(path));
    }
    assert!(!contents.contains("var/lib/ananke"), "postinst makes the state dir, so removal never takes it");
    assert!(!contents.contains("ananke-update"), "a packaged host updates through apt, not update.sh");
    let control = dir.path().join("control");
    run(Command::new("dpkg-deb").arg("--control").arg(&deb).arg(&control));
    let text = |name: &str| std::fs::read_to_string(control.join(name)).unwrap();
    assert_eq!(text("conffiles"), "/etc/ananke/ananke.yaml\n");
    let fields = text("control");
    assert!(fields.contains("Package: ananke\n") && fields.contains("Version: 0.1.0-1\n"), "{fields}");
    assert!(fields.contains("Depends: libc6 (>= 2."), "{fields}");
    for script in ["postinst", "prerm", "postrm"] {
        run(Command::new("sh").arg("-n").arg(control.join(script)));
    }
    let postinst = text("postinst");
    assert!(postinst.contains("groupadd --system"), "the group is made in postinst");
    assert!(postinst.contains("systemctl try-restart ananke.service"), "an upgrade restarts the daemon");
    let unpacked = dir.path().join("unpacked");
    run(Command::new("dpkg-deb").arg("--extract").arg(&deb).arg(&unpacked));
    let unit = std::fs::read_to_string(unpacked.join("lib/systemd/system/ananke.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/ananke daemon") && !unit.contains("/usr/local"), "{unit}");
    let page = run(Command::new("zcat").arg(unpacked.join("usr/share/man/man1/ananke-startup.1.gz")));
    assert!(page.contains(".TH ananke-startup 1"), "{page}");
}

#[test]
fn dpkg_installs_upgrades_keeping_the_config_and_removes_keeping_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (build(&dir.path().join("1"), "0.1.0-1"), build(&dir.path().join("2"), "0.1.0-2"));
    let root = dir.path().join("root");
    for sub in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    for file in ["passwd", "group", "shadow", "gshadow"] {
        std::fs::copy(Path::new("/etc").join(file), root.join("etc").join(file)).unwrap();
    }
    let host_group = std::fs::read_to_string("/etc/group").unwrap();
    let installed = dpkg(&root, &["-i", first.to_str().unwrap()]);
    assert!(installed.contains("ananke config check"), "postinst says what to do next: {installed}");

    let group = std::fs::read_to_string(root.join("etc/group")).unwrap();
    let gid: u32 = group
        .lines()
        .find_map(|l| l.strip_prefix("ananke:x:"))
        .and_then(|rest| rest.split(':').next()?.parse().ok())
        .unwrap_or_else(|| panic!("postinst made the group:\n{group}"));
    assert_eq!(std::fs::read_to_string("/etc/group").unwrap(), host_group, "the host is untouched");
    for (path, want) in [
        ("var/lib/ananke", 0o750),
        ("var/lib/ananke/reports", 0o750),
        ("etc/ananke", 0o750),
        ("etc/ananke/ananke.yaml", 0o640),
    ] {
        let meta = std::fs::metadata(root.join(path)).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!((meta.uid(), meta.gid()), (0, gid), "{path}");
        assert_eq!(mode, want, "{path}");
    }
    let version = run(Command::new(root.join("usr/bin/ananke")).arg("--version"));
    assert!(version.starts_with("ananke 0.1.0 (commit "), "{version}");

    // The operator edits the config and runs a drill; an upgrade keeps both.
    let config = root.join("etc/ananke/ananke.yaml");
    std::fs::write(&config, "# the operator's own\n").unwrap();
    std::fs::write(root.join("var/lib/ananke/runs.json"), "{}").unwrap();
    dpkg(&root, &["-i", second.to_str().unwrap()]);
    assert!(dpkg(&root, &["-s", "ananke"]).contains("Version: 0.1.0-2"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# the operator's own\n");

    // An operator who deleted the conffile keeps it deleted, and configure still succeeds.
    std::fs::remove_file(&config).unwrap();
    dpkg(&root, &["-i", second.to_str().unwrap()]);
    assert!(!config.exists(), "dpkg keeps a deleted conffile deleted");
    std::fs::write(&config, "# the operator's own\n").unwrap();
    dpkg(&root, &["-r", "ananke"]);
    assert!(!root.join("usr/bin/ananke").exists() && !root.join("lib/systemd/system/ananke.service").exists());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# the operator's own\n", "remove keeps conffiles");
    assert!(root.join("var/lib/ananke/runs.json").is_file(), "remove keeps the state dir");
    dpkg(&root, &["-P", "ananke"]);
    assert!(!config.exists(), "purge removes the config");
    assert!(root.join("var/lib/ananke/runs.json").is_file(), "purge keeps the run history");
}
