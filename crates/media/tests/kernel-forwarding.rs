//! In-kernel forwarding (`MediaConfig::kernel_forwarding`, tc/BPF) seen
//! from the wire and from the counters: a handed-over stream is
//! indistinguishable from one user space relays (one SSRC, continuous
//! sequence numbers and timestamps, payload untouched, every packet
//! counted once), and user space takes it back whenever something changes
//! (a prompt, a new SSRC, the end of the session). Skipped, with a note,
//! where the host does not allow BPF (the relay then runs in user space,
//! which the other relay tests cover).
//!
//! The last test forwards to another host: two network namespaces made by
//! the test, joined by a veth pair and nothing else, so nothing it sends
//! can leave the machine (it needs root and `ip`; skipped otherwise).
#![allow(unsafe_code)] // setns(2) and the ethtool ioctl in the namespace test

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::rtp::{RtpHeader, RtpPacket};
use media::{Codec, Leg, MediaConfig, MediaEngine, Prompt, Session};

fn engine(port_min: u16) -> Option<MediaEngine> {
    engine_on("127.0.0.1", port_min)
}

fn engine_on(ip: &str, port_min: u16) -> Option<MediaEngine> {
    let e = MediaEngine::start(MediaConfig {
        bind_ip: ip.parse().unwrap(),
        port_min,
        port_max: port_min + 39,
        workers: 1,
        rtp_timeout: Duration::from_secs(30),
        kernel_forwarding: true,
    })
    .unwrap();
    if !e.kernel_forwarding() {
        eprintln!("in-kernel forwarding unavailable on this host: test skipped");
        return None;
    }
    Some(e)
}

fn peer() -> UdpSocket {
    peer_on("127.0.0.1")
}

fn peer_on(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8, fill: u8) -> Vec<u8> {
    RtpHeader {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
    }
    .to_vec(&[fill; 160])
}

