//! The NUT protocol's line format: words, quoting, replies and `ERR` codes.
//!
//! Pure functions over strings; `client.rs` does the I/O. upsd is a peer: a damaged line is an
//! error value, never a panic.

use std::fmt;

/// Longest line accepted from upsd, newline included (upsd's own lines are far shorter).
pub(super) const MAX_LINE: usize = 16 * 1024;

/// An `ERR` code from upsd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrCode {
    /// `ACCESS-DENIED`: wrong password, or the user may not do this.
    AccessDenied,
    /// `UNKNOWN-UPS`: no UPS of that name on this upsd.
    UnknownUps,
    /// `VAR-NOT-SUPPORTED`: the UPS has no such variable.
    VarNotSupported,
    /// `DATA-STALE`: the driver has not refreshed the data within upsd's `MAXAGE`.
    DataStale,
    /// `DRIVER-NOT-CONNECTED`: upsd has no connection to the UPS's driver.
    DriverNotConnected,
    /// `USERNAME-REQUIRED`: `LOGIN` before `USERNAME`.
    UsernameRequired,
    /// `PASSWORD-REQUIRED`: `LOGIN` before `PASSWORD`.
    PasswordRequired,
    /// `INVALID-USERNAME`.
    InvalidUsername,
    /// `INVALID-PASSWORD`.
    InvalidPassword,
    /// `ALREADY-LOGGED-IN`: a second `LOGIN` on one connection.
    AlreadyLoggedIn,
    /// `UNKNOWN-COMMAND`.
    UnknownCommand,
    /// Any other code, verbatim.
    Other(String),
}

/// Wire names of the codes with their own variant.
const NAMED: &[(&str, ErrCode)] = &[
    ("ACCESS-DENIED", ErrCode::AccessDenied),
    ("UNKNOWN-UPS", ErrCode::UnknownUps),
    ("VAR-NOT-SUPPORTED", ErrCode::VarNotSupported),
    ("DATA-STALE", ErrCode::DataStale),
    ("DRIVER-NOT-CONNECTED", ErrCode::DriverNotConnected),
    ("USERNAME-REQUIRED", ErrCode::UsernameRequired),
    ("PASSWORD-REQUIRED", ErrCode::PasswordRequired),
    ("INVALID-USERNAME", ErrCode::InvalidUsername),
    ("INVALID-PASSWORD", ErrCode::InvalidPassword),
    ("ALREADY-LOGGED-IN", ErrCode::AlreadyLoggedIn),
    ("UNKNOWN-COMMAND", ErrCode::UnknownCommand),
];

impl ErrCode {
    /// The code for the wire word `word`.
    #[must_use]
    pub fn from_wire(word: &str) -> Self {
        NAMED.iter().find(|(w, _)| *w == word).map_or_else(|| ErrCode::Other(word.to_owned()), |(_, c)| c.clone())
    }

    /// The code as upsd spells it.
    #[must_use]
    pub fn as_wire(&self) -> &str {
        match self {
            ErrCode::Other(word) => word,
            known => NAMED.iter().find(|(_, c)| c == known).map_or("?", |(w, _)| w),
        }
    }

    /// Whether the condition may clear by itself: the driver is late or reconnecting.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, ErrCode::DataStale | ErrCode::DriverNotConnected)
    }

    /// What the code means for an operator, in words, for the codes a misconfiguration or an
    /// outage produces.
    #[must_use]
    pub fn meaning(&self) -> Option<&'static str> {
        Some(match self {
            ErrCode::AccessDenied => {
                "access denied: the password is wrong, or the user is not an `upsmon` user in upsd.users"
            }
            ErrCode::UnknownUps => "upsd serves no UPS of that name",
            ErrCode::DataStale => "stale: the driver has sent upsd nothing new within upsd's MAXAGE",
            ErrCode::DriverNotConnected => "upsd has no connection to the UPS's driver",
            ErrCode::InvalidUsername | ErrCode::InvalidPassword => "upsd refuses that user name or password",
            _ => return None,
        })
    }

    /// Whether the code answers bad credentials.
    #[must_use]
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            ErrCode::AccessDenied | ErrCode::InvalidUsername | ErrCode::InvalidPassword | ErrCode::PasswordRequired
        )
    }
}

