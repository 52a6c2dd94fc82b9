//! Coordination between the hosts that may run ananke (`coordination` in the config).
//!
//! - Before a mutating run (`--execute`), every host in `coordination.peer_hosts` is checked over
//!   SSH: a peer running a run of its own refuses this one ([`exit::LOCK_HELD`]) unless `--force`
//!   says otherwise; a stale lock, an unreadable one or an unreachable peer is a warning in the
//!   report, never a block (a lock held by a vanished host must not block every recovery).
//!   Dry runs do not check: they change nothing, and must answer at once even with a peer down.
//!   Nor does a simulated run on its scenario's own config: its peers are simulated hosts with no
//!   SSH server (`--sim` with `--config` checks the peers that config names).
//! - In the daemon, a peer (`role: peer`) leaves the decision to shut down to its coordinator while
//!   the coordinator answers over SSH, and acts on its own UPS only when it does not; a peer with
//!   `local_node` set watches only its own power domain. A coordinator watches every domain.

use crate::exit;
use crate::global::GlobalArgs;
use ananke_core::adapters::ssh::peer::{peer_shutdown, PeerShutdown};
use ananke_core::adapters::ssh::{PeerCheck, PeerReport, PeerState};
use ananke_core::config::{CoordinationRole, Node, PowerDomain};
use ananke_core::power::{PowerDecision, PowerInput, PowerPolicy, Severity};
use ananke_core::store::lock::LockHolder;
use ananke_core::{Config, Time};

/// What the peers' states mean for a mutating run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RunVerdict {
    /// For the report (and stderr): stale locks, unreadable or unreachable peers, overridden runs.
    pub warnings: Vec<String>,
    /// Runs in progress on peers that refuse this one (empty with `--force`).
    pub refusals: Vec<String>,
}

/// Check the peers before a mutating run; prints every warning and refusal on stderr.
///
/// # Errors
///
/// [`exit::LOCK_HELD`] when a peer runs ananke and `force` is not set.
pub fn check_before_run(global: &GlobalArgs, config: &Config, force: bool) -> Result<Vec<String>, u8> {
    let peers = peer_nodes(config);
    let scenario_config = global.sim.is_some() && global.config.is_none();
    if peers.is_empty() || scenario_config {
        return Ok(Vec::new());
    }
    let verdict = match check_peers(config, &peers) {
        Ok(reports) => run_verdict(config.coordination.role, &reports, force),
        Err(why) => RunVerdict { warnings: vec![why], refusals: Vec::new() },
    };
    for w in &verdict.warnings {
        crate::log_warn!("{w}");
    }
    if verdict.refusals.is_empty() {
        return Ok(verdict.warnings);
    }
    for r in &verdict.refusals {
        crate::log_error!("{r}");
    }
    Err(exit::LOCK_HELD)
}

/// The verdict of the peer check (pure): only a live run on a peer refuses, and `force` turns
/// that refusal into a warning naming the run it overrides.
#[must_use]
pub fn run_verdict(role: CoordinationRole, reports: &[PeerReport], force: bool) -> RunVerdict {
    let mut verdict = RunVerdict::default();
    for report in reports {
        let who = format!("{} {}", other_role(role), report.peer);
        match &report.state {
            PeerState::Idle => {}
            PeerState::Running(h) if force => {
                verdict.warnings.push(format!("--force: overrode {who}'s running ananke {}", holder(h)));
            }
            PeerState::Running(h) => verdict.refusals.push(format!(
                "{who} is running ananke {}; refusing to start while it runs (wait for it to finish, or pass --force)",
                holder(h)
            )),
            PeerState::StaleLock(h) => verdict.warnings.push(format!(
                "{who} holds a stale lock: ananke {} no longer runs there (it died holding its lock); not blocking",
                holder(h)
            )),
            PeerState::Unreadable(why) => {
                verdict.warnings.push(format!("{who}: its run lock could not be checked: {why}; not blocking"));
            }
            PeerState::Unreachable(why) => {
                let then = match role {
                    CoordinationRole::Coordinator => "its runs could not be checked; proceeding",
                    CoordinationRole::Peer => "this peer acts on its own",
                };
                verdict.warnings.push(format!("{who} is unreachable: {why}; {then}"));
            }
        }
    }
    verdict
}

