//! Reading the config file: the one file read of the configuration, kept out of the pure
//! `config` module (which parses and validates text).

use crate::config::{locate, parse, Config, ConfigError, FileRef, FileUse, Format, Problem};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Load and validate the config at `path` (TOML when its extension is `.toml`, YAML otherwise).
///
/// # Errors
/// When the file cannot be read, does not parse, or fails validation.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    parse(&text, Format::of(path), path)
}

/// Check, as the user running this, what `files` name (see [`crate::config::referenced_files`]):
/// every file exists and can be opened for reading, a secret is not readable by every user, a
/// program exists and is executable (a bare name: somewhere in `PATH`), a directory ananke writes
/// is writable (or, missing, can be made in a writable parent). Nothing is written.
///
/// Problems are located in the config at `origin` where their field is written.
#[must_use]
pub fn check_files(origin: &Path, files: &[FileRef]) -> Vec<Problem> {
    let user = User::current();
    let findings: Vec<(String, String)> = files
        .iter()
        .filter_map(|f| {
            let why = match f.used {
                FileUse::Read => readable(&f.path, &user).err(),
                FileUse::Secret => readable(&f.path, &user).and_then(|()| private(&f.path)).err(),
                FileUse::Program => program(&f.path, &user).err(),
                FileUse::WritableDir => writable_dir(&f.path, &user).err(),
            }?;
            Some((f.field.clone(), format!("{} `{}` {why}", f.what, f.path.display())))
        })
        .collect();
    let text = std::fs::read_to_string(origin).unwrap_or_default();
    let mut problems = locate(&text, Format::of(origin), origin, findings);
    problems.sort_by_key(|p| (p.line.is_none(), p.line, p.column));
    problems
}

/// Who this process is: its effective uid and every group it has (from `/proc/self/status`).
struct User {
    uid: u32,
    groups: Vec<u32>,
}

impl User {
    fn current() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| -> Vec<u32> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|rest| rest.split_whitespace().filter_map(|n| n.parse().ok()).collect())
                .unwrap_or_default()
        };
        // `Uid:` and `Gid:` list real, effective, saved and filesystem ids: the effective decides.
        let uid = field("Uid:").get(1).copied().unwrap_or(u32::MAX);
        let mut groups = field("Groups:");
        groups.extend(field("Gid:").get(1));
        Self { uid, groups }
    }

    /// Whether the permission bits `mode` of a file owned by `uid`:`gid` grant `bit` (4 read, 2
    /// write, 1 execute) to this user. Root passes every read and write check, and runs a file
    /// when anyone may.
    fn may(&self, meta: &std::fs::Metadata, bit: u32) -> bool {
        let mode = meta.mode();
        if self.uid == 0 {
            return bit != 1 || mode & 0o111 != 0;
        }
        let shift = if meta.uid() == self.uid {
            6
        } else if self.groups.contains(&meta.gid()) {
            3
        } else {
            0
        };
        mode >> shift & bit != 0
    }

    fn describe(&self) -> String {
        format!("uid {}", self.uid)
    }
}

fn metadata(path: &Path) -> Result<std::fs::Metadata, String> {
    std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".to_owned(),
        _ => format!("cannot be inspected: {e}"),
    })
}

fn readable(path: &Path, user: &User) -> Result<(), String> {
    let meta = metadata(path)?;
    if meta.is_dir() {
        return Err("is a directory; expected a file".to_owned());
    }
    std::fs::File::open(path).map(drop).map_err(|e| format!("cannot be read by {}: {e}", user.describe()))
}

fn private(path: &Path) -> Result<(), String> {
    let mode = metadata(path)?.mode() & 0o777;
    if mode & 0o004 != 0 {
        return Err(format!("is readable by every user (mode {mode:04o}) and holds a secret; `chmod o-r` it"));
    }
    Ok(())
}

fn program(path: &Path, user: &User) -> Result<(), String> {
    let executable = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && user.may(&m, 1));
    if path.components().count() > 1 || path.is_absolute() {
        let meta = metadata(path)?;
        if meta.is_dir() || !user.may(&meta, 1) {
            return Err(format!("is not executable by {}", user.describe()));
        }
        return Ok(());
    }
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| executable(&d.join(path))));
    if found {
        Ok(())
    } else {
        Err("is not an executable in PATH".to_owned())
    }
}

