//! End to end (tier 4 with real adapters): the real `ananke` binary, without `--sim`, recovers a
//! lab served by `ananke-sim serve` (the Kubernetes API over HTTPS, Vault per pod, Gitea's
//! health, the checks and the ingress over HTTP), with its nodes behind real sshd (whose
//! `systemctl` reaches the simulator's control endpoint) and its UPSes behind a real upsd.

use crate::common::{ananke, read_json};
use ananke_core::config::{CommandSpec, Config, HumanDuration, UnsealKeySource};
use ananke_sim::serve::{ServeOptions, Server};
use ananke_testing::nut::NutServer;
use ananke_testing::sshd::SshdFleet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Model seconds per real second: the lab's boots and starts take a fraction of a second.
const SPEED: f64 = 200.0;

/// `ananke-sim serve` in-process, on a thread with its own runtime; stopped on drop.
struct Serve {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// What the serve thread hands back once it listens.
struct Served {
    /// The scenario's config pointed at the endpoints.
    config: Config,
    control_url: String,
    standard_shares: String,
}

impl Serve {
    fn start(scenario: &str, dir: &Path, speed: f64) -> (Serve, Served) {
        let lab = ananke_sim::builtin(scenario).unwrap();
        let options = ServeOptions { speed, dir: Some(dir.to_owned()), ..ServeOptions::default() };
        let (tx, rx) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let mut config = lab.ananke_config();
                let server = Server::start(lab, options).await.unwrap();
                server.endpoints().rewrite_config(&mut config);
                let ready = Served {
                    config,
                    control_url: server.control_url().to_owned(),
                    standard_shares: server.endpoints().standard_shares_text(),
                };
                tx.send(ready).unwrap();
                let _ = stopped.await;
                server.shutdown().await;
            });
        });
        let served = rx.recv_timeout(Duration::from_secs(30)).expect("serve starts");
        (Serve { stop: Some(stop), thread: Some(thread) }, served)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How the lab's nodes are logged into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Login {
    /// As root, no prefix.
    Root,
    /// As a non-root user through `ssh.command_prefix: [sudo, -n]`, with the README's sudoers rule.
    Sudo,
    /// The same without the rule: every privileged command is refused.
    SudoWithoutRule,
}

/// A served scenario, its nodes behind sshd, a UPS behind upsd, and the config pointing at them.
pub(crate) struct Lab {
    /// Dropped before the fleet (fields drop in order): the next fleet of the sudo user must not
    /// find this one's rule.
    _sudo: Option<ananke_testing::sshd::sudo::SudoRule>,
    serve: Option<Serve>,
    fleet: Option<SshdFleet>,
    _nut: NutServer,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) config: PathBuf,
    pub(crate) state: PathBuf,
}

impl Lab {
    pub(crate) fn start(scenario: &str) -> Lab {
        Self::start_with(scenario, Login::Root)
    }

    pub(crate) fn start_with(scenario: &str, login: Login) -> Lab {
        Self::start_at(scenario, login, SPEED)
    }

