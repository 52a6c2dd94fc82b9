//! The client against fake upsd peers that misbehave.

use super::{NutClient, NutError, MAX_LIST_ITEMS};
use crate::adapters::nut::wire::MAX_LINE;
use crate::adapters::nut::ErrCode;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// A fake upsd on loopback that answers the first request with `reply`, then stays silent (for at
/// most five seconds, until the client hangs up) or, with `hang_up`, hangs up itself.
fn peer(reply: Vec<u8>, hang_up: bool) -> (String, u16) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut stream = BufReader::new(stream);
        let mut request = String::new();
        stream.read_line(&mut request).expect("request");
        stream.get_mut().write_all(&reply).expect("reply");
        if !hang_up {
            stream.get_ref().set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
            let _ = stream.read_to_end(&mut Vec::new());
        }
    });
    ("127.0.0.1".to_owned(), port)
}

fn list_vars_against(reply: &[u8]) -> NutError {
    list_vars_from(reply, false)
}

fn list_vars_from(reply: &[u8], hang_up: bool) -> NutError {
    let (host, port) = peer(reply.to_vec(), hang_up);
    let mut client = NutClient::connect(&host, port, Duration::from_millis(300)).expect("connects");
    client.list_vars("dummy").expect_err("the peer misbehaves")
}

#[test]
fn damaged_answers_are_protocol_errors() {
    let cases: [&[u8]; 5] = [
        b"VAR dummy ups.status \"unterminated\n",
        b"OK\n",
        b"BEGIN LIST VAR dummy\nVAR other ups.status \"OL\"\nEND LIST VAR dummy\n",
        b"BEGIN LIST VAR dummy\nERR DATA-STALE\n",
        b"BEGIN LIST VAR dummy\nVAR dummy ups.status\nEND LIST VAR dummy\n",
    ];
    for reply in cases {
        let err = list_vars_against(reply);
        assert!(matches!(err, NutError::Protocol { .. }) && !err.is_transient(), "{err:?}");
        assert!(err.breaks_connection());
    }
    let long = [vec![b'x'; MAX_LINE + 10], b"\n".to_vec()].concat();
    assert!(matches!(list_vars_against(&long), NutError::Protocol { .. }));
}

#[test]
fn answers_of_the_wrong_shape_are_protocol_errors_naming_the_line() {
    let cases: [(&[u8], &str); 3] = [
        (b"VAR dummy ups.status \"OL\"\n", "unexpected line \"VAR dummy ups.status OL\""),
        (b"BEGIN LIST VAR dummy\nOK Goodbye\n", "unexpected line \"OK Goodbye\""),
        (b"OK\n", "unexpected line \"OK\""),
    ];
    for (reply, detail) in cases {
        let err = list_vars_against(reply);
        assert!(
            matches!(&err, NutError::Protocol { request, detail: got, .. } if request == "LIST VAR dummy" && got == detail),
            "{reply:?}: {err:?}"
        );
    }
    let mut long = b"BEGIN LIST VAR dummy\n".to_vec();
    for i in 0..=MAX_LIST_ITEMS {
        long.extend_from_slice(format!("VAR dummy v{i} \"1\"\n").as_bytes());
    }
    let err = list_vars_against(&long);
    assert!(
        matches!(&err, NutError::Protocol { detail, .. } if *detail == format!("list longer than {MAX_LIST_ITEMS} lines")),
        "{err:?}"
    );
}

#[test]
fn a_ups_listing_with_another_tag_is_a_protocol_error() {
    let (host, port) = peer(b"BEGIN LIST UPS\nVAR dummy \"x\"\nEND LIST UPS\n".to_vec(), false);
    let mut client = NutClient::connect(&host, port, Duration::from_millis(300)).expect("connects");
    let err = client.list_ups().expect_err("a VAR line in a UPS listing");
    assert!(
        matches!(&err, NutError::Protocol { request, detail, .. } if request == "LIST UPS" && detail.contains("VAR dummy x")),
        "{err:?}"
    );
}

#[test]
fn crlf_line_ends_are_accepted() {
    let reply = b"BEGIN LIST VAR dummy\r\nVAR dummy ups.status \"OL\"\r\nEND LIST VAR dummy\r\n".to_vec();
    let (host, port) = peer(reply, false);
    let mut client = NutClient::connect(&host, port, Duration::from_millis(300)).expect("connects");
    let vars = client.list_vars("dummy").expect("a CRLF answer");
    assert_eq!(vars.get("ups.status").map(String::as_str), Some("OL"));
}

#[test]
fn a_reset_connection_is_lost_with_the_reason() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let peer = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        // Closing with the request still unread sends a reset instead of a FIN (std has no stable
        // SO_LINGER), so the request is only peeked at, never read.
        let mut request = [0; 64];
        let n = stream.peek(&mut request).expect("request");
        assert_eq!(&request[..n], b"LIST VAR dummy\n");
    });
    let mut client = NutClient::connect("127.0.0.1", port, Duration::from_secs(2)).expect("connects");
    let err = client.list_vars("dummy").expect_err("reset");
    peer.join().expect("peer");
    match &err {
        NutError::Lost { request, reason, .. } => {
            assert_eq!(request, "LIST VAR dummy");
            assert!(reason.contains("reset"), "{reason}");
        }
        other => panic!("expected a lost connection, got {other:?}"),
    }
    assert!(err.is_transient());
}