fn writable_dir(path: &Path, user: &User) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => Err("is not a directory".to_owned()),
        Ok(meta) if !user.may(&meta, 2) || !user.may(&meta, 1) => {
            Err(format!("is not writable by {}", user.describe()))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = path.ancestors().skip(1).find(|p| p.exists()).unwrap_or(Path::new("/"));
            writable_dir(parent, user)
                .map_err(|why| format!("does not exist, and ananke cannot create it: `{}` {why}", parent.display()))
        }
        Err(e) => Err(format!("cannot be inspected: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FileUse;
    use std::os::unix::fs::PermissionsExt;

    fn file_ref(field: &str, path: &Path, used: FileUse) -> FileRef {
        FileRef { field: field.to_owned(), what: "thing".to_owned(), path: path.to_owned(), used }
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn missing_unreadable_public_secrets_and_programs_are_located_in_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("ananke.yaml");
        std::fs::write(&config, "ssh:\n  identity_file: /k\n  known_hosts: /h\nstate_dir: /s\n").unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "secret").unwrap();
        chmod(&key, 0o644);
        let script = dir.path().join("breakglass");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        chmod(&script, 0o644);
        let files = [
            file_ref("ssh.identity_file", &key, FileUse::Secret),
            file_ref("ssh.known_hosts", &dir.path().join("missing"), FileUse::Read),
            file_ref("state_dir", &key, FileUse::WritableDir),
            file_ref("", dir.path(), FileUse::Read),
            file_ref("x.argv[0]", &script, FileUse::Program),
            file_ref("y.argv[0]", Path::new("no-such-program-anywhere"), FileUse::Program),
        ];
        let problems: Vec<String> = check_files(&config, &files).iter().map(ToString::to_string).collect();
        let at = config.display();
        // Sorted by line; a field the file does not write points at the document (1:1).
        let want = [
            format!("{at}:1:1: x.argv[0]: thing `{}` is not executable by uid", script.display()),
            format!("{at}:1:1: y.argv[0]: thing `no-such-program-anywhere` is not an executable in PATH"),
            format!("{at}:2:18: ssh.identity_file: thing `{}` is readable by every user (mode 0644)", key.display()),
            format!("{at}:3:16: ssh.known_hosts: thing `{}/missing` does not exist", dir.path().display()),
            format!("{at}:4:12: state_dir: thing `{}` is not a directory", key.display()),
            format!("{at}: thing `{}` is a directory; expected a file", dir.path().display()),
        ];
        assert_eq!(problems.len(), want.len(), "{problems:#?}");
        for (got, want) in problems.iter().zip(&want) {
            assert!(got.starts_with(want.as_str()), "{got}\nshould start with\n{want}");
        }
        chmod(&key, 0o600);
        chmod(&script, 0o755);
        let fine = [
            file_ref("ssh.identity_file", &key, FileUse::Secret),
            file_ref("x", &script, FileUse::Program),
            file_ref("y", Path::new("sh"), FileUse::Program),
            file_ref("state_dir", &dir.path().join("new/state"), FileUse::WritableDir),
        ];
        assert_eq!(check_files(&config, &fine), []);
    }

    #[test]
    fn permission_bits_are_read_for_owner_group_and_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "").unwrap();
        let meta = |mode| {
            chmod(&path, mode);
            std::fs::metadata(&path).unwrap()
        };
        let owner = User { uid: meta(0o600).uid(), groups: vec![] };
        assert!(owner.may(&meta(0o600), 4) && owner.may(&meta(0o200), 2) && !owner.may(&meta(0o600), 1));
        let member = User { uid: u32::MAX - 1, groups: vec![meta(0o600).gid()] };
        assert!(!member.may(&meta(0o600), 4) && member.may(&meta(0o640), 4) && !member.may(&meta(0o640), 2));
        let other = User { uid: u32::MAX - 1, groups: vec![] };
        assert!(!other.may(&meta(0o660), 4) && other.may(&meta(0o604), 4));
        let root = User { uid: 0, groups: vec![] };
        assert!(root.may(&meta(0o000), 4) && root.may(&meta(0o000), 2) && !root.may(&meta(0o600), 1));
        assert!(root.may(&meta(0o100), 1));
        assert_eq!(User::current().uid, meta(0o600).uid(), "the test's own file is the test's user's");
    }
}
