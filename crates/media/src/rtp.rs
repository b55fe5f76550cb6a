//! RTP packets (RFC 3550 §5): a zero-copy, length-checked reader, an in-place
//! header rewriter and a writer.
//!
//! Parsing never panics: every malformed input is a typed [`RtpError`].

/// Why an RTP packet was rejected. Always the peer's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header, or than its CSRC list.
    #[error("RTP packet too short")]
    TooShort,
    /// Version field is not 2.
    #[error("RTP version is not 2")]
    BadVersion,
    /// The header extension runs past the end of the packet.
    #[error("RTP header extension truncated")]
    BadExtension,
    /// The padding count is zero or larger than the payload.
    #[error("RTP padding invalid")]
    BadPadding,
}

/// Fixed header length.
pub const RTP_HEADER_LEN: usize = 12;

/// True when a packet received on an RTP port is RTCP (RFC 5761 §4: the
/// second byte, i.e. marker + payload type, is in 192..=223).
#[inline]
pub fn is_rtcp(buf: &[u8]) -> bool {
    buf.len() >= 2 && (192..=223).contains(&buf[1])
}

/// A parsed view of an RTP packet borrowing the receive buffer.
#[derive(Debug, Clone, Copy)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    header_len: usize,
    payload_end: usize,
}

impl<'a> RtpPacket<'a> {
    /// Parses and validates `buf`.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < RTP_HEADER_LEN {
            return Err(RtpError::TooShort);
        }
        if buf[0] >> 6 != 2 {
            return Err(RtpError::BadVersion);
        }
        let cc = (buf[0] & 0x0f) as usize;
        let mut header_len = RTP_HEADER_LEN + 4 * cc;
        if buf.len() < header_len {
            return Err(RtpError::TooShort);
        }
        if buf[0] & 0x10 != 0 {
            if buf.len() < header_len + 4 {
                return Err(RtpError::BadExtension);
            }
            let words = u16::from_be_bytes([buf[header_len + 2], buf[header_len + 3]]) as usize;
            header_len += 4 + 4 * words;
            if buf.len() < header_len {
                return Err(RtpError::BadExtension);
            }
        }
        let mut payload_end = buf.len();
        if buf[0] & 0x20 != 0 {
            let pad = buf[buf.len() - 1] as usize;
            if pad == 0 || pad > buf.len() - header_len {
                return Err(RtpError::BadPadding);
            }
            payload_end -= pad;
        }
        Ok(RtpPacket {
            buf,
            header_len,
            payload_end,
        })
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// Version (always 2 after parsing).
    pub fn version(&self) -> u8 {
        self.buf[0] >> 6
    }
    /// Padding bit.
    pub fn has_padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }
    /// Extension bit.
    pub fn has_extension(&self) -> bool {
        self.buf[0] & 0x10 != 0
    }
    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }
    /// Payload type (7 bits).
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7f
    }
    /// Sequence number.
    pub fn sequence(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }
    /// Timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }
    /// Synchronisation source.
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]])
    }
    /// Contributing sources.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let cc = (self.buf[0] & 0x0f) as usize;
        self.buf[RTP_HEADER_LEN..RTP_HEADER_LEN + 4 * cc]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }
    /// The header extension: profile-defined id and data.
    pub fn extension(&self) -> Option<(u16, &'a [u8])> {
        if !self.has_extension() {
            return None;
        }
        let at = RTP_HEADER_LEN + 4 * (self.buf[0] & 0x0f) as usize;
        let id = u16::from_be_bytes([self.buf[at], self.buf[at + 1]]);
        Some((id, &self.buf[at + 4..self.header_len]))
    }
    /// Length of the header including CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// The payload, without padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..self.payload_end]
    }
}

/// In-place rewriting of the fixed header of a packet already validated by
/// [`RtpPacket::parse`] (or at least 12 bytes long).
#[derive(Debug)]
pub struct RtpHeaderMut<'a>(&'a mut [u8]);

impl<'a> RtpHeaderMut<'a> {
    /// Wraps `buf`; `None` if it is shorter than the fixed header.
    pub fn new(buf: &'a mut [u8]) -> Option<Self> {
        (buf.len() >= RTP_HEADER_LEN).then_some(RtpHeaderMut(buf))
    }
    /// Sets the marker bit.
    pub fn set_marker(&mut self, m: bool) {
        self.0[1] = (self.0[1] & 0x7f) | if m { 0x80 } else { 0 };
    }
    /// Sets the payload type.
    pub fn set_payload_type(&mut self, pt: u8) {
        self.0[1] = (self.0[1] & 0x80) | (pt & 0x7f);
    }
    /// Sets the sequence number.
    pub fn set_sequence(&mut self, seq: u16) {
        self.0[2..4].copy_from_slice(&seq.to_be_bytes());
    }
    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        self.0[4..8].copy_from_slice(&ts.to_be_bytes());
    }
    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        self.0[8..12].copy_from_slice(&ssrc.to_be_bytes());
    }
}

