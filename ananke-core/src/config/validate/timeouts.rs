//! Timeouts and limits of each phase: a wait of zero, a wait longer than its phase's deadline,
//! or a percentage over 100 describes a run that can never happen.

use super::Findings;
use crate::config::model::Config;

/// Check SSH, Kubernetes, startup, soak, shutdown and the daemon's policy.
pub(super) fn check(config: &Config, out: &mut Findings) {
    let ssh = &config.ssh;
    out.non_empty("ssh.user", &ssh.user, "SSH user");
    out.positive("ssh.connect_timeout", ssh.connect_timeout);
    out.positive("ssh.command_timeout", ssh.command_timeout);
    if ssh.concurrency == 0 {
        out.push("ssh.concurrency", "0 sessions can reach no node; expected at least 1");
    }
    for (i, word) in ssh.command_prefix.iter().enumerate() {
        if word.is_empty() || word.chars().any(char::is_control) {
            out.push(
                format!("ssh.command_prefix[{i}]"),
                format!("{word:?} is empty or holds a control character (NUL, newline, ...): no argv can carry it"),
            );
        }
    }
    out.positive("kubernetes.request_timeout", config.kubernetes.request_timeout);
    startup(config, out);
    shutdown(config, out);
    daemon(config, out);
}

fn startup(config: &Config, out: &mut Findings) {
    let startup = &config.startup;
    out.positive("startup.deadline", startup.deadline);
    for (field, value) in [
        ("startup.node_boot_timeout", startup.node_boot_timeout),
        ("startup.converge_timeout", startup.converge_timeout),
    ] {
        out.positive(field, value);
        out.within(field, value, "startup.deadline", startup.deadline);
    }
    let soak = &config.soak;
    out.positive("soak.interval", soak.interval);
    if soak.interval > soak.duration {
        out.push(
            "soak.interval",
            format!(
                "{} is longer than `soak.duration` ({}); the soak would end before its first check",
                soak.interval, soak.duration
            ),
        );
    }
}

fn shutdown(config: &Config, out: &mut Findings) {
    let shutdown = &config.shutdown;
    out.positive("shutdown.deadline", shutdown.deadline);
    for (field, value) in [
        ("shutdown.drain_timeout", shutdown.drain_timeout),
        ("shutdown.scale_down_timeout", shutdown.scale_down_timeout),
        ("shutdown.node_stop_timeout", shutdown.node_stop_timeout),
    ] {
        out.positive(field, value);
        out.within(field, value, "shutdown.deadline", shutdown.deadline);
    }
}

fn daemon(config: &Config, out: &mut Findings) {
    let daemon = &config.daemon;
    out.positive("daemon.poll_interval", daemon.poll_interval);
    out.positive("daemon.stale_after", daemon.stale_after);
    if daemon.stale_after < daemon.poll_interval {
        out.push(
            "daemon.stale_after",
            format!(
                "{} is shorter than `daemon.poll_interval` ({}); every reading would be stale before the next poll",
                daemon.stale_after, daemon.poll_interval
            ),
        );
    }
    out.positive("daemon.default_shutdown_budget", daemon.default_shutdown_budget);
    if daemon.shutdown_budget_percentile > 100 {
        out.push(
            "daemon.shutdown_budget_percentile",
            format!("{} is not a percentile; expected 0-100", daemon.shutdown_budget_percentile),
        );
    }
    if !daemon.safety_margin.is_finite() || daemon.safety_margin < 1.0 {
        out.push(
            "daemon.safety_margin",
            format!(
                "{} is not a usable budget multiplier; expected a finite number of at least 1.0",
                daemon.safety_margin
            ),
        );
    }
    if daemon.min_battery_charge > 100 {
        out.push(
            "daemon.min_battery_charge",
            format!("{}% is more than a full battery; expected 0-100", daemon.min_battery_charge),
        );
    }
}
