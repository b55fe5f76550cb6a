//! Supervisor leg C (listen, whisper, barge) and call recording, over real
//! loopback sockets: three peers each send a tone at their own frequency;
//! what each one receives says who it hears.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use media::rtp::{RtpHeader, RtpPacket};
use media::{g711, Codec, Leg, MediaConfig, MediaEngine, MonitorMode};

const FREQ: [f64; 3] = [500.0, 1000.0, 1500.0];

fn engine(port_min: u16) -> MediaEngine {
    MediaEngine::start(MediaConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        port_min,
        port_max: port_min + 19,
        workers: 1,
        rtp_timeout: Duration::from_secs(30),
        kernel_forwarding: true,
    })
    .unwrap()
}

fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_nonblocking(true).unwrap();
    s
}

/// Which of the three tones `x` carries.
fn heard(x: &[i16]) -> [bool; 3] {
    FREQ.map(|f| media::dtmf::tone_power(x, f, 8000.0) > 1e5)
}

struct Call {
    e: MediaEngine,
    s: media::Session,
    peers: Vec<UdpSocket>,
    c_addr: Option<std::net::SocketAddr>,
    seq: u16,
}

impl Call {
    fn new(port_min: u16) -> Call {
        let e = engine(port_min);
        let s = e.create_session().unwrap();
        let peers = vec![peer(), peer(), peer()];
        e.set_remote(s.id, Leg::A, peers[0].local_addr().unwrap(), Codec::Pcmu);
        e.set_remote(s.id, Leg::B, peers[1].local_addr().unwrap(), Codec::Pcma);
        e.bridge(s.id);
        Call {
            e,
            s,
            peers,
            c_addr: None,
            seq: 0,
        }
    }

    fn attach(&mut self) {
        let c = self.e.attach_monitor(self.s.id).unwrap();
        self.e.set_remote(
            self.s.id,
            Leg::C,
            self.peers[2].local_addr().unwrap(),
            Codec::Pcmu,
        );
        self.c_addr = Some(c);
    }

    /// Every present peer sends its tone for `frames` × 20 ms; returns the
    /// decoded audio each peer received in the second half.
    fn talk(&mut self, frames: usize) -> [Vec<i16>; 3] {
        let dests = [Some(self.s.a), Some(self.s.b), self.c_addr];
        let codecs = [Codec::Pcmu, Codec::Pcma, Codec::Pcmu];
        let mut got: [Vec<i16>; 3] = Default::default();
        let t0 = Instant::now();
        for f in 0..frames {
            let at = t0 + Duration::from_millis(20 * f as u64);
            if let Some(d) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            self.seq = self.seq.wrapping_add(1);
            for i in 0..3 {
                let Some(to) = dests[i] else { continue };
                let payload: Vec<u8> = (0..160)
                    .map(|k| {
                        let t = (self.seq as usize * 160 + k) as f64 / 8000.0;
                        let s = (8000.0 * (2.0 * std::f64::consts::PI * FREQ[i] * t).sin()) as i16;
                        match codecs[i] {
                            Codec::Pcma => g711::alaw_encode(s),
                            _ => g711::ulaw_encode(s),
                        }
                    })
                    .collect();
                let pkt = RtpHeader {
                    marker: false,
                    payload_type: codecs[i].payload_type(),
                    sequence: self.seq,
                    timestamp: self.seq as u32 * 160,
                    ssrc: 0x1000 + i as u32,
                }
                .to_vec(&payload);
                self.peers[i].send_to(&pkt, to).unwrap();
            }
            for (peer, got) in self.peers.iter().zip(got.iter_mut()) {
                let mut b = [0u8; 2048];
                while let Ok((n, _)) = peer.recv_from(&mut b) {
                    let Ok(p) = RtpPacket::parse(&b[..n]) else {
                        continue;
                    };
                    if f < frames / 2 {
                        continue;
                    }
                    for &x in p.payload() {
                        got.push(match p.payload_type() {
                            8 => g711::alaw_decode(x),
                            _ => g711::ulaw_decode(x),
                        });
                    }
                }
            }
        }
        got
    }
}

