//! Which kubeconfig ananke reads, chosen as kubectl chooses it.
//!
//! Precedence, first match wins:
//! 1. `--kubeconfig FILE` on the command line (an explicit flag is never overridden);
//! 2. the config's `kubernetes.kubeconfig`, when set (what the daemon under systemd uses);
//! 3. `KUBECONFIG`: a `:`-separated list, merged as kubectl merges it (the first file to set a value
//!    wins; files that do not exist are skipped, as kubectl skips them; empty entries ignored);
//! 4. `~/.kube/config`, when it exists;
//! 5. the k3s path `/etc/rancher/k3s/k3s.yaml`.
//!
//! The context is `--context`, else the config's `kubernetes.context`, else the kubeconfig's
//! `current-context`.

use kube::config::{KubeConfigOptions, Kubeconfig};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where k3s writes the cluster's admin kubeconfig: the last resort.
pub const K3S_KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";

/// Which rule chose the kubeconfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeconfigOrigin {
    /// `--kubeconfig`.
    Flag,
    /// The config's `kubernetes.kubeconfig`.
    Config,
    /// The `KUBECONFIG` environment variable.
    Env,
    /// `~/.kube/config`.
    Home,
    /// The k3s path.
    K3s,
}

impl fmt::Display for KubeconfigOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flag => "--kubeconfig",
            Self::Config => "the config's kubernetes.kubeconfig",
            Self::Env => "KUBECONFIG",
            Self::Home => "~/.kube/config",
            Self::K3s => "the k3s default",
        })
    }
}

/// What the command line says about the kubeconfig (both optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeconfigFlags {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
}

/// The environment the choice depends on (read once, so the choice is a pure function of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeconfigEnv {
    /// `KUBECONFIG`, if set.
    pub kubeconfig: Option<OsString>,
    /// `HOME`, if set.
    pub home: Option<PathBuf>,
}

impl KubeconfigEnv {
    /// This process's environment.
    #[must_use]
    pub fn from_process() -> Self {
        Self { kubeconfig: std::env::var_os("KUBECONFIG"), home: std::env::var_os("HOME").map(PathBuf::from) }
    }
}

/// The kubeconfig file(s) to read and the context to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeconfigSource {
    /// The files, merged in this order (one, except from `KUBECONFIG`).
    pub paths: Vec<PathBuf>,
    /// The rule that chose them.
    pub origin: KubeconfigOrigin,
    /// The context, when not the kubeconfig's `current-context`.
    pub context: Option<String>,
}

impl KubeconfigSource {
    /// Choose by the precedence of this module's doc. `config_path` and `config_context` are the
    /// config's `kubernetes.kubeconfig` and `kubernetes.context`.
    #[must_use]
    pub fn choose(
        flags: &KubeconfigFlags,
        config_path: Option<&Path>,
        config_context: Option<&str>,
        env: &KubeconfigEnv,
    ) -> Self {
        let context = flags.context.clone().or_else(|| config_context.map(str::to_owned));
        let one = |path: PathBuf, origin| Self { paths: vec![path], origin, context: context.clone() };
        if let Some(path) = &flags.kubeconfig {
            return one(path.clone(), KubeconfigOrigin::Flag);
        }
        if let Some(path) = config_path {
            return one(path.to_path_buf(), KubeconfigOrigin::Config);
        }
        if let Some(list) = &env.kubeconfig {
            let paths: Vec<PathBuf> = std::env::split_paths(list).filter(|p| !p.as_os_str().is_empty()).collect();
            if !paths.is_empty() {
                return Self { paths, origin: KubeconfigOrigin::Env, context };
            }
        }
        if let Some(home) = &env.home {
            let path = home.join(".kube/config");
            if path.is_file() {
                return one(path, KubeconfigOrigin::Home);
            }
        }
        one(PathBuf::from(K3S_KUBECONFIG), KubeconfigOrigin::K3s)
    }

    /// A single file, as a config or a test names it.
    #[must_use]
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self { paths: vec![path.into()], origin: KubeconfigOrigin::Config, context: None }
    }

    /// Read and merge the files, and the options that pick the context.
    ///
    /// # Errors
    /// What is wrong, naming the file: unreadable, not a kubeconfig, a merge conflict, or (from
    /// `KUBECONFIG`) no listed file exists.
    pub fn read(&self) -> Result<(Kubeconfig, KubeConfigOptions), String> {
        let skip_missing = self.origin == KubeconfigOrigin::Env;
        // The source names a single file already; of a list, say which file.
        let at = |path: &Path, e: &dyn fmt::Display| {
            if self.paths.len() > 1 {
                format!("{}: {e}", path.display())
            } else {
                e.to_string()
            }
        };
        let mut merged: Option<Kubeconfig> = None;
        for path in &self.paths {
            if skip_missing && !path.exists() {
                continue;
            }
            let next = Kubeconfig::read_from(path).map_err(|e| at(path, &e))?;
            merged = Some(match merged {
                Some(m) => m.merge(next).map_err(|e| at(path, &e))?,
                None => next,
            });
        }
        let kubeconfig = merged.ok_or_else(|| format!("none of the files it lists exists: {self}"))?;
        Ok((kubeconfig, KubeConfigOptions { context: self.context.clone(), ..KubeConfigOptions::default() }))
    }
}

impl KubeconfigSource {
    /// The files, `:`-separated as in `KUBECONFIG`.
    #[must_use]
    pub fn paths_display(&self) -> String {
        let paths: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        paths.join(":")
    }
}

