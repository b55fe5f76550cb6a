//! A minimal blocking SIP user agent for tests that must see exactly what
//! arrives at each end (SIPp cannot count RTP it receives): it registers with
//! digest auth, places or answers one call, and sends and counts RTP.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::auth::{digest_response, DigestAlgorithm};
use sip_core::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder};

pub struct Ua {
    pub sip: UdpSocket,
    pub rtp: UdpSocket,
    pub engine: SocketAddr,
    pub user: String,
    tag: String,
    call_id: String,
    /// Payload type this UA offers/answers: 8 (PCMA, default), 0 (PCMU) or
    /// 9 (G.722).
    pub pt: u8,
}

impl Ua {
    pub fn new(engine: SocketAddr, user: &str) -> Ua {
        let sip = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        sip.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        rtp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Ua {
            sip,
            rtp,
            engine,
            user: user.to_string(),
            tag: format!("t{}", rand::random::<u32>()),
            call_id: format!("ua-{}@127.0.0.1", rand::random::<u64>()),
            pt: 8,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sip.local_addr().unwrap()
    }

    pub fn rtp_addr(&self) -> SocketAddr {
        self.rtp.local_addr().unwrap()
    }

    fn send(&self, data: &[u8], to: SocketAddr) {
        self.sip.send_to(data, to).unwrap();
    }

    /// Next SIP message (bounded wait: 10 s).
    pub fn recv(&self) -> Message {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 65_536];
        while Instant::now() < deadline {
            if let Ok((n, _)) = self.sip.recv_from(&mut buf) {
                if let Ok(m) = Message::parse(Bytes::copy_from_slice(&buf[..n])) {
                    return m;
                }
            }
        }
        panic!("{}: no SIP message within 10 s", self.user);
    }

    /// Next response with a final status for `method` (provisionals are skipped
    /// unless `stop_at_provisional` names one).
    pub fn recv_response(&self, method: Method, stop_at: Option<u16>) -> Message {
        loop {
            let m = self.recv();
            if m.cseq().method != method || m.is_request() {
                continue;
            }
            let s = m.status().unwrap();
            if s >= 200 || Some(s) == stop_at {
                return m;
            }
        }
    }

    fn request(&self, method: &str, uri: &str, cseq: u32, to_tag: Option<&str>) -> RequestBuilder {
        let me = self.addr();
        let to = match to_tag {
            Some(t) => format!("<sip:{}@{}>;tag={t}", self.target_user(method), self.engine),
            None => format!("<sip:{}@{}>", self.target_user(method), self.engine),
        };
        RequestBuilder::new(method, uri)
            .header(
                "Via",
                format!("SIP/2.0/UDP {me};branch=z9hG4bK{}", rand::random::<u64>()),
            )
            .header("Max-Forwards", 70)
            .header("From", format!("<sip:{}@{me}>;tag={}", self.user, self.tag))
            .header("To", to)
            .header("Call-ID", &self.call_id)
            .header("CSeq", format!("{cseq} {method}"))
            .header("Contact", format!("<sip:{}@{me}>", self.user))
    }

    fn target_user(&self, method: &str) -> String {
        if method == "REGISTER" {
            self.user.clone()
        } else {
            "5000".into()
        }
    }

    /// REGISTER with digest authentication (MD5, qop=auth); returns the final status.
    pub fn register(&self, password: &str) -> u16 {
        let uri = format!("sip:{}", self.engine);
        let first = self
            .request("REGISTER", &uri, 1, None)
            .header("Expires", 300)
            .build(None);
        self.send(&first, self.engine);
        let challenge = self.recv_response(Method::Register, None);
        assert_eq!(challenge.status(), Some(401));
        let www = challenge
            .headers(HeaderName::WwwAuthenticate)
            .find(|h| h.contains("MD5"))
            .expect("an MD5 challenge")
            .to_string();
        let param = |name: &str| {
            sip_core::param(&www.replace(',', ";").replacen("Digest ", "", 1), name)
                .unwrap_or_default()
                .to_string()
        };
        let (realm, nonce) = (param("realm"), param("nonce"));
        let cnonce = "0a4f113b";
        let response = digest_response(
            DigestAlgorithm::Md5,
            false,
            &self.user,
            &realm,
            password,
            "REGISTER",
            &uri,
            &nonce,
            Some(("auth", "00000001", cnonce)),
        );
        let auth = format!(
            "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\"",
            self.user
        );
        let second = self
            .request("REGISTER", &uri, 2, None)
            .header("Expires", 300)
            .header("Authorization", auth)
            .build(None);
        self.send(&second, self.engine);
        self.recv_response(Method::Register, None).status().unwrap()
    }