#[test]
fn listen_whisper_barge_and_detach() {
    let mut call = Call::new(32000);
    // Before any supervisor: A and B hear each other.
    let [a, b, _] = call.talk(30);
    assert_eq!(heard(&a), [false, true, false]);
    assert_eq!(heard(&b), [true, false, false]);

    call.attach();
    assert_eq!(call.e.ports_in_use(), 6, "C holds its own RTP/RTCP pair");

    call.e.monitor(call.s.id, Some(MonitorMode::Listen));
    let [a, b, c] = call.talk(60);
    assert_eq!(
        heard(&a),
        [false, true, false],
        "caller does not hear the listener"
    );
    assert_eq!(
        heard(&b),
        [true, false, false],
        "agent does not hear the listener"
    );
    assert_eq!(heard(&c), [true, true, false], "listener hears both");

    call.e.monitor(call.s.id, Some(MonitorMode::Whisper));
    let [a, b, c] = call.talk(60);
    assert_eq!(
        heard(&a),
        [false, true, false],
        "caller never hears the whisper"
    );
    assert_eq!(
        heard(&b),
        [true, false, true],
        "agent hears caller and coach"
    );
    assert_eq!(heard(&c), [true, true, false]);

    call.e.monitor(call.s.id, Some(MonitorMode::Barge));
    let [a, b, c] = call.talk(60);
    assert_eq!(heard(&a), [false, true, true], "barge: caller hears both");
    assert_eq!(heard(&b), [true, false, true]);
    assert_eq!(heard(&c), [true, true, false]);

    call.e.detach_monitor(call.s.id);
    call.c_addr = None;
    let [a, b, c] = call.talk(30);
    assert_eq!(heard(&a), [false, true, false], "back to the plain relay");
    assert_eq!(heard(&b), [true, false, false]);
    assert!(c.is_empty(), "nothing goes to a detached supervisor");
    let deadline = Instant::now() + Duration::from_secs(5);
    while call.e.ports_in_use() != 4 {
        assert!(Instant::now() < deadline, "C's ports were not returned");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = call.s.stats.snapshot();
    assert!(
        stats.c.rx_packets > 100 && stats.c.tx_packets > 100,
        "{stats:?}"
    );
    call.e.release(call.s.id);
}

#[test]
fn releasing_a_monitored_session_returns_every_port() {
    let mut call = Call::new(32040);
    call.attach();
    call.e.monitor(call.s.id, Some(MonitorMode::Barge));
    call.talk(10);
    call.e.release(call.s.id);
    let deadline = Instant::now() + Duration::from_secs(5);
    while call.e.ports_in_use() != 0 {
        assert!(Instant::now() < deadline, "ports leaked");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn records_caller_left_agent_right() {
    let mut call = Call::new(32080);
    let dir: PathBuf = std::env::temp_dir().join(format!("sb-record-{}", std::process::id()));
    let path = dir.join("call.wav");
    call.e.record(call.s.id, path.clone());
    call.talk(75);
    call.e.stop_recording(call.s.id);
    let stats = {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(s) = call.e.recorder_stats() {
                if s.closed.load(std::sync::atomic::Ordering::Relaxed) == 1 {
                    break s;
                }
            }
            assert!(Instant::now() < deadline, "recording not finished");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2, "stereo");
    assert_eq!(
        u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]),
        8000
    );
    let data_len = u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]) as usize;
    assert_eq!(data_len, bytes.len() - 44, "header sizes patched on close");
    let frames = stats.frames.load(std::sync::atomic::Ordering::Relaxed) as usize;
    assert!(
        (60..=90).contains(&frames),
        "about 1.5 s of 20 ms frames: {frames}"
    );
    let pcm: Vec<i16> = bytes[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let left: Vec<i16> = pcm.iter().step_by(2).copied().collect();
    let right: Vec<i16> = pcm.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(heard(&left), [true, false, false], "caller on the left");
    assert_eq!(heard(&right), [false, true, false], "agent on the right");
    call.e.release(call.s.id);
    let _ = std::fs::remove_dir_all(dir);
}