/// The power domains a host's daemon watches: a peer with `local_node` set watches only that
/// node's domain; a coordinator (or a peer that does not say which node it is) watches every one.
#[must_use]
pub fn watched_domains(config: &Config) -> Vec<PowerDomain> {
    let c = &config.coordination;
    match (&c.role, &c.local_node) {
        (CoordinationRole::Peer, Some(local)) => {
            config.power_domains.iter().filter(|d| d.nodes.contains(local)).cloned().collect()
        }
        _ => config.power_domains.clone(),
    }
}

/// A peer daemon's gate on its power policy's shutdown decisions (see [`peer_shutdown`]).
/// For a coordinator it lets every decision through.
///
/// Blocking: a peer's gate owns a current-thread runtime for its SSH check and enters it only
/// when a shutdown is decided, so the daemon's idle poll never runs an async runtime at all.
pub struct ShutdownGate {
    /// The check of the coordinators, or why they cannot be checked; `None` for a coordinator.
    check: Option<Result<(PeerCheck, tokio::runtime::Runtime), String>>,
    /// A shutdown was deferred at the last poll (report the deferral once, not every poll).
    deferring: bool,
}

impl ShutdownGate {
    /// The gate for this host's role.
    #[must_use]
    pub fn new(config: &Config) -> Self {
        let check = (config.coordination.role == CoordinationRole::Peer).then(|| {
            let coordinators = peer_nodes(config);
            let check = PeerCheck::new(&config.ssh, &coordinators, &config.coordination.peer_state_dir)
                .map_err(|e| e.to_string())?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            Ok((check, rt))
        });
        Self { check, deferring: false }
    }

    /// Let `decisions` through, or, on a peer whose coordinator answers, turn a shutdown into a
    /// report. The policy is told the deferred shutdown did not run, so it stays `Up` and asks
    /// again at the next poll: the moment the coordinator stops answering, the peer acts.
    pub fn filter(
        &mut self,
        policy: &mut PowerPolicy,
        now: Time,
        mut decisions: Vec<PowerDecision>,
    ) -> Vec<PowerDecision> {
        let Some(at) = decisions.iter().position(|d| matches!(d, PowerDecision::StartShutdown { .. })) else {
            self.deferring = false;
            return decisions;
        };
        let rule = match &self.check {
            None => return decisions,
            Some(Ok((check, rt))) => peer_shutdown(&rt.block_on(check.check_all())),
            Some(Err(why)) => PeerShutdown::Act {
                why: format!("the coordinator cannot be checked ({why}): this peer acts on its own UPS"),
            },
        };
        match rule {
            PeerShutdown::Act { why } => {
                self.deferring = false;
                decisions.insert(at, PowerDecision::Report { severity: Severity::Warning, message: why });
                decisions
            }
            PeerShutdown::Defer { message } => {
                let _ = policy.handle(now, &PowerInput::ShutdownDeferred);
                decisions.remove(at);
                // The policy explains a shutdown in the report just before it.
                let reason = match at.checked_sub(1).map(|i| (i, &decisions[i])) {
                    Some((i, PowerDecision::Report { .. })) => match decisions.remove(i) {
                        PowerDecision::Report { message, .. } => format!("{message}; "),
                        _ => String::new(),
                    },
                    _ => String::new(),
                };
                if !self.deferring {
                    decisions.push(PowerDecision::Report {
                        severity: Severity::Notice,
                        message: format!("{reason}not acted on: {message}"),
                    });
                }
                self.deferring = true;
                decisions
            }
        }
    }

    /// Closes the coordinators' sessions.
    pub fn close(&self) {
        if let Some(Ok((check, rt))) = &self.check {
            rt.block_on(check.close());
        }
    }
}

