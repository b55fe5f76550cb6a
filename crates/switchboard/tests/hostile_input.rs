//! Bad bytes on the SIP port: answered with 400 where possible, dropped
//! otherwise, counted, and never stop the engine.

mod support;

use support::*;

#[test]
fn malformed_datagrams_get_400_or_are_dropped_and_the_engine_keeps_serving() {
    let base = port_block();
    let mut e = Engine::start("hostile", base, &config(base, DEFAULT_TRUNK_AND_QUEUE));
    // A request with a broken Content-Length: 400, matched to the request.
    let bad = OPTIONS
        .replace("Content-Length: 0", "Content-Length: -3")
        .replace("options-1", "bad-1");
    let resp = String::from_utf8(udp_exchange(e.sip, bad.as_bytes()).expect("a 400")).unwrap();
    assert!(resp.starts_with("SIP/2.0 400 "), "{resp}");
    assert!(resp.contains("Call-ID: bad-1"), "{resp}");
    // Bad version: 505.
    let v = OPTIONS
        .replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia")
        .replace("options-1", "bad-2");
    let resp = String::from_utf8(udp_exchange(e.sip, v.as_bytes()).expect("a 505")).unwrap();
    assert!(resp.starts_with("SIP/2.0 505 "), "{resp}");
    // Garbage, truncations and a broken response: no answer, no crash.
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = 0;
    for junk in [
        &b"\x00\x01\x02\xff"[..],
        b"INVITE",
        b"SIP/2.0 200 OK\r\n\r\n",
        &OPTIONS.as_bytes()[..40],
        &[b'A'; 60_000][..],
    ] {
        s.send_to(junk, e.sip).unwrap();
        sent += 1;
    }
    for cut in (1..OPTIONS.len()).step_by(7) {
        s.send_to(&OPTIONS.as_bytes()[..cut], e.sip).unwrap();
        sent += 1;
    }
    // Still serving: OPTIONS gets 200.
    let resp = String::from_utf8(udp_exchange(e.sip, OPTIONS.as_bytes()).expect("a 200")).unwrap();
    assert!(resp.starts_with("SIP/2.0 200 OK\r\n"), "{resp}");
    assert!(resp.contains("Allow: "), "{resp}");
    assert!(e.is_running());
    let counters = &e.status()["counters"];
    assert!(
        counters["parse_errors"].as_u64().unwrap() >= sent,
        "{counters}"
    );
}

