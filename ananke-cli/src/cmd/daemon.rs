//! `ananke daemon`: what `ananke.service` runs. Watches every power domain's UPS through NUT,
//! applies the power policy (`ananke_core::power`), and runs `shutdown`/`startup` as child
//! processes of this same binary, so a run survives a daemon restart and keeps its own lock.

use crate::coordination::{watched_domains, ShutdownGate};
use crate::exit;
use crate::global::GlobalArgs;
use crate::journal::{self, Priority};
use crate::notify::Notifier;
use crate::output::now_rfc3339;
use crate::pace::{Pace, Woke};
use crate::target::state_dir_with;
use ananke_core::adapters::nut::{MonitorSettings, UpsMonitor};
use ananke_core::power::{shutdown_budget, ClusterPhase, PowerDecision, PowerInput, PowerPolicy};
use ananke_core::store::lock::{held, LockHolder};
use ananke_core::store::reports::{
    Command, DaemonChild, DaemonDomain, DaemonEvent, DaemonStatus, DAEMON_EVENTS, REPORT_VERSION,
};
use ananke_core::store::StateDir;
use ananke_core::{Config, Time};
use clap::Args;
use std::process::{Child, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod adopt;
use adopt::initial_phase;

/// Watch the UPSes and take the cluster down and back up as the power policy says.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// A run the daemon started.
struct Running {
    command: Command,
    child: Child,
    started_at: String,
}

struct Daemon {
    config: Config,
    state: StateDir,
    global: GlobalArgs,
    policy: PowerPolicy,
    running: Option<Running>,
    events: Vec<DaemonEvent>,
    domains: Vec<DaemonDomain>,
    started: Instant,
    /// A peer leaves shutdowns to a reachable coordinator (`crate::coordination`).
    gate: ShutdownGate,
    /// Events recorded since the start (`events` keeps only the last few).
    events_total: u64,
    /// What the status last written was made of (to skip unchanged writes cheaply).
    last_written: Option<(StatusKey, Vec<DaemonDomain>)>,
    /// The policy's input: the domains' statuses, rebuilt only when a UPS said something new.
    input: PowerInput,
    /// How often systemd's watchdog must be petted (`WATCHDOG_USEC`), read once at the start.
    watchdog: Option<Duration>,
    /// A run the daemon did not start (a daemon before a restart did) that held the lock when it
    /// started: watched through the lock until it ends.
    adopted: Option<LockHolder>,
}

/// Everything in `daemon-status.json` but the domains and the time: the phase, the budget, the
/// running child and how many events there were.
type StatusKey = (ClusterPhase, Duration, Option<u32>, u64);

impl DaemonArgs {
    /// Run the command; returns the exit code.
    #[must_use]
    pub fn exec(self) -> u8 {
        let config = match self.global.load_config() {
            Ok(c) => c,
            Err(code) => return code,
        };
        let state = state_dir_with(&self.global, &config);
        if let Err(e) = state.ensure() {
            crate::log_error!("{e}");
            return exit::STATE_IO;
        }
        let domains = watched_domains(&config);
        let monitor = match UpsMonitor::new(&domains, MonitorSettings::from_daemon(&config.daemon)) {
            Ok(m) => m,
            Err(e) => {
                crate::log_error!("{e}");
                return exit::USAGE_OR_CONFIG;
            }
        };
        let adopted = held(state.root());
        let phase = initial_phase(&state, adopted.as_ref());
        let budget = budget(&state, &config);
        journal::say(
            Priority::Notice,
            &format!(
                "daemon: watching {} power domain(s) as {:?}; cluster {phase:?}; shutdown budget {}s",
                domains.len(),
                config.coordination.role,
                budget.as_secs()
            ),
        );
        let mut policy = PowerPolicy::new(config.daemon.clone(), phase, budget);
        if state.read_journal().is_ok_and(|j| j.shutdown_unfinished()) {
            policy = policy.after_unfinished_shutdown();
        }
        let gate = ShutdownGate::new(&config);
        let mut daemon = Daemon {
            config,
            state,
            global: self.global,
            policy,
            running: None,
            events: Vec::new(),
            domains: Vec::new(),
            started: Instant::now(),
            gate,
            events_total: 0,
            last_written: None,
            input: PowerInput::Readings(Vec::new()),
            watchdog: Notifier::watchdog_interval(),
            adopted,
        };
        if let Some(run) = daemon.adopted.clone() {
            daemon.event(format!(
                "a {} run the daemon did not start holds the lock (run {}, pid {}): waiting for it",
                run.command, run.run_id, run.pid
            ));
        }
        // Pet the watchdog at least twice per WatchdogSec, whatever the poll interval.
        let poll = daemon.config.daemon.poll_interval.get();
        let pace = Pace::new(daemon.watchdog.map_or(poll, |w| poll.min(w)));
        // SIGTERM (systemd's stop) and SIGINT set the flag; the sleep they cut short checks it.
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
                crate::log_error!("cannot handle signal {signal}: {e}");
                return exit::STATE_IO;
            }
        }
        daemon.run(monitor, pace, &stop)
    }
}

