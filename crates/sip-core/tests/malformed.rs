//! Malformed-message injection, after str0m's
//! `tests/malformed-packet-injection.rs`: a panic here is a bug in
//! sip-core, never bad input.
//!
//! Seeds are the RFC 4475 messages plus a few of our own; each is mutated
//! thousands of times (truncation, bit flips, byte insertion and deletion,
//! splicing, number inflation) with a fixed-seed generator so failures
//! reproduce. Every mutant goes through `Message::parse`, `frame_len`, and,
//! when it parses, every accessor and typed view.

use bytes::Bytes;
use sip_core::{multipart, CSeq, HeaderName, Message, NameAddr, Params, Uri, Via};

/// xorshift64*: small, deterministic, good enough to mutate with.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const SPECIAL: &[u8] = b":;,\"<>\r\n \t%[]@\\/=?*\x00\xff\x7f0123456789";

fn seeds() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/rfc4475", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    seeds.push(
        b"INVITE sips:[2001:db8::1]:5061;transport=tls SIP/2.0\r\n\
          Via: SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bK1;received=2001:db8::9:255;rport=5\r\n\
          f: \"A \\\"q\\\"\" <tel:+15551234;phone-context=x>;tag=1\r\nt: <sip:b@[::1]>\r\n\
          i: m@h\r\nCSeq: 1 INVITE\r\nm: <sip:a@h;ob>;+sip.instance=\"<urn:a;b>\"\r\n\
          Content-Type: multipart/mixed;boundary=zz\r\nl: 40\r\n\r\n\
          --zz\r\nc: a/b\r\n\r\nxx\r\n--zz\r\n\r\nyy\r\n--zz--\r\n"
            .to_vec(),
    );
    seeds
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut m = seed.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = m.len();
        match rng.below(9) {
            0 => m.truncate(rng.below(len + 1)),
            1 if len > 0 => {
                let i = rng.below(len);
                m[i] ^= 1 << rng.below(8);
            }
            2 => {
                let i = rng.below(len + 1);
                m.insert(i, SPECIAL[rng.below(SPECIAL.len())]);
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(16)).min(len);
                m.drain(a..b);
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(32)).min(len);
                let piece = m[a..b].to_vec();
                let at = rng.below(m.len() + 1);
                m.splice(at..at, piece);
            }
            5 => {
                let at = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                m.truncate(at);
                m.extend_from_slice(&other[from..]);
            }
            6 if len > 0 => {
                // inflate a digit run
                let i = rng.below(len);
                if m[i].is_ascii_digit() {
                    let digits = b"99999999999999999999".to_vec();
                    m.splice(i..i, digits);
                }
            }
            7 if len > 0 => {
                let i = rng.below(len);
                m[i] = rng.next() as u8;
            }
            _ => {
                // fold a line: CRLF SP somewhere after a CRLF
                let from = rng.below(len + 1);
                if let Some(p) = memchr::memmem::find(&m[from..], b"\r\n") {
                    let at = from + p + 2;
                    m.splice(at..at, b" \t".iter().copied());
                }
            }
        }
    }
    m
}

