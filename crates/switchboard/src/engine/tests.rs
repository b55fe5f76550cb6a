//! The engine on a simulated clock: SIP text in, SIP text out, time moved
//! by hand. Timers that span minutes (session timers, 2xx without ACK)
//! are checked here without waiting.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::Engine;
use crate::cdr::CdrWriter;
use crate::config;

const CARRIER: &str = "127.0.0.1:7070";

struct Sim {
    engine: Engine,
    now: Instant,
    sent: Vec<(SocketAddr, String)>,
    /// INVITE Call-IDs already counted by `invites_to`.
    seen: std::collections::HashSet<String>,
}

fn sim(queue_extra: &str) -> Sim {
    static PORTS: AtomicU16 = AtomicU16::new(0);
    let lo =
        50_000 + PORTS.fetch_add(40, Ordering::SeqCst) + (std::process::id() % 50) as u16 * 200;
    let toml = format!(
        r#"
[sip]
listen = ["udp:127.0.0.1:5060"]
[media]
rtp_ports = [{lo}, {hi}]
[[trunk]]
name = "carrier"
allow = ["127.0.0.0/8"]
[[agent]]
id = "1001"
password = "pw"
skills = {{ english = 1 }}
[[queue]]
name = "support"
require = {{ english = 1 }}
{queue_extra}
[[route]]
to = "5000"
queue = "support"
[[route]]
to = "*"
queue = "support"
"#,
        hi = lo + 39
    );
    let cfg = config::parse(Path::new("sim.toml"), &toml).unwrap();
    let media = media::MediaEngine::start(media::MediaConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        port_min: lo,
        port_max: lo + 39,
        workers: 1,
        rtp_timeout: Duration::from_secs(3600),
        kernel_forwarding: true,
    })
    .unwrap();
    let now = Instant::now();
    let engine = Engine::new(
        Arc::new(cfg),
        media,
        CdrWriter::discard(),
        b"k",
        now,
        SystemTime::now(),
    );
    Sim {
        engine,
        now,
        sent: Vec::new(),
        seen: Default::default(),
    }
}

impl Sim {
    fn drain(&mut self) {
        while let Some(t) = self.engine.poll_transmit() {
            self.sent
                .push((t.dest, String::from_utf8_lossy(&t.data).into_owned()));
        }
    }

    fn input(&mut self, text: &str) {
        let src: SocketAddr = CARRIER.parse().unwrap();
        self.engine
            .handle_datagram(self.now, src, Bytes::from(text.to_string()));
        self.drain();
    }

    /// Moves the clock to `now + d`, firing every timer on its deadline.
    fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(t) = self.engine.poll_timeout().filter(|t| *t <= target) {
            self.now = t.max(self.now);
            self.engine.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
    }

    /// Distinct requests (by Via branch; retransmissions count once).
    fn take_unique(&mut self, start: &str) -> usize {
        let mut branches: Vec<String> = self
            .take(start)
            .iter()
            .filter_map(|m| {
                m.lines()
                    .find(|l| l.starts_with("Via:"))
                    .map(str::to_string)
            })
            .collect();
        branches.sort();
        branches.dedup();
        branches.len()
    }

    /// Messages sent since the last call whose first line starts with `start`.
    fn take(&mut self, start: &str) -> Vec<String> {
        let (hit, rest): (Vec<_>, Vec<_>) =
            self.sent.drain(..).partition(|(_, m)| m.starts_with(start));
        self.sent = rest;
        hit.into_iter().map(|(_, m)| m).collect()
    }
}

