//! Self-protection against the real binary: the overload gate on new
//! INVITEs (calls, media workers, transactions, the engine falling behind)
//! answers 503 with Retry-After while live calls carry on; a REGISTER flood
//! from one source is limited, then banned, without touching other sources;
//! a phone that answers 408 is marked unreachable, rested, and the next
//! agent is rung.

mod support;

use sip_core::{Message, Method, ResponseBuilder};
use support::ua::Ua;
use support::*;

/// The default queue, answering callers at once (so a waiting caller holds
/// a confirmed dialog the test can hang up).
fn immediate_queue() -> String {
    DEFAULT_TRUNK_AND_QUEUE.replace(
        "wrap_up = \"1s\"",
        "wrap_up = \"1s\"\nanswer = \"immediate\"",
    )
}

fn retry_after(m: &Message) -> Option<String> {
    m.header(sip_core::HeaderName::RetryAfter)
        .map(|v| v.trim().to_string())
}

/// One live call, then a second INVITE that `overload` must refuse with
/// 503 and `Retry-After: 7`; the live call still hangs up cleanly (in-dialog
/// requests always pass). When `recovers`, a call after the hang-up is
/// admitted again.
fn second_call_is_refused(name: &str, overload: &str, media: &str, recovers: bool) {
    let base = port_block();
    let toml = config(base, &immediate_queue()).replace(
        "rtp_timeout = \"30s\"",
        &format!("rtp_timeout = \"30s\"\n{media}"),
    ) + &format!("\n[overload]\nretry_after = 7\n{overload}\n");
    let e = Engine::start(name, base, &toml);
    let first = Ua::new(e.sip, "carrier-a");
    let (_, tag) = first.call("5000");
    let second = Ua::new(e.sip, "carrier-b");
    let (status, resp) = second.invite_status("5000");
    assert_eq!(status, 503, "{name}: {resp:?}");
    assert_eq!(retry_after(&resp).as_deref(), Some("7"), "{name}");
    let counters = &e.status()["counters"];
    assert_eq!(counters["overload_rejections"], 1, "{name}: {counters}");
    let metrics = e.http("GET", "/metrics").unwrap().1;
    assert!(
        metrics.contains(&format!(
            "switchboard_overload_rejections_total{{reason=\"{}\"}} 1",
            name.replace('-', "_")
        )),
        "{name}: {metrics}"
    );
    // The established call is never dropped for load.
    assert_eq!(first.hang_up("5000", &tag), 200, "{name}");
    let cdrs = e.wait_cdrs(1);
    assert_eq!(cdrs.len(), 1, "{name}: {cdrs:?}");
    assert!(
        cdrs[0]["caller"]
            .as_str()
            .unwrap_or("")
            .contains("carrier-a"),
        "{name}: {cdrs:?}"
    );
    if recovers {
        let third = Ua::new(e.sip, "carrier-c");
        let (_, tag) = third.call("5000");
        assert_eq!(third.hang_up("5000", &tag), 200, "{name}");
    }
}

#[test]
fn max_calls_refuses_new_calls_and_keeps_the_live_one() {
    second_call_is_refused("max-calls", "max_calls = 1", "", true);
}

#[test]
fn loaded_media_workers_refuse_new_calls() {
    second_call_is_refused(
        "media-workers",
        "max_sessions_per_worker = 1",
        "workers = 1",
        true,
    );
}

#[test]
fn too_many_transactions_refuse_new_calls() {
    // The first call's INVITE and ACK transactions are still absorbing
    // retransmissions (64×T1) when the second arrives.
    second_call_is_refused("max-transactions", "max_transactions = 2", "", false);
}

#[test]
fn an_engine_that_falls_behind_refuses_new_calls_but_serves_the_rest() {
    let base = port_block();
    // Any measurable wait between the socket and the engine is "behind".
    let toml = config(base, &immediate_queue())
        + "\n[overload]\nretry_after = 3\nmax_queue_delay = \"0ms\"\n";
    let e = Engine::start("queue-delay", base, &toml);
    let caller = Ua::new(e.sip, "carrier");
    let (status, resp) = caller.invite_status("5000");
    assert_eq!(status, 503, "{resp:?}");
    assert_eq!(retry_after(&resp).as_deref(), Some("3"));
    // Registrations and OPTIONS are not new calls: still served.
    let agent = Ua::new(e.sip, "1001");
    assert_eq!(agent.register("pw1001"), 200);
    let ok = udp_exchange(e.sip, OPTIONS.as_bytes()).expect("a 200");
    assert!(String::from_utf8_lossy(&ok).starts_with("SIP/2.0 200 OK"));
    let metrics = e.http("GET", "/metrics").unwrap().1;
    assert!(
        metrics.contains("switchboard_overload_rejections_total{reason=\"queue_delay\"} 1"),
        "{metrics}"
    );
}

