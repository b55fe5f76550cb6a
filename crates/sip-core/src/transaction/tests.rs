//! Every timer (A–M) and transition on a simulated clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    MS * n as u32
}

fn peer() -> SocketAddr {
    "192.0.2.10:5070".parse().unwrap()
}

fn request(method: &str, branch: &str, extra: &str) -> Message {
    let raw = format!(
        "{method} sip:5000@192.0.2.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5070;branch={branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:carrier@192.0.2.10>;tag=f1\r\n\
To: <sip:5000@192.0.2.1>\r\n\
Call-ID: call-1\r\n\
CSeq: 1 {method}\r\n\
{extra}Content-Length: 0\r\n\r\n"
    );
    Message::parse(Bytes::from(raw)).unwrap()
}

fn reply(req: &Message, status: u16, tag: &str) -> Bytes {
    Bytes::from(ResponseBuilder::new(req, status).to_tag(tag).build())
}

fn parse(b: &Bytes) -> Message {
    Message::parse(b.clone()).unwrap()
}

/// Fires timers up to `until`; returns each transmit with its offset from `t0`.
fn run(l: &mut TransactionLayer, t0: Instant, until: Duration) -> Vec<(Duration, Transmit)> {
    // Anything already queued was sent at t0.
    let mut out: Vec<_> = drain(l).into_iter().map(|t| (Duration::ZERO, t)).collect();
    while let Some(at) = l.poll_timeout() {
        if at > t0 + until {
            break;
        }
        l.handle_timeout(at);
        while let Some(t) = l.poll_transmit() {
            out.push((at - t0, t));
        }
    }
    l.handle_timeout(t0 + until);
    while let Some(t) = l.poll_transmit() {
        out.push((until, t));
    }
    out
}

fn drain(l: &mut TransactionLayer) -> Vec<Transmit> {
    std::iter::from_fn(|| l.poll_transmit()).collect()
}

fn events(l: &mut TransactionLayer) -> Vec<TxEvent> {
    std::iter::from_fn(|| l.poll_event()).collect()
}

fn times(v: &[(Duration, Transmit)]) -> Vec<u64> {
    v.iter().map(|(d, _)| d.as_millis() as u64).collect()
}

fn status(t: &Transmit) -> Option<u16> {
    parse(&t.data).status()
}

// ---- server INVITE ----------------------------------------------------

#[test]
fn server_invite_sends_100_at_200ms_and_on_retransmission() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "z9hG4bKa", "");
    let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    assert!(key.is_server() && key.is_invite());
    assert_eq!(l.server_state(&key), Some(ServerState::Proceeding));
    assert!(drain(&mut l).is_empty());
    let out = run(&mut l, t0, ms(300));
    assert_eq!(times(&out), vec![200]);
    assert_eq!(status(&out[0].1), Some(100));
    assert_eq!(out[0].1.dest, "192.0.2.10:5070".parse().unwrap());
    assert_eq!(
        l.on_request(&inv, peer(), false, t0 + ms(500)),
        ServerAction::Retransmit
    );
    assert_eq!(status(&drain(&mut l)[0]), Some(100));

    // A retransmission before 200 ms answers 100 at once, and only once.
    let mut l = TransactionLayer::new(Timers::default());
    let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    l.on_request(&inv, peer(), false, t0 + ms(100));
    assert_eq!(drain(&mut l).len(), 1);
    assert!(run(&mut l, t0, ms(300)).is_empty());
    // A provisional from the TU replaces 100 for retransmissions.
    l.respond(&key, reply(&inv, 180, "t"), t0 + ms(400));
    assert_eq!(status(&drain(&mut l)[0]), Some(180));
    l.on_request(&inv, peer(), false, t0 + ms(600));
    assert_eq!(status(&drain(&mut l)[0]), Some(180));
}

#[test]
fn server_invite_tu_answering_fast_suppresses_100() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "z9hG4bKa", "");
    let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    l.respond(&key, reply(&inv, 180, "t"), t0 + ms(50));
    let out = run(&mut l, t0, ms(1000));
    assert_eq!(out.len(), 1);
    assert_eq!(status(&out[0].1), Some(180));
}

