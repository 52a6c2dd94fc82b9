//! The power adapter: UPS status from Network UPS Tools' `upsd`, over its network protocol.
//!
//! The protocol is a small line protocol over TCP (NUT's `docs/net-protocol.txt`), written here by
//! hand on blocking std I/O (the daemon's poll must cost less than `upsmon`'s; see
//! [`NutClient`]): the crates that implement it (`rups`, `nut-client`) pin an old `rustls` and have
//! not been released for years, and the part ananke needs is a few hundred lines.
//!
//! - [`NutClient`]: one connection to one `upsd`; every request bounded by a timeout.
//! - [`UpsMonitor`]: one connection per `upsd` for a set of power domains; reconnects with a
//!   bounded backoff and turns readings into [`UpsStatus`](crate::observation::UpsStatus)es.
//! - [`DriverSocket`]: a UPS driver's own socket on this host (`power_domains.ups.driver_socket`):
//!   each change pushed the moment the driver makes it, so the daemon need not poll.
//! - [`NutError`]: every failure, each transient or permanent ([`NutError::is_transient`]).
//!
//! With credentials configured, the client sends `USERNAME`, `PASSWORD` and `LOGIN <ups>`:
//! `LOGIN` is the one read-side command for which `upsd` checks the password, so a wrong password
//! is reported at connect time. `upsd` then counts ananke as a secondary of that UPS
//! (`ups.numlogins`), which is what it is. The password never reaches an error message or a log.

mod client;
mod credentials;
mod driver;
mod monitor;
mod wire;

pub use client::{NutClient, UpsListing, POWER_VARS};
pub use credentials::Credentials;
pub use driver::DriverSocket;
pub use monitor::{DomainPower, MonitorSettings, UpsMonitor};
pub use wire::ErrCode;

use std::collections::BTreeMap;
use std::time::Duration;

/// One UPS's variables as `upsd` listed them, with the fields ananke reads parsed out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpsReading {
    /// `ups.status` split into flags (`OL`, `OB`, `LB`, `FSD`, `CHRG`, ...), in upsd's order.
    pub flags: Vec<String>,
    /// `battery.charge` in percent, when present and a number.
    pub charge: Option<f64>,
    /// `battery.runtime` in whole seconds, when present and a non-negative number.
    pub runtime_s: Option<u64>,
    /// Every variable `upsd` listed, by name.
    pub raw: BTreeMap<String, String>,
}