impl fmt::Display for ErrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_wire())
    }
}

/// One line from upsd, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reply {
    /// `OK ...`: the words after `OK`.
    Ok(Vec<String>),
    /// `ERR <code> ...`.
    Err(ErrCode),
    /// Any other line, split into words (`VAR ...`, `BEGIN LIST ...`, ...).
    Data(Vec<String>),
}

/// Splits a line into words: blanks separate words, `"..."` groups a word, and a backslash makes
/// the next character literal (inside quotes or not), as upsd's `pconf_encode` writes them.
pub(super) fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().ok_or("line ends inside a backslash escape")?;
                word.push(next);
                in_word = true;
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_control() && c != '\t' => return Err(format!("control character {c:?} in a line")),
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err("line ends inside a quoted value".to_owned());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Classifies one line (without its line break).
pub(super) fn parse_reply(line: &str) -> Result<Reply, String> {
    let mut words = split_words(line)?;
    match words.first().map(String::as_str) {
        None => Err("empty line".to_owned()),
        Some("OK") => Ok(Reply::Ok(words.split_off(1))),
        Some("ERR") => match words.get(1) {
            Some(code) => Ok(Reply::Err(ErrCode::from_wire(code))),
            None => Err("ERR without a code".to_owned()),
        },
        Some(_) => Ok(Reply::Data(words)),
    }
}

/// Quotes one word for a request, so that blanks, quotes and backslashes survive upsd's parser.
/// A line break or another control character cannot be sent on a line protocol: that is an error,
/// and the error names no part of the value (it may be a password).
pub(super) fn quote(word: &str) -> Result<String, &'static str> {
    if word.chars().any(|c| c.is_control() && c != '\t') {
        return Err("it contains a line break or another control character");
    }
    let plain = !word.is_empty() && !word.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\');
    if plain {
        return Ok(word.to_owned());
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// A whole request line: the verb, its quoted arguments, a line break.
pub(super) fn request_line(verb: &str, args: &[&str]) -> Result<String, &'static str> {
    let mut line = verb.to_owned();
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg)?);
    }
    line.push('\n');
    Ok(line)
}

/// A finite, non-negative number (`battery.charge`, `"100"` or `"97.5"`).
pub(super) fn parse_number(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0)
}