/// G.722 caller, Opus agent (dynamic payload type 96): each hears the
/// other's tone through decode → resample → encode, in its own codec,
/// payload type and clock; a G.711 supervisor listening hears both.
#[test]
fn relays_between_g722_and_opus() {
    use media::transcode::{AudioDecoder, AudioEncoder};
    let e = engine(32120);
    let s = e.create_session().unwrap();
    let (a, b) = (peer(), peer());
    e.set_remote(s.id, Leg::A, a.local_addr().unwrap(), Codec::G722);
    e.set_remote(s.id, Leg::B, b.local_addr().unwrap(), Codec::Opus);
    e.set_payload_type(s.id, Leg::B, 96);
    e.bridge(s.id);
    let c = peer();
    let c_addr = e.attach_monitor(s.id).unwrap();
    e.set_remote(s.id, Leg::C, c.local_addr().unwrap(), Codec::Pcmu);
    e.monitor(s.id, Some(MonitorMode::Listen));
    let mut sup = Vec::new();
    let mut enc = [
        AudioEncoder::with_rate(Codec::G722, 8000).unwrap(),
        AudioEncoder::with_rate(Codec::Opus, 8000).unwrap(),
    ];
    let mut dec = [
        AudioDecoder::with_rate(Codec::G722, 8000).unwrap(),
        AudioDecoder::with_rate(Codec::Opus, 8000).unwrap(),
    ];
    let pts = [9u8, 96];
    let ticks = [160u32, 960];
    let dests = [s.a, s.b];
    let peers = [&a, &b];
    let mut got: [Vec<i16>; 2] = Default::default();
    let mut stamps: [Vec<(u8, u32)>; 2] = Default::default();
    let t0 = Instant::now();
    for f in 0..60u32 {
        if let Some(d) =
            (t0 + Duration::from_millis(20 * u64::from(f))).checked_duration_since(Instant::now())
        {
            std::thread::sleep(d);
        }
        for i in 0..2 {
            let pcm: Vec<i16> = (0..160)
                .map(|k| {
                    let t = f64::from(f * 160 + k) / 8000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * FREQ[i] * t).sin()) as i16
                })
                .collect();
            let payload = enc[i].encode(&pcm).unwrap().to_vec();
            let pkt = RtpHeader {
                marker: false,
                payload_type: pts[i],
                sequence: f as u16,
                timestamp: f * ticks[i],
                ssrc: 0x2000 + i as u32,
            }
            .to_vec(&payload);
            peers[i].send_to(&pkt, dests[i]).unwrap();
        }
        // The supervisor sends silence (its leg latches) and listens.
        let quiet = RtpHeader {
            marker: false,
            payload_type: 0,
            sequence: f as u16,
            timestamp: f * 160,
            ssrc: 0x3000,
        }
        .to_vec(&[0xff; 160]);
        c.send_to(&quiet, c_addr).unwrap();
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = c.recv_from(&mut buf) {
            let p = RtpPacket::parse(&buf[..n]).unwrap();
            if f >= 20 {
                sup.extend(p.payload().iter().map(|&x| g711::ulaw_decode(x)));
            }
        }
        for i in 0..2 {
            let mut buf = [0u8; 2048];
            while let Ok((n, _)) = peers[i].recv_from(&mut buf) {
                let p = RtpPacket::parse(&buf[..n]).unwrap();
                stamps[i].push((p.payload_type(), p.timestamp()));
                let pcm = dec[i].decode(p.payload()).unwrap().to_vec();
                if f >= 20 {
                    got[i].extend_from_slice(&pcm);
                }
            }
        }
    }
    assert_eq!(
        heard(&got[0]),
        [false, true, false],
        "G.722 caller hears the Opus agent"
    );
    assert_eq!(
        heard(&got[1]),
        [true, false, false],
        "Opus agent hears the G.722 caller"
    );
    assert_eq!(
        heard(&sup),
        [true, true, false],
        "the listener hears both codecs"
    );
    for (i, st) in stamps.iter().enumerate() {
        assert!(st.len() > 40, "leg {i} got {} packets", st.len());
        assert!(
            st.iter().all(|&(pt, _)| pt == pts[i]),
            "leg {i}: its own payload type"
        );
        for w in st.windows(2) {
            assert_eq!(
                w[1].1.wrapping_sub(w[0].1),
                ticks[i],
                "leg {i}: 20 ms in its clock"
            );
        }
    }
    e.release(s.id);
}
