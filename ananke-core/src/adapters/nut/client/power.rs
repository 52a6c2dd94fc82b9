//! The daemon's poll: the three variables the power policy reads, in one round trip.
//!
//! `LIST VAR` answers every variable of the UPS, and upsd sends each line on its own, so one
//! `LIST VAR` of a small UPS costs the reader some sixty system calls. The daemon polls every
//! second for as long as the host is up, so it asks for what it uses instead: three `GET VAR`
//! requests written at once (pipelined, as the protocol allows), answered in order.
//!
//! Most polls read what the last one read. The client keeps the last good answer's bytes and the
//! reading they made: an answer identical byte for byte is not parsed again, and
//! [`NutClient::power_changed`] says so, so the daemon skips everything downstream too.

use super::super::wire::{self, ErrCode, Reply};
use super::super::{NutError, UpsReading};
use super::{parse_line, unexpected, unexpected_ok, Fail, NutClient};
use std::collections::BTreeMap;

/// The variables [`NutClient::power`] reads.
pub const POWER_VARS: [&str; 3] = ["ups.status", "battery.charge", "battery.runtime"];

impl NutClient {
    /// UPS `ups`'s `ups.status`, `battery.charge` and `battery.runtime`, in one round trip. A
    /// variable the UPS does not have (`ERR VAR-NOT-SUPPORTED`) is absent from the reading; `raw`
    /// holds the ones it has.
    ///
    /// # Errors
    /// [`NutError::Server`] for any other `ERR` (`UNKNOWN-UPS`, `DATA-STALE`, ...; the first one,
    /// after every answer was read, so the connection stays usable); the transport errors of any
    /// request.
    pub fn power(&mut self, ups: &str) -> Result<UpsReading, NutError> {
        self.power_changed(ups)?;
        Ok(self.power_reading.clone())
    }

    /// As [`power`](Self::power), but `None` when upsd answered exactly what it answered to the
    /// last `power` request for `ups` on this connection (the reading would be the same).
    ///
    /// # Errors
    /// As [`power`](Self::power).
    pub fn power_changed(&mut self, ups: &str) -> Result<Option<&UpsReading>, NutError> {
        // The request is the same at every poll: written once per UPS name, then reused.
        let lines = match self.power_request.take() {
            Some((name, lines)) if name == ups => lines,
            _ => {
                self.power_answer.clear();
                let mut lines = Vec::new();
                for var in POWER_VARS {
                    let line = wire::request_line("GET", &["VAR", ups, var])
                        .map_err(|why| NutError::InvalidArgument { what: "ups name".to_owned(), why })?;
                    lines.extend_from_slice(line.as_bytes());
                }
                lines
            }
        };
        let changed = self.read_power(&lines, ups);
        self.power_request = Some((ups.to_owned(), lines));
        match changed {
            Ok(true) => Ok(Some(&self.power_reading)),
            Ok(false) => Ok(None),
            Err(fail) => Err(self.error(&format!("GET VAR {ups} ups.status|battery.charge|battery.runtime"), fail)),
        }
    }

    /// Sends the request and reads the three answers into `power_reading`; says whether they
    /// differ from the last good answer (an identical one is not parsed).
    fn read_power(&mut self, lines: &[u8], ups: &str) -> Result<bool, Fail> {
        use std::io::Write;
        self.start_request()?;
        self.stream.get_mut().write_all(lines)?;
        let mut answer = std::mem::take(&mut self.line);
        answer.clear();
        let read = self.read_answers(&mut answer, ups);
        match &read {
            Ok(Some(_)) => std::mem::swap(&mut self.power_answer, &mut answer),
            Ok(None) => {}
            Err(_) => self.power_answer.clear(),
        }
        self.line = answer;
        let Some(raw) = read? else { return Ok(false) };
        self.power_reading = UpsReading::from_vars(raw);
        Ok(true)
    }

    /// The three answers, each parsed as it arrives unless every byte so far matches the last
    /// good answer; `None` when all of them do.
    fn read_answers(&mut self, answer: &mut Vec<u8>, ups: &str) -> Result<Option<BTreeMap<String, String>>, Fail> {
        let mut same = !self.power_answer.is_empty();
        let mut raw = BTreeMap::new();
        let mut first_err = None;
        let mut bounds = [(0, 0); POWER_VARS.len()];
        let mut parsed = 0;
        for i in 0..POWER_VARS.len() {
            let start = answer.len();
            self.read_line(answer, start)?;
            bounds[i] = (start, answer.len());
            same = same && self.power_answer.starts_with(answer);
            if same {
                continue;
            }
            // This answer differs: parse it, and the ones before it that matched.
            while parsed <= i {
                let (begin, end) = bounds[parsed];
                absorb(parse_line(&answer[begin..end])?, POWER_VARS[parsed], ups, &mut raw, &mut first_err)?;
                parsed += 1;
            }
        }
        // Three lines, each ended, all a prefix of the last three: the same answer.
        if same {
            return Ok(None);
        }
        match first_err {
            Some(code) => Err(Fail::Err(code)),
            None => Ok(Some(raw)),
        }
    }
}

/// One answer into the reading: a value, a variable the UPS does not have, or the first `ERR`.
fn absorb(
    reply: Reply,
    var: &str,
    ups: &str,
    raw: &mut BTreeMap<String, String>,
    first_err: &mut Option<ErrCode>,
) -> Result<(), Fail> {
    match reply {
        Reply::Data(words) => match <[String; 4]>::try_from(words) {
            Ok([tag, name, got, value]) if tag == "VAR" && name == ups && got == var => {
                raw.insert(got, value);
                Ok(())
            }
            Ok(words) => Err(Fail::Damaged(unexpected(&words))),
            Err(words) => Err(Fail::Damaged(unexpected(&words))),
        },
        Reply::Err(ErrCode::VarNotSupported) => Ok(()),
        Reply::Err(code) => {
            first_err.get_or_insert(code);
            Ok(())
        }
        Reply::Ok(words) => Err(Fail::Damaged(unexpected_ok(&words))),
    }
}

#[cfg(test)]
#[path = "power_tests.rs"]
mod tests;