#[test]
fn a_retransmitted_invite_makes_one_call() {
    let base = port_block();
    let e = Engine::start("retrans", base, &config(base, DEFAULT_TRUNK_AND_QUEUE));
    let sdp = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let invite = format!(
        "INVITE sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-retrans;rport\r\n\
From: <sip:c@127.0.0.1>;tag=c1\r\nTo: <sip:5000@127.0.0.1>\r\nCall-ID: retrans-1\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:c@127.0.0.1:9>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..5 {
        s.send_to(invite.as_bytes(), e.sip).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = e.status();
    assert_eq!(status["calls"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(status["counters"]["calls_offered"], 1, "{status}");
    assert!(
        status["counters"]["retransmissions"].as_u64().unwrap() >= 4,
        "{status}"
    );
}

fn invite(n: usize) -> String {
    let sdp = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    format!(
        "INVITE sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-flood-{n};rport\r\n\
From: <sip:c@127.0.0.1>;tag=f{n}\r\nTo: <sip:5000@127.0.0.1>\r\nCall-ID: flood-{n}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:c@127.0.0.1:9>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// Final statuses received on `s` within `for_ms`.
fn finals(s: &std::net::UdpSocket, for_ms: u64) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(for_ms);
    s.set_read_timeout(Some(std::time::Duration::from_millis(50)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while std::time::Instant::now() < deadline {
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if !text.starts_with("SIP/2.0 1") {
                out.push(text);
            }
        }
    }
    out
}

#[test]
fn a_trunk_over_its_call_rate_gets_503_with_retry_after() {
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE)
        .replace("name = \"carrier\"", "name = \"carrier\"\nmax_cps = 2");
    let e = Engine::start("cps", base, &toml);
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for n in 0..10 {
        s.send_to(invite(n).as_bytes(), e.sip).unwrap();
    }
    let answers = finals(&s, 500);
    let refused: Vec<_> = answers
        .iter()
        .filter(|r| r.starts_with("SIP/2.0 503 "))
        .collect();
    // Burst of 2 x max_cps admitted, the rest refused politely.
    assert!(refused.len() >= 5, "{answers:?}");
    assert!(
        refused.iter().all(|r| r.contains("Retry-After: ")),
        "{refused:?}"
    );
    let status = e.status();
    assert!(
        status["counters"]["rate_limited"].as_u64().unwrap() >= 5,
        "{status}"
    );
    assert!(status["calls"].as_array().unwrap().len() <= 5, "{status}");
}

#[test]
fn a_flooding_stranger_is_banned_and_dropped() {
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE)
        .replace("allow = [\"127.0.0.0/8\"]", "allow = [\"127.0.0.1/32\"]")
        + "\n[overload]\nstranger_invite_rate = 1.0\nban_after = 5\nban = \"60s\"\n";
    let e = Engine::start("ban", base, &toml);
    // 127.0.0.3 belongs to no trunk.
    let s = std::net::UdpSocket::bind("127.0.0.3:0").unwrap();
    for n in 0..200 {
        s.send_to(invite(n).as_bytes(), e.sip).unwrap();
    }
    let answers = finals(&s, 500);
    // A couple of 403s, a few 503s, then silence.
    assert!(answers.len() < 20, "{}", answers.len());
    let status = e.status();
    assert!(
        status["counters"]["banned_drops"].as_u64().unwrap() >= 150,
        "{status}"
    );
    assert!(status["calls"].as_array().unwrap().is_empty());
    // The engine still serves everyone else.
    let ok = udp_exchange(e.sip, OPTIONS.as_bytes()).expect("a 200");
    assert!(String::from_utf8_lossy(&ok).starts_with("SIP/2.0 200 OK"));
}

#[test]
fn sip_is_captured_to_a_hep_collector() {
    let base = port_block();
    let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    collector
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE)
        + &format!(
            "\n[hep]\naddress = \"{}\"\nagent_id = 77\n",
            collector.local_addr().unwrap()
        );
    let e = Engine::start("hep", base, &toml);
    let resp = udp_exchange(e.sip, OPTIONS.as_bytes()).expect("a 200");
    assert!(String::from_utf8_lossy(&resp).starts_with("SIP/2.0 200"));
    // The OPTIONS in and the 200 out, as HEPv3 packets carrying the SIP text.
    let mut buf = vec![0u8; 65_536];
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let (n, _) = collector.recv_from(&mut buf).expect("a HEP packet");
        assert_eq!(&buf[..4], b"HEP3");
        seen.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    assert!(seen
        .iter()
        .any(|p| p.contains("OPTIONS sip:switchboard@127.0.0.1 SIP/2.0")));
    assert!(seen
        .iter()
        .any(|p| p.contains("SIP/2.0 200 OK") && p.contains("options-1")));
}

#[test]
fn an_ipv6_listener_serves_sip() {
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE).replace(
        &format!("listen = [\"udp:127.0.0.1:{base}\"]"),
        &format!(
            "listen = [\"udp:127.0.0.1:{base}\", \"udp:[::1]:{}\"]",
            base + 3
        ),
    );
    let e = Engine::start("ipv6", base, &toml);
    let s = std::net::UdpSocket::bind("[::1]:0").expect("IPv6 loopback");
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let me = s.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:switchboard@[::1]:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-v6-1;rport\r\n\
From: <sip:probe@[::1]>;tag=6\r\nTo: <sip:switchboard@[::1]>\r\nCall-ID: v6-options\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        port = base + 3
    );
    s.send_to(options.as_bytes(), ("::1", base + 3)).unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, from) = s.recv_from(&mut buf).expect("an answer over IPv6");
    assert!(from.is_ipv6());
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
    assert!(e.status()["counters"]["requests"].as_u64().unwrap() >= 1);
}