/// `coordination.peer_hosts` as inventory nodes (validation makes every name one).
fn peer_nodes(config: &Config) -> Vec<Node> {
    let peers = &config.coordination.peer_hosts;
    config.inventory.nodes.iter().filter(|n| peers.contains(&n.name)).cloned().collect()
}

/// Read every peer's lock over SSH (one current-thread runtime, sessions closed after).
fn check_peers(config: &Config, peers: &[Node]) -> Result<Vec<PeerReport>, String> {
    let what = other_role(config.coordination.role);
    let check = PeerCheck::new(&config.ssh, peers, &config.coordination.peer_state_dir)
        .map_err(|e| format!("cannot check the {what} hosts over SSH ({e}); proceeding unchecked"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot check the {what} hosts ({e}); proceeding unchecked"))?;
    Ok(rt.block_on(async {
        let reports = check.check_all().await;
        check.close().await;
        reports
    }))
}

/// What this host calls the hosts of its `peer_hosts`: a coordinator's are peers, a peer's are
/// its coordinators.
fn other_role(role: CoordinationRole) -> &'static str {
    match role {
        CoordinationRole::Coordinator => "peer",
        CoordinationRole::Peer => "coordinator",
    }
}

/// A lock holder as reports name it.
fn holder(h: &LockHolder) -> String {
    format!("{} (run {}, pid {}, since {})", h.command, h.run_id, h.pid, h.since)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(run: &str) -> LockHolder {
        LockHolder {
            pid: 4242,
            run_id: run.into(),
            command: "shutdown".into(),
            since: "2026-11-23T00:00:00Z".into(),
            boot_id: None,
        }
    }

    fn report(peer: &str, state: PeerState) -> PeerReport {
        PeerReport { peer: peer.into(), state }
    }

    #[test]
    fn only_a_live_run_refuses_and_force_names_what_it_overrides() {
        let reports = [
            report("titan-24", PeerState::Running(lock("shutdown-live"))),
            report("titan-23", PeerState::StaleLock(lock("shutdown-dead"))),
            report("titan-jh", PeerState::Unreachable("connection refused".into())),
            report("titan-22", PeerState::Idle),
        ];
        let v = run_verdict(CoordinationRole::Coordinator, &reports, false);
        assert_eq!(v.refusals.len(), 1, "{v:?}");
        assert!(
            v.refusals[0].starts_with("peer titan-24 is running ananke shutdown (run shutdown-live, pid 4242"),
            "{v:?}"
        );
        assert_eq!(v.warnings.len(), 2, "{v:?}");
        assert!(
            v.warnings[0].contains("peer titan-23 holds a stale lock") && v.warnings[0].contains("shutdown-dead"),
            "{v:?}"
        );
        assert!(v.warnings[1].contains("peer titan-jh is unreachable: connection refused"), "{v:?}");
        let forced = run_verdict(CoordinationRole::Coordinator, &reports, true);
        assert!(forced.refusals.is_empty(), "{forced:?}");
        assert!(forced.warnings[0]
            .starts_with("--force: overrode peer titan-24's running ananke shutdown (run shutdown-live"));
        let peer = run_verdict(CoordinationRole::Peer, &reports[2..], false);
        assert!(
            peer.warnings[0].starts_with("coordinator titan-jh is unreachable")
                && peer.warnings[0].ends_with("this peer acts on its own")
        );
    }

    #[test]
    fn a_peer_that_knows_its_node_watches_only_its_own_domain() {
        let mut config = ananke_sim::builtin("titan-lab").unwrap().ananke_config();
        let all = config.power_domains.len();
        assert!(all > 1);
        config.coordination.local_node = Some("titan-24".into());
        assert_eq!(watched_domains(&config).len(), all, "a coordinator watches every domain");
        config.coordination.role = CoordinationRole::Peer;
        let own = watched_domains(&config);
        assert_eq!(own.len(), 1);
        assert!(own[0].nodes.contains(&"titan-24".to_owned()));
        config.coordination.local_node = None;
        assert_eq!(
            watched_domains(&config).len(),
            all,
            "a peer that does not say which node it is watches every domain"
        );
    }
}