fn register_request(n: usize) -> String {
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKreg{n}\r\n\
Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=r{n}\r\n\
To: <sip:1001@127.0.0.1>\r\nCall-ID: flood-{n}@127.0.0.1\r\nCSeq: 1 REGISTER\r\n\
Contact: <sip:1001@127.0.0.1:9>\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_register_flood_is_limited_then_banned_and_others_still_register() {
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE)
        + "\n[overload]\nregister_rate = 1.0\nregister_burst = 2.0\nban_after = 5\nban = \"60s\"\nretry_after = 9\n";
    let e = Engine::start("register-flood", base, &toml);
    // The flood comes from 127.0.0.5; Via names the socket it is sent from.
    let s = std::net::UdpSocket::bind("127.0.0.5:0").unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_millis(20)))
        .unwrap();
    let port = s.local_addr().unwrap().port();
    for n in 0..100 {
        let msg = register_request(n).replace("127.0.0.1:9", &format!("127.0.0.5:{port}"));
        s.send_to(msg.as_bytes(), e.sip).unwrap();
    }
    let mut answers = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(800);
    let mut buf = vec![0u8; 65_536];
    while std::time::Instant::now() < deadline {
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            answers.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    let challenged = answers
        .iter()
        .filter(|a| a.starts_with("SIP/2.0 401 "))
        .count();
    let limited: Vec<_> = answers
        .iter()
        .filter(|a| a.starts_with("SIP/2.0 503 "))
        .collect();
    // The burst is challenged, a few are refused politely, the rest dropped.
    assert!((2..=3).contains(&challenged), "{answers:?}");
    assert!(!limited.is_empty(), "{answers:?}");
    assert!(
        limited.iter().all(|a| a.contains("Retry-After: 9")),
        "{limited:?}"
    );
    assert!(answers.len() < 12, "{}: {answers:?}", answers.len());
    let counters = &e.status()["counters"];
    assert!(
        counters["banned_drops"].as_u64().unwrap() >= 80,
        "{counters}"
    );
    assert!(
        counters["rate_limited"].as_u64().unwrap() >= 1,
        "{counters}"
    );
    // Another source registers as usual.
    let agent = Ua::new(e.sip, "1001");
    assert_eq!(agent.register("pw1001"), 200);
}

/// Agent side: waits for the engine's INVITE and refuses it with `status`
/// (the engine ACKs the final response).
fn refuse_invite(ua: &Ua, status: u16) {
    let invite = loop {
        let m = ua.recv();
        if m.method() == Some(Method::Invite) {
            break m;
        }
    };
    let via = invite.top_via().unwrap();
    let from = std::net::SocketAddr::new(via.host.parse().unwrap(), via.port.unwrap_or(5060));
    let resp = ResponseBuilder::new(&invite, status).to_tag("gone").build();
    ua.sip.send_to(&resp, from).unwrap();
    loop {
        if ua.recv().method() == Some(Method::Ack) {
            return;
        }
    }
}

#[test]
fn a_phone_answering_408_is_rested_as_unreachable_and_the_next_agent_is_rung() {
    let base = port_block();
    let toml = config(base, DEFAULT_TRUNK_AND_QUEUE).replace(
        "path = \"cdr.jsonl\"",
        "path = \"cdr.jsonl\"\nqueue_log = \"queue_log.jsonl\"",
    );
    let e = Engine::start("unreachable", base, &toml);
    let broken = Ua::new(e.sip, "1001");
    assert_eq!(broken.register("pw1001"), 200);
    let carrier = Ua::new(e.sip, "carrier");
    let _early = carrier.invite_early("5000");
    // Only 1001 is logged in: it is offered the call and answers 408.
    refuse_invite(&broken, 408);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let body = e.http("GET", "/api/v1/agents/1001").unwrap().1;
        let a: serde_json::Value = serde_json::from_str(&body).unwrap();
        // Rested for unreachable_delay (30 s by default), not rung again.
        if a["resting_ms"].as_u64().unwrap_or(0) > 20_000 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{a}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The next agent to log in gets the call; 1001 is not rung again.
    let good = Ua::new(e.sip, "1002");
    assert_eq!(good.register("pw1002"), 200);
    let answering = std::thread::spawn(move || {
        good.answer();
        good
    });
    let ok = carrier.recv_response(Method::Invite, None);
    assert_eq!(ok.status(), Some(200));
    let _good = answering.join().unwrap();
    let log = std::fs::read_to_string(e.dir.join("queue_log.jsonl")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"agent\":\"1001\"") && l.contains("\"unreachable\"")),
        "{log}"
    );
    let calls = e.http("GET", "/api/v1/calls").unwrap().1;
    assert!(calls.contains("\"1002\""), "{calls}");
    assert!(!calls.contains("\"1001\""), "{calls}");
}
