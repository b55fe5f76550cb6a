//! Reliable provisional responses (RFC 3262, `100rel`): RSeq/RAck, the UAS
//! retransmission of a reliable 1xx until its PRACK, and the UAC's RSeq
//! ordering. Sans-IO like the transaction layer.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::message::Message;
use crate::method::Method;

/// The option tag.
pub const OPTION_TAG: &str = "100rel";

/// `RSeq` of a response.
pub fn rseq(msg: &Message) -> Option<u32> {
    let v = msg.headers_named("RSeq").next()?.trim();
    parse_seq(v)
}

fn parse_seq(v: &str) -> Option<u32> {
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = v.parse().ok()?;
    (1..1 << 31).contains(&n).then_some(n as u32)
}

/// `RAck: <rseq> <cseq> <method>` (RFC 3262 §7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RAck {
    pub rseq: u32,
    pub cseq: u32,
    pub method: String,
}

impl RAck {
    pub fn parse(v: &str) -> Option<RAck> {
        let mut it = v.split_whitespace();
        let rseq = parse_seq(it.next()?)?;
        let cseq = it.next()?.parse().ok()?;
        let method = it.next()?;
        if it.next().is_some() || !crate::method::is_token(method) {
            return None;
        }
        Some(RAck {
            rseq,
            cseq,
            method: method.to_string(),
        })
    }

    /// The `RAck` of a PRACK.
    pub fn of(msg: &Message) -> Option<RAck> {
        RAck::parse(msg.headers_named("RAck").next()?)
    }

    /// The RAck a UAC puts in the PRACK for a reliable provisional.
    pub fn for_response(resp: &Message) -> Option<RAck> {
        let cseq = resp.cseq();
        Some(RAck {
            rseq: rseq(resp)?,
            cseq: cseq.seq,
            method: cseq.method_str.to_string(),
        })
    }
}

impl fmt::Display for RAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method)
    }
}

/// What [`ReliableSender::handle_timeout`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReliableEvent {
    /// Send this reliable provisional again.
    Retransmit(Bytes),
    /// No PRACK within 64*T1: reject the INVITE with a 5xx (RFC 3262 §3).
    GiveUp,
}

#[derive(Debug, Clone)]
struct Pending {
    rseq: u32,
    response: Bytes,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

/// UAS side of one INVITE's reliable provisionals (RFC 3262 §3).
#[derive(Debug, Clone)]
pub struct ReliableSender {
    t1: Duration,
    cseq: u32,
    next_rseq: u32,
    pending: Option<Pending>,
}

impl ReliableSender {
    /// For the INVITE with CSeq number `invite_cseq`; `first_rseq` should be
    /// random in 1..2^31 (the RFC suggests it), e.g. `rand::random::<u16>() + 1`.
    pub fn new(t1: Duration, invite_cseq: u32, first_rseq: u32) -> ReliableSender {
        ReliableSender {
            t1,
            cseq: invite_cseq,
            next_rseq: first_rseq.clamp(1, (1 << 31) - 1),
            pending: None,
        }
    }

    /// True while a reliable provisional awaits its PRACK: the UAS must not
    /// send another one (or a 2xx with an offer) until then.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The RSeq to put in the next reliable provisional.
    pub fn next_rseq(&self) -> u32 {
        self.next_rseq
    }

    /// The TU sent a reliable provisional carrying `RSeq: next_rseq()`.
    /// Retransmissions run at T1, 2T1, 4T1... until PRACK or 64*T1.
    pub fn sent(&mut self, response: Bytes, now: Instant) {
        self.pending = Some(Pending {
            rseq: self.next_rseq,
            response,
            next: now + self.t1,
            interval: self.t1,
            give_up: now + self.t1 * 64,
        });
        self.next_rseq = (self.next_rseq + 1).min((1 << 31) - 1);
    }

    /// A PRACK arrived. True when it acknowledges the pending provisional
    /// (answer 200 and stop retransmitting); false otherwise (answer 481).
    pub fn on_prack(&mut self, prack: &Message) -> bool {
        if prack.method() != Some(Method::Prack) {
            return false;
        }
        let Some(rack) = RAck::of(prack) else {
            return false;
        };
        match &self.pending {
            Some(p)
                if p.rseq == rack.rseq
                    && rack.cseq == self.cseq
                    && rack.method.eq_ignore_ascii_case("INVITE") =>
            {
                self.pending = None;
                true
            }
            _ => false,
        }
    }

