//! Behaviour of the relay workers on loopback: playing, bridging with
//! SSRC/sequence/timestamp rewrite, latching, RTCP, transcoding, timeouts
//! and port accounting.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::rtcp::{self, RtcpPacket};
use media::rtp::{RtpHeader, RtpPacket};
use media::{g711, Codec, Leg, MediaConfig, MediaEngine, MediaEvent, Prompt};
use tokio::sync::mpsc::UnboundedReceiver;

fn engine(port_min: u16, port_max: u16, timeout_ms: u64) -> MediaEngine {
    MediaEngine::start(MediaConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        port_min,
        port_max,
        workers: 2,
        rtp_timeout: Duration::from_millis(timeout_ms),
        kernel_forwarding: true,
    })
    .unwrap()
}

fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(2000)))
        .unwrap();
    s
}

fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut b = [0u8; 2048];
    let (n, _) = s.recv_from(&mut b).expect("expected a packet");
    b[..n].to_vec()
}

/// Receives RTP only (skips RTCP).
fn recv_rtp(s: &UdpSocket) -> Vec<u8> {
    loop {
        let p = recv(s);
        if !media::rtp::is_rtcp(&p) {
            return p;
        }
    }
}

fn wait_event(
    rx: &mut UnboundedReceiver<MediaEvent>,
    pred: impl Fn(&MediaEvent) -> bool,
) -> MediaEvent {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match rx.try_recv() {
            Ok(ev) if pred(&ev) => return ev,
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    panic!("event not received");
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8, payload: &[u8]) -> Vec<u8> {
    RtpHeader {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
    }
    .to_vec(payload)
}

#[test]
fn plays_paced_prompt_then_reports_end() {
    let e = engine(31000, 31019, 10_000);
    let mut ev = e.events();
    let s = e.create_session().unwrap();
    assert_eq!(s.a.port() % 2, 0);
    let caller = peer();
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcma);
    let tone = Arc::new(Prompt::tone(400.0, Duration::from_millis(200), -10.0));
    let t0 = Instant::now();
    e.play(s.id, Leg::A, tone.clone(), false);
    let mut pkts = vec![];
    for i in 0..10 {
        let mut b = [0u8; 2048];
        match caller.recv_from(&mut b) {
            Ok((n, _)) => pkts.push(b[..n].to_vec()),
            Err(err) => panic!("packet {i}: {err}; stats {:?}", s.stats.snapshot()),
        }
    }
    let elapsed = t0.elapsed();
    let parsed: Vec<_> = pkts.iter().map(|p| RtpPacket::parse(p).unwrap()).collect();
    for (i, p) in parsed.iter().enumerate() {
        assert_eq!(p.payload_type(), 8);
        assert_eq!(p.payload().len(), 160);
        assert_eq!(p.ssrc(), parsed[0].ssrc());
        assert_eq!(p.sequence(), parsed[0].sequence().wrapping_add(i as u16));
        assert_eq!(
            p.timestamp(),
            parsed[0].timestamp().wrapping_add(160 * i as u32)
        );
        // The payload is the prompt, A-law encoded.
        let expect: Vec<u8> = tone.samples()[i * 160..(i + 1) * 160]
            .iter()
            .map(|&x| g711::alaw_encode(x))
            .collect();
        assert_eq!(p.payload(), &expect[..]);
    }
    assert!(parsed[0].marker());
    // 10 packets paced at 20 ms: the last leaves ~180 ms after the first.
    assert!(elapsed >= Duration::from_millis(170), "{elapsed:?}");
    wait_event(&mut ev, |e| {
        matches!(e, MediaEvent::PlayFinished { leg: Leg::A, .. })
    });
    assert_eq!(s.stats.snapshot().a.played, 10);
    e.release(s.id);
}