/// Whole seconds (`battery.runtime`, `"1800"` or `"1800.40"`), rounded; `None` when negative,
/// not a number, or too large to be a runtime.
pub(super) fn parse_seconds(value: &str) -> Option<u64> {
    let trimmed = value.trim();
    if let Ok(secs) = trimmed.parse::<u64>() {
        return Some(secs);
    }
    let secs = parse_number(trimmed)?.round();
    // Below 2^53 the float holds an exact integer, so the cast neither truncates nor wraps.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (secs < 9_007_199_254_740_992.0).then_some(secs as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_words(line).expect("splits")
    }

    #[test]
    fn words_split_on_blanks_and_keep_quoted_blanks() {
        assert_eq!(words("VAR dummy ups.status \"OB LB\""), ["VAR", "dummy", "ups.status", "OB LB"]);
        assert_eq!(words("  BEGIN\tLIST   UPS  "), ["BEGIN", "LIST", "UPS"]);
        assert_eq!(words("UPS dummy \"\""), ["UPS", "dummy", ""]);
    }

    #[test]
    fn escapes_make_quotes_and_backslashes_literal() {
        assert_eq!(words(r#"UPS dummy "lab \"ups\"""#), ["UPS", "dummy", "lab \"ups\""]);
        assert_eq!(words(r#"VAR u x "a\\b""#), ["VAR", "u", "x", "a\\b"]);
        assert_eq!(words(r"VAR u x a\ b"), ["VAR", "u", "x", "a b"]);
        assert_eq!(words("VAR u x \"caf\u{e9}\""), ["VAR", "u", "x", "caf\u{e9}"]);
    }

    #[test]
    fn damaged_lines_are_errors() {
        assert!(split_words("VAR u x \"unterminated").is_err());
        assert!(split_words("VAR u x \\").is_err());
        assert!(split_words("VAR u x \"a\u{1}b\"").is_err());
        assert_eq!(parse_reply("").unwrap_err(), "empty line");
        assert_eq!(parse_reply("   ").unwrap_err(), "empty line");
        assert!(parse_reply("ERR").is_err());
    }

    #[test]
    fn replies_are_classified() {
        assert_eq!(parse_reply("OK"), Ok(Reply::Ok(vec![])));
        assert_eq!(parse_reply("OK Goodbye"), Ok(Reply::Ok(vec!["Goodbye".to_owned()])));
        assert_eq!(parse_reply("ERR DATA-STALE"), Ok(Reply::Err(ErrCode::DataStale)));
        assert_eq!(parse_reply("ERR UNKNOWN-UPS extra words"), Ok(Reply::Err(ErrCode::UnknownUps)));
        assert_eq!(parse_reply("ERR SOMETHING-NEW"), Ok(Reply::Err(ErrCode::Other("SOMETHING-NEW".to_owned()))));
        assert_eq!(parse_reply("END LIST UPS"), Ok(Reply::Data(words("END LIST UPS"))));
    }

    #[test]
    fn err_codes_round_trip_and_classify() {
        for (wire, code) in NAMED {
            assert_eq!(ErrCode::from_wire(wire), *code);
            assert_eq!(code.to_string(), *wire);
        }
        assert_eq!(ErrCode::Other("X-Y".to_owned()).to_string(), "X-Y");
        assert!(ErrCode::DataStale.is_transient() && ErrCode::DriverNotConnected.is_transient());
        assert!(!ErrCode::UnknownUps.is_transient() && !ErrCode::AccessDenied.is_transient());
        assert!(ErrCode::AccessDenied.is_auth() && ErrCode::InvalidPassword.is_auth());
        assert!(!ErrCode::UnknownUps.is_auth());
    }

    #[test]
    fn requests_quote_what_needs_quoting() {
        assert_eq!(request_line("LIST", &["VAR", "dummy"]).unwrap(), "LIST VAR dummy\n");
        assert_eq!(request_line("PASSWORD", &["pa ss\"\\"]).unwrap(), "PASSWORD \"pa ss\\\"\\\\\"\n");
        assert_eq!(request_line("PASSWORD", &[""]).unwrap(), "PASSWORD \"\"\n");
        let quoted = quote("a \"b\" \\c").unwrap();
        assert_eq!(words(&quoted), ["a \"b\" \\c"]);
    }

    #[test]
    fn line_breaks_cannot_be_sent_and_the_error_hides_the_value() {
        let err = request_line("PASSWORD", &["sec\nret"]).unwrap_err();
        assert!(!err.contains("sec"));
        assert!(quote("a\rb").is_err() && quote("a\0b").is_err());
    }

    #[test]
    fn numbers_parse_leniently_and_never_panic() {
        assert_eq!(parse_number("100"), Some(100.0));
        assert_eq!(parse_number(" 97.5 "), Some(97.5));
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("full"), None);
        assert_eq!(parse_seconds("1800"), Some(1800));
        assert_eq!(parse_seconds("1800.6"), Some(1801));
        assert_eq!(parse_seconds("-5"), None);
        assert_eq!(parse_seconds("1e300"), None);
        assert_eq!(parse_seconds(""), None);
    }

    proptest::proptest! {
        #[test]
        fn any_line_parses_or_fails_without_panicking(line in "(?s).{0,80}") {
            let _ = parse_reply(&line);
        }

        #[test]
        fn every_sendable_word_survives_quoting(word in "\\PC{0,40}") {
            let quoted = quote(&word).expect("no line break");
            proptest::prop_assert_eq!(split_words(&quoted).expect("splits"), vec![word]);
        }
    }
}
