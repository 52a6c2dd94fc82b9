//! systemd notification (`Type=notify`, watchdog) without a dependency: one datagram to
//! `$NOTIFY_SOCKET`. Outside systemd every call is a no-op.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// The notify socket, if the service manager gave one.
pub struct Notifier {
    socket: Option<(UnixDatagram, String)>,
}

impl Notifier {
    /// Connect to `$NOTIFY_SOCKET` if set.
    #[must_use]
    pub fn from_env() -> Self {
        let socket =
            std::env::var("NOTIFY_SOCKET").ok().and_then(|path| UnixDatagram::unbound().ok().map(|s| (s, path)));
        Self { socket }
    }

    /// Send `state` (e.g. `READY=1`, `WATCHDOG=1`, `STATUS=...`). Errors are ignored: the service
    /// manager's watchdog notices a daemon that cannot notify.
    pub fn send(&self, state: &str) {
        let Some((socket, path)) = &self.socket else { return };
        if let Some(name) = path.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()) {
                let _ = socket.send_to_addr(state.as_bytes(), &addr);
            }
        } else {
            let _ = socket.send_to(state.as_bytes(), path);
        }
    }

    /// Half the watchdog interval systemd expects (`$WATCHDOG_USEC`), if a watchdog is enabled.
    #[must_use]
    pub fn watchdog_interval() -> Option<Duration> {
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        Some(Duration::from_micros(usec / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier { socket: Some((UnixDatagram::unbound().unwrap(), path.display().to_string())) };
        n.send("READY=1");
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
        Notifier { socket: None }.send("WATCHDOG=1");
    }

    #[test]
    fn an_abstract_name_too_long_for_an_address_is_not_truncated_to_another_socket() {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::SocketAddr;
        let name = format!("ananke-notify-test-{}-{}", std::process::id(), "x".repeat(120));
        // The longest abstract name an address holds: a truncation would land here.
        let prefix = &name.as_bytes()[..107];
        let server = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(prefix).unwrap()).unwrap();
        server.set_nonblocking(true).unwrap();
        let n = Notifier { socket: Some((UnixDatagram::unbound().unwrap(), format!("@{name}"))) };
        n.send("READY=1");
        let mut buf = [0u8; 64];
        assert!(server.recv(&mut buf).is_err(), "nothing was sent");
        let short = Notifier {
            socket: Some((UnixDatagram::unbound().unwrap(), format!("@{}", String::from_utf8_lossy(prefix)))),
        };
        short.send("READY=1");
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1", "the longest name still works");
    }
}