/// Receives the next RTP packet (skipping RTCP) and its source.
fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut b = [0u8; 2048];
    loop {
        let (n, from) = s.recv_from(&mut b).expect("expected a packet");
        if !media::rtp::is_rtcp(&b[..n]) {
            return (b[..n].to_vec(), from);
        }
    }
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A caller and an agent latched on a bridged session (both SDP remotes a
/// placeholder, as behind NAT), after one packet each way.
fn bridged(e: &MediaEngine) -> (Session, UdpSocket, UdpSocket) {
    bridged_with(e, peer(), peer())
}

fn bridged_with(
    e: &MediaEngine,
    caller: UdpSocket,
    agent: UdpSocket,
) -> (Session, UdpSocket, UdpSocket) {
    let s = e.create_session().unwrap();
    let placeholder = SocketAddr::new(caller.local_addr().unwrap().ip(), 9);
    e.set_remote(s.id, Leg::A, placeholder, Codec::Pcmu);
    e.set_remote(s.id, Leg::B, placeholder, Codec::Pcmu);
    e.bridge(s.id);
    // Wait until the commands landed: the first packets latch.
    std::thread::sleep(Duration::from_millis(50));
    agent.send_to(&rtp(0xB, 65_399, 9000, 0, 0), s.b).unwrap();
    wait_until("agent latched", || s.stats.snapshot().b.rx_packets == 1);
    caller.send_to(&rtp(0xA, 100, 1000, 0, 0), s.a).unwrap();
    recv(&agent);
    (s, caller, agent)
}

/// One stream as a receiver sees it: SSRC constant, sequence numbers and
/// timestamps continuous from packet to packet.
struct Seen {
    ssrc: u32,
    seq: u16,
    ts: u32,
}

impl Seen {
    fn first(p: &[u8]) -> Seen {
        let p = RtpPacket::parse(p).unwrap();
        Seen {
            ssrc: p.ssrc(),
            seq: p.sequence(),
            ts: p.timestamp(),
        }
    }

    /// Checks the next packet continues the stream (`ts_step` ticks later,
    /// or at least one frame when `None`) and carries `fill`; returns its
    /// marker bit and payload type.
    fn next(&mut self, p: &[u8], ts_step: Option<u32>, fill: Option<u8>) -> (bool, u8) {
        let q = RtpPacket::parse(p).unwrap();
        assert_eq!(q.ssrc(), self.ssrc, "one SSRC");
        assert_eq!(q.sequence(), self.seq.wrapping_add(1), "sequence continues");
        let dt = q.timestamp().wrapping_sub(self.ts);
        match ts_step {
            Some(step) => assert_eq!(dt, step, "timestamp continues"),
            None => assert!((160..48_000).contains(&dt), "timestamp moves on: {dt}"),
        }
        if let Some(f) = fill {
            assert!(q.payload().iter().all(|&b| b == f), "payload untouched");
        }
        self.seq = q.sequence();
        self.ts = q.timestamp();
        (q.marker(), q.payload_type())
    }
}

#[test]
fn a_handed_over_stream_looks_relayed_and_counts_once() {
    let Some(e) = engine(35000) else { return };
    let (s, caller, agent) = bridged(&e);
    let (first, from) = recv(&{
        caller.send_to(&rtp(0xA, 101, 1160, 0, 1), s.a).unwrap();
        agent.try_clone().unwrap()
    });
    assert_eq!(from, s.b, "from our leg B socket");
    let mut to_agent = Seen::first(&first);
    // Both ways, 300 packets each, sequence numbers wrapping on the way.
    let mut back: Option<Seen> = None;
    for k in 0..300u16 {
        let seq = 102u16.wrapping_add(k);
        caller
            .send_to(&rtp(0xA, seq, 1160 + 160 * (k as u32 + 1), 0, 2), s.a)
            .unwrap();
        let (p, from) = recv(&agent);
        assert_eq!(from, s.b);
        assert_eq!(to_agent.next(&p, Some(160), Some(2)), (false, 0));
        agent
            .send_to(
                &rtp(0xB, 65_400u16.wrapping_add(k), 9160 + 160 * k as u32, 0, 3),
                s.b,
            )
            .unwrap();
        let (p, from) = recv(&caller);
        assert_eq!(from, s.a, "from our leg A socket");
        match back.as_mut() {
            None => back = Some(Seen::first(&p)),
            Some(b) => {
                b.next(&p, Some(160), Some(3));
            }
        }
    }
    // The wire is ahead of the counters by at most the worker's last
    // bump after a send.
    wait_until("counters", || {
        let s = s.stats.snapshot();
        (s.relayed_a_to_b, s.relayed_b_to_a) == (302, 301)
    });
    let snap = s.stats.snapshot();
    assert!(
        snap.kernel_relayed >= 500,
        "most packets forwarded in the kernel: {snap:?}"
    );
    // Every packet counted once, wherever it was forwarded.
    assert_eq!(snap.relayed_a_to_b, 302, "{snap:?}");
    // (the agent's first packet went to leg A's placeholder)
    assert_eq!(snap.relayed_b_to_a, 301, "{snap:?}");
    assert_eq!(snap.a.rx_packets, 302);
    assert_eq!(snap.b.rx_packets, 301);
    assert_eq!(snap.b.tx_packets, 302);
    assert_eq!(snap.a.tx_packets, 301);
    assert_eq!(snap.a.rx_bytes, 302 * 172);
    assert_eq!(snap.b.tx_bytes, 302 * 172);
    assert_eq!((snap.a.lost, snap.b.lost), (0, 0), "{snap:?}");

    // A prompt to the agent: user space takes the stream back, and the
    // agent's stream continues through the prompt and back to the caller.
    e.play(
        s.id,
        Leg::B,
        Arc::new(Prompt::tone(400.0, Duration::from_millis(100), -10.0)),
        false,
    );
    let (p, _) = recv(&agent);
    assert!(to_agent.next(&p, None, None).0, "marker on source change");
    // The tone's packets, then the caller's audio again, in one numbering
    // (caller audio is not relayed while the prompt plays).
    let mut seq = 402u16;
    let caller_ts = |seq: u16| 1160 + 160 * (seq as u32 - 101);
    loop {
        caller
            .send_to(&rtp(0xA, seq, caller_ts(seq), 0, 4), s.a)
            .unwrap();
        seq += 1;
        let (p, _) = recv(&agent);
        if RtpPacket::parse(&p)
            .unwrap()
            .payload()
            .iter()
            .all(|&b| b == 4)
        {
            assert!(
                to_agent.next(&p, None, Some(4)).0,
                "marker: back to the caller"
            );
            break;
        }
        to_agent.next(&p, Some(160), None);
    }
    let before = s.stats.snapshot().kernel_relayed;
    for _ in 0..50 {
        caller
            .send_to(&rtp(0xA, seq, caller_ts(seq), 0, 5), s.a)
            .unwrap();
        seq += 1;
        let (p, _) = recv(&agent);
        to_agent.next(&p, Some(160), Some(5));
    }
    assert!(
        s.stats.snapshot().kernel_relayed >= before + 45,
        "handed over again after the prompt"
    );

    // A new SSRC from the caller (a re-INVITE to another media server, a
    // restart): the kernel leaves it to user space, which re-anchors.
    caller.send_to(&rtp(0xC, 7, 777, 0, 6), s.a).unwrap();
    let (p, _) = recv(&agent);
    assert!(to_agent.next(&p, None, Some(6)).0, "marker: new source");
    for k in 1..20u16 {
        caller
            .send_to(&rtp(0xC, 7 + k, 777 + 160 * k as u32, 0, 7), s.a)
            .unwrap();
        let (p, _) = recv(&agent);
        to_agent.next(&p, Some(160), Some(7));
    }

    // Every packet counted once, before and after the release (which takes
    // the streams back from the kernel).
    let want = 302 + 1 + 50 + 20;
    wait_until("counters", || s.stats.snapshot().relayed_a_to_b == want);
    e.release(s.id);
    wait_until("session released", || e.sessions() == 0);
    std::thread::sleep(Duration::from_millis(50));
    let snap = s.stats.snapshot();
    assert_eq!(snap.relayed_a_to_b, want, "{snap:?}");
    assert_eq!(
        snap.b.tx_packets,
        want + 5,
        "relayed and the prompt's: {snap:?}"
    );
}

#[test]
fn rtcp_and_events_stay_in_user_space_on_a_handed_over_stream() {
    let Some(e) = engine(35040) else { return };
    let (s, caller, agent) = bridged(&e);
    e.set_telephone_event(s.id, Leg::A, Some(101));
    e.set_telephone_event(s.id, Leg::B, Some(101));
    std::thread::sleep(Duration::from_millis(50));
    // Commands take streams back; one packet hands the stream over again.
    caller.send_to(&rtp(0xA, 101, 1160, 0, 1), s.a).unwrap();
    let (p, _) = recv(&agent);
    let mut seen = Seen::first(&p);
    for k in 0..20u16 {
        caller
            .send_to(&rtp(0xA, 102 + k, 1320 + 160 * k as u32, 0, 1), s.a)
            .unwrap();
        seen.next(&recv(&agent).0, Some(160), Some(1));
    }
    let kernel = s.stats.snapshot().kernel_relayed;
    assert!(kernel >= 15, "handed over: {kernel}");
    // An RFC 4733 event (same SSRC, payload type 101) is relayed by user
    // space inside the same numbering.
    let ev = RtpHeader {
        marker: true,
        payload_type: 101,
        sequence: 122,
        timestamp: 1320 + 160 * 20,
        ssrc: 0xA,
    }
    .to_vec(&[5, 10, 0, 160]);
    caller.send_to(&ev, s.a).unwrap();
    let (p, _) = recv(&agent);
    let q = RtpPacket::parse(&p).unwrap();
    assert_eq!(q.payload_type(), 101);
    assert_eq!(q.sequence(), seen.seq.wrapping_add(1));
    assert_eq!(q.ssrc(), seen.ssrc);
    seen.seq = q.sequence();
    // And audio goes on in the kernel, continuing the numbering.
    for k in 0..10u16 {
        caller
            .send_to(&rtp(0xA, 123 + k, 1320 + 160 * (21 + k as u32), 0, 8), s.a)
            .unwrap();
        let step = if k == 0 { 320 } else { 160 };
        seen.next(&recv(&agent).0, Some(step), Some(8));
    }
    assert!(s.stats.snapshot().kernel_relayed >= kernel + 9);
    // A sender report from the caller reaches the agent (which muxes
    // RTCP), rewritten to our SSRC, with the count of everything we sent
    // it, kernel packets included.
    agent
        .send_to(&media::rtcp::receiver_report(0xB), s.b)
        .unwrap();
    wait_until("agent's muxed RTCP", || s.stats.snapshot().b.rx_rtcp == 1);
    let rtcp_port = SocketAddr::new(s.a.ip(), s.a.port() + 1);
    caller
        .send_to(&media::rtcp::sender_report(0xA, 7, 0, 999, 999), rtcp_port)
        .unwrap();
    let mut b = [0u8; 2048];
    let sr = loop {
        let (n, _) = agent.recv_from(&mut b).expect("RTCP relayed");
        if media::rtp::is_rtcp(&b[..n]) {
            break b[..n].to_vec();
        }
    };
    let pkts = media::rtcp::parse(&sr).unwrap();
    let Some(media::rtcp::RtcpPacket::SenderReport { ssrc, packets, .. }) = pkts.first() else {
        panic!("sender report expected: {pkts:?}");
    };
    assert_eq!(*ssrc, seen.ssrc);
    // bridged(): 1; here: 1 + 20 audio, 1 event, 10 audio.
    assert_eq!(*packets, 33, "our count, kernel packets included");
    e.release(s.id);
}

#[test]
fn jitter_is_measured_on_packets_the_kernel_forwards() {
    let Some(e) = engine(35120) else { return };
    let (s, caller, agent) = bridged(&e);
    // Timestamps two seconds apart sent back to back: every packet is
    // about two seconds "early", so the RFC 3550 jitter climbs towards two
    // seconds. Frozen after the few packets user space saw, it would stay
    // near an eighth of a second.
    for k in 0..100u32 {
        caller
            .send_to(
                &rtp(0xA, 101 + k as u16, 1000 + 16_000 * (k + 1), 0, 1),
                s.a,
            )
            .unwrap();
        recv(&agent);
    }
    wait_until("counters", || s.stats.snapshot().relayed_a_to_b == 101);
    let snap = s.stats.snapshot();
    assert!(snap.kernel_relayed >= 90, "{snap:?}");
    // Folded on the session's next second, or at release.
    e.release(s.id);
    wait_until("session released", || e.sessions() == 0);
    wait_until("jitter folded", || {
        s.stats.snapshot().a.jitter_us > 1_000_000
    });
}

/// Two network namespaces joined by a veth pair, removed on drop.
#[cfg(target_os = "linux")]
struct Namespaces {
    names: [String; 2],
}

#[cfg(target_os = "linux")]
impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", n])
                .status();
        }
    }
}