    /// A final response was sent: stop retransmitting.
    pub fn finished(&mut self) {
        self.pending = None;
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.next.min(p.give_up))
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<ReliableEvent> {
        let p = self.pending.as_mut()?;
        if now >= p.give_up {
            self.pending = None;
            return Some(ReliableEvent::GiveUp);
        }
        if now < p.next {
            return None;
        }
        p.interval *= 2;
        p.next += p.interval;
        Some(ReliableEvent::Retransmit(p.response.clone()))
    }
}

/// UAC side: which reliable provisionals to PRACK and pass on (RFC 3262
/// §4): the first sets the sequence; later ones must be exactly one higher;
/// a repeat is a retransmission (PRACK it again, do not pass it on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RseqTracker {
    last: Option<u32>,
}

/// How a UAC treats a reliable provisional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RseqVerdict {
    /// In order: PRACK it and act on it.
    New,
    /// Seen before: PRACK again, ignore the content.
    Retransmission,
    /// A gap: drop it (the UAS will retransmit the missing one).
    OutOfOrder,
}

impl RseqTracker {
    pub fn on_provisional(&mut self, rseq: u32) -> RseqVerdict {
        match self.last {
            None => {
                self.last = Some(rseq);
                RseqVerdict::New
            }
            Some(l) if rseq == l.wrapping_add(1) => {
                self.last = Some(rseq);
                RseqVerdict::New
            }
            Some(l) if rseq <= l => RseqVerdict::Retransmission,
            Some(_) => RseqVerdict::OutOfOrder,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    #[test]
    fn rack_and_rseq_parse() {
        let r = RAck::parse("776656 1 INVITE").unwrap();
        assert_eq!(r.to_string(), "776656 1 INVITE");
        assert!(RAck::parse("0 1 INVITE").is_none());
        assert!(RAck::parse("1 1").is_none());
        assert!(RAck::parse("1 1 INVITE x").is_none());
        let resp = msg("SIP/2.0 183 Session Progress
Via: SIP/2.0/UDP h;branch=z9hG4bK1
From: <sip:a@h>;tag=1
To: <sip:b@h>;tag=2
Call-ID: c
CSeq: 5 INVITE
Require: 100rel
RSeq: 42
Content-Length: 0

");
        assert_eq!(rseq(&resp), Some(42));
        assert_eq!(
            RAck::for_response(&resp).unwrap().to_string(),
            "42 5 INVITE"
        );
        assert!(super::super::session_timer::has_option_tag(
            &resp,
            crate::HeaderName::Require,
            OPTION_TAG
        ));
    }

    #[test]
    fn sender_retransmits_until_prack_or_gives_up() {
        let t0 = Instant::now();
        let t1 = Duration::from_millis(500);
        let mut s = ReliableSender::new(t1, 5, 42);
        assert_eq!(s.next_rseq(), 42);
        s.sent(Bytes::from_static(b"183"), t0);
        assert!(s.is_pending());
        let mut at = Vec::new();
        while let Some(t) = s.poll_timeout() {
            match s.handle_timeout(t) {
                Some(ReliableEvent::Retransmit(_)) => at.push((t - t0).as_millis()),
                Some(ReliableEvent::GiveUp) => {
                    at.push((t - t0).as_millis() + 1_000_000);
                    break;
                }
                None => {}
            }
        }
        assert_eq!(at, vec![500, 1500, 3500, 7500, 15500, 31500, 1_032_000]);
        assert!(!s.is_pending());

        let mut s = ReliableSender::new(t1, 5, 42);
        s.sent(Bytes::from_static(b"183"), t0);
        let prack = |rack: &str| {
            msg(&format!(
                "PRACK sip:b@h SIP/2.0
Via: SIP/2.0/UDP h;branch=z9hG4bK2
From: <sip:a@h>;tag=1
To: <sip:b@h>;tag=2
Call-ID: c
CSeq: 6 PRACK
RAck: {rack}
Content-Length: 0

"
            ))
        };
        assert!(!s.on_prack(&prack("41 5 INVITE")));
        assert!(!s.on_prack(&prack("42 4 INVITE")));
        assert!(s.on_prack(&prack("42 5 INVITE")));
        assert!(!s.is_pending());
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.next_rseq(), 43);
    }

    #[test]
    fn uac_rseq_order() {
        let mut t = RseqTracker::default();
        assert_eq!(t.on_provisional(10), RseqVerdict::New);
        assert_eq!(t.on_provisional(10), RseqVerdict::Retransmission);
        assert_eq!(t.on_provisional(12), RseqVerdict::OutOfOrder);
        assert_eq!(t.on_provisional(11), RseqVerdict::New);
    }
}
