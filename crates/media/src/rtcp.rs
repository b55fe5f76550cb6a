//! RTCP (RFC 3550 §6, RFC 4585 feedback): a length-checked reader of compound
//! packets and an in-place SSRC/timestamp rewriter for the relay.
//!
//! Parsing never panics: malformed input is a typed [`RtcpError`].

/// Why an RTCP packet was rejected. Always the peer's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// Shorter than a 4-byte common header or than its body.
    #[error("RTCP packet too short")]
    TooShort,
    /// Version is not 2.
    #[error("RTCP version is not 2")]
    BadVersion,
    /// The length field points past the end of the datagram.
    #[error("RTCP length field past end of datagram")]
    BadLength,
    /// The body is too short for the announced count of items.
    #[error("RTCP body shorter than its item count")]
    BadCount,
}

/// Sender report.
pub const PT_SR: u8 = 200;
/// Receiver report.
pub const PT_RR: u8 = 201;
/// Source description.
pub const PT_SDES: u8 = 202;
/// Goodbye.
pub const PT_BYE: u8 = 203;
/// Application-defined.
pub const PT_APP: u8 = 204;
/// Transport-layer feedback (RFC 4585).
pub const PT_RTPFB: u8 = 205;
/// Payload-specific feedback (RFC 4585).
pub const PT_PSFB: u8 = 206;
/// Extended report (RFC 3611).
pub const PT_XR: u8 = 207;

/// A reception report block (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the last report (/256).
    pub fraction_lost: u8,
    /// Cumulative lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Last SR timestamp (middle 32 bits of NTP).
    pub lsr: u32,
    /// Delay since last SR (1/65536 s).
    pub dlsr: u32,
}

/// One SDES chunk: a source and its items as (type, value), e.g. (1, CNAME).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: u32,
    /// Items as (type, value).
    pub items: Vec<(u8, &'a [u8])>,
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket<'a> {
    /// Sender report.
    SenderReport {
        /// Sender SSRC.
        ssrc: u32,
        /// NTP timestamp (64-bit).
        ntp: u64,
        /// RTP timestamp matching `ntp`.
        rtp_ts: u32,
        /// Packets sent.
        packets: u32,
        /// Payload octets sent.
        octets: u32,
        /// Reception reports.
        reports: Vec<ReportBlock>,
    },
    /// Receiver report.
    ReceiverReport {
        /// Reporter SSRC.
        ssrc: u32,
        /// Reception reports.
        reports: Vec<ReportBlock>,
    },
    /// Source description.
    SourceDescription(Vec<SdesChunk<'a>>),
    /// Goodbye, with the leaving sources and an optional reason.
    Goodbye {
        /// Sources leaving.
        sources: Vec<u32>,
        /// Reason, if given.
        reason: Option<&'a [u8]>,
    },
    /// Feedback (RTPFB or PSFB), with the format in `fmt`.
    Feedback {
        /// 205 or 206.
        packet_type: u8,
        /// FMT field.
        fmt: u8,
        /// Sender SSRC.
        sender: u32,
        /// Media source SSRC.
        media: u32,
        /// Feedback control information.
        fci: &'a [u8],
    },
    /// Any other type (APP, XR, unknown), unparsed.
    Other {
        /// Packet type.
        packet_type: u8,
        /// Count / subtype field.
        count: u8,
        /// Body after the 4-byte common header.
        body: &'a [u8],
    },
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Splits a compound datagram into (header byte 0, packet type, whole packet
/// including header, body length without padding) slices, validating lengths.
fn split(buf: &[u8]) -> impl Iterator<Item = Result<(u8, u8, &[u8], usize), RtcpError>> + '_ {
    let mut at = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || at >= buf.len() {
            return None;
        }
        let rest = &buf[at..];
        if rest.len() < 4 {
            failed = true;
            return Some(Err(RtcpError::TooShort));
        }
        if rest[0] >> 6 != 2 {
            failed = true;
            return Some(Err(RtcpError::BadVersion));
        }
        let len = (u16::from_be_bytes([rest[2], rest[3]]) as usize + 1) * 4;
        if len > rest.len() {
            failed = true;
            return Some(Err(RtcpError::BadLength));
        }
        let pkt = &rest[..len];
        let mut body_end = len;
        if rest[0] & 0x20 != 0 {
            let pad = pkt[len - 1] as usize;
            if pad == 0 || pad > len - 4 {
                failed = true;
                return Some(Err(RtcpError::BadLength));
            }
            body_end -= pad;
        }
        at += len;
        Some(Ok((rest[0], rest[1], pkt, body_end)))
    })
}