fn invite(extra: &str) -> String {
    let sdp = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    format!(
        "INVITE sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {CARRIER};branch=z9hG4bK-sim-1\r\n\
From: <sip:c@127.0.0.1>;tag=c1\r\nTo: <sip:5000@127.0.0.1>\r\nCall-ID: sim-1\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:c@{CARRIER}>\r\nMax-Forwards: 70\r\n{extra}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

impl Sim {
    /// Registers agent `id` (password "pw") from `contact` with digest auth.
    fn register(&mut self, id: &str, contact: &str) {
        let ok = self.register_with(id, contact, "", "");
        assert!(ok.starts_with("SIP/2.0 200"), "registered: {ok}");
    }

    /// REGISTER with extra header lines and Contact parameters; returns
    /// the final response to the authenticated request.
    fn register_with(&mut self, id: &str, contact: &str, headers: &str, params: &str) -> String {
        static NEXT: AtomicU16 = AtomicU16::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let req = |cseq: u32, auth: &str| {
            format!(
                "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {contact};branch=z9hG4bK-reg-{id}-{n}-{cseq}\r\n\
From: <sip:{id}@127.0.0.1>;tag=r{id}\r\nTo: <sip:{id}@127.0.0.1>\r\nCall-ID: reg-{id}\r\nCSeq: {cseq} REGISTER\r\n\
Contact: <sip:{id}@{contact}>{params}\r\nExpires: 3600\r\nMax-Forwards: 70\r\n{headers}{auth}Content-Length: 0\r\n\r\n"
            )
        };
        self.input(&req(1, ""));
        let challenge = self.take("SIP/2.0 401").pop().expect("401");
        let www = challenge
            .lines()
            .find(|l| l.starts_with("WWW-Authenticate:") && l.contains("MD5"))
            .unwrap();
        let nonce = www
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let realm = www
            .split("realm=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let uri = "sip:127.0.0.1";
        let response = sip_core::auth::digest_response(
            sip_core::DigestAlgorithm::Md5,
            false,
            id,
            &realm,
            "pw",
            "REGISTER",
            uri,
            &nonce,
            Some(("auth", "00000001", "abc")),
        );
        let auth = format!(
            "Authorization: Digest username=\"{id}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abc\"\r\n"
        );
        self.input(&req(2, &auth));
        self.take("SIP/2.0 ").pop().expect("a final response")
    }

    /// Distinct INVITEs sent to `dest` so far (by Call-ID), draining them.
    fn invites_to(&mut self, dest: &str) -> usize {
        let dest: SocketAddr = dest.parse().unwrap();
        let ids: Vec<String> = self
            .sent
            .iter()
            .filter(|(d, m)| *d == dest && m.starts_with("INVITE "))
            .filter_map(|(_, m)| {
                m.lines()
                    .find(|l| l.starts_with("Call-ID:"))
                    .map(str::to_string)
            })
            .collect();
        self.sent
            .retain(|(d, m)| !(*d == dest && m.starts_with("INVITE ")));
        ids.into_iter()
            .filter(|id| self.seen.insert(id.clone()))
            .count()
    }
}

#[test]
fn a_phone_that_never_answers_is_rested_then_paused_not_rung_again_and_again() {
    // Defaults: unreachable_delay 30 s, auto-pause after 3 unanswered offers.
    let mut s = sim("ring_timeout = \"120s\"");
    let phone = "127.0.0.1:7171";
    s.register("1001", phone);
    s.input(&invite(""));
    assert_eq!(s.invites_to(phone), 1, "rung once");
    // Timer B (64*T1 = 32 s): no answer at all, so the phone is unreachable.
    s.advance(Duration::from_secs(33));
    assert_eq!(
        s.invites_to(phone),
        0,
        "rested for unreachable_delay, not rung again at once"
    );
    // After the rest it is offered again; twice more unreachable...
    s.advance(Duration::from_secs(30));
    assert_eq!(s.invites_to(phone), 1);
    s.advance(Duration::from_secs(33 + 30));
    assert_eq!(s.invites_to(phone), 1);
    s.advance(Duration::from_secs(33));
    // ...and after the third it is paused: the caller waits, the phone is left alone.
    s.advance(Duration::from_secs(600));
    assert_eq!(
        s.invites_to(phone),
        0,
        "auto-paused after 3 unanswered offers"
    );
    let snap = s.engine.snapshot(s.now);
    assert_eq!(
        snap["calls"].as_array().unwrap().len(),
        1,
        "the caller still waits"
    );
}

fn to_tag(resp: &str) -> String {
    let to = resp.lines().find(|l| l.starts_with("To:")).unwrap();
    to.split("tag=").nth(1).unwrap().trim().to_string()
}

fn in_dialog(method: &str, cseq: u32, tag: &str, extra: &str) -> String {
    format!(
        "{method} sip:switchboard@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {CARRIER};branch=z9hG4bK-sim-{method}-{cseq}\r\n\
From: <sip:c@127.0.0.1>;tag=c1\r\nTo: <sip:5000@127.0.0.1>;tag={tag}\r\nCall-ID: sim-1\r\nCSeq: {cseq} {method}\r\n\
Max-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

/// An answered call (immediate answer mode) with a session timer.
fn answered(s: &mut Sim, extra: &str) -> String {
    s.input(&invite(extra));
    let ok = s.take("SIP/2.0 200").pop().expect("200 OK");
    let tag = to_tag(&ok);
    s.input(&in_dialog("ACK", 1, &tag, ""));
    assert!(ok.contains("Session-Expires: "), "{ok}");
    ok
}

#[test]
fn an_unrefreshed_session_ends_with_bye() {
    let mut s = sim("answer = \"immediate\"");
    let ok = answered(
        &mut s,
        "Session-Expires: 120;refresher=uac\r\nSupported: timer\r\n",
    );
    assert!(ok.contains("Session-Expires: 120;refresher=uac"), "{ok}");
    assert!(ok.contains("Require: timer"), "{ok}");
    // RFC 4028 §10: BYE at SE - min(32, SE/3) = 88 s without a refresh.
    s.advance(Duration::from_secs(87));
    assert!(s.take("BYE ").is_empty());
    s.advance(Duration::from_secs(2));
    assert_eq!(s.take_unique("BYE "), 1, "BYE once the session expired");
    assert_eq!(s.engine.active_calls(), 0);
}

#[test]
fn a_refresh_keeps_the_session_alive() {
    let mut s = sim("answer = \"immediate\"");
    let ok = answered(
        &mut s,
        "Session-Expires: 120;refresher=uac\r\nSupported: timer\r\n",
    );
    let tag = to_tag(&ok);
    for n in 0..5 {
        s.advance(Duration::from_secs(60));
        s.input(&in_dialog(
            "UPDATE",
            2 + n,
            &tag,
            "Session-Expires: 120;refresher=uac\r\nSupported: timer\r\n",
        ));
        let resp = s.take("SIP/2.0 200").pop().expect("200 to the refresh");
        assert!(resp.contains("Session-Expires: 120"), "{resp}");
    }
    assert!(s.take("BYE ").is_empty(), "five refreshes, no BYE");
    assert_eq!(s.engine.active_calls(), 1);
}

#[test]
fn when_we_refresh_we_send_update_at_half_the_interval() {
    let mut s = sim("answer = \"immediate\"");
    // No `Supported: timer`: the carrier cannot refresh, so we do (RFC 4028 §9).
    let ok = answered(
        &mut s,
        "Session-Expires: 180\r\nAllow: INVITE, ACK, BYE, CANCEL, UPDATE\r\n",
    );
    assert!(ok.contains("Session-Expires: 180;refresher=uas"), "{ok}");
    s.advance(Duration::from_secs(89));
    assert!(s.take("UPDATE ").is_empty());
    s.advance(Duration::from_secs(2));
    let update = s.take("UPDATE ").pop().expect("an UPDATE refresh at SE/2");
    assert!(
        update.contains("Session-Expires: 180;refresher=uas"),
        "{update}"
    );
}

#[test]
fn too_short_an_interval_gets_422_with_min_se() {
    let mut s = sim("");
    s.input(&invite("Session-Expires: 30\r\nSupported: timer\r\n"));
    let r = s.take("SIP/2.0 422").pop().expect("422");
    assert!(r.contains("Min-SE: 90"), "{r}");
}

#[test]
fn a_2xx_never_acked_ends_the_call() {
    let mut s = sim("answer = \"immediate\"");
    s.input(&invite(""));
    assert_eq!(s.take("SIP/2.0 200").len(), 1);
    // The 2xx is re-sent (T1 doubling to T2) and the call ends after 64*T1.
    s.advance(Duration::from_secs(33));
    assert!(s.take("SIP/2.0 200").len() >= 5, "2xx retransmitted");
    assert_eq!(s.take_unique("BYE "), 1);
    assert_eq!(s.engine.active_calls(), 0);
}

#[test]
fn a_queued_callers_183_is_refreshed_every_minute() {
    let mut s = sim("");
    s.input(&invite(""));
    assert_eq!(s.take("SIP/2.0 183").len(), 1);
    s.advance(Duration::from_secs(60 * 5 + 1));
    assert_eq!(s.take("SIP/2.0 183").len(), 5, "RFC 3261 §13.3.1.1");
}

/// What the engine must answer to each RFC 4475 torture message (INDEX.md):
/// `Some(code)` for one exact status, `None` for silence (responses are
/// never answered), `Ok` for "processed normally: any answer but 400/505/513".
#[derive(Debug, Clone, Copy)]
enum Expect {
    Status(u16),
    Silent,
    Processed,
}

#[test]
fn the_engine_answers_every_rfc4475_message_as_the_rfc_says() {
    use Expect::*;
    let table: &[(&str, Expect)] = &[
        // 3.1.1 valid messages
        ("wsinv", Processed),
        ("intmeth", Status(501)),
        ("esc01", Processed),
        ("escnull", Processed),
        ("esc02", Status(501)),
        ("lwsdisp", Processed),
        ("longreq", Processed),
        ("dblreq", Processed),
        ("semiuri", Processed),
        ("transports", Processed),
        ("mpart01", Processed),
        ("unreason", Silent),
        ("noreason", Silent),
        // 3.1.2 invalid messages
        ("badinv01", Status(400)),
        ("clerr", Status(400)),
        ("ncl", Status(400)),
        ("scalar02", Status(400)),
        ("scalarlg", Silent),
        ("quotbal", Status(400)),
        ("ltgtruri", Status(400)),
        ("lwsruri", Status(400)),
        ("lwsstart", Status(400)),
        ("trws", Status(400)),
        ("escruri", Status(400)),
        ("regbadct", Status(400)),
        ("badaspec", Status(400)),
        ("baddn", Status(400)),
        ("badvers", Status(505)),
        ("mismatch01", Status(400)),
        ("mismatch02", Status(400)),
        ("bigcode", Silent),
        // 3.2 transaction layer
        ("badbranch", Processed),
        // 3.3 application layer
        ("insuf", Status(400)),
        ("unkscm", Status(416)),
        ("novelsc", Status(416)),
        ("unksm2", Processed),
        ("bext01", Status(420)),
        ("invut", Status(415)),
        ("regaut01", Status(401)),
        ("multi01", Status(400)),
        ("mcl01", Status(400)),
        ("bcast", Silent),
        ("zeromf", Status(200)),
        ("cparam01", Status(401)),
        ("cparam02", Status(401)),
        ("regescrt", Status(401)),
        ("sdp01", Status(406)),
        // 3.4 backward compatibility
        ("inv2543", Processed),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip-core/tests/rfc4475");
    let mut s = sim("");
    let mut wrong = Vec::new();
    for (name, expect) in table {
        let raw = std::fs::read(dir.join(format!("{name}.dat"))).unwrap();
        s.sent.clear();
        let src: SocketAddr = CARRIER.parse().unwrap();
        s.engine.handle_datagram(s.now, src, Bytes::from(raw));
        s.drain();
        let finals: Vec<u16> = s
            .sent
            .iter()
            .filter_map(|(_, m)| m.strip_prefix("SIP/2.0 ").and_then(|r| r[..3].parse().ok()))
            .filter(|c| *c >= 200)
            .collect();
        let ok = match expect {
            Status(code) => finals == [*code],
            Silent => finals.is_empty() && !s.sent.iter().any(|(_, m)| !m.starts_with("SIP/2.0 1")),
            Processed => finals.iter().all(|c| ![400, 505, 513].contains(c)) && !s.sent.is_empty(),
        };
        if !ok {
            wrong.push(format!(
                "{name}: expected {expect:?}, engine sent {finals:?}"
            ));
        }
        if let Expect::Status(420) = expect {
            assert!(
                s.sent.iter().any(|(_, m)| m.contains("Unsupported: ")),
                "420 names what is unsupported"
            );
        }
        if let Expect::Status(415) = expect {
            assert!(
                s.sent
                    .iter()
                    .any(|(_, m)| m.contains("Accept: application/sdp")),
                "415 says what is accepted"
            );
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

fn offerless_invite() -> String {
    format!(
        "INVITE sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {CARRIER};branch=z9hG4bK-late-1\r\n\
From: <sip:c@127.0.0.1>;tag=c1\r\nTo: <sip:5000@127.0.0.1>\r\nCall-ID: sim-1\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:c@{CARRIER}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_delayed_offer_is_answered_in_the_ack_and_then_queued() {
    let mut s = sim("");
    s.input(&offerless_invite());
    let ok = s.take("SIP/2.0 200").pop().expect("our offer in a 200");
    assert!(
        ok.contains("m=audio ") && ok.contains("PCMU/8000") && ok.contains("PCMA/8000"),
        "{ok}"
    );
    let tag = to_tag(&ok);
    // Not queued before the answer: nothing to play music to yet.
    assert_eq!(
        s.engine.snapshot(s.now)["router"]["queues"][0]["waiting"],
        0
    );
    let answer = "v=0\r\no=c 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
    let ack = in_dialog("ACK", 1, &tag, "").replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        ),
    );
    s.input(&ack);
    let snap = s.engine.snapshot(s.now);
    assert_eq!(
        snap["router"]["queues"][0]["waiting"], 1,
        "{}",
        snap["router"]
    );
    let call = s.engine.calls().next().unwrap();
    assert_eq!(call.codec.name, "PCMA");
}

#[test]
fn a_delayed_offer_without_an_answer_in_the_ack_is_ended() {
    let mut s = sim("");
    s.input(&offerless_invite());
    let tag = to_tag(&s.take("SIP/2.0 200").pop().unwrap());
    s.input(&in_dialog("ACK", 1, &tag, ""));
    assert_eq!(s.take_unique("BYE "), 1);
    assert_eq!(s.engine.active_calls(), 0);
}

const INSTANCE: &str =
    ";reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-00a0c91e6bf6>\"";

#[test]
fn an_outbound_registration_is_reached_on_its_flow() {
    let mut s = sim("");
    // The Contact names a private address; the REGISTER came from CARRIER.
    let ok = s.register_with(
        "1001",
        "10.9.9.9:5999",
        "Supported: path, outbound\r\n",
        INSTANCE,
    );
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(ok.contains("\r\nRequire: outbound\r\n"), "{ok}");
    assert!(
        ok.contains("\r\nFlow-Timer: 29\r\n"),
        "UDP keep-alive interval: {ok}"
    );
    let b = s.engine.registrar().binding("1001").unwrap().clone();
    assert_eq!(
        b.target,
        CARRIER.parse().unwrap(),
        "the flow, not the Contact"
    );
    assert_eq!(b.outbound.as_ref().unwrap().reg_id, 1);
    s.input(&invite(""));
    let (dest, inv) = s.take_with_dest("INVITE ").pop().expect("INVITE");
    assert_eq!(
        dest,
        CARRIER.parse().unwrap(),
        "the agent is rung on its flow"
    );
    // It answers with its private Contact: the ACK and, later, our BYE
    // still go over the flow (RFC 5626 §5.3), not to 10.9.9.9.
    let ok = sip_core::ResponseBuilder::new(&parse(&inv), 200)
        .to_tag("a1")
        .header("Contact", "<sip:1001@10.9.9.9:5999;ob>")
        .body("application/sdp", AGENT_SDP.as_bytes())
        .build();
    s.input(&String::from_utf8(ok).unwrap());
    let (dest, _) = s.take_with_dest("ACK ").pop().expect("ACK");
    assert_eq!(dest, CARRIER.parse().unwrap(), "ACK over the flow");
    let caller_tag = to_tag(&s.take("SIP/2.0 200").pop().expect("caller answered"));
    s.input(&in_dialog("ACK", 1, &caller_tag, ""));
    s.input(&in_dialog("BYE", 2, &caller_tag, ""));
    let (dest, _) = s.take_with_dest("BYE ").pop().expect("BYE to the agent");
    assert_eq!(dest, CARRIER.parse().unwrap(), "BYE over the flow");
}

#[test]
fn outbound_needs_the_clients_supported_and_a_first_hop() {
    let mut s = sim("");
    // reg-id without `Supported: outbound`: a plain registration (§5.2).
    let ok = s.register_with("1001", "127.0.0.9:5999", "", INSTANCE);
    assert!(
        ok.starts_with("SIP/2.0 200") && !ok.contains("Require: outbound"),
        "{ok}"
    );
    assert!(s
        .engine
        .registrar()
        .binding("1001")
        .unwrap()
        .outbound
        .is_none());
    // Through a proxy that did not add a Path with "ob": 439 (§5.1).
    let via = "Via: SIP/2.0/UDP 127.0.0.5:5060;branch=z9hG4bK-proxy\r\nSupported: outbound\r\n";
    let r = s.register_with("1001", "127.0.0.9:5999", via, INSTANCE);
    assert!(r.starts_with("SIP/2.0 439"), "{r}");
}

#[test]
fn stun_keepalives_are_answered_with_the_mapped_address() {
    let mut s = sim("");
    let mut req = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    req.extend_from_slice(b"txn-id-12345");
    let src: SocketAddr = CARRIER.parse().unwrap();
    s.engine.handle_datagram(s.now, src, Bytes::from(req));
    let t = s.engine.poll_transmit().expect("a binding response");
    assert_eq!(t.dest, src);
    assert_eq!(&t.data[..2], &[0x01, 0x01], "Binding success");
    assert_eq!(&t.data[8..20], b"txn-id-12345");
    assert_eq!(s.engine.counters.stun_keepalives, 1);
    assert_eq!(s.engine.counters.parse_errors, 0, "not counted as bad SIP");
}

impl Sim {
    fn input_from(&mut self, src: &str, text: &str) {
        let src: SocketAddr = src.parse().unwrap();
        self.engine
            .handle_datagram(self.now, src, Bytes::from(text.to_string()));
        self.drain();
    }

    /// Like [`Sim::take`], with each message's destination.
    fn take_with_dest(&mut self, start: &str) -> Vec<(SocketAddr, String)> {
        let (hit, rest): (Vec<_>, Vec<_>) =
            self.sent.drain(..).partition(|(_, m)| m.starts_with(start));
        self.sent = rest;
        hit
    }
}

fn parse(text: &str) -> sip_core::Message {
    sip_core::Message::parse(Bytes::from(text.to_string())).unwrap()
}

const AGENT_SDP: &str =
    "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4100 RTP/AVP 0\r\n";

/// A queued caller rung to agent 1001 at `phone`, who answers through a
/// record-routing proxy at `proxy` with Contact `contact`. Returns the
/// engine's INVITE to the agent.
fn bridged_through_proxy(s: &mut Sim, phone: &str, proxy: &str, contact: &str) -> String {
    s.register("1001", phone);
    s.input(&invite(""));
    let inv = s.take("INVITE ").pop().expect("INVITE to the agent");
    let ok = sip_core::ResponseBuilder::new(&parse(&inv), 200)
        .to_tag("a1")
        .header("Record-Route", format!("<sip:{proxy};lr>"))
        .header("Contact", format!("<sip:1001@{contact}>"))
        .body("application/sdp", AGENT_SDP.as_bytes())
        .build();
    s.input_from(phone, &String::from_utf8(ok).unwrap());
    inv
}

#[test]
fn an_agent_leg_follows_its_dialog_route_set_and_remote_target() {
    let mut s = sim("");
    let (phone, proxy, contact) = ("127.0.0.1:7171", "127.0.0.1:7373", "127.0.0.1:7272");
    let inv = bridged_through_proxy(&mut s, phone, proxy, contact);
    let (dest, ack) = s.take_with_dest("ACK ").pop().expect("ACK for the 2xx");
    assert_eq!(
        dest,
        proxy.parse().unwrap(),
        "loose routing: to the first route"
    );
    let ack = parse(&ack);
    assert_eq!(ack.request_uri_str(), Some(&*format!("sip:1001@{contact}")));
    assert_eq!(
        ack.header(sip_core::HeaderName::Route),
        Some(&*format!("<sip:{proxy};lr>"))
    );
    assert_eq!((ack.cseq().seq, ack.to().tag()), (1, Some("a1")));
    let answered = s.take("SIP/2.0 200");
    assert_eq!(answered.len(), 1, "the caller is answered");
    let caller_tag = to_tag(&answered[0]);

    // A BYE from the agent with the right Call-ID but another From tag: 481.
    let inv = parse(&inv);
    let agent_req = |method: &str, from_tag: &str, cseq: u32| {
        format!(
            "{method} sip:switchboard@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {phone};branch=z9hG4bK-a-{method}-{cseq}\r\n\
From: <sip:1001@127.0.0.1>;tag={from_tag}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            inv.from_str_raw(),
            inv.call_id()
        )
    };
    s.input_from(phone, &agent_req("BYE", "other", 7));
    assert_eq!(s.take("SIP/2.0 481").len(), 1);
    assert_eq!(s.engine.active_calls(), 1, "the call goes on");
    // An INFO, then one with a lower CSeq: 500, and the call goes on.
    s.input_from(phone, &agent_req("INFO", "a1", 7));
    assert_eq!(s.take("SIP/2.0 200").len(), 1);
    s.input_from(phone, &agent_req("INFO", "a1", 6));
    assert_eq!(s.take("SIP/2.0 500").len(), 1);
    assert_eq!(s.engine.active_calls(), 1);

    // The caller hangs up: our BYE to the agent goes the same way, CSeq 2.
    s.input(&in_dialog("ACK", 1, &caller_tag, ""));
    s.input(&in_dialog("BYE", 2, &caller_tag, ""));
    let (dest, bye) = s.take_with_dest("BYE ").pop().expect("BYE to the agent");
    assert_eq!(dest, proxy.parse().unwrap());
    let bye = parse(&bye);
    assert_eq!(bye.request_uri_str(), Some(&*format!("sip:1001@{contact}")));
    assert_eq!((bye.cseq().seq, bye.to().tag()), (2, Some("a1")));
    assert_eq!(s.engine.active_calls(), 0);
}

impl Sim {
    /// The admin API's hang-up of the (only) caller `sim-1`.
    fn admin_hangup(&mut self) {
        let (reply, mut rx) = tokio::sync::oneshot::channel();
        self.engine.handle_command(
            self.now,
            super::Command::Hangup {
                call_id: "sim-1".into(),
                reply,
            },
        );
        self.drain();
        assert!(rx.try_recv().unwrap().is_ok(), "hung up");
    }
}

#[test]
fn a_caller_request_with_a_lower_cseq_gets_500_and_the_call_goes_on() {
    let mut s = sim("answer = \"immediate\"");
    s.input(&invite(""));
    let tag = to_tag(&s.take("SIP/2.0 200").pop().expect("200 OK"));
    s.input(&in_dialog("ACK", 1, &tag, ""));
    s.sent.clear(); // 100 Trying
    s.input(&in_dialog("INFO", 5, &tag, ""));
    assert_eq!(s.take("SIP/2.0 200").len(), 1);
    // RFC 3261 §12.2.2: lower than the last CSeq (5) from the caller.
    s.input(&in_dialog("BYE", 4, &tag, ""));
    let refused = s.take("SIP/2.0 ");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].starts_with("SIP/2.0 500"), "{}", refused[0]);
    assert!(refused[0].contains("CSeq: 4 BYE"), "{}", refused[0]);
    assert_eq!(s.engine.active_calls(), 1, "the call goes on");
    assert!(s.take("BYE ").is_empty());
    // The same CSeq again is not lower: accepted.
    s.input(&in_dialog("BYE", 5, &tag, ""));
    assert_eq!(s.take("SIP/2.0 200").len(), 1);
    assert_eq!(s.engine.active_calls(), 0);
}

#[test]
fn a_bye_with_another_from_tag_gets_481() {
    let mut s = sim("answer = \"immediate\"");
    s.input(&invite(""));
    let tag = to_tag(&s.take("SIP/2.0 200").pop().expect("200 OK"));
    s.input(&in_dialog("ACK", 1, &tag, ""));
    // Right Call-ID and To tag, another From tag: not this dialog.
    let stranger = in_dialog("BYE", 2, &tag, "").replace(";tag=c1", ";tag=intruder");
    s.input(&stranger);
    assert_eq!(s.take("SIP/2.0 481").len(), 1);
    assert_eq!(s.engine.active_calls(), 1, "the call goes on");
    // A wrong To tag (ours is not it) is 481 too.
    s.input(&in_dialog("BYE", 3, "not-ours", ""));
    assert_eq!(s.take("SIP/2.0 481").len(), 1);
    assert_eq!(s.engine.active_calls(), 1);
    s.input(&in_dialog("BYE", 4, &tag, ""));
    assert_eq!(s.take("SIP/2.0 200").len(), 1);
    assert_eq!(s.engine.active_calls(), 0);
}

#[test]
fn after_a_reinvite_changes_the_callers_contact_our_bye_goes_to_the_new_target() {
    let mut s = sim("answer = \"immediate\"");
    s.input(&invite(""));
    let tag = to_tag(&s.take("SIP/2.0 200").pop().expect("200 OK"));
    s.input(&in_dialog("ACK", 1, &tag, ""));
    // The caller moves (a target refresh, RFC 3261 §12.2.2).
    let moved = "127.0.0.1:7080";
    s.input(&in_dialog(
        "INVITE",
        2,
        &tag,
        &format!("Contact: <sip:c@{moved}>\r\n"),
    ));
    let ok = s.take("SIP/2.0 200").pop().expect("200 to the re-INVITE");
    assert!(ok.contains("CSeq: 2 INVITE"), "{ok}");
    s.input(&in_dialog("ACK", 2, &tag, ""));
    // A second re-INVITE is taken too: the first one was answered.
    s.input(&in_dialog("INVITE", 3, &tag, ""));
    assert_eq!(s.take("SIP/2.0 200").len(), 1);
    s.input(&in_dialog("ACK", 3, &tag, ""));

    s.admin_hangup();
    let byes = s.take_with_dest("BYE ");
    assert_eq!(byes.len(), 1, "{byes:?}");
    let (dest, bye) = &byes[0];
    assert_eq!(*dest, moved.parse().unwrap(), "sent to the new target");
    let bye = parse(bye);
    assert_eq!(bye.request_uri_str(), Some(&*format!("sip:c@{moved}")));
    assert_eq!(bye.to().tag(), Some("c1"));
    assert_eq!(bye.from().tag(), Some(&*tag));
    assert_eq!(s.engine.active_calls(), 0);
}
