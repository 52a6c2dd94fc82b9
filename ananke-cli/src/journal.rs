//! stderr as the journal reads it: under systemd, stderr is a stream to journald, which gives
//! each line the priority of its `<N>` prefix (`SyslogLevelPrefix=`, on by default; sd-daemon(3)),
//! so `journalctl -p warning -u ananke` finds ananke's warnings and errors. The prefix is written
//! only when stderr is that stream: systemd names it in `JOURNAL_STREAM` (`DEVICE:INODE`), and
//! a terminal, a pipe or a file an operator redirected to keep plain lines.

use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

/// A syslog priority, as journald reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// `err` (3).
    Err = 3,
    /// `warning` (4).
    Warning = 4,
    /// `notice` (5).
    Notice = 5,
    /// `info` (6).
    Info = 6,
}

impl From<ananke_core::power::Severity> for Priority {
    fn from(s: ananke_core::power::Severity) -> Self {
        match s {
            ananke_core::power::Severity::Notice => Priority::Notice,
            ananke_core::power::Severity::Warning => Priority::Warning,
            ananke_core::power::Severity::Error => Priority::Err,
        }
    }
}

/// Whether stderr is the journal stream systemd named, so lines get priorities (checked once
/// per process).
#[must_use]
pub fn on_journal() -> bool {
    static TO_JOURNAL: OnceLock<bool> = OnceLock::new();
    *TO_JOURNAL.get_or_init(|| {
        let Ok(stream) = std::env::var("JOURNAL_STREAM") else { return false };
        // fstat(2) of a duplicate of fd 2, as systemd's own check does (no /proc needed).
        let stderr = std::io::stderr().as_fd().try_clone_to_owned().map(std::fs::File::from);
        stderr.and_then(|f| f.metadata()).is_ok_and(|m| is_stream(&stream, m.dev(), m.ino()))
    })
}

/// Whether `JOURNAL_STREAM`'s `DEVICE:INODE` is the file `(dev, ino)`.
fn is_stream(stream: &str, dev: u64, ino: u64) -> bool {
    stream.split_once(':').is_some_and(|(d, i)| d.parse() == Ok(dev) && i.parse() == Ok(ino))
}

/// `text` with every line prefixed by `<N>` when `prefixed` (a message on several lines keeps
/// its priority on each).
fn render(priority: Priority, text: &str, prefixed: bool) -> String {
    if !prefixed {
        return text.to_owned();
    }
    let p = priority as u8;
    text.lines().map(|l| format!("<{p}>{l}")).collect::<Vec<_>>().join("\n")
}

/// Write `text` on stderr at `priority`; a stderr that cannot be written loses the line, never
/// the process (a daemon whose journal stream broke keeps running).
pub fn say(priority: Priority, text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{}", render(priority, text, on_journal()));
}

/// `error: ...` on stderr, at priority `err`.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => {
        $crate::journal::say($crate::journal::Priority::Err, &format!("error: {}", format_args!($($arg)*)))
    };
}

/// `warning: ...` on stderr, at priority `warning`.
#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)*) => {
        $crate::journal::say($crate::journal::Priority::Warning, &format!("warning: {}", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_stream_gets_prefixes() {
        assert!(is_stream("64768:123", 64768, 123));
        assert!(!is_stream("64768:124", 64768, 123));
        assert!(!is_stream("64768", 64768, 123));
        assert!(!is_stream("x:123", 64768, 123));
        assert_eq!(render(Priority::Warning, "a\nb", true), "<4>a\n<4>b");
        assert_eq!(render(Priority::Err, "a\nb", false), "a\nb");
        assert_eq!(render(Priority::Info, "x", true), "<6>x");
        assert_eq!(render(Priority::Notice, "x", true), "<5>x");
        for (s, p) in [
            (ananke_core::power::Severity::Notice, Priority::Notice),
            (ananke_core::power::Severity::Warning, Priority::Warning),
            (ananke_core::power::Severity::Error, Priority::Err),
        ] {
            assert_eq!(Priority::from(s), p);
        }
    }
}
