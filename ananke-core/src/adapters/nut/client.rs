//! One connection to one `upsd`, every request bounded by a timeout.
//!
//! Blocking I/O (std): the daemon polls upsd every second for as long as the host is up, and a
//! blocking exchange costs the fewest system calls and wakeups per poll (three calls and two
//! wakeups: write, read, sleep), which is what keeps an idle daemon cheaper than `upsmon`. From
//! async code, call it on a blocking thread (`tokio::task::spawn_blocking`).

use super::wire::{self, ErrCode, Reply, MAX_LINE};
use super::{Credentials, NutError, UpsReading};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How late in a request a read may start and still keep the full read timeout (see
/// [`NutClient::bound_read`]).
const READ_SLACK: Duration = Duration::from_millis(10);

/// Most lines one `LIST` answer may hold before the peer is taken for broken.
const MAX_LIST_ITEMS: usize = 10_000;

/// One UPS as `LIST UPS` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsListing {
    /// The UPS name (`upsc NAME@HOST`).
    pub name: String,
    /// Its description in `ups.conf`.
    pub description: String,
}

/// What an answer must look like.
#[derive(Clone, Copy)]
enum Expect<'a> {
    /// `OK ...`.
    Ok,
    /// One data line.
    One,
    /// `BEGIN LIST <header>`, data lines, `END LIST <header>`.
    List(&'a [&'a str]),
}

/// Why an exchange failed, before the address and request are attached.
enum Fail {
    Io(std::io::Error),
    Closed,
    Damaged(String),
    Err(ErrCode),
    TimedOut,
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        // A socket timeout reads as `WouldBlock` (EAGAIN) on Linux, `TimedOut` elsewhere.
        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
            Fail::TimedOut
        } else {
            Fail::Io(e)
        }
    }
}

/// A connection to one `upsd`.
///
/// After an error for which [`NutError::is_transient`] holds and that is not an `ERR` answer, the
/// connection's state is unknown: drop it and connect again.
#[derive(Debug)]
pub struct NutClient {
    addr: String,
    stream: BufReader<TcpStream>,
    timeout: Duration,
    /// The socket's read timeout now: `timeout`, or less for the rest of a request's time.
    read_bound: Duration,
    /// When the request being answered runs out of time.
    deadline: Instant,
    /// The last [`power`](Self::power) request: its UPS name and its three lines.
    power_request: Option<(String, Vec<u8>)>,
    /// The last good answer to it, byte for byte (empty: none), and the reading it made.
    power_answer: Vec<u8>,
    power_reading: UpsReading,
    /// The answer line being read (kept: one allocation for the connection, not one per line).
    line: Vec<u8>,
}

