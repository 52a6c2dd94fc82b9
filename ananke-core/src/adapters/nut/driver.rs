//! A UPS driver's own socket: each change the moment the driver publishes it, with no polling.
//!
//! Every NUT driver serves its state on a Unix socket in NUT's state path (`/run/nut/<driver>-<ups>`
//! on Debian): the socket `upsd` itself reads (NUT's `drivers/dstate.c`), open to several readers.
//! After `DUMPALL` the driver sends every variable (`SETINFO <var> "<value>"`), `DATAOK` or
//! `DATASTALE`, then `DUMPDONE`; from then on it sends each change to every reader as it makes it.
//! `PING` is answered `PONG` at the driver's next update (up to its poll interval later).
//!
//! So an idle watch is a socket nobody writes to: the daemon sleeps in `poll(2)` on
//! [`DriverSocket::fd`] and wakes when the driver says something, or to `PING` a driver that has
//! been silent for a while (a driver that answers nothing for `stale_after` is stale). Lines ananke
//! does not use (`SETFLAGS`, `SETAUX`, `ADDCMD`, ...) are skipped; only the power variables
//! ([`POWER_VARS`]) are kept.

use super::client::POWER_VARS;
use super::{wire, NutError, UpsReading};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One connection to a UPS driver's socket.
#[derive(Debug)]
pub struct DriverSocket {
    path: PathBuf,
    stream: UnixStream,
    /// The bytes of a line not complete yet.
    partial: Vec<u8>,
    /// A power variable changed since `reading` was last rebuilt from its `raw` map.
    stale_reading: bool,
    /// The first dump is complete (`DUMPDONE`).
    dumped: bool,
    /// The driver's last word on its data: `DATAOK` (true) or `DATASTALE`.
    data_ok: bool,
    /// The power variables the driver published (`raw`), and what they say.
    reading: UpsReading,
    /// When the driver last sent a line (or the connection was made).
    last_heard: Instant,
    /// When an unanswered `PING` was sent.
    pinged_at: Option<Instant>,
}