#[test]
fn server_invite_non_2xx_timer_g_then_h() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "z9hG4bKa", "");
    let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    l.respond(&key, reply(&inv, 486, "t"), t0);
    assert_eq!(l.server_state(&key), Some(ServerState::Completed));
    let out = run(&mut l, t0, Duration::from_secs(40));
    // First send, then Timer G: T1, 2T1, 4T1, then capped at T2.
    assert_eq!(
        times(&out),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert!(out.iter().all(|(_, t)| status(t) == Some(486)));
    // Timer H: no ACK -> failure reported to the TU.
    assert_eq!(
        events(&mut l),
        vec![TxEvent::Timeout(key.clone()), TxEvent::Terminated(key)]
    );
    assert!(l.is_empty());
}

#[test]
fn server_invite_ack_confirms_then_timer_i() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "z9hG4bKa", "");
    let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    l.respond(&key, reply(&inv, 603, "t"), t0);
    drain(&mut l);
    // A retransmitted INVITE in Completed gets the final again.
    assert_eq!(
        l.on_request(&inv, peer(), false, t0 + ms(100)),
        ServerAction::Retransmit
    );
    assert_eq!(status(&drain(&mut l)[0]), Some(603));
    let ack = request("ACK", "z9hG4bKa", "");
    assert_eq!(
        l.on_request(&ack, peer(), false, t0 + ms(200)),
        ServerAction::Absorbed
    );
    assert_eq!(l.server_state(&key), Some(ServerState::Confirmed));
    // ACK retransmissions and INVITE retransmissions are absorbed.
    assert_eq!(
        l.on_request(&ack, peer(), false, t0 + ms(300)),
        ServerAction::Absorbed
    );
    assert_eq!(
        l.on_request(&inv, peer(), false, t0 + ms(300)),
        ServerAction::Absorbed
    );
    // No more Timer G; Timer I = T4 after the ACK.
    assert!(run(&mut l, t0, ms(5199)).is_empty());
    assert_eq!(l.len(), 1);
    run(&mut l, t0, ms(5200));
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);
}

#[test]
fn server_invite_reliable_has_no_g_and_zero_i() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "z9hG4bKa", "");
    let src: SocketAddr = "192.0.2.10:40000".parse().unwrap();
    let ServerAction::New(key) = l.on_request(&inv, src, true, t0) else {
        panic!()
    };
    l.respond(&key, reply(&inv, 486, "t"), t0);
    let out = run(&mut l, t0, ms(10_000));
    assert_eq!(out.len(), 1);
    assert!(out[0].1.reliable);
    // Reliable responses go back on the connection (its source address).
    assert_eq!(out[0].1.dest, src);
    l.on_request(&request("ACK", "z9hG4bKa", ""), src, true, t0 + ms(10_000));
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);

    // Without the ACK, Timer H still runs over TCP.
    let mut l = TransactionLayer::new(Timers::default());
    let ServerAction::New(key) = l.on_request(&inv, src, true, t0) else {
        panic!()
    };
    l.respond(&key, reply(&inv, 486, "t"), t0);
    run(&mut l, t0, Duration::from_secs(32));
    assert_eq!(
        events(&mut l),
        vec![TxEvent::Timeout(key.clone()), TxEvent::Terminated(key)]
    );
}

#[test]
fn server_invite_2xx_is_retransmitted_until_ack_then_timer_l() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "z9hG4bKa", "");
    let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    l.respond(&key, reply(&inv, 200, "t"), t0);
    assert_eq!(l.server_state(&key), Some(ServerState::Accepted));
    let out = run(&mut l, t0, ms(4000));
    assert_eq!(times(&out), vec![0, 500, 1500, 3500]);
    // INVITE retransmissions in Accepted are not passed to the TU.
    assert_eq!(
        l.on_request(&inv, peer(), false, t0 + ms(4000)),
        ServerAction::Retransmit
    );
    assert_eq!(status(&drain(&mut l)[0]), Some(200));
    // The ACK for a 2xx has its own branch: it goes to the dialog, and
    // stops the retransmission.
    let ack = request("ACK", "z9hG4bKother", "");
    assert_eq!(
        l.on_request(&ack, peer(), false, t0 + ms(4100)),
        ServerAction::AckForDialog
    );
    assert!(run(&mut l, t0, ms(31_999)).is_empty());
    assert_eq!(l.len(), 1);
    run(&mut l, t0, ms(32_000));
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);
    // A late ACK is still for the dialog.
    assert_eq!(
        l.on_request(&ack, peer(), false, t0 + ms(40_000)),
        ServerAction::AckForDialog
    );
}