impl NutClient {
    /// Connects to `host:port`; the connection and every later request are bounded by `timeout`.
    ///
    /// # Errors
    /// [`NutError::Connect`] or [`NutError::Timeout`], both transient.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<Self, NutError> {
        let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let deadline = Instant::now() + timeout;
        let targets: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
            Ok(targets) => targets.collect(),
            Err(source) => return Err(NutError::Connect { addr, source }),
        };
        let mut last = std::io::Error::new(ErrorKind::NotFound, "the name resolves to no address");
        for target in targets {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                last = ErrorKind::TimedOut.into();
                break;
            }
            match TcpStream::connect_timeout(&target, left) {
                Ok(stream) => return Self::with_stream(addr, stream, timeout),
                Err(e) => last = e,
            }
        }
        Err(match Fail::from(last) {
            Fail::Io(source) => NutError::Connect { addr, source },
            _ => NutError::Timeout { addr, request: "connect".to_owned(), after: timeout },
        })
    }

    fn with_stream(addr: String, stream: TcpStream, timeout: Duration) -> Result<Self, NutError> {
        // Requests are single small lines: send each at once. Failure only costs latency.
        let _ = stream.set_nodelay(true);
        let bounded = stream.set_read_timeout(Some(timeout)).and_then(|()| stream.set_write_timeout(Some(timeout)));
        if let Err(source) = bounded {
            return Err(NutError::Connect { addr, source });
        }
        let deadline = Instant::now() + timeout;
        Ok(Self {
            addr,
            stream: BufReader::new(stream),
            timeout,
            read_bound: timeout,
            deadline,
            power_request: None,
            power_answer: Vec::new(),
            power_reading: UpsReading::default(),
            line: Vec::new(),
        })
    }

    /// `host:port` of this upsd.
    #[must_use]
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends the user and password, then `LOGIN ups`, which is where upsd checks them.
    ///
    /// # Errors
    /// [`NutError::AuthRejected`] when upsd refuses the credentials; [`NutError::Server`] for other
    /// codes (`UNKNOWN-UPS`); the transport errors of any request.
    pub fn login(&mut self, credentials: &Credentials, ups: &str) -> Result<(), NutError> {
        let steps: [(&str, &str, String); 3] = [
            ("USERNAME", credentials.username(), "USERNAME".to_owned()),
            ("PASSWORD", credentials.password(), "PASSWORD".to_owned()),
            ("LOGIN", ups, format!("LOGIN {ups}")),
        ];
        for (verb, arg, request) in steps {
            let what = if verb == "PASSWORD" { "the password" } else { verb };
            match self.exchange(verb, &[arg], &request, what, Expect::Ok) {
                Ok(_) => {}
                Err(NutError::Server { addr, request, code }) if code.is_auth() => {
                    return Err(NutError::AuthRejected {
                        addr,
                        user: credentials.username().to_owned(),
                        request,
                        code,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The UPSes this upsd serves (`LIST UPS`).
    ///
    /// # Errors
    /// Any [`NutError`] of a request.
    pub fn list_ups(&mut self) -> Result<Vec<UpsListing>, NutError> {
        let lines = self.exchange("LIST", &["UPS"], "LIST UPS", "LIST UPS", Expect::List(&["UPS"]))?;
        lines
            .into_iter()
            .map(|words| match <[String; 3]>::try_from(words) {
                Ok([tag, name, description]) if tag == "UPS" => Ok(UpsListing { name, description }),
                Ok(words) => Err(self.damaged("LIST UPS", &words)),
                Err(words) => Err(self.damaged("LIST UPS", &words)),
            })
            .collect()
    }

    /// Every variable of UPS `ups` (`LIST VAR ups`).
    ///
    /// # Errors
    /// [`NutError::Server`] with `UNKNOWN-UPS` (permanent), `DATA-STALE` or `DRIVER-NOT-CONNECTED`
    /// (transient); any other [`NutError`] of a request.
    pub fn list_vars(&mut self, ups: &str) -> Result<BTreeMap<String, String>, NutError> {
        let request = format!("LIST VAR {ups}");
        let lines = self.exchange("LIST", &["VAR", ups], &request, "ups name", Expect::List(&["VAR", ups]))?;
        let mut vars = BTreeMap::new();
        for words in lines {
            match <[String; 4]>::try_from(words) {
                Ok([tag, name, var, value]) if tag == "VAR" && name == ups => {
                    vars.insert(var, value);
                }
                Ok(words) => return Err(self.damaged(&request, &words)),
                Err(words) => return Err(self.damaged(&request, &words)),
            }
        }
        Ok(vars)
    }

    /// One variable of UPS `ups` (`GET VAR ups var`).
    ///
    /// # Errors
    /// As [`list_vars`](Self::list_vars), plus `VAR-NOT-SUPPORTED` (permanent).
    pub fn get_var(&mut self, ups: &str, var: &str) -> Result<String, NutError> {
        let request = format!("GET VAR {ups} {var}");
        // `Expect::One` answers with exactly one line.
        let mut lines = self.exchange("GET", &["VAR", ups, var], &request, "ups or variable name", Expect::One)?;
        match <[String; 4]>::try_from(lines.pop().unwrap_or_default()) {
            Ok([tag, name, got, value]) if tag == "VAR" && name == ups && got == var => Ok(value),
            Ok(words) => Err(self.damaged(&request, &words)),
            Err(words) => Err(self.damaged(&request, &words)),
        }
    }

    /// UPS `ups`'s status, charge and runtime, with every variable kept in `raw`.
    ///
    /// # Errors
    /// As [`list_vars`](Self::list_vars).
    pub fn status(&mut self, ups: &str) -> Result<UpsReading, NutError> {
        Ok(UpsReading::from_vars(self.list_vars(ups)?))
    }

    /// Says goodbye (`LOGOUT`) and closes the connection.
    ///
    /// # Errors
    /// Any [`NutError`] of a request; the connection is closed either way.
    pub fn logout(mut self) -> Result<(), NutError> {
        self.exchange("LOGOUT", &[], "LOGOUT", "LOGOUT", Expect::Ok).map(drop)
    }

    fn damaged(&self, request: &str, words: &[String]) -> NutError {
        NutError::Protocol { addr: self.addr.clone(), request: request.to_owned(), detail: unexpected(words) }
    }

    /// Sends one request and reads its whole answer within the timeout. `request` describes it in
    /// errors and `what` names its arguments, so neither ever holds a password.
    fn exchange(
        &mut self,
        verb: &str,
        args: &[&str],
        request: &str,
        what: &str,
        expect: Expect<'_>,
    ) -> Result<Vec<Vec<String>>, NutError> {
        let line =
            wire::request_line(verb, args).map_err(|why| NutError::InvalidArgument { what: what.to_owned(), why })?;
        self.send_and_read(&line, expect).map_err(|fail| self.error(request, fail))
    }

    /// The error for `fail` in `request`.
    fn error(&self, request: &str, fail: Fail) -> NutError {
        let (addr, request) = (self.addr.clone(), request.to_owned());
        match fail {
            Fail::TimedOut => NutError::Timeout { addr, request, after: self.timeout },
            Fail::Err(code) => NutError::Server { addr, request, code },
            Fail::Io(e) => NutError::Lost { addr, request, reason: e.to_string() },
            Fail::Closed => NutError::Lost { addr, request, reason: "closed by upsd".to_owned() },
            Fail::Damaged(detail) => NutError::Protocol { addr, request, detail },
        }
    }

    /// Starts a request's time: its answer must be read by `timeout` from now.
    fn start_request(&mut self) -> Result<(), Fail> {
        self.deadline = Instant::now() + self.timeout;
        if self.read_bound < self.timeout {
            self.stream.get_ref().set_read_timeout(Some(self.timeout))?;
            self.read_bound = self.timeout;
        }
        Ok(())
    }

    /// Bounds the next socket read by what is left of the request's time. A read that starts
    /// within [`READ_SLACK`] of the request's start keeps the full bound, so the usual poll (one
    /// read) costs no extra system call; a request is bounded by its timeout to within that slack.
    fn bound_read(&mut self) -> Result<(), Fail> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Fail::TimedOut);
        }
        if left + READ_SLACK < self.read_bound {
            self.stream.get_ref().set_read_timeout(Some(left))?;
            self.read_bound = left;
        }
        Ok(())
    }

    fn send_and_read(&mut self, line: &str, expect: Expect<'_>) -> Result<Vec<Vec<String>>, Fail> {
        self.start_request()?;
        self.stream.get_mut().write_all(line.as_bytes())?;
        let first = self.read_reply()?;
        match (expect, first) {
            (_, Reply::Err(code)) => Err(Fail::Err(code)),
            (Expect::Ok, Reply::Ok(_)) => Ok(Vec::new()),
            (Expect::One, Reply::Data(words)) => Ok(vec![words]),
            (Expect::List(header), Reply::Data(words)) if is_list_mark(&words, "BEGIN", header) => {
                let mut items = Vec::new();
                loop {
                    match self.read_reply()? {
                        Reply::Data(words) if is_list_mark(&words, "END", header) => return Ok(items),
                        Reply::Data(_) if items.len() >= MAX_LIST_ITEMS => {
                            return Err(Fail::Damaged(format!("list longer than {MAX_LIST_ITEMS} lines")))
                        }
                        Reply::Data(words) => items.push(words),
                        Reply::Ok(words) => return Err(Fail::Damaged(unexpected_ok(&words))),
                        Reply::Err(code) => return Err(Fail::Damaged(format!("ERR {code} inside a list"))),
                    }
                }
            }
            (_, Reply::Data(words)) => Err(Fail::Damaged(unexpected(&words))),
            (_, Reply::Ok(words)) => Err(Fail::Damaged(unexpected_ok(&words))),
        }
    }

    /// Reads one answer line (at most [`MAX_LINE`] bytes with its end) within the request's time.
    fn read_reply(&mut self) -> Result<Reply, Fail> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let reply = self.read_line(&mut line, 0).and_then(|()| parse_line(&line));
        self.line = line;
        reply
    }

    /// Reads up to and with the next line end onto `buf`, whose line starts at `start`.
    fn read_line(&mut self, buf: &mut Vec<u8>, start: usize) -> Result<(), Fail> {
        loop {
            if self.stream.buffer().is_empty() {
                self.bound_read()?;
            }
            let available = match self.stream.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if available.is_empty() {
                return Err(Fail::Closed);
            }
            let room = MAX_LINE - (buf.len() - start);
            let end = available.iter().take(room).position(|b| *b == b'\n');
            let take = end.map_or(available.len().min(room), |at| at + 1);
            buf.extend_from_slice(&available[..take]);
            self.stream.consume(take);
            if end.is_some() {
                return Ok(());
            }
            if buf.len() - start >= MAX_LINE {
                return Err(Fail::Damaged(format!("line longer than {MAX_LINE} bytes")));
            }
        }
    }
}

/// One answer line, read with its end (`\n`, or `\r\n`).
fn parse_line(line: &[u8]) -> Result<Reply, Fail> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    wire::parse_reply(&String::from_utf8_lossy(line)).map_err(Fail::Damaged)
}

fn is_list_mark(words: &[String], mark: &str, header: &[&str]) -> bool {
    words.len() == header.len() + 2
        && words[0] == mark
        && words[1] == "LIST"
        && words[2..].iter().zip(header).all(|(w, h)| w == h)
}

/// Describes an unexpected line for an error, shortened (it comes from the peer).
fn unexpected(words: &[String]) -> String {
    let line: String = words.join(" ").chars().take(120).collect();
    format!("unexpected line {line:?}")
}

fn unexpected_ok(words: &[String]) -> String {
    let mut all = vec!["OK".to_owned()];
    all.extend_from_slice(words);
    unexpected(&all)
}

#[cfg(test)]
mod conversation_tests;
mod power;
pub use power::POWER_VARS;

#[cfg(test)]
mod tests;