impl fmt::Display for KubeconfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.paths_display(), self.origin)?;
        if let Some(context) = &self.context {
            write!(f, ", context {context}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "apiVersion: v1\nkind: Config\ncurrent-context: one\nclusters:\n- name: one\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: one\n  context:\n    cluster: one\n    user: one\nusers:\n- name: one\n  user:\n    token: t1\n";
    const TWO: &str = "apiVersion: v1\nkind: Config\ncurrent-context: two\nclusters:\n- name: two\n  cluster:\n    server: https://127.0.0.2:2\ncontexts:\n- name: two\n  context:\n    cluster: two\n    user: two\nusers:\n- name: two\n  user:\n    token: t2\n";

    fn failure(source: &KubeconfigSource) -> String {
        source.read().err().expect("the read fails")
    }

    fn flags(kubeconfig: Option<&str>, context: Option<&str>) -> KubeconfigFlags {
        KubeconfigFlags { kubeconfig: kubeconfig.map(PathBuf::from), context: context.map(str::to_owned) }
    }

    #[test]
    fn the_flag_then_the_config_then_kubeconfig_then_home_then_k3s() {
        let home = tempfile::tempdir().unwrap();
        let env = KubeconfigEnv { kubeconfig: Some("/e/a::/e/b".into()), home: Some(home.path().to_path_buf()) };
        let config = Some(Path::new("/c/kube.yaml"));
        let chosen = |f: &KubeconfigFlags, c: Option<&Path>, e: &KubeconfigEnv| {
            let s = KubeconfigSource::choose(f, c, None, e);
            (s.origin, s.paths)
        };
        let p = |s: &str| vec![PathBuf::from(s)];
        assert_eq!(chosen(&flags(Some("/f"), None), config, &env), (KubeconfigOrigin::Flag, p("/f")));
        assert_eq!(chosen(&flags(None, None), config, &env), (KubeconfigOrigin::Config, p("/c/kube.yaml")));
        let list = vec![PathBuf::from("/e/a"), PathBuf::from("/e/b")];
        assert_eq!(chosen(&flags(None, None), None, &env), (KubeconfigOrigin::Env, list));
        let no_list = KubeconfigEnv { kubeconfig: Some(":".into()), ..env.clone() };
        assert_eq!(chosen(&flags(None, None), None, &no_list), (KubeconfigOrigin::K3s, p(K3S_KUBECONFIG)));
        std::fs::create_dir(home.path().join(".kube")).unwrap();
        std::fs::write(home.path().join(".kube/config"), ONE).unwrap();
        let at_home = home.path().join(".kube/config");
        assert_eq!(chosen(&flags(None, None), None, &no_list), (KubeconfigOrigin::Home, vec![at_home]));
        let nothing = KubeconfigEnv::default();
        assert_eq!(chosen(&flags(None, None), None, &nothing), (KubeconfigOrigin::K3s, p(K3S_KUBECONFIG)));
    }

    #[test]
    fn the_context_flag_beats_the_configs() {
        let env = KubeconfigEnv::default();
        let s = KubeconfigSource::choose(&flags(None, Some("lab")), None, Some("cfg"), &env);
        assert_eq!(s.context.as_deref(), Some("lab"));
        let s = KubeconfigSource::choose(&flags(None, None), None, Some("cfg"), &env);
        assert_eq!(s.context.as_deref(), Some("cfg"));
        assert_eq!(s.to_string(), format!("{K3S_KUBECONFIG} (from the k3s default), context cfg"));
    }

    #[test]
    fn a_kubeconfig_list_merges_first_wins_and_skips_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        std::fs::write(&one, ONE).unwrap();
        std::fs::write(&two, TWO).unwrap();
        let list = std::env::join_paths([dir.path().join("missing"), two.clone(), one.clone()]).unwrap();
        let env = KubeconfigEnv { kubeconfig: Some(list), home: None };
        let source = KubeconfigSource::choose(&flags(None, Some("one")), None, None, &env);
        let (kubeconfig, options) = source.read().unwrap();
        assert_eq!(kubeconfig.current_context.as_deref(), Some("two"), "the first file to set it wins");
        assert_eq!(kubeconfig.contexts.len(), 2);
        assert_eq!(options.context.as_deref(), Some("one"));
        let none = KubeconfigEnv { kubeconfig: Some(dir.path().join("missing").into()), home: None };
        let err = failure(&KubeconfigSource::choose(&flags(None, None), None, None, &none));
        assert!(err.starts_with("none of the files it lists exists: ") && err.contains("(from KUBECONFIG)"), "{err}");
    }

    #[test]
    fn an_unreadable_or_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "clusters: [unclosed\n").unwrap();
        let err = failure(&KubeconfigSource::file(&bad));
        assert!(!err.is_empty() && !err.contains(&bad.display().to_string()), "the source names it: {err}");
        let missing = dir.path().join("missing");
        let err = failure(&KubeconfigSource::file(&missing));
        assert!(err.contains("No such file"), "{err}");
        let conflict = dir.path().join("conflict");
        std::fs::write(&conflict, ONE.replace("kind: Config", "kind: Other")).unwrap();
        std::fs::write(dir.path().join("one"), ONE).unwrap();
        let both = KubeconfigSource {
            paths: vec![dir.path().join("one"), conflict.clone()],
            origin: KubeconfigOrigin::Flag,
            context: None,
        };
        assert!(failure(&both).starts_with(&conflict.display().to_string()));
    }
}