fn report_blocks(
    b: &[u8],
    at: usize,
    count: usize,
    end: usize,
) -> Result<Vec<ReportBlock>, RtcpError> {
    if at + 24 * count > end {
        return Err(RtcpError::BadCount);
    }
    Ok((0..count)
        .map(|i| {
            let o = at + 24 * i;
            let cl = be32(b, o + 4) & 0x00ff_ffff;
            let cl = if cl & 0x0080_0000 != 0 {
                (cl | 0xff00_0000) as i32
            } else {
                cl as i32
            };
            ReportBlock {
                ssrc: be32(b, o),
                fraction_lost: b[o + 4],
                cumulative_lost: cl,
                highest_seq: be32(b, o + 8),
                jitter: be32(b, o + 12),
                lsr: be32(b, o + 16),
                dlsr: be32(b, o + 20),
            }
        })
        .collect())
}

/// Parses a compound RTCP datagram.
pub fn parse(buf: &[u8]) -> Result<Vec<RtcpPacket<'_>>, RtcpError> {
    if buf.is_empty() {
        return Err(RtcpError::TooShort);
    }
    let mut out = Vec::new();
    for p in split(buf) {
        let (b0, pt, pkt, end) = p?;
        let count = (b0 & 0x1f) as usize;
        let parsed = match pt {
            PT_SR => {
                if end < 28 {
                    return Err(RtcpError::TooShort);
                }
                RtcpPacket::SenderReport {
                    ssrc: be32(pkt, 4),
                    ntp: ((be32(pkt, 8) as u64) << 32) | be32(pkt, 12) as u64,
                    rtp_ts: be32(pkt, 16),
                    packets: be32(pkt, 20),
                    octets: be32(pkt, 24),
                    reports: report_blocks(pkt, 28, count, end)?,
                }
            }
            PT_RR => {
                if end < 8 {
                    return Err(RtcpError::TooShort);
                }
                RtcpPacket::ReceiverReport {
                    ssrc: be32(pkt, 4),
                    reports: report_blocks(pkt, 8, count, end)?,
                }
            }
            PT_SDES => {
                let mut chunks = Vec::with_capacity(count);
                let mut at = 4;
                for _ in 0..count {
                    if at + 4 > end {
                        return Err(RtcpError::BadCount);
                    }
                    let ssrc = be32(pkt, at);
                    at += 4;
                    let mut items = Vec::new();
                    loop {
                        if at >= end {
                            return Err(RtcpError::BadCount);
                        }
                        let ty = pkt[at];
                        if ty == 0 {
                            // End of list, then pad to the next 32-bit boundary.
                            at = (at + 4) & !3;
                            break;
                        }
                        if at + 2 > end || at + 2 + pkt[at + 1] as usize > end {
                            return Err(RtcpError::BadCount);
                        }
                        let l = pkt[at + 1] as usize;
                        items.push((ty, &pkt[at + 2..at + 2 + l]));
                        at += 2 + l;
                    }
                    chunks.push(SdesChunk { ssrc, items });
                }
                RtcpPacket::SourceDescription(chunks)
            }
            PT_BYE => {
                if 4 + 4 * count > end {
                    return Err(RtcpError::BadCount);
                }
                let sources = (0..count).map(|i| be32(pkt, 4 + 4 * i)).collect();
                let at = 4 + 4 * count;
                let reason = if at < end {
                    let l = pkt[at] as usize;
                    if at + 1 + l > end {
                        return Err(RtcpError::BadCount);
                    }
                    Some(&pkt[at + 1..at + 1 + l])
                } else {
                    None
                };
                RtcpPacket::Goodbye { sources, reason }
            }
            PT_RTPFB | PT_PSFB => {
                if end < 12 {
                    return Err(RtcpError::TooShort);
                }
                RtcpPacket::Feedback {
                    packet_type: pt,
                    fmt: count as u8,
                    sender: be32(pkt, 4),
                    media: be32(pkt, 8),
                    fci: &pkt[12..end],
                }
            }
            // APP (RFC 3550 §6.7): SSRC and a 4-byte name before any data.
            // Shorter, its SSRC would overlap the padding (whose last byte
            // is the pad count), and rewriting the SSRC would corrupt it.
            PT_APP if end < 12 => return Err(RtcpError::TooShort),
            _ => RtcpPacket::Other {
                packet_type: pt,
                count: count as u8,
                body: &pkt[4..end],
            },
        };
        out.push(parsed);
    }
    Ok(out)
}