#[test]
fn bridge_keeps_one_continuous_stream_and_latches() {
    let e = engine(31020, 31039, 10_000);
    let mut ev = e.events();
    let s = e.create_session().unwrap();
    let caller = peer();
    let agent = peer();
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcmu);
    // The agent's SDP says one port, but it sends from another (NAT).
    let wrong: SocketAddr = "127.0.0.1:9".parse().unwrap();
    e.set_remote(s.id, Leg::B, wrong, Codec::Pcmu);
    e.play(s.id, Leg::A, Arc::new(Prompt::default_music()), true);
    let music: Vec<_> = (0..3).map(|_| recv(&caller)).collect();
    let m_last = RtpPacket::parse(&music[2]).unwrap();
    let ssrc = m_last.ssrc();

    e.bridge(s.id);
    // Give the bridge command time to land before media flows.
    std::thread::sleep(Duration::from_millis(50));
    let _ = caller.set_read_timeout(Some(Duration::from_millis(100)));
    while caller.recv_from(&mut [0; 2048]).is_ok() {} // drain music in flight
    caller
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();

    agent
        .send_to(&rtp(0xA6E4, 40_000, 1_000_000, 0, &[0x11; 160]), s.b)
        .unwrap();
    let p1 = recv_rtp(&caller);
    let p1 = RtpPacket::parse(&p1).unwrap();
    assert_eq!(p1.ssrc(), ssrc, "caller keeps seeing one SSRC");
    assert!(p1.marker(), "marker on source change");
    assert!(p1.payload().iter().all(|&b| b == 0x11));
    let gap = p1.sequence().wrapping_sub(m_last.sequence());
    assert!((1..=20).contains(&gap), "sequence continues: gap {gap}");
    assert!(p1.timestamp().wrapping_sub(m_last.timestamp()) >= 160);
    agent
        .send_to(&rtp(0xA6E4, 40_001, 1_000_160, 0, &[0x22; 160]), s.b)
        .unwrap();
    let p2b = recv_rtp(&caller);
    let p2 = RtpPacket::parse(&p2b).unwrap();
    assert_eq!(p2.sequence(), p1.sequence().wrapping_add(1));
    assert_eq!(p2.timestamp(), p1.timestamp().wrapping_add(160));
    assert!(!p2.marker());

    // Leg B latched onto the agent's real address: caller audio reaches it.
    wait_event(
        &mut ev,
        |e| matches!(e, MediaEvent::Latched { leg: Leg::B, remote, .. } if *remote == agent.local_addr().unwrap()),
    );
    caller
        .send_to(&rtp(77, 5, 800, 0, &[0x33; 160]), s.a)
        .unwrap();
    let q = recv_rtp(&agent);
    let q = RtpPacket::parse(&q).unwrap();
    assert_eq!(q.payload(), &[0x33; 160][..]);
    assert_ne!(q.ssrc(), 77, "SSRC rewritten towards the agent too");

    // Transfer: another agent (new SSRC, new numbering) on leg B.
    e.unbridge(s.id);
    let agent2 = peer();
    e.set_remote(s.id, Leg::B, agent2.local_addr().unwrap(), Codec::Pcmu);
    e.bridge(s.id);
    std::thread::sleep(Duration::from_millis(50));
    agent2
        .send_to(&rtp(0xB0B, 3, 42, 0, &[0x44; 160]), s.b)
        .unwrap();
    let p3 = RtpPacket::parse(&recv_rtp(&caller)).unwrap().ssrc();
    assert_eq!(p3, ssrc);
    wait_until("stats", || s.stats.snapshot().relayed_b_to_a == 3);
    let snap = s.stats.snapshot();
    assert_eq!(snap.relayed_a_to_b, 1);
    assert_eq!(snap.b.rx_packets, 3);
    assert!(snap.a.played >= 3);
    e.release(s.id);
}

