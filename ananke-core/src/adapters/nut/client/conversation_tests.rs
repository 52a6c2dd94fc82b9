//! Whole conversations with a scripted upsd on loopback: login (accepted, credentials refused,
//! other refusals), `LIST UPS` and `GET VAR`, with well-formed and damaged answers.

use super::{Credentials, NutClient, NutError, UpsListing};
use crate::adapters::nut::wire::ErrCode;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// A fake upsd answering the n-th request line with `replies[n]`; the requests it saw come back on
/// the channel. It stays connected after the last reply (for at most five seconds, until the client
/// hangs up).
fn upsd(replies: Vec<&'static [u8]>) -> (NutClient, mpsc::Receiver<String>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let (seen, requests) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
        let mut stream = BufReader::new(stream);
        for reply in replies {
            let mut request = String::new();
            if stream.read_line(&mut request).expect("request") == 0 {
                return;
            }
            let _ = seen.send(request.trim_end().to_owned());
            stream.get_mut().write_all(reply).expect("reply");
        }
        let _ = stream.read_line(&mut String::new());
    });
    let client = NutClient::connect("127.0.0.1", port, Duration::from_millis(500)).expect("connects");
    assert_eq!(client.addr(), format!("127.0.0.1:{port}"));
    (client, requests)
}

fn drain(requests: &mpsc::Receiver<String>) -> Vec<String> {
    std::iter::from_fn(|| requests.try_recv().ok()).collect()
}

#[test]
fn a_login_sends_user_password_and_login_in_that_order() {
    let (mut client, requests) = upsd(vec![b"OK\n", b"OK\n", b"OK\n"]);
    client.login(&Credentials::new("monuser", "s3cret"), "dummy").expect("logged in");
    assert_eq!(drain(&requests), ["USERNAME monuser", "PASSWORD s3cret", "LOGIN dummy"]);
}

#[test]
fn refused_credentials_name_the_user_never_the_password() {
    let (mut client, _requests) = upsd(vec![b"OK\n", b"OK\n", b"ERR ACCESS-DENIED\n"]);
    let err = client.login(&Credentials::new("monuser", "s3cret"), "dummy").unwrap_err();
    match &err {
        NutError::AuthRejected { user, request, code, .. } => {
            assert_eq!((user.as_str(), request.as_str(), code), ("monuser", "LOGIN dummy", &ErrCode::AccessDenied));
        }
        other => panic!("expected a refusal of the credentials, got {other:?}"),
    }
    assert!(!err.is_transient());
    assert!(!err.to_string().contains("s3cret"), "{err}");
    // A refused password is reported as "the password" request, not with the password in it.
    let (mut client, _requests) = upsd(vec![b"OK\n", b"ERR INVALID-PASSWORD\n"]);
    let err = client.login(&Credentials::new("monuser", "s3cret"), "dummy").unwrap_err();
    assert!(matches!(&err, NutError::AuthRejected { code: ErrCode::InvalidPassword, .. }), "{err:?}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

#[test]
fn a_login_refused_for_another_reason_keeps_its_code() {
    let (mut client, _requests) = upsd(vec![b"OK\n", b"OK\n", b"ERR UNKNOWN-UPS\n"]);
    let err = client.login(&Credentials::new("monuser", "pw"), "nope").unwrap_err();
    assert!(matches!(&err, NutError::Server { code: ErrCode::UnknownUps, .. }), "{err:?}");
}

#[test]
fn list_ups_reads_names_and_descriptions() {
    let (mut client, requests) =
        upsd(vec![b"BEGIN LIST UPS\nUPS dummy \"Dummy UPS\"\nUPS rack \"Rack 2\"\nEND LIST UPS\n"]);
    let listing = client.list_ups().expect("a listing");
    let want =
        [("dummy", "Dummy UPS"), ("rack", "Rack 2")].map(|(n, d)| UpsListing { name: n.into(), description: d.into() });
    assert_eq!(listing, want);
    assert_eq!(drain(&requests), ["LIST UPS"]);
}

#[test]
fn a_damaged_ups_listing_is_a_protocol_error() {
    for reply in
        [&b"BEGIN LIST UPS\nUPS dummy\nEND LIST UPS\n"[..], b"BEGIN LIST UPS\nUPS dummy \"a\" extra\nEND LIST UPS\n"]
    {
        let (mut client, _requests) = upsd(vec![reply]);
        let err = client.list_ups().unwrap_err();
        assert!(matches!(&err, NutError::Protocol { request, .. } if request == "LIST UPS"), "{err:?}");
    }
}

#[test]
fn get_var_returns_the_value_of_the_variable_asked_for() {
    let (mut client, requests) = upsd(vec![b"VAR dummy battery.charge \"87\"\n"]);
    assert_eq!(client.get_var("dummy", "battery.charge").expect("a value"), "87");
    assert_eq!(drain(&requests), ["GET VAR dummy battery.charge"]);
    // An answer about another variable or UPS, or of the wrong shape, is not believed.
    for reply in
        [&b"VAR dummy ups.status \"OL\"\n"[..], b"VAR other battery.charge \"87\"\n", b"VAR dummy battery.charge\n"]
    {
        let (mut client, _requests) = upsd(vec![reply]);
        let err = client.get_var("dummy", "battery.charge").unwrap_err();
        assert!(
            matches!(&err, NutError::Protocol { request, .. } if request == "GET VAR dummy battery.charge"),
            "{err:?}"
        );
    }
}