/// What the relay changes in RTCP passing through it.
pub trait RtcpRewrite {
    /// Maps the SSRC of the sender of a packet (SR/RR/SDES/BYE/APP/feedback).
    fn sender(&mut self, ssrc: u32) -> u32;
    /// Maps an SSRC being reported on (report blocks, feedback media source).
    fn source(&mut self, ssrc: u32) -> u32;
    /// Adjusts a sender report's RTP timestamp and counts (called with the
    /// original sender SSRC, before `sender` maps it).
    fn sender_info(&mut self, ssrc: u32, rtp_ts: &mut u32, packets: &mut u32, octets: &mut u32);
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Rewrites SSRCs, SR timestamps and counts of a compound datagram in place.
/// Validates the datagram first; on error nothing is changed.
pub fn rewrite(buf: &mut [u8], rw: &mut impl RtcpRewrite) -> Result<(), RtcpError> {
    // Validate fully first so a rewrite is all-or-nothing.
    parse(buf)?;
    let mut at = 0;
    while at + 4 <= buf.len() {
        let b0 = buf[at];
        let pt = buf[at + 1];
        let len = (u16::from_be_bytes([buf[at + 2], buf[at + 3]]) as usize + 1) * 4;
        let count = (b0 & 0x1f) as usize;
        let p = &mut buf[at..at + len];
        match pt {
            PT_SR => {
                let ssrc = be32(p, 4);
                let (mut ts, mut pk, mut oc) = (be32(p, 16), be32(p, 20), be32(p, 24));
                rw.sender_info(ssrc, &mut ts, &mut pk, &mut oc);
                put32(p, 16, ts);
                put32(p, 20, pk);
                put32(p, 24, oc);
                put32(p, 4, rw.sender(ssrc));
                for i in 0..count {
                    let o = 28 + 24 * i;
                    put32(p, o, rw.source(be32(p, o)));
                }
            }
            PT_RR => {
                put32(p, 4, rw.sender(be32(p, 4)));
                for i in 0..count {
                    let o = 8 + 24 * i;
                    put32(p, o, rw.source(be32(p, o)));
                }
            }
            PT_SDES => {
                let mut o = 4;
                for _ in 0..count {
                    put32(p, o, rw.sender(be32(p, o)));
                    o += 4;
                    while p[o] != 0 {
                        o += 2 + p[o + 1] as usize;
                    }
                    o = (o + 4) & !3;
                }
            }
            PT_BYE => {
                for i in 0..count {
                    let o = 4 + 4 * i;
                    put32(p, o, rw.sender(be32(p, o)));
                }
            }
            PT_RTPFB | PT_PSFB => {
                put32(p, 4, rw.sender(be32(p, 4)));
                put32(p, 8, rw.source(be32(p, 8)));
            }
            PT_APP if len >= 8 => put32(p, 4, rw.sender(be32(p, 4))),
            _ => {}
        }
        at += len;
    }
    Ok(())
}

/// Builds a receiver report with no report blocks (useful in tests and as a
/// keep-alive).
pub fn receiver_report(ssrc: u32) -> Vec<u8> {
    let mut v = vec![0x80, PT_RR, 0, 1];
    v.extend_from_slice(&ssrc.to_be_bytes());
    v
}

/// Builds a sender report with no report blocks.
pub fn sender_report(ssrc: u32, ntp: u64, rtp_ts: u32, packets: u32, octets: u32) -> Vec<u8> {
    let mut v = vec![0x80, PT_SR, 0, 6];
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(&ntp.to_be_bytes());
    v.extend_from_slice(&rtp_ts.to_be_bytes());
    v.extend_from_slice(&packets.to_be_bytes());
    v.extend_from_slice(&octets.to_be_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz find (media/rtcp): an APP packet whose padding count byte lies
    /// inside its SSRC parsed, and rewriting the SSRC changed the pad
    /// count, so the rewritten datagram no longer parsed.
    #[test]
    fn app_packet_shorter_than_its_fixed_part_is_rejected() {
        let crash = [
            0xa2, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0xa2, 0xcc, 0x00, 0x01, 0x00, 0x00,
            0x00, 0x01,
        ];
        assert!(parse(&crash).is_err());
        let mut copy = crash;
        struct Id;
        impl RtcpRewrite for Id {
            fn sender(&mut self, s: u32) -> u32 {
                !s
            }
            fn source(&mut self, s: u32) -> u32 {
                s
            }
            fn sender_info(&mut self, _: u32, _: &mut u32, _: &mut u32, _: &mut u32) {}
        }
        assert!(rewrite(&mut copy, &mut Id).is_err());
        assert_eq!(copy, crash, "a refused rewrite changes nothing");
        // A well-formed APP (SSRC, name, no data) still parses and rewrites.
        let mut app = [0x80, 0xcc, 0x00, 0x02, 0, 0, 0, 1, b'n', b'a', b'm', b'e'];
        assert!(parse(&app).is_ok());
        rewrite(&mut app, &mut Id).unwrap();
        assert!(parse(&app).is_ok());
    }

    fn compound() -> Vec<u8> {
        // SR with one report block, then SDES with CNAME, then BYE.
        let mut v = vec![0x81, PT_SR, 0, 12];
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes());
        v.extend_from_slice(&1000u32.to_be_bytes());
        v.extend_from_slice(&10u32.to_be_bytes());
        v.extend_from_slice(&1600u32.to_be_bytes());
        v.extend_from_slice(&2u32.to_be_bytes()); // block ssrc
        v.extend_from_slice(&[0x10, 0xff, 0xff, 0xfe]); // 1/16 lost, cum -2
        v.extend_from_slice(&70000u32.to_be_bytes());
        v.extend_from_slice(&5u32.to_be_bytes());
        v.extend_from_slice(&6u32.to_be_bytes());
        v.extend_from_slice(&7u32.to_be_bytes());
        // SDES: 1 chunk, ssrc 1, CNAME "ab", end + pad => 16 bytes
        v.extend_from_slice(&[0x81, PT_SDES, 0, 3]);
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&[1, 2, b'a', b'b']);
        v.extend_from_slice(&[0, 0, 0, 0]);
        // BYE of ssrc 1
        v.extend_from_slice(&[0x81, PT_BYE, 0, 1]);
        v.extend_from_slice(&1u32.to_be_bytes());
        v
    }

