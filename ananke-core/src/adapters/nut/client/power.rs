//! The daemon's poll: the three variables the power policy reads, in one round trip.
//!
//! `LIST VAR` answers every variable of the UPS, and upsd sends each line on its own, so one
//! `LIST VAR` of a small UPS costs the reader some sixty system calls. The daemon polls every
//! second for as long as the host is up, so it asks for what it uses instead: three `GET VAR`
//! requests written at once (pipelined, as the protocol allows), answered in order.

use super::super::wire::{self, ErrCode, Reply};
use super::super::{NutError, UpsReading};
use super::{unexpected, unexpected_ok, Fail, NutClient};
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
        // The request is the same at every poll: written once per UPS name, then reused.
        let lines = match self.power_request.take() {
            Some((name, lines)) if name == ups => lines,
            _ => {
                let mut lines = Vec::new();
                for var in POWER_VARS {
                    let line = wire::request_line("GET", &["VAR", ups, var])
                        .map_err(|why| NutError::InvalidArgument { what: "ups name".to_owned(), why })?;
                    lines.extend_from_slice(line.as_bytes());
                }
                lines
            }
        };
        let answer = self.read_power(&lines, ups);
        self.power_request = Some((ups.to_owned(), lines));
        answer
            .map(UpsReading::from_vars)
            .map_err(|fail| self.error(&format!("GET VAR {ups} ups.status|battery.charge|battery.runtime"), fail))
    }

    fn read_power(&mut self, lines: &[u8], ups: &str) -> Result<BTreeMap<String, String>, Fail> {
        use std::io::Write;
        self.start_request()?;
        self.stream.get_mut().write_all(lines)?;
        let mut raw = BTreeMap::new();
        let mut first_err = None;
        for var in POWER_VARS {
            match self.read_reply()? {
                Reply::Data(words) => match <[String; 4]>::try_from(words) {
                    Ok([tag, name, got, value]) if tag == "VAR" && name == ups && got == var => {
                        raw.insert(got, value);
                    }
                    Ok(words) => return Err(Fail::Damaged(unexpected(&words))),
                    Err(words) => return Err(Fail::Damaged(unexpected(&words))),
                },
                Reply::Err(ErrCode::VarNotSupported) => {}
                Reply::Err(code) => {
                    first_err.get_or_insert(code);
                }
                Reply::Ok(words) => return Err(Fail::Damaged(unexpected_ok(&words))),
            }
        }
        match first_err {
            Some(code) => Err(Fail::Err(code)),
            None => Ok(raw),
        }
    }
}

#[cfg(test)]
#[path = "power_tests.rs"]
mod tests;