/// Appends `item`, dropping the oldest items beyond `max`.
fn push_bounded<T>(list: &mut Vec<T>, item: T, max: usize) {
    list.push(item);
    if list.len() > max {
        list.drain(..list.len() - max);
    }
}

/// The shutdown budget from `runs.json`, or the configured default.
fn budget(state: &StateDir, config: &Config) -> Duration {
    let past = state
        .read_runs()
        .ok()
        .and_then(|h| h.percentile_ms(Command::Shutdown, config.daemon.shutdown_budget_percentile));
    shutdown_budget(past, &config.daemon)
}

impl Daemon {
    /// Polls until SIGTERM or SIGINT. Blocking, one thread, no async runtime (see [`crate::pace`]
    /// and `ananke_core::adapters::nut`): an idle poll of upsd is a NUT exchange (write, read) and
    /// one wait; an idle watch of driver sockets is one wait until a driver speaks or is due a
    /// `PING`.
    fn run(&mut self, mut monitor: UpsMonitor, mut pace: Pace, stop: &AtomicBool) -> u8 {
        let notifier = Notifier::from_env();
        notifier.send("READY=1");
        let mut woke = Woke::Period;
        let code = loop {
            self.poll_once(&mut monitor, &notifier, woke);
            let longer = self.quiet_for(&monitor);
            match pace.wait_unless(stop, &monitor.fds(), longer) {
                Ok(Some(w)) => woke = w,
                Ok(None) => break exit::SUCCESS,
                Err(e) => {
                    crate::log_error!("the poll clock failed: {e}");
                    break exit::STATE_IO;
                }
            }
        };
        notifier.send("STOPPING=1");
        monitor.close();
        self.gate.close();
        if let Some(run) = &self.running {
            self.event(format!("daemon stopping; {} run (pid {}) goes on", run.command.as_str(), run.child.id()));
            self.write_status(false);
        }
        code
    }

    /// How long the daemon may wait for a UPS driver to speak, skipping poll periods: when no
    /// domain is read by polling upsd and no run is going, until the next driver `PING` or
    /// reconnect or the policy's own deadline (`PowerPolicy::poll_timeout`: a debounce or a
    /// stable-power window ending), and no longer than the watchdog allows. `None`: wait for the
    /// next period.
    fn quiet_for(&self, monitor: &UpsMonitor) -> Option<Duration> {
        let policy = self.policy.poll_timeout();
        let watch = matches!(policy, Some((_, ananke_core::power::PolicyWake::Run)));
        if monitor.polls_upsd() || self.running.is_some() || watch {
            return None;
        }
        let now = self.now();
        let policy = policy.map(|(at, _)| Duration::from_millis(at.0.saturating_sub(now.0)));
        let driver = monitor.next_due().map(|due| due.saturating_duration_since(Instant::now()));
        // At least a millisecond: a deadline already passed must not become a busy loop.
        let due = driver.into_iter().chain(policy).min()?.max(Duration::from_millis(1));
        Some(self.watchdog.map_or(due, |w| due.min(w)))
    }

    /// One poll: read every UPS (after a driver socket woke the daemon, only the driver
    /// sockets), tell the policy, carry out its decisions, report.
    fn poll_once(&mut self, monitor: &mut UpsMonitor, notifier: &Notifier, woke: Woke) {
        // Every UPS answered what it answered last time: the domains and the policy's input
        // stay as they are (the idle poll ends with the policy's clock check).
        let news = if woke == Woke::Readable { monitor.refresh_pushed() } else { monitor.refresh() };
        if news {
            self.domains = monitor
                .reports()
                .iter()
                .map(|p| {
                    let mut status = p.status.clone();
                    // Stale data is no data: the policy must not act on it as if it were fresh.
                    status.reachable = status.reachable && !p.stale;
                    DaemonDomain { status, stale: p.stale, error: p.error.clone() }
                })
                .collect();
            self.input = PowerInput::Readings(self.domains.iter().map(|d| d.status.clone()).collect());
        }
        let now = self.now();
        self.reap(now);
        let decisions = self.policy.handle(now, &self.input);
        for decision in self.gate.filter(&mut self.policy, now, decisions) {
            self.carry_out(decision);
        }
        if self.write_status(news) {
            let last = self.events.last().map_or("", |e| e.message.as_str());
            notifier.send(&format!("STATUS=cluster {:?}; {last}", self.policy.phase()));
        }
        notifier.send("WATCHDOG=1");
    }