#[test]
fn rtcp_relayed_with_rewritten_ssrcs_and_mux() {
    let e = engine(31040, 31059, 10_000);
    let s = e.create_session().unwrap();
    let caller = peer();
    let agent = peer();
    let agent_rtcp = peer();
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcmu);
    e.set_remote(s.id, Leg::B, agent.local_addr().unwrap(), Codec::Pcmu);
    e.bridge(s.id);
    std::thread::sleep(Duration::from_millis(50));
    // Agent media first, so the caller learns the SSRC it sees.
    agent.send_to(&rtp(0xA, 1, 160, 0, &[0; 160]), s.b).unwrap();
    let first = recv_rtp(&caller);
    let first = RtpPacket::parse(&first).unwrap();
    let (seen, seen_ts) = (first.ssrc(), first.timestamp());
    // Caller uses rtcp-mux: RTCP on its RTP socket to our RTP port.
    caller.send_to(&rtcp::receiver_report(0xC), s.a).unwrap();
    wait_until("muxed RTCP seen", || s.stats.snapshot().a.rx_rtcp == 1);
    // Agent sends a sender report on the RTCP port.
    let rtcp_port: SocketAddr = SocketAddr::new(s.b.ip(), s.b.port() + 1);
    agent_rtcp
        .send_to(&rtcp::sender_report(0xA, 7, 320, 1, 160), rtcp_port)
        .unwrap();
    let sr = recv(&caller);
    match &rtcp::parse(&sr).unwrap()[0] {
        RtcpPacket::SenderReport {
            ssrc,
            packets,
            rtp_ts,
            ..
        } => {
            assert_eq!(*ssrc, seen, "SR sender is the SSRC the caller receives");
            assert_eq!(*packets, 1);
            // 320 in the agent's timeline is one packet after the relayed one.
            assert_eq!(*rtp_ts, seen_ts.wrapping_add(160));
        }
        other => panic!("expected SR, got {other:?}"),
    }
    // The caller's muxed RR reaches the agent at its RTCP address (port+1
    // of its SDP address here is not `agent_rtcp`, so it latched to the SR
    // source).
    caller.send_to(&rtcp::receiver_report(0xC), s.a).unwrap();
    let rr = recv(&agent_rtcp);
    assert!(matches!(
        &rtcp::parse(&rr).unwrap()[0],
        RtcpPacket::ReceiverReport { .. }
    ));
    wait_until("stats", || s.stats.snapshot().a.rx_rtcp == 2);
    let snap = s.stats.snapshot();
    assert_eq!(snap.b.rx_rtcp, 1);
    e.release(s.id);
}

#[test]
fn transcodes_ulaw_to_alaw() {
    let e = engine(31060, 31079, 10_000);
    let s = e.create_session().unwrap();
    let caller = peer();
    let agent = peer();
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcmu);
    e.set_remote(s.id, Leg::B, agent.local_addr().unwrap(), Codec::Pcma);
    e.bridge(s.id);
    std::thread::sleep(Duration::from_millis(50));
    let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
    caller.send_to(&rtp(1, 1, 1, 0, &payload), s.a).unwrap();
    let got = recv_rtp(&agent);
    let p = RtpPacket::parse(&got).unwrap();
    assert_eq!(p.payload_type(), 8);
    let expect: Vec<u8> = payload.iter().map(|&b| g711::ulaw_to_alaw(b)).collect();
    assert_eq!(p.payload(), &expect[..]);
    e.release(s.id);
}

#[test]
fn reports_rtp_timeout_once_per_silence() {
    let e = engine(31080, 31099, 150);
    let mut ev = e.events();
    let s = e.create_session().unwrap();
    let caller = peer();
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcmu);
    let got = wait_event(&mut ev, |e| matches!(e, MediaEvent::RtpTimeout { .. }));
    assert_eq!(
        got,
        MediaEvent::RtpTimeout {
            session: s.id,
            leg: Leg::A
        }
    );
    // Leg B has no remote: never reported. Media resumes, then stops again.
    caller.send_to(&rtp(1, 1, 1, 0, &[0xFF; 160]), s.a).unwrap();
    let again = wait_event(&mut ev, |e| matches!(e, MediaEvent::RtpTimeout { .. }));
    assert_eq!(
        again,
        MediaEvent::RtpTimeout {
            session: s.id,
            leg: Leg::A
        }
    );
    e.release(s.id);
}

#[test]
fn malformed_packets_are_counted_not_fatal() {
    let e = engine(31100, 31119, 10_000);
    let s = e.create_session().unwrap();
    let caller = peer();
    let agent = peer();
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcmu);
    e.set_remote(s.id, Leg::B, agent.local_addr().unwrap(), Codec::Pcmu);
    e.bridge(s.id);
    std::thread::sleep(Duration::from_millis(50));
    for junk in [
        &[][..],
        &[0x80][..],
        &[0x40; 20][..],
        &[0x80, 200, 0, 99][..],
        &[0xff; 1500][..],
    ] {
        caller.send_to(junk, s.a).unwrap();
        caller
            .send_to(junk, SocketAddr::new(s.a.ip(), s.a.port() + 1))
            .unwrap();
    }
    caller.send_to(&rtp(1, 1, 1, 0, &[7; 160]), s.a).unwrap();
    let p = recv_rtp(&agent);
    assert_eq!(RtpPacket::parse(&p).unwrap().payload(), &[7; 160][..]);
    wait_until("malformed counted", || s.stats.snapshot().a.malformed >= 8);
    e.release(s.id);
}