    /// The lab served `speed` times faster than real time.
    pub(crate) fn start_at(scenario: &str, login: Login, speed: f64) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let (serve, served) = Serve::start(scenario, &dir.path().join("serve"), speed);
        let mut config = served.config;
        let n = config.inventory.nodes.len();
        let fleet = if login == Login::Root { SshdFleet::start(n) } else { SshdFleet::start_unprivileged(n) };
        let fleet = fleet.unwrap_or_else(|e| panic!("sshd fleet (packages openssh-server, sudo): {e}"));
        let sudo = (login == Login::Sudo).then(|| fleet.allow_sudo().expect("visudo accepts the rule"));
        let nut = NutServer::start().expect("upsd and dummy-ups start (packages nut-server, nut-client)");
        config.ssh = fleet.ssh_settings();
        if login != Login::Root {
            config.ssh.command_prefix = vec!["sudo".into(), "-n".into()];
        }
        for (i, node) in config.inventory.nodes.iter_mut().enumerate() {
            let sshd = &fleet.nodes()[i];
            node.address = sshd.address.to_string();
            node.ssh_port = sshd.port;
            fleet.forward_to_control(i + 1, &served.control_url, &node.name).unwrap();
        }
        for domain in &mut config.power_domains {
            domain.ups = nut.power_domain(&domain.name).ups;
        }
        let state = dir.path().join("state");
        config.state_dir.clone_from(&state);
        config.kubernetes.kubeconfig = Some(dir.path().join("serve/kubeconfig.yaml"));
        config.coordination.peer_hosts.clear();
        config.coordination.local_node = None;
        let shares = dir.path().join("shares.txt");
        std::fs::write(&shares, &served.standard_shares).unwrap();
        let vault = config.vault.as_mut().expect("the lab has Vault");
        vault.unseal_keys = UnsealKeySource::File(shares.clone());
        if scenario == "vault-breakglass" {
            // The standard retrieval fails; the breakglass command prints valid shares.
            let fail = CommandSpec { argv: vec!["false".into()], timeout: HumanDuration::secs(5) };
            vault.unseal_keys = UnsealKeySource::Command(fail);
            let cat =
                CommandSpec { argv: vec!["cat".into(), shares.display().to_string()], timeout: HumanDuration::secs(5) };
            config.startup.vault_unseal_breakglass_command = Some(cat);
        }
        // Observe often: the served lab runs sped up, and each drill should take seconds.
        config.observe_interval = HumanDuration(Duration::from_millis(500));
        config.soak.duration = HumanDuration::secs(3);
        config.soak.interval = HumanDuration(Duration::from_millis(500));
        config.startup.node_boot_timeout = HumanDuration::secs(60);
        config.startup.converge_timeout = HumanDuration::secs(90);
        config.startup.deadline = HumanDuration::secs(240);
        let path = dir.path().join("ananke.yaml");
        std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
        Lab { _sudo: sudo, serve: Some(serve), fleet: Some(fleet), _nut: nut, dir, config: path, state }
    }

    /// The sshd fleet of the nodes.
    pub(crate) fn fleet(&self) -> &SshdFleet {
        self.fleet.as_ref().expect("the fleet runs")
    }

    /// Stops the API (and everything `serve` serves); the nodes' sshd go on.
    pub(crate) fn stop_api(&mut self) {
        self.serve = None;
    }

    /// Stops the sshd of `node`: it no longer answers.
    pub(crate) fn stop_node(&mut self, node: &str) {
        let index = self.node_index(node);
        self.fleet.as_mut().expect("the fleet runs").stop(index);
    }

    /// The fleet's 1-based index of `node` (fleet order is inventory order).
    pub(crate) fn node_index(&self, node: &str) -> usize {
        let config: Config = serde_yaml_ng::from_str(&std::fs::read_to_string(&self.config).unwrap()).unwrap();
        config.inventory.nodes.iter().position(|n| n.name == node).expect("a node of the lab") + 1
    }

    /// Makes `node` present a host key other than the one `known_hosts` records, as a
    /// reinstalled node does: its `known_hosts` line now holds another key. Returns its index.
    pub(crate) fn change_host_key(&self, node: &str) -> usize {
        let index = self.node_index(node);
        let fleet = self.fleet();
        let other = self.dir.path().join("other_host_key");
        ananke_testing::sshd::SshdFleet::generate_key(&other).unwrap();
        let other_key: Vec<String> = std::fs::read_to_string(other.with_extension("pub"))
            .unwrap()
            .split_whitespace()
            .take(2)
            .map(str::to_owned)
            .collect();
        let lines: Vec<String> = (1..=fleet.nodes().len())
            .map(|i| {
                if i == index {
                    format!("{} {}", fleet.nodes()[i - 1].known_hosts_name(), other_key.join(" "))
                } else {
                    fleet.known_hosts_line(i)
                }
            })
            .collect();
        let known_hosts = self.dir.path().join("known_hosts.changed");
        std::fs::write(&known_hosts, lines.join("\n") + "\n").unwrap();
        self.edit_config(|c| c.ssh.known_hosts.clone_from(&known_hosts));
        index
    }

    /// Stops the API (and everything `serve` serves) and every node's sshd: nothing answers.
    pub(crate) fn cut_everything(&mut self) {
        self.serve = None;
        self.fleet.as_mut().expect("the fleet runs").stop_all();
    }

    /// Rewrites the config with `edit` applied.
    pub(crate) fn edit_config(&self, edit: impl FnOnce(&mut Config)) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let mut config: Config = serde_yaml_ng::from_str(&text).unwrap();
        edit(&mut config);
        std::fs::write(&self.config, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    }

    /// `ananke ARGS --config CONFIG` (no `--sim`) -> (code, stdout, stderr).
    pub(crate) fn ananke(&self, args: &[&str]) -> (i32, String, String) {
        self.ananke_env(args, &[])
    }

    /// `ananke ARGS --config CONFIG` with `env` added to its environment.
    pub(crate) fn ananke_env(&self, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> (i32, String, String) {
        let mut cmd = ananke();
        cmd.args(args).arg("--config").arg(&self.config).timeout(Duration::from_secs(300));
        for (key, value) in env {
            cmd.env(key, value);
        }
        let out = cmd.output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }

    /// The run's report, history copy and trace exist, and the trace replays without divergence.
    pub(crate) fn check_reports(&self, command: &str) -> serde_json::Value {
        let report = read_json(&self.state.join(format!("last-{command}-report.json")));
        let run_id = report["run_id"].as_str().unwrap().to_owned();
        assert_eq!(read_json(&self.state.join(format!("reports/{run_id}.json"))), report);
        let trace = self.state.join(format!("reports/{run_id}.trace.jsonl"));
        let replay = ananke_sim::replay::replay_file(&trace, Some(&self.config)).unwrap();
        assert!(
            matches!(replay, ananke_sim::replay::ReplayReport::NoDivergence { records } if records > 1),
            "{replay}"
        );
        report
    }

    /// `status`, `shutdown --execute --reason drill`, `startup --execute`, each checked; the
    /// startup report.
    pub(crate) fn drill(&self) -> serde_json::Value {
        let (code, stdout, stderr) = self.ananke(&["status"]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(stdout.contains("titan-db") && stdout.contains("titan-jh"), "{stdout}");
        let (code, json, stderr) = self.ananke(&["status", "--json"]);
        assert_eq!(code, 0, "{stderr}");
        let status: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(status["api_reachable"], true, "{json}");
        assert_eq!(status["target"], "host");

        let (code, stdout, stderr) = self.ananke(&["shutdown", "--execute", "--reason", "drill", "-q"]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(stdout.contains("Succeeded in state off"), "{stdout}\n{stderr}");
        let shutdown = self.check_reports("shutdown");
        assert_eq!(shutdown["reason"], "drill");
        assert_eq!(shutdown["effect_counts"].get("power-off-host"), None, "cluster-only never powers a host off");

        let (code, stdout, stderr) = self.ananke(&["startup", "--execute", "-q"]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(stdout.contains("Succeeded in state ready"), "{stdout}\n{stderr}");
        let startup = self.check_reports("startup");
        eprintln!("shutdown phases {}\nstartup phases {}", shutdown["phases"], startup["phases"]);
        for file in ["startup-progress.json", "last-startup-report.json", "runs.json", "journal.json"] {
            assert_eq!(read_json(&self.state.join(file))["version"], 1, "{file}");
        }
        let progress = read_json(&self.state.join("startup-progress.json"));
        assert_eq!(progress["state"], "ready");
        let gates = progress["gates"].as_array().unwrap();
        assert_eq!(gates.len(), 9);
        assert!(gates.iter().all(|g| g["verdict"] == "pass"), "{gates:?}");
        assert_eq!(read_json(&self.state.join("runs.json"))["runs"].as_array().unwrap().len(), 2);
        let _ = self.dir.path();
        startup
    }
}

#[test]
fn titan_lab_drill_with_real_adapters() {
    let startup = Lab::start("titan-lab").drill();
    assert!(startup["effect_counts"]["unseal-vault"].as_u64() > Some(0), "{}", startup["effect_counts"]);
}

#[test]
fn flux_gitea_deadlock_with_real_adapters() {
    let startup = Lab::start("flux-gitea-deadlock").drill();
    let phases = startup["phases"].as_array().unwrap();
    assert!(phases.iter().any(|p| p["state"] == "flux-deadlocked"), "{phases:?}");
}

#[test]
fn vault_breakglass_with_real_adapters() {
    let startup = Lab::start("vault-breakglass").drill();
    let counts = &startup["effect_counts"];
    assert!(counts["unseal-vault-breakglass"].as_u64() > Some(0), "{counts}");
}

#[test]
fn kubectl_watching_the_nodes_sees_each_cordon_of_a_real_shutdown_as_it_happens() {
    let lab = Lab::start("titan-lab");
    let kubeconfig = lab.dir.path().join("serve/kubeconfig.yaml");
    let watcher = std::process::Command::new("timeout")
        .args(["120", "kubectl", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(lab.dir.path().join("kubectl-cache"))
        .args(["get", "nodes", "--watch", "--output-watch-events"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl runs (or Debian's kubernetes-client: scripts/test.sh installs it)");
    std::thread::sleep(Duration::from_secs(2));
    let (code, stdout, stderr) = lab.ananke(&["shutdown", "--execute", "--reason", "drill", "-q"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let _ = std::process::Command::new("kill").arg(watcher.id().to_string()).status();
    let out = watcher.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    let config: Config = serde_yaml_ng::from_str(&std::fs::read_to_string(&lab.config).unwrap()).unwrap();
    for node in &config.inventory.nodes {
        let cordoned = printed.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.len() > 2
                && cells[0] == "MODIFIED"
                && cells[1] == node.name
                && cells[2].contains("SchedulingDisabled")
        });
        assert!(cordoned, "{} seen cordoned:\n{printed}\n{}", node.name, String::from_utf8_lossy(&out.stderr));
    }
}
