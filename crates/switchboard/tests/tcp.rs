//! SIP over TCP: a carrier on TCP and agents on UDP in one call. Responses
//! and the engine's own BYE travel on the carrier's connection.

mod support;

use support::*;

fn start(name: &str) -> Engine {
    require_sipp();
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE).replace(
        &format!("listen = [\"udp:127.0.0.1:{base}\"]"),
        &format!("listen = [\"udp:127.0.0.1:{base}\", \"tcp:127.0.0.1:{base}\"]"),
    );
    Engine::start(name, base, &toml)
}

#[test]
fn carrier_over_tcp_caller_hangs_up() {
    let e = start("tcp-caller");
    register(&e, "1001", "pw1001", e.base + 20);
    e.wait_registered(1);
    let agent = phone(&e, "agent-answer.xml", e.base + 20, &["-rtp_echo"]);
    carrier(&e, "carrier-call.xml")
        .args(["-t", "t1", "-d", "1000"])
        .run();
    agent.wait_ok();
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "completed");
    assert_eq!(c["hangup_by"], "caller");
}

#[test]
fn carrier_over_tcp_gets_the_engines_bye_on_its_connection() {
    let e = start("tcp-agent-bye");
    register(&e, "1001", "pw1001", e.base + 20);
    e.wait_registered(1);
    let agent = phone(
        &e,
        "agent-answer-hangup.xml",
        e.base + 20,
        &["-rtp_echo", "-d", "1000"],
    );
    carrier(&e, "carrier-wait-bye.xml").args(["-t", "t1"]).run();
    agent.wait_ok();
    let c = &e.wait_cdrs(1)[0];
    assert_eq!(c["outcome"], "completed");
    assert_eq!(c["hangup_by"], "agent");
}

#[test]
fn a_slow_or_oversized_tcp_peer_is_cut_off_and_others_are_served() {
    use std::io::{Read, Write};
    let e = start("tcp-hostile");
    let tcp = std::net::SocketAddr::from(([127, 0, 0, 1], e.base));
    // A header section that never ends, larger than any SIP message.
    let mut big = std::net::TcpStream::connect(tcp).unwrap();
    big.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let junk = vec![b'a'; 70_000];
    let _ = big.write_all(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nX: ");
    let _ = big.write_all(&junk);
    let mut buf = [0u8; 16];
    // The engine closes the connection (EOF or reset), it does not wait forever.
    assert!(matches!(big.read(&mut buf), Ok(0) | Err(_)));
    // A well-behaved peer on another connection still gets answers.
    let mut ok = std::net::TcpStream::connect(tcp).unwrap();
    ok.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let me = ok.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:switchboard@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bK-tcp-1\r\n\
From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:switchboard@127.0.0.1>\r\nCall-ID: tcp-options\r\n\
CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    ok.write_all(options.as_bytes()).unwrap();
    let mut resp = vec![0u8; 4096];
    let n = ok.read(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp[..n]);
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
}

/// RFC 5626 §4.4.1 keep-alives on a connection: each double-CRLF ping gets
/// a single-CRLF pong, before, between and after SIP messages, and the
/// connection keeps serving SIP.
#[test]
fn crlf_pings_get_pongs_and_the_connection_stays_usable() {
    use std::io::{Read, Write};
    let e = start("tcp-keepalive");
    let tcp = std::net::SocketAddr::from(([127, 0, 0, 1], e.base));
    let mut s = std::net::TcpStream::connect(tcp).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let read_exact = |s: &mut std::net::TcpStream, n: usize| {
        let mut b = vec![0u8; n];
        s.read_exact(&mut b).unwrap();
        b
    };
    s.write_all(b"\r\n\r\n").unwrap();
    assert_eq!(read_exact(&mut s, 2), b"\r\n", "pong");
    let me = s.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:{tcp} SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bK-ka1\r\n\
From: <sip:ka@{me}>;tag=1\r\nTo: <sip:{tcp}>\r\nCall-ID: ka-1\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n\r\n\r\n"
    );
    // A request followed at once by a ping, in one segment.
    s.write_all(options.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let text = String::from_utf8_lossy(&got);
        if text.contains("SIP/2.0 200") && text.ends_with("\r\n\r\n\r\n")
            || text.starts_with("\r\nSIP/2.0 200") && text.ends_with("\r\n\r\n")
        {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("SIP/2.0 200 "), "OPTIONS answered: {text:?}");
    // The pong is a bare CRLF outside the response (either order).
    assert!(
        text.starts_with("\r\nSIP/2.0 200") || text.ends_with("\r\n\r\n\r\n"),
        "pong after the request: {text:?}"
    );
}
