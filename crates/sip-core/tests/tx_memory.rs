//! Memory held by lingering transactions (issue #7).
//!
//! After its final response a transaction stays for Timers J/L/M (64*T1 =
//! 32 s over UDP), K/I (T4) or D (32 s): at 1,000 calls/s that is ≈100,000
//! transactions alive for ≈1,100 live calls. This drives N calls through
//! the layer on a simulated clock, in less time than the shortest of those
//! timers, and counts with a global allocator the bytes the layer holds once
//! every transaction has reached its lingering state. A lingering
//! transaction needs its key, its timers and what it must retransmit (the
//! last response, or the ACK for a non-2xx), never the request.
//!
//! `cargo test -p sip-core --release --test tx_memory -- --nocapture`
//! prints the figures; the assertions are loose size bounds, not timings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::transaction::{ClientAction, ServerAction, Timers, TransactionLayer};
use sip_core::{Message, Method, ResponseBuilder};

/// Counts live heap bytes and blocks (this file has one test, so nothing
/// else allocates while it measures). The only unsafe code: forwarding
/// to the system allocator.
struct Counting;

static BYTES: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            BYTES.fetch_add(layout.size() as isize, Relaxed);
            BLOCKS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        BYTES.fetch_sub(layout.size() as isize, Relaxed);
        BLOCKS.fetch_sub(1, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn held() -> (isize, isize) {
    (BYTES.load(Relaxed), BLOCKS.load(Relaxed))
}

/// Calls per scenario.
const N: usize = 100_000;
/// Gap between calls: N calls take 2 s, less than T4 (Timers K and I).
const GAP: Duration = Duration::from_micros(20);
/// glibc's per-block overhead, to turn blocks into an RSS-like estimate.
const BLOCK_OVERHEAD: isize = 16;

/// Allowed heap per lingering transaction, block overhead included: the
/// key, the timers, the last response or the ACK (≈300–800 bytes here) and
/// the map and heap entries. Keeping the request or every provisional
/// response, or cloning the key into each timer entry, exceeds it.
const BOUND: isize = 1_200;

fn carrier() -> SocketAddr {
    "192.0.2.10:5070".parse().unwrap()
}

fn agent() -> SocketAddr {
    "192.0.2.20:5080".parse().unwrap()
}

const SDP: &str = "v=0\r\no=carrier 53655765 2353687637 IN IP4 192.0.2.10\r\ns=-\r\n\
c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 16000 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";

/// A carrier's request, as a datagram the receive path copied out.
fn carrier_request(method: &str, i: usize, cseq: u32, branch: &str, to_tag: &str) -> Message {
    let (body, ctype) = if method == "INVITE" {
        (SDP, "Content-Type: application/sdp\r\n")
    } else {
        ("", "")
    };
    let raw = format!(
        "{method} sip:5000@192.0.2.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5070;branch={branch}\r\n\
From: \"Load {i}\" <sip:+1555{i}@192.0.2.10:5070>;tag=4711ld{i}\r\n\
To: <sip:5000@192.0.2.1:5060>{to_tag}\r\n\
Call-ID: {i}-4711@192.0.2.10\r\n\
CSeq: {cseq} {method}\r\n\
Contact: <sip:carrier@192.0.2.10:5070>\r\n\
Max-Forwards: 70\r\n\
{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    Message::parse(Bytes::copy_from_slice(raw.as_bytes())).unwrap()
}

/// The engine's request to an agent (built into a `Vec`, like the engine).
fn engine_request(method: &str, i: usize, cseq: u32, branch: &str) -> Bytes {
    let body = if method == "INVITE" { SDP } else { "" };
    let raw = format!(
        "{method} sip:agent{i}@192.0.2.20:5080 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:+1555{i}@192.0.2.1>;tag=sb{i}\r\n\
To: <sip:agent{i}@192.0.2.20>\r\n\
Call-ID: sb-{i}@192.0.2.1\r\n\
CSeq: {cseq} {method}\r\n\
Contact: <sip:switchboard@192.0.2.1:5060>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, INFO, REFER, NOTIFY\r\n\
Subject: queue sales\r\n\
X-Switchboard-Queue: sales\r\n\
User-Agent: Switchboard\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    Bytes::from(raw.into_bytes())
}

/// An agent's response to `req`, parsed from a datagram.
fn agent_response(req: &Bytes, status: u16, tag: &str) -> Message {
    let req = Message::parse(req.clone()).unwrap();
    let mut b = ResponseBuilder::new(&req, status).to_tag(tag);
    if status == 200 && req.method() == Some(Method::Invite) {
        b = b
            .header("Contact", "<sip:agent@192.0.2.20:5080>")
            .body("application/sdp", SDP.as_bytes());
    }
    Message::parse(Bytes::copy_from_slice(&b.build())).unwrap()
}

fn drain(l: &mut TransactionLayer) {
    while l.poll_transmit().is_some() {}
    while l.poll_event().is_some() {}
}

/// Drives `call` for N calls GAP apart (timers fired as they fall due),
/// then reports the heap the layer holds per lingering transaction, checks
/// that every transaction ends and that the layer gives its memory back.
fn measure(
    name: &str,
    per_call: usize,
    mut call: impl FnMut(&mut TransactionLayer, usize, Instant),
) -> isize {
    let t0 = Instant::now();
    let (b0, k0) = held();
    let mut l = TransactionLayer::new(Timers::default());
    let mut now = t0;
    for i in 0..N {
        now = t0 + GAP * i as u32;
        l.handle_timeout(now);
        call(&mut l, i, now);
        drain(&mut l);
    }
    // Let the transient timers (100 Trying, 2xx retransmission) pass.
    now += Duration::from_millis(600);
    l.handle_timeout(now);
    drain(&mut l);
    assert_eq!(l.len(), N * per_call, "{name}: every transaction lingers");
    let (b1, k1) = held();
    let (bytes, blocks) = (b1 - b0, k1 - k0);
    let per_tx = (bytes + BLOCK_OVERHEAD * blocks) / l.len() as isize;
    println!(
        "{name}: {} lingering transactions hold {bytes} B in {blocks} blocks: \
         {} B + {:.1} blocks per transaction ≈ {per_tx} B with malloc overhead",
        l.len(),
        bytes / l.len() as isize,
        blocks as f64 / l.len() as f64,
    );
    // Every transaction ends on its own, and the memory comes back.
    l.handle_timeout(now + Duration::from_secs(40));
    drain(&mut l);
    assert_eq!(l.len(), 0, "{name}: all transactions end");
    assert_eq!(l.poll_timeout(), None);
    // The next wake-up after the burst gives back the tables' space.
    l.handle_timeout(now + Duration::from_secs(41));
    let (b2, _) = held();
    drop(l);
    let (b3, _) = held();
    println!(
        "{name}: after the timers {} B, after drop {} B",
        b2 - b0,
        b3 - b0
    );
    assert!(
        b2 - b0 < 1 << 20,
        "{name}: ended transactions leave memory behind"
    );
    per_tx
}

#[test]
fn lingering_transactions_hold_only_what_they_retransmit() {
    let mut report = Vec::new();

    // The carrier side of a B2BUA: INVITE answered 200 and ACKed, then a BYE
    // answered 200. Both linger 64*T1 (Timers L and J).
    let per = measure("server INVITE 200 + BYE 200", 2, |l, i, now| {
        let inv = carrier_request("INVITE", i, 1, &format!("z9hG4bK-inv-{i}"), "");
        let ServerAction::New(key) = l.on_request(&inv, carrier(), false, now) else {
            panic!("new INVITE")
        };
        let tag = format!("sbtag{i}");
        let ringing = ResponseBuilder::new(&inv, 180).to_tag(&tag).build();
        l.respond(&key, Bytes::from(ringing), now);
        let ok = ResponseBuilder::new(&inv, 200)
            .to_tag(&tag)
            .header("Contact", "<sip:switchboard@192.0.2.1:5060>")
            .body("application/sdp", SDP.as_bytes())
            .build();
        l.respond(&key, Bytes::from(ok), now);
        let to_tag = format!(";tag={tag}");
        let ack = carrier_request("ACK", i, 1, &format!("z9hG4bK-ack-{i}"), &to_tag);
        assert_eq!(
            l.on_request(&ack, carrier(), false, now),
            ServerAction::AckForDialog
        );
        let bye = carrier_request("BYE", i, 2, &format!("z9hG4bK-bye-{i}"), &to_tag);
        let ServerAction::New(key) = l.on_request(&bye, carrier(), false, now) else {
            panic!("new BYE")
        };
        l.respond(
            &key,
            Bytes::from(ResponseBuilder::new(&bye, 200).build()),
            now,
        );
    });
    report.push(("server INVITE+BYE", per));

    // The same calls rejected: INVITE answered 486 and ACKed (Confirmed,
    // Timer I).
    let per = measure("server INVITE 486 + ACK", 1, |l, i, now| {
        let inv = carrier_request("INVITE", i, 1, &format!("z9hG4bK-inv-{i}"), "");
        let ServerAction::New(key) = l.on_request(&inv, carrier(), false, now) else {
            panic!("new INVITE")
        };
        let tag = format!("sbtag{i}");
        let busy = ResponseBuilder::new(&inv, 486).to_tag(&tag).build();
        l.respond(&key, Bytes::from(busy), now);
        let to_tag = format!(";tag={tag}");
        let ack = carrier_request("ACK", i, 1, &format!("z9hG4bK-inv-{i}"), &to_tag);
        assert_eq!(
            l.on_request(&ack, carrier(), false, now),
            ServerAction::Absorbed
        );
    });
    report.push(("server INVITE 486", per));

    // The agent side: INVITE answered 100/180/200 (ACK sent outside the
    // transaction), then our BYE answered 200 (Timers M and K).
    let per = measure("client INVITE 200 + BYE 200", 2, |l, i, now| {
        let inv = engine_request("INVITE", i, 1, &format!("z9hG4bK-c{i}"));
        l.send_request(
            inv.clone(),
            Method::Invite,
            &format!("z9hG4bK-c{i}"),
            agent(),
            false,
            now,
        );
        for (status, action) in [
            (100, ClientAction::Deliver),
            (180, ClientAction::Deliver),
            (200, ClientAction::Deliver),
            (200, ClientAction::Retransmitted2xx),
        ] {
            let resp = agent_response(&inv, status, "ag1");
            assert_eq!(l.on_response(&resp, now).map(|r| r.1), Some(action));
        }
        let ack = engine_request("ACK", i, 1, &format!("z9hG4bK-a{i}"));
        l.send_request(
            ack,
            Method::Ack,
            &format!("z9hG4bK-a{i}"),
            agent(),
            false,
            now,
        );
        let bye = engine_request("BYE", i, 2, &format!("z9hG4bK-b{i}"));
        l.send_request(
            bye.clone(),
            Method::Bye,
            &format!("z9hG4bK-b{i}"),
            agent(),
            false,
            now,
        );
        let ok = agent_response(&bye, 200, "ag1");
        assert_eq!(
            l.on_response(&ok, now).map(|r| r.1),
            Some(ClientAction::Deliver)
        );
    });
    report.push(("client INVITE+BYE", per));

    // An agent that rejects: 100 then 486; the layer ACKs and keeps that ACK
    // for retransmitted 486s (Timer D).
    let per = measure("client INVITE 486", 1, |l, i, now| {
        let inv = engine_request("INVITE", i, 1, &format!("z9hG4bK-c{i}"));
        l.send_request(
            inv.clone(),
            Method::Invite,
            &format!("z9hG4bK-c{i}"),
            agent(),
            false,
            now,
        );
        drain(l);
        let trying = agent_response(&inv, 100, "ag1");
        assert_eq!(
            l.on_response(&trying, now).map(|r| r.1),
            Some(ClientAction::Deliver)
        );
        let busy = agent_response(&inv, 486, "ag1");
        assert_eq!(
            l.on_response(&busy, now).map(|r| r.1),
            Some(ClientAction::Deliver)
        );
        let ack = l.poll_transmit().expect("the layer ACKs a 486");
        assert!(ack.data.starts_with(b"ACK "));
        assert_eq!(
            l.on_response(&busy, now).map(|r| r.1),
            Some(ClientAction::Absorbed)
        );
        assert!(l
            .poll_transmit()
            .expect("re-sent ACK")
            .data
            .starts_with(b"ACK "));
    });
    report.push(("client INVITE 486", per));

    for (name, per) in &report {
        println!("{name}: ≈{per} B per lingering transaction");
    }
    for (name, per) in report {
        assert!(
            per < BOUND,
            "{name}: {per} B per lingering transaction (bound {BOUND} B)"
        );
    }
}