#[test]
fn ports_always_return_to_the_pool() {
    // 20 port pairs: 10 sessions at a time.
    let e = engine(31200, 31239, 10_000);
    let peer = peer();
    let mut live = vec![];
    // Exhaustion is reported, and nothing leaks from the failed attempt.
    loop {
        match e.create_session() {
            Ok(s) => live.push(s),
            Err(media::MediaError::PortsExhausted) => break,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(live.len(), 10);
    assert_eq!(e.ports_in_use(), 40);
    for s in live.drain(..) {
        e.release(s.id);
    }
    wait_until("ports back", || e.ports_in_use() == 0);
    // Thousands of calls: answered, cancelled before media, failed mid-way.
    let music = Arc::new(Prompt::tone(440.0, Duration::from_millis(100), -20.0));
    let mut made = 0;
    while made < 2000 {
        let s = match e.create_session() {
            Ok(s) => s,
            Err(media::MediaError::PortsExhausted) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            Err(other) => panic!("{other}"),
        };
        match made % 3 {
            0 => {}
            1 => {
                e.set_remote(s.id, Leg::A, peer.local_addr().unwrap(), Codec::Pcmu);
                e.play(s.id, Leg::A, music.clone(), true);
            }
            _ => {
                e.set_remote(s.id, Leg::A, peer.local_addr().unwrap(), Codec::Pcmu);
                e.bridge(s.id);
                e.unbridge(s.id);
            }
        }
        e.release(s.id);
        e.release(s.id); // twice is harmless
        made += 1;
    }
    wait_until("all ports back", || e.ports_in_use() == 0);
    assert_eq!(e.sessions(), 0);
}

#[test]
fn dropping_the_engine_closes_sockets() {
    let addr;
    {
        let e = engine(31300, 31309, 10_000);
        let s = e.create_session().unwrap();
        addr = s.a;
    }
    wait_until("socket closed", || UdpSocket::bind(addr).is_ok());
}

#[test]
fn one_pinned_worker_per_core() {
    let e = MediaEngine::start(MediaConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        port_min: 31500,
        port_max: 31519,
        workers: 0,
        rtp_timeout: Duration::from_secs(10),
        kernel_forwarding: true,
    })
    .unwrap();
    assert_eq!(
        e.workers(),
        std::thread::available_parallelism().unwrap().get()
    );
    let s = e.create_session().unwrap();
    let caller = peer();
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcmu);
    e.play(s.id, Leg::A, Arc::new(Prompt::default_music()), true);
    assert!(RtpPacket::parse(&recv(&caller)).is_ok());
    e.release(s.id);
    wait_until("ports back", || e.ports_in_use() == 0);
}

#[test]
fn relays_and_latches_over_ipv6() {
    let Ok(caller) = UdpSocket::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    let agent = UdpSocket::bind("[::1]:0").unwrap();
    agent
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let e = MediaEngine::start(MediaConfig {
        bind_ip: "::1".parse().unwrap(),
        port_min: 31520,
        port_max: 31539,
        workers: 1,
        rtp_timeout: Duration::from_secs(10),
        kernel_forwarding: true,
    })
    .unwrap();
    let mut ev = e.events();
    let s = e.create_session().unwrap();
    assert!(s.a.is_ipv6());
    // Leg A's SDP address is wrong: it must latch to the caller's source.
    e.set_remote(s.id, Leg::A, "[::1]:9".parse().unwrap(), Codec::Pcmu);
    e.set_remote(s.id, Leg::B, agent.local_addr().unwrap(), Codec::Pcmu);
    e.bridge(s.id);
    std::thread::sleep(Duration::from_millis(50));
    caller
        .send_to(&rtp(3, 1, 160, 0, &[0x5A; 160]), s.a)
        .unwrap();
    let got = recv_rtp(&agent);
    assert_eq!(RtpPacket::parse(&got).unwrap().payload(), &[0x5A; 160][..]);
    let latched = wait_event(&mut ev, |e| {
        matches!(e, MediaEvent::Latched { leg: Leg::A, .. })
    });
    assert_eq!(
        latched,
        MediaEvent::Latched {
            session: s.id,
            leg: Leg::A,
            remote: caller.local_addr().unwrap()
        }
    );
    e.release(s.id);
    wait_until("ports back", || e.ports_in_use() == 0);
}