#[test]
fn server_invite_2xx_never_acked_reports_ack_timeout() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "z9hG4bKa", "");
    let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    l.respond(&key, reply(&inv, 200, "t"), t0);
    let out = run(&mut l, t0, Duration::from_secs(32));
    assert_eq!(
        times(&out),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(
        events(&mut l),
        vec![TxEvent::AckTimeout(key.clone()), TxEvent::Terminated(key)]
    );
}

#[test]
fn cancel_matches_the_invite_and_late_finals_are_dropped() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "z9hG4bKa", "");
    let ServerAction::New(ikey) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    let cancel = request("CANCEL", "z9hG4bKa", "");
    let ServerAction::Cancel {
        cancel: ckey,
        invite,
    } = l.on_request(&cancel, peer(), false, t0 + ms(10))
    else {
        panic!()
    };
    assert_eq!(invite, ikey);
    assert_eq!(ckey.method(), "CANCEL");
    l.respond(&ckey, reply(&cancel, 200, "t"), t0 + ms(10));
    l.respond(&ikey, reply(&inv, 487, "t"), t0 + ms(10));
    // A second final on the INVITE is dropped.
    l.respond(&ikey, reply(&inv, 200, "t"), t0 + ms(10));
    let sent: Vec<_> = drain(&mut l).iter().map(|t| status(t).unwrap()).collect();
    assert_eq!(sent, vec![200, 487]);
    // CANCEL retransmission: the 200 again.
    assert_eq!(
        l.on_request(&cancel, peer(), false, t0 + ms(20)),
        ServerAction::Retransmit
    );
    assert_eq!(parse(&drain(&mut l)[0].data).cseq().method_str, "CANCEL");
    // A CANCEL for nothing is new to the TU (which answers 481).
    let stray = request("CANCEL", "z9hG4bKzzz", "");
    assert!(matches!(
        l.on_request(&stray, peer(), false, t0),
        ServerAction::New(_)
    ));
}

// ---- server non-INVITE -------------------------------------------------

#[test]
fn server_non_invite_trying_proceeding_completed_timer_j() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let opt = request("OPTIONS", "z9hG4bKo", "");
    let ServerAction::New(key) = l.on_request(&opt, peer(), false, t0) else {
        panic!()
    };
    assert_eq!(l.server_state(&key), Some(ServerState::Trying));
    // Retransmission in Trying: nothing to send yet.
    assert_eq!(
        l.on_request(&opt, peer(), false, t0 + ms(500)),
        ServerAction::Retransmit
    );
    assert!(drain(&mut l).is_empty());
    l.respond(&key, reply(&opt, 100, "t"), t0 + ms(600));
    assert_eq!(l.server_state(&key), Some(ServerState::Proceeding));
    drain(&mut l);
    l.on_request(&opt, peer(), false, t0 + ms(1500));
    assert_eq!(status(&drain(&mut l)[0]), Some(100));
    l.respond(&key, reply(&opt, 200, "t"), t0 + ms(2000));
    assert_eq!(l.server_state(&key), Some(ServerState::Completed));
    drain(&mut l);
    l.on_request(&opt, peer(), false, t0 + ms(3500));
    assert_eq!(status(&drain(&mut l)[0]), Some(200));
    // Late responses from the TU are dropped.
    l.respond(&key, reply(&opt, 500, "t"), t0 + ms(3600));
    assert!(drain(&mut l).is_empty());
    // Timer J = 64*T1 from the final response; no retransmission on its own.
    assert!(run(&mut l, t0, ms(33_999)).is_empty());
    assert_eq!(l.len(), 1);
    run(&mut l, t0, ms(34_000));
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);
}

#[test]
fn server_non_invite_reliable_ends_with_the_final() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let reg = request("REGISTER", "z9hG4bKr", "");
    let ServerAction::New(key) = l.on_request(&reg, peer(), true, t0) else {
        panic!()
    };
    l.respond(&key, reply(&reg, 200, "t"), t0);
    assert_eq!(drain(&mut l).len(), 1);
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);
    assert!(l.is_empty());
}

#[test]
fn server_non_invite_the_tu_never_answered_is_reaped() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let ServerAction::New(key) = l.on_request(&request("INFO", "z9hG4bKi", ""), peer(), false, t0)
    else {
        panic!()
    };
    run(&mut l, t0, Duration::from_secs(32));
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);
}