impl DriverSocket {
    /// Connects to the driver's socket at `path`, asks for its state and waits for it until
    /// `timeout` has passed. A driver that has not finished its dump by then is still connected:
    /// [`reading`](Self::reading) is `None` until a later [`receive`](Self::receive) completes it.
    ///
    /// # Errors
    /// [`NutError::Driver`]: the socket cannot be reached (permanent when permission is denied),
    /// or the driver closed it or sent something outside its protocol.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self, NutError> {
        let fail =
            |reason: String, permanent: bool| NutError::Driver { path: path.display().to_string(), reason, permanent };
        let stream = UnixStream::connect(path).map_err(|e| {
            let permanent = e.kind() == ErrorKind::PermissionDenied;
            fail(format!("cannot connect: {e}"), permanent)
        })?;
        let deadline = Instant::now() + timeout;
        stream.set_write_timeout(Some(timeout)).map_err(|e| fail(format!("cannot set a timeout: {e}"), false))?;
        (&stream).write_all(b"DUMPALL\n").map_err(|e| fail(format!("cannot ask for the state: {e}"), false))?;
        let mut socket = Self {
            path: path.to_owned(),
            stream,
            partial: Vec::new(),
            stale_reading: false,
            dumped: false,
            data_ok: true,
            reading: UpsReading::default(),
            last_heard: Instant::now(),
            pinged_at: None,
        };
        while !socket.dumped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket
                .stream
                .set_read_timeout(Some(left))
                .map_err(|e| socket.fail(format!("cannot set a timeout: {e}")))?;
            if !socket.read_some(Instant::now())? {
                break;
            }
        }
        socket.rebuild();
        socket.stream.set_nonblocking(true).map_err(|e| socket.fail(format!("cannot stop blocking: {e}")))?;
        Ok(socket)
    }

    /// The socket's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The socket, to wait on with `poll(2)`: readable when the driver said something.
    #[must_use]
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    /// The power variables, once the driver's first dump is complete.
    #[must_use]
    pub fn reading(&self) -> Option<&UpsReading> {
        self.dumped.then_some(&self.reading)
    }

    /// Whether the driver's last word on its data was `DATAOK` (`false` after `DATASTALE`).
    #[must_use]
    pub fn data_ok(&self) -> bool {
        self.data_ok
    }

    /// When the driver last sent anything (or the connection was made).
    #[must_use]
    pub fn last_heard(&self) -> Instant {
        self.last_heard
    }

    /// Reads everything the driver has sent, without blocking; says whether the reading or the
    /// data state changed (or the first dump just completed).
    ///
    /// # Errors
    /// [`NutError::Driver`] when the driver closed the socket or sent something outside its
    /// protocol: the connection is then unusable.
    pub fn receive(&mut self, now: Instant) -> Result<bool, NutError> {
        let before = (self.dumped, self.data_ok);
        while self.read_some(now)? {}
        Ok(self.rebuild() || before != (self.dumped, self.data_ok))
    }

    /// Sends `PING` when the driver has been silent for `every` and no `PING` was sent within
    /// `every`; a driver that answers is heard again, one that does not goes stale.
    ///
    /// # Errors
    /// [`NutError::Driver`] when the socket is broken.
    pub fn ping_if_due(&mut self, now: Instant, every: Duration) -> Result<(), NutError> {
        if now < self.next_ping(every) {
            return Ok(());
        }
        match (&self.stream).write(b"PING\n") {
            // A full socket: the driver is not reading; its silence will say so. The PING counts
            // as sent, so the next one is a period away, not at once.
            Err(e) if e.kind() != ErrorKind::WouldBlock => Err(self.fail(format!("cannot send PING: {e}"))),
            _ => {
                self.pinged_at = Some(now);
                Ok(())
            }
        }
    }

    /// When [`ping_if_due`](Self::ping_if_due) will next send a `PING`.
    #[must_use]
    pub fn next_ping(&self, every: Duration) -> Instant {
        let silent = self.last_heard + every;
        self.pinged_at.map_or(silent, |at| silent.max(at + every))
    }

    /// One read: `Ok(true)` when bytes were read (and their whole lines handled), `Ok(false)`
    /// when there was nothing to read (or, blocking, the read timed out).
    fn read_some(&mut self, now: Instant) -> Result<bool, NutError> {
        let mut buf = [0u8; 4096];
        let n = match (&self.stream).read(&mut buf) {
            Ok(0) => return Err(self.fail("the driver closed the socket".to_owned())),
            Ok(n) => n,
            // Nothing to read (or a signal): what is left, the next wait finds.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                return Ok(false)
            }
            Err(e) => return Err(self.fail(format!("cannot read: {e}"))),
        };
        self.last_heard = now;
        let mut rest = &buf[..n];
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            let line = std::mem::take(&mut self.partial);
            self.line(&line)?;
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > wire::MAX_LINE {
            return Err(self.fail(format!("a line longer than {} bytes", wire::MAX_LINE)));
        }
        Ok(true)
    }

    /// Handles one line from the driver.
    fn line(&mut self, bytes: &[u8]) -> Result<(), NutError> {
        let text = std::str::from_utf8(bytes).map_err(|_| self.fail("a line that is not UTF-8".to_owned()))?;
        let text = text.strip_suffix('\r').unwrap_or(text);
        let words = wire::split_words(text).map_err(|why| self.fail(format!("{why}: {text:?}")))?;
        match words.as_slice() {
            [verb, name, value] if verb == "SETINFO" => self.set(name, value),
            [verb, name] if verb == "DELINFO" => {
                self.stale_reading |= self.reading.raw.remove(name).is_some();
            }
            [verb, ..] if verb == "SETINFO" || verb == "DELINFO" => {
                return Err(self.fail(format!("a malformed {verb} line: {text:?}")));
            }
            [verb] if verb == "DATAOK" => self.data_ok = true,
            [verb] if verb == "DATASTALE" => self.data_ok = false,
            [verb] if verb == "DUMPDONE" => self.dumped = true,
            [verb] if verb == "PONG" => self.pinged_at = None,
            // SETFLAGS, SETAUX, ADDCMD, ADDENUM, ... and whatever a later driver adds.
            _ => {}
        }
        Ok(())
    }

    /// Keeps `value` when `name` is a power variable.
    fn set(&mut self, name: &str, value: &str) {
        if POWER_VARS.contains(&name) && self.reading.raw.get(name).map(String::as_str) != Some(value) {
            self.reading.raw.insert(name.to_owned(), value.to_owned());
            self.stale_reading = true;
        }
    }

    /// Rebuilds the reading when a power variable changed since it was built; says whether it did.
    fn rebuild(&mut self) -> bool {
        if !std::mem::take(&mut self.stale_reading) {
            return false;
        }
        self.reading = UpsReading::from_vars(std::mem::take(&mut self.reading.raw));
        true
    }

    fn fail(&self, reason: String) -> NutError {
        NutError::Driver { path: self.path.display().to_string(), reason, permanent: false }
    }
}

#[cfg(test)]
mod tests;