/// Reads everything a caller could read.
fn exercise(m: &Message) {
    let _ = (
        m.method(),
        m.method_str(),
        m.request_uri(),
        m.request_uri_str(),
    );
    let _ = (
        m.request_uri_scheme(),
        m.status(),
        m.reason(),
        m.is_request(),
    );
    let _ = (m.call_id(), m.cseq(), m.top_via(), m.top_via_str());
    // the views cached at parse time equal a fresh parse of the text
    assert_eq!(m.top_via(), Via::parse(m.top_via_str()));
    assert_eq!(Ok(m.from()), NameAddr::parse(m.from_str_raw(), "From"));
    assert_eq!(Ok(m.to()), NameAddr::parse(m.to_str_raw(), "To"));
    assert_eq!(
        Ok(m.cseq()),
        CSeq::parse(m.header(HeaderName::CSeq).unwrap())
    );
    let from = m.from();
    let to = m.to();
    let _ = (
        from.tag(),
        from.uri(),
        from.display_name(),
        to.tag(),
        to.uri(),
    );
    let _ = (
        m.from_str_raw(),
        m.to_str_raw(),
        m.max_forwards(),
        m.expires(),
    );
    let _ = (m.content_type(), m.content_length(), m.body(), m.as_bytes());
    if let Some(c) = m.contact() {
        let _ = (c.uri().map(|u| u.user_decoded()), c.params.iter().count());
    }
    for v in m.vias().flatten() {
        let _ = (v.branch(), v.received(), v.rport(), v.is_rfc3261());
    }
    let _ = m.contacts().count();
    let _ = m.fields().count();
    let _ = m.list(HeaderName::Route).count();
    let _ = m.headers_named("x-unknown").count();
    let _ = m.headers_named("e").count();
    if let Some(b) = m.content_type().and_then(multipart::boundary) {
        if let Ok(parts) = multipart::split(&m.body(), b) {
            for p in parts {
                let _ = (p.content_type(), p.headers().count());
            }
        }
    }
    // the canonical form always parses again
    let printed = m.to_bytes();
    let again = Message::parse(printed.clone()).unwrap_or_else(|e| {
        panic!(
            "reprint failed: {e:?}\n{:?}",
            String::from_utf8_lossy(&printed)
        )
    });
    assert_eq!(again.call_id(), m.call_id());
}

fn check(input: &[u8]) -> bool {
    let _ = Message::frame_len(input);
    match Message::parse(Bytes::copy_from_slice(input)) {
        Ok(m) => {
            exercise(&m);
            true
        }
        Err(e) => {
            let s = e.status();
            assert!(s == 400 || s == 413 || s == 505 || s == 513, "{e:?}");
            false
        }
    }
}

#[test]
fn mutated_messages_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x5eed_5eed_1234_5678);
    let (mut total, mut parsed) = (0, 0);
    for (i, seed) in seeds.iter().enumerate() {
        let other = &seeds[(i + 7) % seeds.len()];
        for _ in 0..1000 {
            let m = mutate(&mut rng, seed, other);
            total += 1;
            parsed += usize::from(check(&m));
        }
    }
    // the mutations must leave some messages valid, or they test nothing deep
    assert!(parsed > total / 20, "{parsed} of {total} parsed");
}

#[test]
fn every_truncation_never_panics() {
    for seed in seeds() {
        for cut in 0..=seed.len() {
            check(&seed[..cut]);
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..3000 {
        let len = rng.below(300);
        let data: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(3) == 0 {
                    SPECIAL[rng.below(SPECIAL.len())]
                } else {
                    rng.next() as u8
                }
            })
            .collect();
        check(&data);
        // and with a plausible head in front
        let mut framed = b"INVITE sip:a@b SIP/2.0\r\n".to_vec();
        framed.extend_from_slice(&data);
        framed.extend_from_slice(b"\r\n\r\n");
        check(&framed);
    }
}

#[test]
fn typed_views_never_panic_on_random_text() {
    let mut rng = Rng(7);
    let alphabet = "abAcz:;,@[]<>\"\\ =?%0129/.*\t-zé\u{0}\r\n\u{c}\u{a0}";
    let chars: Vec<char> = alphabet.chars().collect();
    for _ in 0..20_000 {
        let len = rng.below(40);
        let s: String = (0..len).map(|_| chars[rng.below(chars.len())]).collect();
        let _ = Uri::parse(&s).map(|u| (u.user_decoded(), u.transport()));
        let _ = Uri::scheme_of(&s);
        let _ = NameAddr::parse(&s, "To").map(|n| (n.display_name(), n.tag(), n.uri()));
        let _ = Via::parse(&s).map(|v| (v.branch(), v.rport()));
        let _ = CSeq::parse(&s);
        let p = Params(&s);
        let _ = (p.is_valid(), p.iter().count(), p.value("tag"));
        // the fast lookup agrees with a search of the iterator
        for name in ["a", "ab", "tag", "A", "z", "a=b", "", " a", "a;"] {
            let slow = p
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v);
            assert_eq!(p.get(name), slow, "{s:?} {name}");
        }
        let _ = sip_core::split_commas(&s).count();
        let _ = multipart::boundary(&s);
        let _ = multipart::split(&Bytes::from(s.clone()), "a");
    }
}
