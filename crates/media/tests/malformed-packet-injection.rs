//! "A panic means a bug in the media crate, never bad input": every parser
//! that reads the wire or a file gets random, truncated and bit-flipped
//! input, and RTP/RTCP round-trip properties hold.

use media::rtcp::{self, RtcpRewrite};
use media::rtp::{RtpHeader, RtpHeaderMut, RtpPacket};
use media::wav;
use proptest::prelude::*;

struct Shift;
impl RtcpRewrite for Shift {
    fn sender(&mut self, s: u32) -> u32 {
        s ^ 0x5a5a
    }
    fn source(&mut self, s: u32) -> u32 {
        s.wrapping_add(1)
    }
    fn sender_info(&mut self, _: u32, ts: &mut u32, p: &mut u32, o: &mut u32) {
        *ts = ts.wrapping_add(7);
        *p = p.wrapping_add(1);
        *o = o.wrapping_add(2);
    }
}

fn exercise_rtp(buf: &[u8]) {
    if let Ok(p) = RtpPacket::parse(buf) {
        let _ = (
            p.marker(),
            p.payload_type(),
            p.sequence(),
            p.timestamp(),
            p.ssrc(),
        );
        let _ = p.csrcs().count();
        let _ = p.extension();
        assert!(p.header_len() + p.payload().len() <= buf.len());
    }
    let _ = media::rtp::is_rtcp(buf);
}

fn exercise_rtcp(buf: &[u8]) {
    let parsed = rtcp::parse(buf).is_ok();
    let mut copy = buf.to_vec();
    let rewritten = rtcp::rewrite(&mut copy, &mut Shift).is_ok();
    assert_eq!(parsed, rewritten);
    if rewritten {
        // A rewritten datagram still parses, with the same shape.
        let a = rtcp::parse(buf).unwrap();
        let b = rtcp::parse(&copy).unwrap();
        assert_eq!(a.len(), b.len());
    } else {
        assert_eq!(copy, buf, "failed rewrite leaves the datagram untouched");
    }
}

/// A valid compound datagram to mutate: SR + RR + SDES + BYE + feedback + APP.
fn seed_rtcp() -> Vec<u8> {
    let mut v = rtcp::sender_report(1, 2, 3, 4, 5);
    let mut rr = vec![0x81, 201, 0, 7];
    rr.extend_from_slice(&9u32.to_be_bytes());
    rr.extend_from_slice(&[0u8; 24]);
    v.extend_from_slice(&rr);
    v.extend_from_slice(&[0x81, 202, 0, 3, 0, 0, 0, 1, 1, 2, b'h', b'i', 0, 0, 0, 0]);
    v.extend_from_slice(&[0x81, 203, 0, 2, 0, 0, 0, 1, 2, b'o', b'k', 0]);
    v.extend_from_slice(&[0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 0]);
    v.extend_from_slice(&[0x80, 204, 0, 2, 0, 0, 0, 1, b'n', b'a', b'm', b'e']);
    v
}

#[test]
fn seed_is_valid() {
    assert_eq!(rtcp::parse(&seed_rtcp()).unwrap().len(), 6);
}

#[test]
fn every_truncation_and_bit_flip_of_valid_packets() {
    let rtp = RtpHeader {
        marker: true,
        payload_type: 0,
        sequence: 1,
        timestamp: 2,
        ssrc: 3,
    }
    .to_vec(&[0xff; 32]);
    let rtcp_seed = seed_rtcp();
    for seed in [&rtp[..], &rtcp_seed[..]] {
        for n in 0..=seed.len() {
            exercise_rtp(&seed[..n]);
            exercise_rtcp(&seed[..n]);
        }
        for byte in 0..seed.len() {
            for bit in 0..8 {
                let mut m = seed.to_vec();
                m[byte] ^= 1 << bit;
                exercise_rtp(&m);
                exercise_rtcp(&m);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn rtp_random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..300)) {
        exercise_rtp(&buf);
    }

    #[test]
    fn rtp_v2_headers_never_panic(mut buf in proptest::collection::vec(any::<u8>(), 12..120)) {
        buf[0] = 0x80 | (buf[0] & 0x3f);
        exercise_rtp(&buf);
    }

    #[test]
    fn rtcp_random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..300)) {
        exercise_rtcp(&buf);
    }

    #[test]
    fn rtcp_mutated_seed_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut v = seed_rtcp();
        for (at, x) in flips {
            let i = at % v.len();
            v[i] ^= x;
        }
        exercise_rtcp(&v);
    }

    #[test]
    fn wav_random_bytes_never_panic(mut buf in proptest::collection::vec(any::<u8>(), 0..200), fmt in 0u16..8, bits in prop_oneof![Just(8u16), Just(16), Just(24), Just(32), Just(64), any::<u16>()]) {
        let _ = wav::read_wav(&buf);
        // And with a plausible header in front.
        let mut v = wav::write_wav(&[], 8000);
        v[20..22].copy_from_slice(&fmt.to_le_bytes());
        v[34..36].copy_from_slice(&bits.to_le_bytes());
        v[40..44].copy_from_slice(&(buf.len() as u32).to_le_bytes());
        v.append(&mut buf);
        let _ = wav::read_wav(&v);
    }

    /// write → parse → fields equal; rewrite in place → parse → new fields.
    #[test]
    fn rtp_roundtrip(marker: bool, pt in 0u8..128, seq: u16, ts: u32, ssrc: u32,
                     payload in proptest::collection::vec(any::<u8>(), 0..200),
                     seq2: u16, ts2: u32, ssrc2: u32) {
        let h = RtpHeader { marker, payload_type: pt, sequence: seq, timestamp: ts, ssrc };
        let mut v = h.to_vec(&payload);
        let p = RtpPacket::parse(&v).unwrap();
        prop_assert_eq!((p.marker(), p.payload_type(), p.sequence(), p.timestamp(), p.ssrc()), (marker, pt, seq, ts, ssrc));
        prop_assert_eq!(p.payload(), &payload[..]);
        let mut m = RtpHeaderMut::new(&mut v).unwrap();
        m.set_sequence(seq2);
        m.set_timestamp(ts2);
        m.set_ssrc(ssrc2);
        let p = RtpPacket::parse(&v).unwrap();
        prop_assert_eq!((p.marker(), p.payload_type(), p.sequence(), p.timestamp(), p.ssrc()), (marker, pt, seq2, ts2, ssrc2));
        prop_assert_eq!(p.payload(), &payload[..]);
    }

    /// SR built → parsed → fields equal.
    #[test]
    fn rtcp_sr_roundtrip(ssrc: u32, ntp: u64, ts: u32, pk: u32, oc: u32) {
        let v = rtcp::sender_report(ssrc, ntp, ts, pk, oc);
        let p = rtcp::parse(&v).unwrap();
        prop_assert_eq!(p.len(), 1);
        match &p[0] {
            rtcp::RtcpPacket::SenderReport { ssrc: s, ntp: n, rtp_ts, packets, octets, reports } => {
                prop_assert_eq!((*s, *n, *rtp_ts, *packets, *octets), (ssrc, ntp, ts, pk, oc));
                prop_assert!(reports.is_empty());
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
