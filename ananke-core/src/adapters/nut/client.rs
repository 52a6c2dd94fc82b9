//! One connection to one `upsd`, every request bounded by a timeout.

use super::wire::{self, ErrCode, Reply, MAX_LINE};
use super::{Credentials, NutError, UpsReading};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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
}

impl NutClient {
    /// Connects to `host:port`; the connection and every later request are bounded by `timeout`.
    ///
    /// # Errors
    /// [`NutError::Connect`] or [`NutError::Timeout`], both transient.
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<Self, NutError> {
        let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let stream = match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
            Err(_) => return Err(NutError::Timeout { addr, request: "connect".to_owned(), after: timeout }),
            Ok(Err(source)) => return Err(NutError::Connect { addr, source }),
            Ok(Ok(stream)) => stream,
        };
        // Requests are single small lines: send each at once. Failure only costs latency.
        let _ = stream.set_nodelay(true);
        Ok(Self { addr, stream: BufReader::new(stream), timeout })
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
    pub async fn login(&mut self, credentials: &Credentials, ups: &str) -> Result<(), NutError> {
        let steps: [(&str, &str, String); 3] = [
            ("USERNAME", credentials.username(), "USERNAME".to_owned()),
            ("PASSWORD", credentials.password(), "PASSWORD".to_owned()),
            ("LOGIN", ups, format!("LOGIN {ups}")),
        ];
        for (verb, arg, request) in steps {
            let what = if verb == "PASSWORD" { "the password" } else { verb };
            match self.exchange(verb, &[arg], &request, what, Expect::Ok).await {
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
    pub async fn list_ups(&mut self) -> Result<Vec<UpsListing>, NutError> {
        let lines = self.exchange("LIST", &["UPS"], "LIST UPS", "LIST UPS", Expect::List(&["UPS"])).await?;
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
    pub async fn list_vars(&mut self, ups: &str) -> Result<BTreeMap<String, String>, NutError> {
        let request = format!("LIST VAR {ups}");
        let lines = self.exchange("LIST", &["VAR", ups], &request, "ups name", Expect::List(&["VAR", ups])).await?;
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
    pub async fn get_var(&mut self, ups: &str, var: &str) -> Result<String, NutError> {
        let request = format!("GET VAR {ups} {var}");
        // `Expect::One` answers with exactly one line.
        let mut lines = self.exchange("GET", &["VAR", ups, var], &request, "ups or variable name", Expect::One).await?;
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
    pub async fn status(&mut self, ups: &str) -> Result<UpsReading, NutError> {
        Ok(UpsReading::from_vars(self.list_vars(ups).await?))
    }

    /// Says goodbye (`LOGOUT`) and closes the connection.
    ///
    /// # Errors
    /// Any [`NutError`] of a request; the connection is closed either way.
    pub async fn logout(mut self) -> Result<(), NutError> {
        self.exchange("LOGOUT", &[], "LOGOUT", "LOGOUT", Expect::Ok).await.map(drop)
    }

    fn damaged(&self, request: &str, words: &[String]) -> NutError {
        NutError::Protocol { addr: self.addr.clone(), request: request.to_owned(), detail: unexpected(words) }
    }

    /// Sends one request and reads its whole answer within the timeout. `request` describes it in
    /// errors and `what` names its arguments, so neither ever holds a password.
    async fn exchange(
        &mut self,
        verb: &str,
        args: &[&str],
        request: &str,
        what: &str,
        expect: Expect<'_>,
    ) -> Result<Vec<Vec<String>>, NutError> {
        let line =
            wire::request_line(verb, args).map_err(|why| NutError::InvalidArgument { what: what.to_owned(), why })?;
        let outcome = tokio::time::timeout(self.timeout, self.send_and_read(&line, expect)).await;
        let (addr, request) = (self.addr.clone(), request.to_owned());
        match outcome {
            Err(_) => Err(NutError::Timeout { addr, request, after: self.timeout }),
            Ok(Ok(lines)) => Ok(lines),
            Ok(Err(Fail::Err(code))) => Err(NutError::Server { addr, request, code }),
            Ok(Err(Fail::Io(e))) => Err(NutError::Lost { addr, request, reason: e.to_string() }),
            Ok(Err(Fail::Closed)) => Err(NutError::Lost { addr, request, reason: "closed by upsd".to_owned() }),
            Ok(Err(Fail::Damaged(detail))) => Err(NutError::Protocol { addr, request, detail }),
        }
    }

    async fn send_and_read(&mut self, line: &str, expect: Expect<'_>) -> Result<Vec<Vec<String>>, Fail> {
        self.stream.get_mut().write_all(line.as_bytes()).await.map_err(Fail::Io)?;
        let first = self.read_reply().await?;
        match (expect, first) {
            (_, Reply::Err(code)) => Err(Fail::Err(code)),
            (Expect::Ok, Reply::Ok(_)) => Ok(Vec::new()),
            (Expect::One, Reply::Data(words)) => Ok(vec![words]),
            (Expect::List(header), Reply::Data(words)) if is_list_mark(&words, "BEGIN", header) => {
                let mut items = Vec::new();
                loop {
                    match self.read_reply().await? {
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

    async fn read_reply(&mut self) -> Result<Reply, Fail> {
        let mut buf = Vec::new();
        let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX);
        let n = (&mut self.stream).take(limit).read_until(b'\n', &mut buf).await.map_err(Fail::Io)?;
        if n == 0 {
            return Err(Fail::Closed);
        }
        if buf.pop() != Some(b'\n') {
            return Err(if n >= MAX_LINE {
                Fail::Damaged(format!("line longer than {MAX_LINE} bytes"))
            } else {
                Fail::Closed
            });
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        wire::parse_reply(&String::from_utf8_lossy(&buf)).map_err(Fail::Damaged)
    }
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
