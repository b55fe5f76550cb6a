//! DTMF through the relay: RFC 4733 events reported once and relayed with
//! the other leg's payload type; in-band tones detected in G.711 audio.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use media::dtmf;
use media::rtp::{RtpHeader, RtpPacket};
use media::{g711, Codec, Leg, MediaConfig, MediaEngine, MediaEvent};
use tokio::sync::mpsc::UnboundedReceiver;

fn engine(port_min: u16) -> MediaEngine {
    MediaEngine::start(MediaConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        port_min,
        port_max: port_min + 19,
        workers: 1,
        rtp_timeout: Duration::from_secs(10),
        kernel_forwarding: true,
    })
    .unwrap()
}

fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn digits(rx: &mut UnboundedReceiver<MediaEvent>, n: usize) -> Vec<(char, bool)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut v = vec![];
    while v.len() < n && Instant::now() < deadline {
        match rx.try_recv() {
            Ok(MediaEvent::Dtmf { digit, inband, .. }) => v.push((digit, inband)),
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    v
}

#[test]
fn rfc4733_reported_once_and_relayed_with_mapped_pt() {
    let e = engine(31400);
    let mut ev = e.events();
    let s = e.create_session().unwrap();
    let (caller, agent) = (peer(), peer());
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcmu);
    e.set_remote(s.id, Leg::B, agent.local_addr().unwrap(), Codec::Pcmu);
    e.set_telephone_event(s.id, Leg::A, Some(101));
    e.set_telephone_event(s.id, Leg::B, Some(96));
    e.bridge(s.id);
    std::thread::sleep(Duration::from_millis(50));
    let mut seq = 10u16;
    for d in ['4', '#'] {
        for p in dtmf::generate(
            dtmf::digit_to_event(d).unwrap(),
            8000 * seq as u32,
            800,
            160,
            10,
        ) {
            let pkt = RtpHeader {
                marker: p.marker,
                payload_type: 101,
                sequence: seq,
                timestamp: p.timestamp,
                ssrc: 5,
            }
            .to_vec(&p.payload);
            caller.send_to(&pkt, s.a).unwrap();
            seq += 1;
        }
    }
    assert_eq!(digits(&mut ev, 2), vec![('4', false), ('#', false)]);
    let mut buf = [0u8; 2048];
    let (n, _) = agent.recv_from(&mut buf).unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert_eq!(p.payload_type(), 96);
    assert_eq!(dtmf::TelephoneEvent::parse(p.payload()).unwrap().event, 4);
    e.release(s.id);
}

#[test]
fn inband_tones_detected_in_g711() {
    let e = engine(31420);
    let mut ev = e.events();
    let s = e.create_session().unwrap();
    let caller = peer();
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcma);
    e.detect_inband_dtmf(s.id, Leg::A, true);
    std::thread::sleep(Duration::from_millis(50));
    let mut audio = vec![];
    for d in "93*".chars() {
        audio.extend(dtmf::synthesize(d, 80, -12.0));
        audio.extend(vec![0i16; 8 * 80]);
    }
    for (k, frame) in audio.chunks(160).enumerate() {
        let payload: Vec<u8> = frame.iter().map(|&x| g711::alaw_encode(x)).collect();
        let pkt = RtpHeader {
            marker: false,
            payload_type: 8,
            sequence: k as u16,
            timestamp: k as u32 * 160,
            ssrc: 9,
        }
        .to_vec(&payload);
        caller.send_to(&pkt, s.a).unwrap();
    }
    assert_eq!(
        digits(&mut ev, 3),
        vec![('9', true), ('3', true), ('*', true)]
    );
    e.release(s.id);
}

fn recv_n(s: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
    let mut v = vec![];
    let mut buf = [0u8; 2048];
    for _ in 0..n {
        let (len, _) = s.recv_from(&mut buf).expect("packet");
        v.push(buf[..len].to_vec());
    }
    v
}

#[test]
fn sends_rfc4733_digits_in_the_legs_stream() {
    let e = engine(31440);
    let s = e.create_session().unwrap();
    let caller = peer();
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcmu);
    e.set_telephone_event(s.id, Leg::A, Some(101));
    e.send_dtmf(s.id, Leg::A, '5', Duration::from_millis(100));
    e.send_dtmf(s.id, Leg::A, '#', Duration::from_millis(60));
    let pkts = recv_n(&caller, 7 + 5);
    let parsed: Vec<_> = pkts.iter().map(|p| RtpPacket::parse(p).unwrap()).collect();
    let first = &parsed[0];
    for (i, p) in parsed.iter().enumerate() {
        assert_eq!(p.payload_type(), 101);
        assert_eq!(p.ssrc(), first.ssrc());
        assert_eq!(p.sequence(), first.sequence().wrapping_add(i as u16));
    }
    let evs: Vec<_> = parsed
        .iter()
        .map(|p| dtmf::TelephoneEvent::parse(p.payload()).unwrap())
        .collect();
    // '5': 4 updates (160..640) + 3 ends at 800, one timestamp, marker first.
    assert!(parsed[0].marker() && !parsed[1].marker());
    assert!(parsed[..7]
        .iter()
        .all(|p| p.timestamp() == first.timestamp()));
    assert!(evs[..7].iter().all(|e| e.event == 5));
    assert_eq!(
        evs[..7].iter().map(|e| e.duration).collect::<Vec<_>>(),
        vec![160, 320, 480, 640, 800, 800, 800]
    );
    assert_eq!(evs[..7].iter().filter(|e| e.end).count(), 3);
    // '#': a new event with a later timestamp and its own marker.
    assert!(parsed[7].marker());
    assert!(parsed[7].timestamp().wrapping_sub(first.timestamp()) >= 800);
    assert!(evs[7..].iter().all(|e| e.event == 11));
    e.release(s.id);
}

#[test]
fn sends_inband_tones_without_telephone_event() {
    let e = engine(31460);
    let s = e.create_session().unwrap();
    let caller = peer();
    e.set_remote(s.id, Leg::A, caller.local_addr().unwrap(), Codec::Pcmu);
    e.send_dtmf(s.id, Leg::A, '8', Duration::from_millis(100));
    let pkts = recv_n(&caller, 6);
    let mut det = dtmf::DtmfDetector::new();
    let mut got = vec![];
    for p in &pkts {
        let p = RtpPacket::parse(p).unwrap();
        assert_eq!(p.payload_type(), 0);
        let pcm: Vec<i16> = p.payload().iter().map(|&b| g711::ulaw_decode(b)).collect();
        got.extend(det.process(&pcm));
    }
    assert_eq!(got.first(), Some(&dtmf::DtmfEvent::Begin('8')));
    e.release(s.id);
}