#[test]
fn a_connect_that_gets_no_answer_times_out() {
    // A listener whose backlog is full (nobody accepts): the kernel drops further SYNs unanswered.
    // std listens with a backlog of 128, so some 129 connections queue before one gets no answer.
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let mut queued = Vec::new();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => queued.push(stream),
            Err(e) if e.kind() == ErrorKind::TimedOut => break,
            Err(e) => panic!("filling the backlog after {} connections: {e}", queued.len()),
        }
        assert!(queued.len() <= 10_000, "the backlog never filled");
    }
    let err = NutClient::connect("127.0.0.1", addr.port(), Duration::from_millis(200)).expect_err("no answer");
    assert!(
        matches!(&err, NutError::Timeout { request, after, .. } if request == "connect" && *after == Duration::from_millis(200)),
        "{err:?}"
    );
    assert!(err.is_transient());
}

#[test]
fn silence_and_hangups_are_transient() {
    let err = list_vars_against(b"");
    assert!(matches!(err, NutError::Timeout { .. }) && err.is_transient(), "{err:?}");
    let err = list_vars_against(b"BEGIN LIST VAR dummy\n");
    assert!(matches!(err, NutError::Timeout { .. }), "{err:?}");
    for reply in [&b""[..], b"BEGIN LIST VAR dummy\nVAR dummy ups.st"] {
        let err = list_vars_from(reply, true);
        assert!(matches!(err, NutError::Lost { .. }) && err.is_transient(), "{err:?}");
    }
    let (host, port) = {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
        ("127.0.0.1".to_owned(), listener.local_addr().expect("addr").port())
    };
    let err = NutClient::connect(&host, port, Duration::from_secs(2)).expect_err("nobody listens");
    assert!(matches!(err, NutError::Connect { .. }) && err.is_transient(), "{err:?}");
}

#[test]
fn err_answers_keep_their_code_and_class() {
    let err = list_vars_against(b"ERR DATA-STALE\n");
    assert!(err.is_transient() && err.is_stale_data() && !err.breaks_connection(), "{err:?}");
    let err = list_vars_against(b"ERR UNKNOWN-UPS\n");
    assert!(!err.is_transient() && !err.is_stale_data(), "{err:?}");
    let text = err.to_string();
    assert!(
        matches!(&err, NutError::Server { addr, .. } if text == format!("upsd at {addr} answered ERR UNKNOWN-UPS to LIST VAR dummy (upsd serves no UPS of that name)")),
        "{text}"
    );
}

#[test]
fn a_peer_that_trickles_is_cut_off_at_the_request_timeout_not_per_read() {
    // Forty bytes of a list, one every 50 ms, never a whole answer: each read gets something,
    // so only the request's own deadline can end it.
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let peer = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let _ = stream.write_all(b"BEGIN LIST VAR dummy\n");
        for _ in 0..40 {
            thread::sleep(Duration::from_millis(50));
            if stream.write_all(b"V").is_err() {
                break;
            }
        }
    });
    let timeout = Duration::from_millis(300);
    let mut client = NutClient::connect("127.0.0.1", port, timeout).expect("connects");
    for _ in 0..2 {
        let start = std::time::Instant::now();
        let err = client.list_vars("dummy").expect_err("never a whole answer");
        assert!(matches!(&err, NutError::Timeout { after, .. } if *after == timeout), "{err:?}");
        // 40 x 50 ms of trickle would be 2 s: the deadline ended it (generously bounded).
        assert!(start.elapsed() < Duration::from_millis(1500), "cut off after {:?}", start.elapsed());
    }
    drop(client);
    peer.join().expect("peer");
}

#[test]
fn a_host_name_that_cannot_be_resolved_is_a_connect_error() {
    // A NUL byte fails before any lookup (no name server is asked).
    let err = NutClient::connect("bad\0host", 3493, Duration::from_millis(300)).expect_err("not a name");
    assert!(matches!(&err, NutError::Connect { addr, .. } if addr == "bad\0host:3493"), "{err:?}");
    assert!(err.is_transient());
}

#[test]
fn an_unknown_ups_names_what_upsd_serves_or_says_it_could_not_list_them() {
    let unknown =
        |known: Option<Vec<String>>| NutError::UnknownUps { addr: "h:1".into(), ups: "dumy".into(), known }.to_string();
    assert_eq!(
        unknown(Some(vec!["a".into(), "b".into()])),
        "upsd at h:1 serves no UPS named \"dumy\": it serves \"a\", \"b\""
    );
    assert_eq!(unknown(Some(Vec::new())), "upsd at h:1 serves no UPS named \"dumy\": it serves no UPS at all");
    assert!(unknown(None).ends_with("it serves names that could not be listed (LIST UPS failed too)"));
    let err = NutError::UnknownUps { addr: String::new(), ups: String::new(), known: None };
    assert!(!err.is_transient() && !err.is_stale_data() && !err.breaks_connection());
    for (code, words) in [
        (ErrCode::DriverNotConnected, Some("upsd has no connection to the UPS's driver")),
        (ErrCode::InvalidPassword, Some("upsd refuses that user name or password")),
        (ErrCode::VarNotSupported, None),
    ] {
        assert_eq!(code.meaning(), words, "{code}");
    }
}