#[test]
fn server_keys_use_sent_by_and_rfc2543_fallback() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let a = request("OPTIONS", "z9hG4bKsame", "");
    let b = Message::parse(Bytes::from(
        String::from_utf8(a.as_bytes().to_vec())
            .unwrap()
            .replace("192.0.2.10:5070;", "192.0.2.11:5070;"),
    ))
    .unwrap();
    assert!(matches!(
        l.on_request(&a, peer(), false, t0),
        ServerAction::New(_)
    ));
    assert!(matches!(
        l.on_request(&b, peer(), false, t0),
        ServerAction::New(_)
    ));
    assert_eq!(l.len(), 2);

    // RFC 2543: no magic cookie. INVITE retransmission and the ACK for a
    // non-2xx match on Request-URI, From tag, Call-ID, CSeq and top Via.
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "1234", "");
    let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    assert!(key.is_legacy());
    assert_eq!(
        l.on_request(&inv, peer(), false, t0),
        ServerAction::Retransmit
    );
    l.respond(&key, reply(&inv, 404, "t"), t0);
    assert_eq!(
        l.on_request(&request("ACK", "1234", ""), peer(), false, t0),
        ServerAction::Absorbed
    );
    assert_eq!(l.server_state(&key), Some(ServerState::Confirmed));
    // And a Via without any branch at all.
    let raw = String::from_utf8(inv.as_bytes().to_vec())
        .unwrap()
        .replace(";branch=1234", "");
    let nobranch = Message::parse(Bytes::from(raw)).unwrap();
    let ServerAction::New(k2) = l.on_request(&nobranch, peer(), false, t0) else {
        panic!()
    };
    assert!(k2.is_legacy());
    assert_eq!(
        l.on_request(&nobranch, peer(), false, t0),
        ServerAction::Retransmit
    );
}

#[test]
fn responses_honour_rport() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let raw = String::from_utf8(request("OPTIONS", "z9hG4bKn", "").as_bytes().to_vec())
        .unwrap()
        .replace("branch=z9hG4bKn", "branch=z9hG4bKn;rport");
    let opt = Message::parse(Bytes::from(raw)).unwrap();
    let nat: SocketAddr = "203.0.113.9:61000".parse().unwrap();
    let ServerAction::New(key) = l.on_request(&opt, nat, false, t0) else {
        panic!()
    };
    l.respond(&key, reply(&opt, 200, "t"), t0);
    let sent = drain(&mut l);
    assert_eq!(sent[0].dest, nat);
    // The response tells the UA its public address (RFC 3581 §4).
    let via = parse(&sent[0].data);
    let via = via.top_via().unwrap();
    assert_eq!(via.received(), Some("203.0.113.9"));
    assert_eq!(via.rport(), Some(Some(61000)));
}

// ---- client INVITE -----------------------------------------------------

fn outgoing(method: &str, branch: &str) -> Bytes {
    Bytes::from(
        RequestBuilder::new(method, "sip:1001@192.0.2.50:5060")
            .header("Via", format!("SIP/2.0/UDP 192.0.2.1:5060;branch={branch}"))
            .header("Route", "<sip:proxy.example.com;lr>")
            .header("Max-Forwards", 70)
            .header("From", "<sip:queue@192.0.2.1>;tag=ours")
            .header("To", "<sip:1001@192.0.2.50>")
            .header("Call-ID", "leg-b")
            .header("CSeq", format!("7 {method}"))
            .build(None),
    )
}

fn agent() -> SocketAddr {
    "192.0.2.50:5060".parse().unwrap()
}

fn answer(req: &Bytes, status: u16, tag: &str) -> Message {
    parse(&reply(&parse(req), status, tag))
}

#[test]
fn client_invite_timer_a_doubles_until_timer_b() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = outgoing("INVITE", "z9hG4bKc1");
    let key = l.send_request(inv.clone(), Method::Invite, "z9hG4bKc1", agent(), false, t0);
    assert_eq!(l.client_state(&key), Some(ClientState::Calling));
    let out = run(&mut l, t0, Duration::from_secs(40));
    assert_eq!(times(&out), vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert!(out.iter().all(|(_, t)| t.data == inv && t.dest == agent()));
    assert_eq!(
        events(&mut l),
        vec![TxEvent::Timeout(key.clone()), TxEvent::Terminated(key)]
    );
}