    fn sdp(&self) -> String {
        let rtp = self.rtp_addr();
        format!(
            "v=0\r\no=ua 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP {pt} 101\r\na=rtpmap:{pt} {name}/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
            rtp.port(),
            pt = self.pt,
            name = match self.pt {
                0 => "PCMU",
                9 => "G722",
                _ => "PCMA",
            }
        )
    }

    /// Carrier side: INVITE the number, wait for 200, ACK it. Returns the
    /// engine's RTP address for this call and the To tag.
    pub fn call(&self, number: &str) -> (SocketAddr, String) {
        let uri = format!("sip:{number}@{}", self.engine);
        let invite = self.request("INVITE", &uri, 1, None);
        let sdp = self.sdp();
        self.send(
            &invite.build(Some(("application/sdp", sdp.as_bytes()))),
            self.engine,
        );
        let ok = self.recv_response(Method::Invite, None);
        assert_eq!(ok.status(), Some(200), "call answered");
        let tag = ok.to().tag().unwrap().to_string();
        let ack = self.request("ACK", &uri, 1, Some(&tag)).build(None);
        self.send(&ack, self.engine);
        (rtp_target(&ok), tag)
    }

    /// Sends an INVITE and returns the first final status (ACKing non-2xx
    /// is left to the transaction layer's retransmissions: tests only read
    /// the status).
    pub fn invite_status(&self, number: &str) -> (u16, Message) {
        let uri = format!("sip:{number}@{}", self.engine);
        let sdp = self.sdp();
        let invite = self.request("INVITE", &uri, 1, None);
        self.send(
            &invite.build(Some(("application/sdp", sdp.as_bytes()))),
            self.engine,
        );
        let m = self.recv_response(Method::Invite, None);
        (m.status().unwrap(), m)
    }

    /// Sends an INVITE and waits for the 183 with early media; returns the
    /// engine's RTP address (the final response is read later with
    /// `recv_response`).
    pub fn invite_early(&self, number: &str) -> SocketAddr {
        let uri = format!("sip:{number}@{}", self.engine);
        let sdp = self.sdp();
        let invite = self.request("INVITE", &uri, 1, None);
        self.send(
            &invite.build(Some(("application/sdp", sdp.as_bytes()))),
            self.engine,
        );
        let progress = self.recv_response(Method::Invite, Some(183));
        assert_eq!(progress.status(), Some(183));
        rtp_target(&progress)
    }

