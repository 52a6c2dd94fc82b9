//! The pipelined power poll against fake upsd peers.

use crate::adapters::nut::{NutClient, NutError};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A fake upsd that reads three request lines per answer in `answers` and checks they are the
/// pipelined GETs for UPS `dummy`, then writes the answer; it hands back what it was sent once
/// the client hangs up.
fn peer(answers: Vec<&'static [u8]>) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let task = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        // A client that neither asks nor hangs up fails the test instead of hanging it.
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
        let mut stream = BufReader::new(stream);
        let mut seen = Vec::new();
        for answer in answers {
            for _ in 0..3 {
                let mut line = String::new();
                stream.read_line(&mut line).expect("a request line");
                seen.push(line);
            }
            stream.get_mut().write_all(answer).expect("answer");
        }
        // Silent, not gone, until the client hangs up.
        let mut rest = String::new();
        let _ = stream.read_line(&mut rest);
        seen
    });
    (port, task)
}

fn client(port: u16) -> NutClient {
    NutClient::connect("127.0.0.1", port, Duration::from_millis(500)).expect("connects")
}

#[test]
fn three_pipelined_gets_make_one_reading_and_a_missing_variable_is_absent() {
    let full = b"VAR dummy ups.status \"OB DISCHRG LB\"\nVAR dummy battery.charge \"9.5\"\nVAR dummy battery.runtime \"120\"\n";
    let partial = b"VAR dummy ups.status \"OL\"\nERR VAR-NOT-SUPPORTED\nERR VAR-NOT-SUPPORTED\n";
    let (port, task) = peer(vec![full, partial]);
    let mut c = client(port);
    let reading = c.power("dummy").expect("a reading");
    assert_eq!(reading.flags, ["OB", "DISCHRG", "LB"]);
    assert_eq!((reading.charge, reading.runtime_s), (Some(9.5), Some(120)));
    let reading = c.power("dummy").expect("a reading without battery variables");
    assert_eq!((reading.flags.as_slice(), reading.charge, reading.runtime_s), (&["OL".to_owned()][..], None, None));
    assert_eq!(reading.raw.len(), 1);
    drop(c);
    let seen = task.join().expect("peer");
    let one = ["GET VAR dummy ups.status\n", "GET VAR dummy battery.charge\n", "GET VAR dummy battery.runtime\n"];
    assert_eq!(seen, [one, one].concat());
}

#[test]
fn an_err_is_reported_after_every_answer_is_read_so_the_connection_stays_in_step() {
    let stale = b"ERR DATA-STALE\nERR DATA-STALE\nERR DATA-STALE\n";
    let fresh = b"VAR dummy ups.status \"OL\"\nVAR dummy battery.charge \"100\"\nVAR dummy battery.runtime \"1800\"\n";
    let (port, _task) = peer(vec![stale, fresh]);
    let mut c = client(port);
    let err = c.power("dummy").expect_err("stale data");
    assert!(err.is_stale_data() && !err.breaks_connection(), "{err}");
    assert!(
        err.to_string().ends_with(
            "answered ERR DATA-STALE to GET VAR dummy ups.status|battery.charge|battery.runtime \
             (stale: the driver has sent upsd nothing new within upsd's MAXAGE)"
        ),
        "{err}"
    );
    let reading = c.power("dummy").expect("the next poll reads the next answers");
    assert_eq!(reading.runtime_s, Some(1800));
}

#[test]
fn answers_out_of_step_or_out_of_protocol_break_the_connection() {
    for (answer, detail) in [
        (&b"VAR dummy battery.charge \"100\"\n"[..], "unexpected line \"VAR dummy battery.charge 100\""),
        (b"VAR other ups.status \"OL\"\n", "unexpected line \"VAR other ups.status OL\""),
        (b"VAR dummy ups.status\n", "unexpected line \"VAR dummy ups.status\""),
        (b"OK\n", "unexpected line \"OK\""),
    ] {
        let (port, _task) = peer(vec![answer]);
        let err = client(port).power("dummy").expect_err("a protocol violation");
        assert!(err.breaks_connection() && err.to_string().ends_with(detail), "{err}");
    }
}

#[test]
fn silence_times_out_and_a_hang_up_is_lost() {
    let (port, _task) = peer(vec![b""]);
    let err = client(port).power("dummy").expect_err("no answer");
    assert!(matches!(err, NutError::Timeout { .. }), "{err}");
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || drop(listener.accept()));
    let err = client(port).power("dummy").expect_err("hung up");
    assert!(matches!(err, NutError::Lost { .. }), "{err}");
    // A name that cannot go on one line is refused before anything is sent.
    let (port, task) = peer(vec![]);
    let err = client(port).power("bad\nname").expect_err("an invalid name");
    assert_eq!(err.to_string(), "cannot send ups name to upsd: it contains a line break or another control character");
    assert!(task.join().expect("peer").is_empty());
}

#[test]
fn an_answer_like_the_last_one_is_not_read_again_and_anything_else_is() {
    let ol = b"VAR dummy ups.status \"OL\"\nVAR dummy battery.charge \"100\"\nVAR dummy battery.runtime \"1800\"\n";
    let ob = b"VAR dummy ups.status \"OB\"\nVAR dummy battery.charge \"100\"\nVAR dummy battery.runtime \"1800\"\n";
    // Only its last line differs from `ob`: the two lines before it were not parsed when read.
    let later = b"VAR dummy ups.status \"OB\"\nVAR dummy battery.charge \"100\"\nVAR dummy battery.runtime \"1700\"\n";
    let stale = b"ERR DATA-STALE\nERR DATA-STALE\nERR DATA-STALE\n";
    let other = b"VAR other ups.status \"OL\"\nVAR other battery.charge \"100\"\nVAR other battery.runtime \"1800\"\n";
    let (port, task) = peer(vec![ol, ol, ob, later, later, later, stale, later, other, later]);
    let mut c = client(port);
    let flags = |reading: Option<&crate::adapters::nut::UpsReading>| reading.map(|r| (r.flags.join(" "), r.runtime_s));
    assert_eq!(flags(c.power_changed("dummy").expect("OL")), Some(("OL".to_owned(), Some(1800))));
    assert_eq!(flags(c.power_changed("dummy").expect("OL again")), None);
    assert_eq!(flags(c.power_changed("dummy").expect("OB")), Some(("OB".to_owned(), Some(1800))));
    assert_eq!(flags(c.power_changed("dummy").expect("a new runtime")), Some(("OB".to_owned(), Some(1700))));
    assert_eq!(flags(c.power_changed("dummy").expect("the same")), None);
    let reading = c.power("dummy").expect("the same answer, as a whole reading");
    assert_eq!(
        (reading.flags.join(" "), reading.charge, reading.runtime_s),
        ("OB".to_owned(), Some(100.0), Some(1700))
    );
    assert!(c.power_changed("dummy").expect_err("stale").is_stale_data());
    // After an error, the same answer as before it is news again.
    assert_eq!(flags(c.power_changed("dummy").expect("after the error")), Some(("OB".to_owned(), Some(1700))));
    // So is the same answer after a request for another UPS.
    assert_eq!(flags(c.power_changed("other").expect("another UPS")), Some(("OL".to_owned(), Some(1800))));
    assert_eq!(flags(c.power_changed("dummy").expect("back to dummy")), Some(("OB".to_owned(), Some(1700))));
    drop(c);
    let seen = task.join().expect("peer");
    assert_eq!(seen.len(), 30);
    assert_eq!(
        seen[24..27],
        ["GET VAR other ups.status\n", "GET VAR other battery.charge\n", "GET VAR other battery.runtime\n"]
    );
}