#[test]
fn client_invite_reliable_has_no_timer_a() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let key = l.send_request(
        outgoing("INVITE", "z9hG4bKc1"),
        Method::Invite,
        "z9hG4bKc1",
        agent(),
        true,
        t0,
    );
    let out = run(&mut l, t0, Duration::from_secs(32));
    assert_eq!(times(&out), vec![0]);
    assert_eq!(events(&mut l)[0], TxEvent::Timeout(key));
}

#[test]
fn client_invite_provisional_then_non_2xx_acks_and_timer_d() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = outgoing("INVITE", "z9hG4bKc1");
    let key = l.send_request(inv.clone(), Method::Invite, "z9hG4bKc1", agent(), false, t0);
    drain(&mut l);
    let ringing = answer(&inv, 180, "agent");
    assert_eq!(
        l.on_response(&ringing, t0 + ms(100)),
        Some((key.clone(), ClientAction::Deliver))
    );
    assert_eq!(l.client_state(&key), Some(ClientState::Proceeding));
    assert_eq!(
        l.on_response(&ringing, t0 + ms(200)),
        Some((key.clone(), ClientAction::Absorbed))
    );
    // Timer A stopped in Proceeding.
    assert!(run(&mut l, t0, ms(5000)).is_empty());
    let busy = answer(&inv, 486, "agent");
    assert_eq!(
        l.on_response(&busy, t0 + ms(5000)),
        Some((key.clone(), ClientAction::Deliver))
    );
    assert_eq!(l.client_state(&key), Some(ClientState::Completed));
    let ack = drain(&mut l);
    assert_eq!(ack.len(), 1);
    let ack_msg = parse(&ack[0].data);
    assert_eq!(ack_msg.method(), Some(Method::Ack));
    assert_eq!(ack_msg.request_uri_str(), Some("sip:1001@192.0.2.50:5060"));
    assert_eq!(ack_msg.top_via().unwrap().branch(), Some("z9hG4bKc1"));
    assert_eq!(ack_msg.cseq().seq, 7);
    assert_eq!(ack_msg.cseq().method_str, "ACK");
    assert_eq!(ack_msg.to().tag(), Some("agent"));
    assert_eq!(ack_msg.from().tag(), Some("ours"));
    assert_eq!(
        ack_msg.header(HeaderName::Route),
        Some("<sip:proxy.example.com;lr>")
    );
    // A retransmitted final is absorbed and re-ACKed.
    assert_eq!(
        l.on_response(&busy, t0 + ms(6000)),
        Some((key.clone(), ClientAction::Absorbed))
    );
    assert_eq!(drain(&mut l)[0].data, ack[0].data);
    // Timer D: 32 s.
    run(&mut l, t0, ms(5000 + 31_999));
    assert_eq!(l.len(), 1);
    run(&mut l, t0, ms(5000 + 32_000));
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);
}

#[test]
fn client_invite_reliable_non_2xx_ends_at_once() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = outgoing("INVITE", "z9hG4bKc1");
    let key = l.send_request(inv.clone(), Method::Invite, "z9hG4bKc1", agent(), true, t0);
    drain(&mut l);
    l.on_response(&answer(&inv, 503, "x"), t0);
    let ack = drain(&mut l);
    assert_eq!(parse(&ack[0].data).method(), Some(Method::Ack));
    assert!(ack[0].reliable);
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);
}

#[test]
fn client_invite_2xx_accepted_forks_and_timer_m() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = outgoing("INVITE", "z9hG4bKc1");
    let key = l.send_request(inv.clone(), Method::Invite, "z9hG4bKc1", agent(), false, t0);
    drain(&mut l);
    let ok = answer(&inv, 200, "a");
    assert_eq!(
        l.on_response(&ok, t0 + ms(100)),
        Some((key.clone(), ClientAction::Deliver))
    );
    assert_eq!(l.client_state(&key), Some(ClientState::Accepted));
    // The layer never ACKs a 2xx: that is the TU's (dialog's) job.
    assert!(drain(&mut l).is_empty());
    assert_eq!(
        l.on_response(&ok, t0 + ms(600)),
        Some((key.clone(), ClientAction::Retransmitted2xx))
    );
    assert_eq!(
        l.on_response(&answer(&inv, 200, "b"), t0 + ms(700)),
        Some((key.clone(), ClientAction::Deliver))
    );
    assert_eq!(
        l.on_response(&answer(&inv, 180, "c"), t0 + ms(700)),
        Some((key.clone(), ClientAction::Absorbed))
    );
    // No Timer A/B any more; Timer M ends it at 64*T1.
    assert!(run(&mut l, t0, ms(32_099)).is_empty());
    assert_eq!(events(&mut l), vec![]);
    run(&mut l, t0, ms(32_100));
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);
    assert_eq!(l.on_response(&ok, t0 + ms(40_000)), None);
}

