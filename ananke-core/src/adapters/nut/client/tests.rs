//! The client against fake upsd peers that misbehave.

use super::*;
use tokio::net::TcpListener;

/// A fake upsd on loopback that answers the first request with `reply`, then stays silent.
async fn peer(reply: Vec<u8>, hang_up: bool) -> (String, u16) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut stream = BufReader::new(stream);
        let mut request = String::new();
        stream.read_line(&mut request).await.expect("request");
        stream.get_mut().write_all(&reply).await.expect("reply");
        if !hang_up {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    ("127.0.0.1".to_owned(), port)
}

async fn list_vars_against(reply: &[u8]) -> NutError {
    list_vars_from(reply, false).await
}

async fn list_vars_from(reply: &[u8], hang_up: bool) -> NutError {
    let (host, port) = peer(reply.to_vec(), hang_up).await;
    let mut client = NutClient::connect(&host, port, Duration::from_millis(300)).await.expect("connects");
    client.list_vars("dummy").await.expect_err("the peer misbehaves")
}

#[tokio::test]
async fn damaged_answers_are_protocol_errors() {
    let cases: [&[u8]; 5] = [
        b"VAR dummy ups.status \"unterminated\n",
        b"OK\n",
        b"BEGIN LIST VAR dummy\nVAR other ups.status \"OL\"\nEND LIST VAR dummy\n",
        b"BEGIN LIST VAR dummy\nERR DATA-STALE\n",
        b"BEGIN LIST VAR dummy\nVAR dummy ups.status\nEND LIST VAR dummy\n",
    ];
    for reply in cases {
        let err = list_vars_against(reply).await;
        assert!(matches!(err, NutError::Protocol { .. }) && !err.is_transient(), "{err:?}");
        assert!(err.breaks_connection());
    }
    let long = [vec![b'x'; MAX_LINE + 10], b"\n".to_vec()].concat();
    assert!(matches!(list_vars_against(&long).await, NutError::Protocol { .. }));
}

#[tokio::test]
async fn answers_of_the_wrong_shape_are_protocol_errors_naming_the_line() {
    let cases: [(&[u8], &str); 3] = [
        (b"VAR dummy ups.status \"OL\"\n", "unexpected line \"VAR dummy ups.status OL\""),
        (b"BEGIN LIST VAR dummy\nOK Goodbye\n", "unexpected line \"OK Goodbye\""),
        (b"OK\n", "unexpected line \"OK\""),
    ];
    for (reply, detail) in cases {
        let err = list_vars_against(reply).await;
        assert!(
            matches!(&err, NutError::Protocol { request, detail: got, .. } if request == "LIST VAR dummy" && got == detail),
            "{reply:?}: {err:?}"
        );
    }
    let mut long = b"BEGIN LIST VAR dummy\n".to_vec();
    for i in 0..=MAX_LIST_ITEMS {
        long.extend_from_slice(format!("VAR dummy v{i} \"1\"\n").as_bytes());
    }
    let err = list_vars_against(&long).await;
    assert!(
        matches!(&err, NutError::Protocol { detail, .. } if *detail == format!("list longer than {MAX_LIST_ITEMS} lines")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_ups_listing_with_another_tag_is_a_protocol_error() {
    let (host, port) = peer(b"BEGIN LIST UPS\nVAR dummy \"x\"\nEND LIST UPS\n".to_vec(), false).await;
    let mut client = NutClient::connect(&host, port, Duration::from_millis(300)).await.expect("connects");
    let err = client.list_ups().await.expect_err("a VAR line in a UPS listing");
    assert!(
        matches!(&err, NutError::Protocol { request, detail, .. } if request == "LIST UPS" && detail.contains("VAR dummy x")),
        "{err:?}"
    );
}

#[tokio::test]
async fn crlf_line_ends_are_accepted() {
    let reply = b"BEGIN LIST VAR dummy\r\nVAR dummy ups.status \"OL\"\r\nEND LIST VAR dummy\r\n".to_vec();
    let (host, port) = peer(reply, false).await;
    let mut client = NutClient::connect(&host, port, Duration::from_millis(300)).await.expect("connects");
    let vars = client.list_vars("dummy").await.expect("a CRLF answer");
    assert_eq!(vars.get("ups.status").map(String::as_str), Some("OL"));
}

#[tokio::test]
async fn a_reset_connection_is_lost_with_the_reason() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let peer = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut stream = BufReader::new(stream);
        let mut request = String::new();
        stream.read_line(&mut request).await.expect("request");
        // Closing with a zero linger sends a reset instead of a FIN.
        stream.get_ref().set_zero_linger().expect("SO_LINGER");
    });
    let mut client = NutClient::connect("127.0.0.1", port, Duration::from_secs(2)).await.expect("connects");
    let err = client.list_vars("dummy").await.expect_err("reset");
    peer.await.expect("peer");
    match &err {
        NutError::Lost { request, reason, .. } => {
            assert_eq!(request, "LIST VAR dummy");
            assert!(reason.contains("reset"), "{reason}");
        }
        other => panic!("expected a lost connection, got {other:?}"),
    }
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_connect_that_gets_no_answer_times_out() {
    // A listener with a backlog of one, filled: the kernel drops further SYNs unanswered.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(([127, 0, 0, 1], 0).into()).expect("bind loopback");
    let listener = socket.listen(0).expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let _queued = std::net::TcpStream::connect(("127.0.0.1", port)).expect("fills the backlog");
    let err = NutClient::connect("127.0.0.1", port, Duration::from_millis(200)).await.expect_err("no answer");
    assert!(
        matches!(&err, NutError::Timeout { request, after, .. } if request == "connect" && *after == Duration::from_millis(200)),
        "{err:?}"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn silence_and_hangups_are_transient() {
    let err = list_vars_against(b"").await;
    assert!(matches!(err, NutError::Timeout { .. }) && err.is_transient(), "{err:?}");
    let err = list_vars_against(b"BEGIN LIST VAR dummy\n").await;
    assert!(matches!(err, NutError::Timeout { .. }), "{err:?}");
    for reply in [&b""[..], b"BEGIN LIST VAR dummy\nVAR dummy ups.st"] {
        let err = list_vars_from(reply, true).await;
        assert!(matches!(err, NutError::Lost { .. }) && err.is_transient(), "{err:?}");
    }
    let (host, port) = {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind loopback");
        ("127.0.0.1".to_owned(), listener.local_addr().expect("addr").port())
    };
    let err = NutClient::connect(&host, port, Duration::from_secs(2)).await.expect_err("nobody listens");
    assert!(matches!(err, NutError::Connect { .. }) && err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn err_answers_keep_their_code_and_class() {
    let err = list_vars_against(b"ERR DATA-STALE\n").await;
    assert!(err.is_transient() && err.is_stale_data() && !err.breaks_connection(), "{err:?}");
    let err = list_vars_against(b"ERR UNKNOWN-UPS\n").await;
    assert!(!err.is_transient() && !err.is_stale_data(), "{err:?}");
    let text = err.to_string();
    assert!(
        matches!(&err, NutError::Server { addr, .. } if text == format!("upsd at {addr} answered ERR UNKNOWN-UPS to LIST VAR dummy")),
        "{text}"
    );
}