    fn now(&self) -> Time {
        Time(u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn event(&mut self, message: String) {
        self.event_at(Priority::Info, message);
    }

    /// An event, logged at `priority` (see [`crate::journal`]) and kept in `daemon-status.json`.
    fn event_at(&mut self, priority: Priority, message: String) {
        journal::say(priority, &format!("daemon: {message}"));
        push_bounded(&mut self.events, DaemonEvent { at: now_rfc3339(), message }, DAEMON_EVENTS);
        self.events_total += 1;
    }

    /// Collect a finished child and tell the policy.
    fn reap(&mut self, now: Time) {
        self.reap_adopted(now);
        let Some(run) = self.running.as_mut() else { return };
        let status = match run.child.try_wait() {
            Ok(Some(status)) => Ok(status),
            Ok(None) => return,
            Err(e) => Err(format!("cannot wait for the {} run: {e}", run.command.as_str())),
        };
        let status = match status {
            Ok(status) => status,
            Err(message) => return self.event_at(Priority::Err, message),
        };
        let Some(run) = self.running.take() else { return };
        let succeeded = status.success();
        let priority = if succeeded { Priority::Info } else { Priority::Err };
        self.event_at(priority, format!("{} run (pid {}) ended: {status}", run.command.as_str(), run.child.id()));
        let input = match run.command {
            Command::Shutdown => {
                self.policy.set_budget(budget(&self.state, &self.config));
                PowerInput::ShutdownEnded { succeeded }
            }
            Command::Startup => PowerInput::StartupEnded { succeeded },
        };
        for decision in self.policy.handle(now, &input) {
            self.carry_out(decision);
        }
    }

    fn carry_out(&mut self, decision: PowerDecision) {
        match decision {
            PowerDecision::Report { severity, message } => self.event_at(severity.into(), message),
            PowerDecision::StartShutdown { reason } => {
                let args = vec![
                    "shutdown".to_owned(),
                    "--execute".into(),
                    "--mode".into(),
                    "cluster-only".into(),
                    "--reason".into(),
                    reason,
                ];
                self.spawn(Command::Shutdown, args);
            }
            PowerDecision::StartStartup => self.spawn(Command::Startup, vec!["startup".to_owned(), "--execute".into()]),
            PowerDecision::AbortShutdown | PowerDecision::AbortStartup => self.abort_running(),
        }
    }

    /// Stop the running child (SIGTERM: the runner stops at its next step, the journal intact)
    /// and wait for it, so the next run does not meet its lock.
    fn abort_running(&mut self) {
        let Some(mut run) = self.running.take() else {
            if let Some(holder) = self.adopted.take() {
                self.abort_adopted(&holder);
            }
            return;
        };
        let pid = run.child.id();
        self.event_at(Priority::Warning, format!("aborting the {} run (pid {pid})", run.command.as_str()));
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = run.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = run.child.kill().and_then(|()| run.child.wait());
    }

    fn spawn(&mut self, command: Command, mut args: Vec<String>) {
        // A run still going is stopped first (the policy aborts before it starts another).
        self.abort_running();
        if let Some(holder) = held(self.state.root()) {
            // A run the daemon did not start (an operator's, the bootstrap's): a shutdown when a
            // startup is wanted, or the same command, is waited for; a startup is stopped when
            // power fails (it would hold the lock the shutdown needs).
            if holder.command == command.as_str() || command == Command::Startup {
                self.event(format!(
                    "a {} run the daemon did not start holds the lock (run {}, pid {}): waiting for it",
                    holder.command, holder.run_id, holder.pid
                ));
                self.adopted = Some(holder);
                return;
            }
            self.abort_adopted(&holder);
        }
        args.extend(self.global.forwarded(self.state.root()));
        let exe = std::env::current_exe().unwrap_or_else(|_| "ananke".into());
        match std::process::Command::new(exe).args(&args).stdin(Stdio::null()).spawn() {
            Ok(child) => {
                self.event(format!("started `ananke {}` (pid {})", args.join(" "), child.id()));
                self.running = Some(Running { command, child, started_at: now_rfc3339() });
            }
            Err(e) => self.event_at(Priority::Err, format!("cannot start `ananke {}`: {e}", args.join(" "))),
        }
    }

    /// Write `daemon-status.json` when something in it changed (not every poll: an idle daemon
    /// should cost nothing); says whether it wrote. The domains are compared only when they were
    /// rebuilt (`rebuilt`) since the last call.
    fn write_status(&mut self, rebuilt: bool) -> bool {
        let key: StatusKey =
            (self.policy.phase(), self.policy.budget(), self.running.as_ref().map(|r| r.child.id()), self.events_total);
        if self.last_written.as_ref().is_some_and(|(k, domains)| *k == key && (!rebuilt || *domains == self.domains)) {
            return false;
        }
        self.last_written = Some((key, self.domains.clone()));
        let status = DaemonStatus {
            version: REPORT_VERSION,
            pid: std::process::id(),
            updated_at: now_rfc3339(),
            phase: self.policy.phase(),
            budget_s: self.policy.budget().as_secs(),
            domains: self.domains.clone(),
            child: self.running.as_ref().map(|r| DaemonChild {
                command: r.command,
                pid: r.child.id(),
                started_at: r.started_at.clone(),
            }),
            events: self.events.clone(),
        };
        if let Err(e) = self.state.write_daemon_status(&status) {
            journal::say(Priority::Warning, &format!("daemon: cannot write its status: {e}"));
        }
        true
    }
}

#[cfg(test)]
mod tests;