    #[test]
    fn parse_compound() {
        let v = compound();
        let p = parse(&v).unwrap();
        assert_eq!(p.len(), 3);
        match &p[0] {
            RtcpPacket::SenderReport {
                ssrc,
                rtp_ts,
                packets,
                octets,
                reports,
                ntp,
            } => {
                assert_eq!((*ssrc, *rtp_ts, *packets, *octets), (1, 1000, 10, 1600));
                assert_eq!(*ntp, 0x0102_0304_0506_0708);
                assert_eq!(reports.len(), 1);
                assert_eq!(reports[0].ssrc, 2);
                assert_eq!(reports[0].fraction_lost, 0x10);
                assert_eq!(reports[0].cumulative_lost, -2);
                assert_eq!(reports[0].highest_seq, 70000);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p[1],
            RtcpPacket::SourceDescription(vec![SdesChunk {
                ssrc: 1,
                items: vec![(1, &b"ab"[..])]
            }])
        );
        assert_eq!(
            p[2],
            RtcpPacket::Goodbye {
                sources: vec![1],
                reason: None
            }
        );
    }

    struct Map;
    impl RtcpRewrite for Map {
        fn sender(&mut self, s: u32) -> u32 {
            s + 100
        }
        fn source(&mut self, s: u32) -> u32 {
            s + 200
        }
        fn sender_info(&mut self, _: u32, ts: &mut u32, p: &mut u32, _: &mut u32) {
            *ts += 5;
            *p = 99;
        }
    }

    #[test]
    fn rewrite_compound() {
        let mut v = compound();
        rewrite(&mut v, &mut Map).unwrap();
        let p = parse(&v).unwrap();
        match &p[0] {
            RtcpPacket::SenderReport {
                ssrc,
                rtp_ts,
                packets,
                reports,
                ..
            } => {
                assert_eq!((*ssrc, *rtp_ts, *packets), (101, 1005, 99));
                assert_eq!(reports[0].ssrc, 202);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p[1],
            RtcpPacket::SourceDescription(vec![SdesChunk {
                ssrc: 101,
                items: vec![(1, &b"ab"[..])]
            }])
        );
        assert!(matches!(&p[2], RtcpPacket::Goodbye { sources, .. } if sources == &[101]));
    }

    #[test]
    fn rejects() {
        assert_eq!(parse(&[]).unwrap_err(), RtcpError::TooShort);
        assert_eq!(parse(&[0x80, 201, 0]).unwrap_err(), RtcpError::TooShort);
        assert_eq!(
            parse(&[0x40, 201, 0, 0]).unwrap_err(),
            RtcpError::BadVersion
        );
        assert_eq!(
            parse(&[0x80, 201, 0, 5, 0, 0, 0, 0]).unwrap_err(),
            RtcpError::BadLength
        );
        // RR claiming one report block but carrying none.
        assert_eq!(
            parse(&[0x81, 201, 0, 1, 0, 0, 0, 1]).unwrap_err(),
            RtcpError::BadCount
        );
        let mut bad = compound();
        bad.truncate(bad.len() - 2);
        let before = bad.clone();
        assert!(rewrite(&mut bad, &mut Map).is_err());
        assert_eq!(bad, before, "failed rewrite changes nothing");
    }

    #[test]
    fn builders_parse() {
        let rr = receiver_report(9);
        assert_eq!(
            parse(&rr).unwrap(),
            vec![RtcpPacket::ReceiverReport {
                ssrc: 9,
                reports: vec![]
            }]
        );
        let sr = sender_report(3, 4, 5, 6, 7);
        assert!(matches!(
            parse(&sr).unwrap()[0],
            RtcpPacket::SenderReport {
                ssrc: 3,
                rtp_ts: 5,
                ..
            }
        ));
    }
}