#[test]
fn client_invite_timer_c_then_guard() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default()).with_timer_c(Duration::from_secs(60));
    let inv = outgoing("INVITE", "z9hG4bKc1");
    let key = l.send_request(inv.clone(), Method::Invite, "z9hG4bKc1", agent(), false, t0);
    l.on_response(&answer(&inv, 100, ""), t0);
    l.on_response(&answer(&inv, 180, "a"), t0 + Duration::from_secs(10));
    // A new provisional restarts Timer C.
    run(&mut l, t0, Duration::from_secs(69));
    assert_eq!(events(&mut l), vec![]);
    run(&mut l, t0, Duration::from_secs(70));
    assert_eq!(events(&mut l), vec![TxEvent::TimerC(key.clone())]);
    run(&mut l, t0, Duration::from_secs(70 + 32));
    assert_eq!(
        events(&mut l),
        vec![TxEvent::Timeout(key.clone()), TxEvent::Terminated(key)]
    );
}

#[test]
fn client_cancel_bounds_the_invite() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = outgoing("INVITE", "z9hG4bKc1");
    let ikey = l.send_request(inv.clone(), Method::Invite, "z9hG4bKc1", agent(), false, t0);
    l.on_response(&answer(&inv, 180, "a"), t0);
    let cancel = outgoing("CANCEL", "z9hG4bKc1");
    let ckey = l.send_request(
        cancel.clone(),
        Method::Cancel,
        "z9hG4bKc1",
        agent(),
        false,
        t0 + ms(1000),
    );
    assert_ne!(ikey, ckey);
    assert_eq!(
        l.on_response(&answer(&cancel, 200, "a"), t0 + ms(1100)),
        Some((ckey.clone(), ClientAction::Deliver))
    );
    // The UAS never sends 487: 64*T1 after the CANCEL the INVITE times out.
    run(&mut l, t0, ms(1000 + 31_999));
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(ckey)]);
    run(&mut l, t0, ms(1000 + 32_000));
    let ev = events(&mut l);
    assert!(ev.contains(&TxEvent::Timeout(ikey.clone())), "{ev:?}");
    assert!(ev.contains(&TxEvent::Terminated(ikey)));
}

// ---- client non-INVITE ---------------------------------------------------

#[test]
fn client_non_invite_timer_e_caps_at_t2_until_timer_f() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let opt = outgoing("OPTIONS", "z9hG4bKo1");
    let key = l.send_request(opt, Method::Options, "z9hG4bKo1", agent(), false, t0);
    assert_eq!(l.client_state(&key), Some(ClientState::Trying));
    let out = run(&mut l, t0, Duration::from_secs(40));
    assert_eq!(
        times(&out),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(
        events(&mut l),
        vec![TxEvent::Timeout(key.clone()), TxEvent::Terminated(key)]
    );
}

#[test]
fn client_non_invite_proceeding_retransmits_at_t2_then_timer_k() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let bye = outgoing("BYE", "z9hG4bKb1");
    let key = l.send_request(bye.clone(), Method::Bye, "z9hG4bKb1", agent(), false, t0);
    drain(&mut l);
    assert_eq!(
        l.on_response(&answer(&bye, 100, ""), t0 + ms(100)),
        Some((key.clone(), ClientAction::Deliver))
    );
    assert_eq!(l.client_state(&key), Some(ClientState::Proceeding));
    // Timer E armed for 500 fires, then every T2.
    let out = run(&mut l, t0, ms(9000));
    assert_eq!(times(&out), vec![500, 4500, 8500]);
    let ok = answer(&bye, 200, "a");
    assert_eq!(
        l.on_response(&ok, t0 + ms(9000)),
        Some((key.clone(), ClientAction::Deliver))
    );
    assert_eq!(l.client_state(&key), Some(ClientState::Completed));
    assert_eq!(
        l.on_response(&ok, t0 + ms(9100)),
        Some((key.clone(), ClientAction::Absorbed))
    );
    // Timer K = T4, and no retransmissions meanwhile.
    assert!(run(&mut l, t0, ms(13_999)).is_empty());
    assert_eq!(l.len(), 1);
    run(&mut l, t0, ms(14_000));
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);
}