#[cfg(target_os = "linux")]
fn namespaces() -> Option<Namespaces> {
    let id = std::process::id();
    let ns = Namespaces {
        names: [format!("sbkf-a-{id}"), format!("sbkf-b-{id}")],
    };
    let (a, b) = (&ns.names[0], &ns.names[1]);
    let (va, vb) = (format!("kfa{id}"), format!("kfb{id}"));
    let steps: Vec<Vec<&str>> = vec![
        vec!["netns", "add", a],
        vec!["netns", "add", b],
        vec![
            "link", "add", &va, "netns", a, "type", "veth", "peer", "name", &vb, "netns", b,
        ],
        vec!["-n", a, "addr", "add", "10.201.0.1/24", "dev", &va],
        vec!["-n", b, "addr", "add", "10.201.0.2/24", "dev", &vb],
        vec!["-n", a, "link", "set", &va, "up"],
        vec!["-n", b, "link", "set", &vb, "up"],
        vec!["-n", a, "link", "set", "lo", "up"],
        vec!["-n", b, "link", "set", "lo", "up"],
    ];
    for step in steps {
        let ok = std::process::Command::new("ip")
            .args(&step)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "cannot run `ip {}` (needs root and iproute2): test skipped",
                step.join(" ")
            );
            return None;
        }
    }
    // No checksum offload on either end: every UDP checksum is computed in
    // software and verified on receipt, so a wrong incremental update in
    // the program drops the packet.
    in_netns(a, move || csum_offload_off(&va));
    in_netns(b, move || csum_offload_off(&vb));
    Some(ns)
}