impl UpsReading {
    /// Parses the fields ananke reads out of a `LIST VAR` answer; unparsable values become `None`.
    #[must_use]
    pub fn from_vars(raw: BTreeMap<String, String>) -> Self {
        let flags =
            raw.get("ups.status").map(|s| s.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
        let charge = raw.get("battery.charge").and_then(|v| wire::parse_number(v));
        let runtime_s = raw.get("battery.runtime").and_then(|v| wire::parse_seconds(v));
        Self { flags, charge, runtime_s, raw }
    }

    /// Whether `ups.status` carries `flag`.
    #[must_use]
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// Whether the driver has published a real status: `ups.status` present and not `WAIT`
    /// (what a driver shows before its first update).
    #[must_use]
    pub fn has_status(&self) -> bool {
        !self.flags.is_empty() && !self.has("WAIT")
    }
}

/// Everything that can go wrong talking to `upsd`.
///
/// Transient errors (the network, a timeout, a driver that is down or late) may heal on a retry;
/// permanent ones (a wrong UPS name, refused credentials, a peer that does not speak NUT) need an
/// operator. No variant ever carries the password.
#[derive(Debug, thiserror::Error)]
pub enum NutError {
    /// The TCP connection could not be made (refused, unreachable). Transient.
    #[error("cannot connect to upsd at {addr}: {source}")]
    Connect {
        /// `host:port` of upsd.
        addr: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// No complete answer within the timeout. Transient.
    #[error("upsd at {addr} did not answer {request} within {} ms", after.as_millis())]
    Timeout {
        /// `host:port` of upsd.
        addr: String,
        /// The request, without secrets (`connect` for the TCP connection itself).
        request: String,
        /// The timeout.
        after: Duration,
    },
    /// The connection broke (reset, or closed by upsd). Transient.
    #[error("connection to upsd at {addr} lost during {request}: {reason}")]
    Lost {
        /// `host:port` of upsd.
        addr: String,
        /// The request, without secrets.
        request: String,
        /// What broke.
        reason: String,
    },
    /// upsd answered `ERR <code>`. Transient for `DATA-STALE` and `DRIVER-NOT-CONNECTED`,
    /// permanent otherwise (`UNKNOWN-UPS`, `VAR-NOT-SUPPORTED`, ...).
    #[error("upsd at {addr} answered ERR {code} to {request}{}", in_words(code))]
    Server {
        /// `host:port` of upsd.
        addr: String,
        /// The request, without secrets.
        request: String,
        /// The error code.
        code: ErrCode,
    },
    /// upsd serves no UPS of the configured name (`ERR UNKNOWN-UPS`); the names it does serve,
    /// asked with `LIST UPS` on the same connection. Permanent: `ups.name` must change.
    #[error("upsd at {addr} serves no UPS named {ups:?}: it serves {}", known_names(known.as_deref()))]
    UnknownUps {
        /// `host:port` of upsd.
        addr: String,
        /// The configured name.
        ups: String,
        /// The names upsd serves; `None` when `LIST UPS` failed too.
        known: Option<Vec<String>>,
    },
    /// upsd refused the configured credentials (`ERR ACCESS-DENIED` and kin). Permanent.
    #[error("upsd at {addr} refused the credentials of NUT user {user:?}: ERR {code} to {request}{}", in_words(code))]
    AuthRejected {
        /// `host:port` of upsd.
        addr: String,
        /// The NUT user name.
        user: String,
        /// The request that was refused (`USERNAME`, `PASSWORD` or `LOGIN <ups>`).
        request: String,
        /// The error code.
        code: ErrCode,
    },
    /// upsd sent something outside the protocol. Permanent.
    #[error("protocol violation by upsd at {addr} during {request}: {detail}")]
    Protocol {
        /// `host:port` of upsd.
        addr: String,
        /// The request, without secrets.
        request: String,
        /// What was wrong.
        detail: String,
    },
    /// A value cannot be sent on the protocol's single line (it holds a line break). Permanent.
    #[error("cannot send {what} to upsd: {why}")]
    InvalidArgument {
        /// Which value (`ups name`, `password`, ...), never the value itself.
        what: String,
        /// Why not.
        why: &'static str,
    },
    /// The credentials are misconfigured or the password file is unreadable. Permanent.
    #[error("NUT credentials: {0}")]
    Credentials(String),
    /// A UPS driver's socket (`power_domains.ups.driver_socket`) cannot be reached, was closed,
    /// or carried something outside the driver protocol. Transient, unless permission is denied.
    #[error("UPS driver socket {path}: {reason}")]
    Driver {
        /// The socket's path.
        path: String,
        /// What went wrong.
        reason: String,
        /// It needs an operator (permission denied).
        permanent: bool,
    },
}

/// The names upsd listed, in words.
fn known_names(known: Option<&[String]>) -> String {
    match known {
        None => "names that could not be listed (LIST UPS failed too)".to_owned(),
        Some([]) => "no UPS at all".to_owned(),
        Some(names) => names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", "),
    }
}

/// ` (what the code means)`, or nothing for a code without words.
fn in_words(code: &ErrCode) -> String {
    code.meaning().map_or_else(String::new, |m| format!(" ({m})"))
}

impl NutError {
    /// Whether a retry may succeed without anyone changing anything.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            NutError::Connect { .. } | NutError::Timeout { .. } | NutError::Lost { .. } => true,
            NutError::Server { code, .. } => code.is_transient(),
            NutError::Driver { permanent, .. } => !permanent,
            NutError::AuthRejected { .. }
            | NutError::UnknownUps { .. }
            | NutError::Protocol { .. }
            | NutError::InvalidArgument { .. }
            | NutError::Credentials(_) => false,
        }
    }

    /// Whether upsd itself said the UPS data is not current (`DATA-STALE`, `DRIVER-NOT-CONNECTED`).
    #[must_use]
    pub fn is_stale_data(&self) -> bool {
        matches!(self, NutError::Server { code, .. } if code.is_transient())
    }

    /// Whether the connection is in an unknown state afterwards and must be dropped.
    pub(crate) fn breaks_connection(&self) -> bool {
        matches!(
            self,
            NutError::Connect { .. }
                | NutError::Timeout { .. }
                | NutError::Lost { .. }
                | NutError::Protocol { .. }
                | NutError::Driver { .. }
        )
    }
}