#[test]
fn client_non_invite_reliable_no_e_and_zero_k() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let reg = outgoing("REGISTER", "z9hG4bKr1");
    let key = l.send_request(
        reg.clone(),
        Method::Register,
        "z9hG4bKr1",
        agent(),
        true,
        t0,
    );
    assert_eq!(times(&run(&mut l, t0, ms(10_000))), vec![0]);
    l.on_response(&answer(&reg, 401, "a"), t0 + ms(10_000));
    assert_eq!(events(&mut l), vec![TxEvent::Terminated(key)]);
}

#[test]
fn extension_methods_are_keyed_by_their_token() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let req = outgoing("FOO", "z9hG4bKf");
    let key = l.send_request(req.clone(), Method::Other, "z9hG4bKf", agent(), false, t0);
    assert_eq!(key.method(), "FOO");
    assert_eq!(
        l.on_response(&answer(&req, 200, "a"), t0),
        Some((key, ClientAction::Deliver))
    );
}

// ---- shared ---------------------------------------------------------------

#[test]
fn strays_transport_errors_and_acks_without_transactions() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let req = outgoing("OPTIONS", "z9hG4bKs");
    assert_eq!(l.on_response(&answer(&req, 200, "a"), t0), None);
    let key = l.send_request(req, Method::Options, "z9hG4bKs", agent(), false, t0);
    l.on_transport_error(&key);
    assert_eq!(
        events(&mut l),
        vec![
            TxEvent::TransportError(key.clone()),
            TxEvent::Terminated(key)
        ]
    );
    // An ACK for a 2xx we know nothing of goes to the dialog layer.
    assert_eq!(
        l.on_request(&request("ACK", "z9hG4bKq", ""), peer(), false, t0),
        ServerAction::AckForDialog
    );
    // Sending an ACK creates no transaction.
    drain(&mut l);
    l.send_request(
        outgoing("ACK", "z9hG4bKack"),
        Method::Ack,
        "z9hG4bKack",
        agent(),
        false,
        t0,
    );
    assert_eq!(drain(&mut l).len(), 1);
    assert!(l.is_empty());
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn a_thousand_calls_all_terminate() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    for i in 0..1000 {
        let b = format!("z9hG4bKload{i}");
        let inv = request("INVITE", &b, "");
        let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
            panic!()
        };
        l.respond(
            &key,
            reply(&inv, if i % 2 == 0 { 200 } else { 486 }, "t"),
            t0,
        );
        let req = outgoing("OPTIONS", &b);
        l.send_request(req, Method::Options, &b, agent(), false, t0);
    }
    assert_eq!(l.len(), 2000);
    run(&mut l, t0, Duration::from_secs(60));
    assert!(l.is_empty());
    assert_eq!(l.poll_timeout(), None);
}