/// Runs `f` on a thread inside network namespace `name` (threads it
/// starts, and sockets it makes, belong to that namespace).
#[cfg(target_os = "linux")]
fn in_netns<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{name}");
    std::thread::spawn(move || {
        let ns = std::fs::File::open(&path).expect("namespace file");
        // SAFETY: setns(2) on an open namespace fd changes only this
        // thread's network namespace.
        let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}

/// `ethtool -K <ifname> rx off tx off`, with the legacy ioctls.
#[cfg(target_os = "linux")]
fn csum_offload_off(ifname: &str) {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Value {
        cmd: u32,
        data: u32,
    }
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        data: *mut Value,
        _pad: [u8; 16],
    }
    let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
    for cmd in [0x15, 0x17] {
        // ETHTOOL_SRXCSUM, ETHTOOL_STXCSUM
        let mut v = Value { cmd, data: 0 };
        let mut r = IfReq {
            name: [0; 16],
            data: &mut v,
            _pad: [0; 16],
        };
        r.name[..ifname.len()].copy_from_slice(ifname.as_bytes());
        // SAFETY: SIOCETHTOOL reads the ifreq and the ethtool_value it
        // points to, both alive for the call.
        let rc = unsafe { libc::ioctl(sock.as_raw_fd(), 0x8946, &mut r) };
        assert_eq!(
            rc,
            0,
            "ethtool {cmd:#x} {ifname}: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn forwards_to_another_host_with_valid_checksums() {
    let Some(ns) = namespaces() else { return };
    let Some(e) = in_netns(&ns.names[0], || engine_on("10.201.0.1", 35080)) else {
        return;
    };
    let (caller, agent) = in_netns(&ns.names[1], || {
        (peer_on("10.201.0.2"), peer_on("10.201.0.2"))
    });
    let (s, caller, agent) = bridged_with(&e, caller, agent);
    for k in 0..100u16 {
        caller
            .send_to(&rtp(0xA, 101 + k, 1160 + 160 * k as u32, 0, 9), s.a)
            .unwrap();
        let (p, from) = recv(&agent);
        assert_eq!(from, s.b);
        assert!(RtpPacket::parse(&p)
            .unwrap()
            .payload()
            .iter()
            .all(|&b| b == 9));
        agent
            .send_to(
                &rtp(0xB, 65_400u16.wrapping_add(k), 9160 + 160 * k as u32, 0, 8),
                s.b,
            )
            .unwrap();
        let (_, from) = recv(&caller);
        assert_eq!(from, s.a);
    }
    wait_until("counters", || {
        let s = s.stats.snapshot();
        (s.relayed_a_to_b, s.relayed_b_to_a) == (101, 101)
    });
    let snap = s.stats.snapshot();
    assert!(
        snap.kernel_relayed >= 190,
        "forwarded in the kernel: {snap:?}"
    );
    e.release(s.id);
    drop(e);
}