/// Fields of a simple RTP header (no CSRC, no extension, no padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// Marker bit.
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Writes header + payload into `out`, returning the packet length, or
    /// `None` if `out` is too small.
    pub fn write(&self, payload: &[u8], out: &mut [u8]) -> Option<usize> {
        let len = RTP_HEADER_LEN + payload.len();
        if out.len() < len {
            return None;
        }
        out[0] = 0x80;
        out[1] = (self.payload_type & 0x7f) | if self.marker { 0x80 } else { 0 };
        out[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        out[RTP_HEADER_LEN..len].copy_from_slice(payload);
        Some(len)
    }

    /// Writes header + payload into a new `Vec`.
    pub fn to_vec(&self, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0; RTP_HEADER_LEN + payload.len()];
        self.write(payload, &mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_parse() {
        let h = RtpHeader {
            marker: true,
            payload_type: 8,
            sequence: 65535,
            timestamp: 0xdead_beef,
            ssrc: 0x1234_5678,
        };
        let v = h.to_vec(&[1, 2, 3]);
        let p = RtpPacket::parse(&v).unwrap();
        assert_eq!(p.version(), 2);
        assert!(p.marker());
        assert_eq!(p.payload_type(), 8);
        assert_eq!(p.sequence(), 65535);
        assert_eq!(p.timestamp(), 0xdead_beef);
        assert_eq!(p.ssrc(), 0x1234_5678);
        assert_eq!(p.payload(), &[1, 2, 3]);
        assert_eq!(p.csrcs().count(), 0);
        assert!(p.extension().is_none());
    }

    #[test]
    fn csrc_extension_padding() {
        let mut v = vec![0xB1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        v.extend_from_slice(&[0, 0, 0, 9]); // CSRC 9
        v.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]); // ext, 1 word
        v.extend_from_slice(&[7, 7, 7]); // payload
        v.extend_from_slice(&[0, 0, 3]); // padding of 3
        let p = RtpPacket::parse(&v).unwrap();
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![9]);
        assert_eq!(p.extension(), Some((0xBEDE, &[0x10, 0xAA, 0, 0][..])));
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.payload(), &[7, 7, 7]);
    }

    #[test]
    fn rejects() {
        assert_eq!(
            RtpPacket::parse(&[0x80; 11]).unwrap_err(),
            RtpError::TooShort
        );
        assert_eq!(
            RtpPacket::parse(&[0x40; 12]).unwrap_err(),
            RtpError::BadVersion
        );
        let mut cc = vec![0x81; 12];
        cc[0] = 0x81;
        assert_eq!(RtpPacket::parse(&cc).unwrap_err(), RtpError::TooShort);
        let mut ext = vec![0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
        assert_eq!(RtpPacket::parse(&ext).unwrap_err(), RtpError::BadExtension);
        ext.truncate(14);
        assert_eq!(RtpPacket::parse(&ext).unwrap_err(), RtpError::BadExtension);
        let mut pad = vec![0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(RtpPacket::parse(&pad).unwrap_err(), RtpError::BadPadding);
        pad[12] = 2;
        assert_eq!(RtpPacket::parse(&pad).unwrap_err(), RtpError::BadPadding);
        pad[12] = 1;
        assert!(RtpPacket::parse(&pad).unwrap().payload().is_empty());
    }

    #[test]
    fn rewrite_in_place() {
        let mut v = RtpHeader::default().to_vec(&[5; 4]);
        let mut h = RtpHeaderMut::new(&mut v).unwrap();
        h.set_ssrc(7);
        h.set_sequence(9);
        h.set_timestamp(11);
        h.set_marker(true);
        h.set_payload_type(101);
        let p = RtpPacket::parse(&v).unwrap();
        assert_eq!(
            (
                p.ssrc(),
                p.sequence(),
                p.timestamp(),
                p.marker(),
                p.payload_type()
            ),
            (7, 9, 11, true, 101)
        );
        assert_eq!(p.payload(), &[5; 4]);
    }

    #[test]
    fn rtcp_demux() {
        assert!(is_rtcp(&[0x80, 200]));
        assert!(is_rtcp(&[0x80, 201]));
        assert!(!is_rtcp(&[0x80, 0]));
        assert!(!is_rtcp(&[0x80, 0x88])); // PCMA with marker
        assert!(!is_rtcp(&[0x80]));
    }
}
