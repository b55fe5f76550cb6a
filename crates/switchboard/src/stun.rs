//! STUN keep-alives on the SIP UDP port (RFC 5626 §4.4.2, §8.2; RFC 5389).
//!
//! A phone registered with SIP Outbound over UDP keeps its NAT binding open
//! by sending STUN Binding requests to the port it registered on; the
//! answer tells it its public address, so it notices when the NAT moved
//! the flow (and re-registers). Only Binding requests are answered, with
//! XOR-MAPPED-ADDRESS; anything else that looks like STUN is dropped. No
//! authentication: the answer carries nothing but the asker's own address.

use std::net::{IpAddr, SocketAddr};

const MAGIC: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// Largest request we look at (a keep-alive has no attributes).
const MAX_REQUEST: usize = 548;

/// True when `data` is a STUN message (RFC 5389 §6: two zero bits, the
/// magic cookie, a length that matches). SIP never starts with 0x00-0x03.
pub fn is_stun(data: &[u8]) -> bool {
    data.len() >= 20
        && data[0] & 0xC0 == 0
        && u32::from_be_bytes([data[4], data[5], data[6], data[7]]) == MAGIC
        && usize::from(u16::from_be_bytes([data[2], data[3]])) == data.len() - 20
        && data.len().is_multiple_of(4)
}

/// The Binding success response to a Binding request from `source`, or
/// `None` for anything else.
pub fn binding_response(data: &[u8], source: SocketAddr) -> Option<Vec<u8>> {
    if !is_stun(data) || data.len() > MAX_REQUEST {
        return None;
    }
    if u16::from_be_bytes([data[0], data[1]]) != BINDING_REQUEST {
        return None;
    }
    let txid = &data[8..20];
    let port = source.port() ^ (MAGIC >> 16) as u16;
    let (family, addr): (u8, Vec<u8>) = match source.ip() {
        IpAddr::V4(v4) => {
            let x = u32::from(v4) ^ MAGIC;
            (1, x.to_be_bytes().to_vec())
        }
        IpAddr::V6(v6) => {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC.to_be_bytes());
            key[4..].copy_from_slice(txid);
            let o = v6.octets();
            (2, o.iter().zip(key).map(|(a, k)| a ^ k).collect())
        }
    };
    let attr_len = 4 + addr.len();
    let mut out = Vec::with_capacity(20 + 4 + attr_len);
    out.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    out.extend_from_slice(&((4 + attr_len) as u16).to_be_bytes());
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.extend_from_slice(txid);
    out.extend_from_slice(&XOR_MAPPED_ADDRESS.to_be_bytes());
    out.extend_from_slice(&(attr_len as u16).to_be_bytes());
    out.extend_from_slice(&[0, family]);
    out.extend_from_slice(&port.to_be_bytes());
    out.extend_from_slice(&addr);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: u16) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&kind.to_be_bytes());
        r.extend_from_slice(&0u16.to_be_bytes());
        r.extend_from_slice(&MAGIC.to_be_bytes());
        r.extend_from_slice(b"0123456789ab");
        r
    }

    /// Decodes XOR-MAPPED-ADDRESS back (as the phone would).
    fn mapped(resp: &[u8]) -> SocketAddr {
        assert_eq!(u16::from_be_bytes([resp[0], resp[1]]), BINDING_SUCCESS);
        assert_eq!(&resp[8..20], b"0123456789ab", "transaction id echoed");
        assert!(is_stun(resp));
        let a = &resp[20..];
        assert_eq!(u16::from_be_bytes([a[0], a[1]]), XOR_MAPPED_ADDRESS);
        let port = u16::from_be_bytes([a[6], a[7]]) ^ (MAGIC >> 16) as u16;
        let ip = match a[5] {
            1 => {
                IpAddr::from((u32::from_be_bytes([a[8], a[9], a[10], a[11]]) ^ MAGIC).to_be_bytes())
            }
            _ => {
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&MAGIC.to_be_bytes());
                key[4..].copy_from_slice(b"0123456789ab");
                let mut o = [0u8; 16];
                for i in 0..16 {
                    o[i] = a[8 + i] ^ key[i];
                }
                IpAddr::from(o)
            }
        };
        SocketAddr::new(ip, port)
    }

    #[test]
    fn answers_binding_requests_with_the_source_address() {
        for src in ["127.0.0.7:40123", "[::1]:5062"] {
            let src: SocketAddr = src.parse().unwrap();
            let resp = binding_response(&request(BINDING_REQUEST), src).unwrap();
            assert_eq!(mapped(&resp), src);
        }
    }

    #[test]
    fn ignores_everything_else() {
        let src: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(
            binding_response(&request(0x0011), src).is_none(),
            "indication"
        );
        assert!(binding_response(b"OPTIONS sip:x SIP/2.0\r\n\r\n", src).is_none());
        let mut bad = request(BINDING_REQUEST);
        bad[3] = 4; // length says an attribute follows, none does
        assert!(binding_response(&bad, src).is_none());
        for n in 0..20 {
            assert!(binding_response(&request(BINDING_REQUEST)[..n], src).is_none());
        }
        assert!(!is_stun(b"\r\n\r\n"));
    }
}