// ---- random operation sequences --------------------------------------------

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// An incoming request: method index, branch index, reliable.
        In(usize, usize, bool),
        /// The TU answers the n-th server key it has seen.
        Respond(usize, u16),
        /// We send a request: method index, branch index, reliable.
        Send(usize, usize, bool),
        /// A response to the n-th request we sent.
        Response(usize, u16, usize),
        Advance(u64),
        TransportError(usize),
    }

    const METHODS: [&str; 5] = ["INVITE", "ACK", "CANCEL", "OPTIONS", "BYE"];
    const STATUSES: [u16; 8] = [100, 180, 183, 200, 202, 404, 486, 503];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..5usize, 0..4usize, any::<bool>()).prop_map(|(m, b, r)| Op::In(m, b, r)),
            (0..8usize, 0..8usize).prop_map(|(k, s)| Op::Respond(k, STATUSES[s])),
            (0..5usize, 0..4usize, any::<bool>()).prop_map(|(m, b, r)| Op::Send(m, b, r)),
            (0..8usize, 0..8usize, 0..3usize).prop_map(|(k, s, t)| Op::Response(k, STATUSES[s], t)),
            (0..40_000u64).prop_map(Op::Advance),
            (0..8usize).prop_map(Op::TransportError),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics_and_everything_terminates(ops in proptest::collection::vec(op(), 1..60)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut l = TransactionLayer::new(Timers::default()).with_timer_c(Duration::from_secs(60));
            let mut server: Vec<(TxKey, Message)> = Vec::new();
            let mut client: Vec<(TxKey, Bytes)> = Vec::new();
            for op in ops {
                match op {
                    Op::In(m, b, r) => {
                        let msg = request(METHODS[m], &format!("z9hG4bK{b}"), "");
                        match l.on_request(&msg, peer(), r, now) {
                            ServerAction::New(k) => server.push((k, msg)),
                            ServerAction::Cancel { cancel, .. } => server.push((cancel, msg)),
                            _ => {}
                        }
                    }
                    Op::Respond(k, s) => {
                        if let Some((key, msg)) = server.get(k % server.len().max(1)) {
                            l.respond(key, reply(msg, s, "t"), now);
                        }
                    }
                    Op::Send(m, b, r) => {
                        let branch = format!("z9hG4bKc{b}");
                        let req = outgoing(METHODS[m], &branch);
                        let method = Method::from_token(METHODS[m]);
                        let key = l.send_request(req.clone(), method, &branch, agent(), r, now);
                        client.push((key, req));
                    }
                    Op::Response(k, s, tag) => {
                        if let Some((_, req)) = client.get(k % client.len().max(1)) {
                            let resp = answer(req, s, &format!("tag{tag}"));
                            let _ = l.on_response(&resp, now);
                        }
                    }
                    Op::Advance(ms) => {
                        now += Duration::from_millis(ms);
                        l.handle_timeout(now);
                    }
                    Op::TransportError(k) => {
                        if let Some((key, _)) = client.get(k % client.len().max(1)) {
                            l.on_transport_error(key);
                        }
                    }
                }
                while l.poll_transmit().is_some() {}
                while l.poll_event().is_some() {}
                // After handle_timeout(now) nothing is overdue.
                l.handle_timeout(now);
                prop_assert!(!matches!(l.poll_timeout(), Some(t) if t <= now));
            }
            // The TU finishes every INVITE it was given; then time runs out.
            for (key, msg) in &server {
                l.respond(key, reply(msg, 500, "t"), now);
            }
            now += Duration::from_secs(400);
            l.handle_timeout(now);
            prop_assert_eq!(l.len(), 0);
            prop_assert_eq!(l.poll_timeout(), None);
        }
    }
}

#[test]
fn bye_stops_an_unacked_2xx() {
    // SIPp with simulated loss: the ACK is lost, the BYE arrives.
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "z9hG4bKa", "");
    let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    l.respond(&key, reply(&inv, 200, "t"), t0);
    assert_eq!(times(&run(&mut l, t0, ms(600))), vec![0, 500]);
    let raw = String::from_utf8(request("BYE", "z9hG4bKbye", "").as_bytes().to_vec())
        .unwrap()
        .replace("CSeq: 1 BYE", "CSeq: 2 BYE");
    let bye = Message::parse(Bytes::from(raw)).unwrap();
    assert!(matches!(
        l.on_request(&bye, peer(), false, t0 + ms(700)),
        ServerAction::New(_)
    ));
    drain(&mut l);
    assert!(run(&mut l, t0, Duration::from_secs(40)).is_empty());
    assert!(!events(&mut l)
        .iter()
        .any(|e| matches!(e, TxEvent::AckTimeout(_))));
}

#[test]
fn resend_goes_to_the_server_transaction_destination() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let inv = request("INVITE", "z9hG4bKrel", "");
    let ServerAction::New(key) = l.on_request(&inv, peer(), false, t0) else {
        panic!()
    };
    let p183 = reply(&inv, 183, "t");
    l.respond(&key, p183.clone(), t0);
    drain(&mut l);
    assert!(l.resend(&key, p183.clone()));
    let out = drain(&mut l);
    assert_eq!((out[0].dest, out[0].data.clone()), (peer(), p183));
    assert_eq!(l.response_target(&key), Some((peer(), false)));
    assert_eq!(l.server_state(&key), Some(ServerState::Proceeding));
    let client = l.send_request(
        outgoing("OPTIONS", "z9hG4bKq"),
        Method::Options,
        "z9hG4bKq",
        agent(),
        false,
        t0,
    );
    assert!(!l.resend(&client, Bytes::new()));
    assert_eq!(l.response_target(&client), None);
}