    /// Presses `digit` as RFC 4733 telephone-events (PT 101): three packets
    /// of one event, the last with the end bit.
    pub fn send_dtmf(&self, to: SocketAddr, digit: u8) {
        for (i, end) in [(0u16, false), (1, false), (2, true)] {
            let mut pkt = vec![0x80, if i == 0 { 0x80 | 101 } else { 101 }];
            pkt.extend_from_slice(&(1000 + i).to_be_bytes());
            pkt.extend_from_slice(&48_000u32.to_be_bytes());
            pkt.extend_from_slice(&0x0d7f_0001u32.to_be_bytes());
            pkt.extend_from_slice(&[digit, if end { 0x8a } else { 0x0a }]);
            pkt.extend_from_slice(&(160 * (i + 1)).to_be_bytes());
            self.rtp.send_to(&pkt, to).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn hang_up(&self, number: &str, to_tag: &str) -> u16 {
        let uri = format!("sip:{number}@{}", self.engine);
        let bye = self.request("BYE", &uri, 2, Some(to_tag)).build(None);
        self.send(&bye, self.engine);
        self.recv_response(Method::Bye, None).status().unwrap()
    }

    /// Agent side: wait for the engine's INVITE, answer it, wait for ACK.
    /// Returns the engine's RTP address for this leg.
    pub fn answer(&self) -> SocketAddr {
        rtp_target(&self.answer_invite())
    }

    /// Like [`Ua::answer`], returning the engine's INVITE (for requests
    /// inside that dialog, such as a REFER).
    pub fn answer_invite(&self) -> Message {
        let invite = loop {
            let m = self.recv();
            match m.method() {
                Some(Method::Invite) => break m,
                // A trunk's far end answers the engine's OPTIONS probes.
                Some(Method::Options) => {
                    let via = m.top_via().unwrap();
                    let to = SocketAddr::new(via.host.parse().unwrap(), via.port.unwrap_or(5060));
                    self.send(&ResponseBuilder::new(&m, 200).to_tag(&self.tag).build(), to);
                }
                _ => {}
            }
        };
        let from = invite
            .top_via()
            .map(|v| SocketAddr::new(v.host.parse().unwrap(), v.port.unwrap_or(5060)))
            .unwrap();
        let sdp = self.sdp();
        let ringing = ResponseBuilder::new(&invite, 180).to_tag(&self.tag).build();
        self.send(&ringing, from);
        let ok = ResponseBuilder::new(&invite, 200)
            .to_tag(&self.tag)
            .header("Contact", format!("<sip:{}@{}>", self.user, self.addr()))
            .body("application/sdp", sdp.as_bytes())
            .build();
        self.send(&ok, from);
        loop {
            let m = self.recv();
            if m.method() == Some(Method::Ack) {
                break;
            }
        }
        invite
    }

    /// Agent side: blind-transfers the call of `invite` (which we answered)
    /// to `number`; returns the REFER's final status. NOTIFYs that arrive
    /// meanwhile are answered 200.
    pub fn refer(&self, invite: &Message, number: &str) -> u16 {
        let engine_contact = invite.contact().unwrap().uri_text.to_string();
        let me = self.addr();
        let refer = RequestBuilder::new("REFER", &engine_contact)
            .header(
                "Via",
                format!("SIP/2.0/UDP {me};branch=z9hG4bK{}", rand::random::<u64>()),
            )
            .header("Max-Forwards", 70)
            .header("From", format!("{};tag={}", invite.to_str_raw(), self.tag))
            .header("To", invite.from_str_raw())
            .header("Call-ID", invite.call_id())
            .header("CSeq", "1 REFER")
            .header("Contact", format!("<sip:{}@{me}>", self.user))
            .header("Refer-To", format!("<sip:{number}@{}>", self.engine))
            .build(None);
        self.send(&refer, self.engine);
        loop {
            let m = self.recv();
            if m.method() == Some(Method::Notify) {
                self.send(&ResponseBuilder::new(&m, 200).build(), self.engine);
                continue;
            }
            if !m.is_request() && m.cseq().method == Method::Refer && m.status().unwrap() >= 200 {
                return m.status().unwrap();
            }
        }
    }

    /// Agent side: wait for BYE and answer 200.
    pub fn await_bye(&self) {
        loop {
            let m = self.recv();
            if m.method() == Some(Method::Bye) {
                let from = SocketAddr::new(
                    "127.0.0.1".parse().unwrap(),
                    m.top_via().unwrap().port.unwrap_or(5060),
                );
                self.send(&ResponseBuilder::new(&m, 200).build(), from);
                return;
            }
        }
    }

    /// Sends `n` marked RTP packets to `to`, up to 10 ms apart, while
    /// counting packets received that carry `expect` as their payload mark.
    ///
    /// Each send waits up to 10 ms for what the other end sends, so the two
    /// ends pace each other; when one finishes first, the other slows to
    /// 10 ms a packet. So after its own sending, an end keeps counting
    /// ([`until_quiet`]).
    pub fn exchange_rtp(&self, to: SocketAddr, n: u16, mark: &[u8; 4], expect: &[u8; 4]) -> usize {
        let mut received = 0;
        let mut buf = [0u8; 2048];
        let mut last_heard = Instant::now();
        let mut count = |s: &UdpSocket, received: &mut usize| {
            while let Ok(len) = s.recv(&mut buf) {
                last_heard = Instant::now();
                if len >= 16 && &buf[12..16] == expect {
                    *received += 1;
                }
            }
            last_heard
        };
        self.rtp
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        for seq in 0..n {
            let mut pkt = vec![0x80, 8];
            pkt.extend_from_slice(&seq.to_be_bytes());
            pkt.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            pkt.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            pkt.extend_from_slice(mark);
            pkt.resize(12 + 160, 0xd5);
            self.rtp.send_to(&pkt, to).unwrap();
            count(&self.rtp, &mut received);
        }
        // Stragglers: while the other end is still sending (bounded).
        until_quiet(|| (count(&self.rtp, &mut received), received >= n as usize));
        received
    }
}

/// After a UA's own sending: calls `collect` (which reads what has come and
/// returns when something last came, and whether all expected is in) until
/// all is in, or nothing has come for a second, or 5 s have passed. On a
/// loaded machine the other end may still be sending: a fixed window lost
/// its last packets though the engine had relayed them all.
pub fn until_quiet(mut collect: impl FnMut() -> (Instant, bool)) {
    let cap = Instant::now() + Duration::from_secs(5);
    while Instant::now() < cap {
        let (heard, all) = collect();
        if all || heard.elapsed() > Duration::from_secs(1) {
            break;
        }
    }
}

pub fn rtp_target(m: &Message) -> SocketAddr {
    let sdp = sip_core::sdp::Sdp::parse(&m.body()).expect("SDP");
    sip_core::sdp::remote_audio(&sdp).expect("audio stream").0
}

impl Ua {
    /// Sends a tone of `freq` Hz in this UA's G.711 law to `to` for
    /// `frames` × 20 ms (paced), and returns the decoded audio received
    /// meanwhile after the first `skip` frames (jitter buffers filling).
    pub fn talk(&self, to: SocketAddr, freq: f64, frames: u32, skip: u32) -> Vec<i16> {
        use media::transcode::{AudioDecoder, AudioEncoder};
        use media::{g711, Codec};
        let codec = Codec::from_payload_type(self.pt).expect("a static payload type");
        let mut enc = AudioEncoder::with_rate(codec, 8000).unwrap();
        let mut dec = AudioDecoder::with_rate(codec, 8000).unwrap();
        self.rtp.set_nonblocking(true).unwrap();
        let mut heard = Vec::new();
        let mut buf = [0u8; 2048];
        let t0 = Instant::now();
        for f in 0..frames {
            let at = t0 + Duration::from_millis(20 * u64::from(f));
            if let Some(d) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            let mut pkt = vec![0x80, self.pt];
            pkt.extend_from_slice(&(f as u16).to_be_bytes());
            pkt.extend_from_slice(&(f * 160).to_be_bytes());
            pkt.extend_from_slice(&0x7a1c_0001u32.to_be_bytes());
            let pcm: Vec<i16> = (0..160)
                .map(|k| {
                    let t = f64::from(f * 160 + k) / 8000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
                })
                .collect();
            pkt.extend_from_slice(enc.encode(&pcm).unwrap());
            self.rtp.send_to(&pkt, to).unwrap();
            while let Ok(n) = self.rtp.recv(&mut buf) {
                let pt = buf[1] & 0x7f;
                if n <= 12 || f < skip || ![0, 8, 9].contains(&pt) {
                    continue;
                }
                match pt {
                    0 => heard.extend(buf[12..n].iter().map(|&b| g711::ulaw_decode(b))),
                    8 => heard.extend(buf[12..n].iter().map(|&b| g711::alaw_decode(b))),
                    _ => heard.extend_from_slice(dec.decode(&buf[12..n]).unwrap()),
                }
            }
        }
        self.rtp.set_nonblocking(false).unwrap();
        heard
    }
}

/// Which of `freqs` the audio carries (clearly above the noise floor).
pub fn tones_in(x: &[i16], freqs: [f64; 3]) -> [bool; 3] {
    freqs.map(|f| media::dtmf::tone_power(x, f, 8000.0) > 1e5)
}
