//! SIP capture to a Homer server over HEPv3 (UDP): every SIP message the
//! engine receives or sends, with addresses, ports, time and Call-ID, so
//! call flows can be looked at in Homer.
//!
//! Encoding (HEP3 "chunks": vendor 0, type, length, value):
//! family (1), protocol (2), IPv4/IPv6 source and destination (3/4, 5/6),
//! ports (7, 8), seconds and microseconds (9, 10), payload type SIP (11),
//! capture agent id (12), auth key (14), payload (15), correlation id (17).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

/// One captured message.
pub struct Capture<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub tcp: bool,
    pub time: SystemTime,
    pub payload: &'a [u8],
    pub call_id: Option<&'a str>,
}

fn chunk(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&((value.len() + 6) as u16).to_be_bytes());
    out.extend_from_slice(value);
}

/// Encodes one HEPv3 packet.
pub fn encode(c: &Capture<'_>, agent_id: u32, password: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(c.payload.len() + 128);
    out.extend_from_slice(b"HEP3\0\0");
    let (src, dst) = (c.src.ip(), c.dst.ip());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            chunk(&mut out, 1, &[2]);
            chunk(&mut out, 3, &s.octets());
            chunk(&mut out, 4, &d.octets());
        }
        _ => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            chunk(&mut out, 1, &[10]);
            chunk(&mut out, 5, &v6(src).octets());
            chunk(&mut out, 6, &v6(dst).octets());
        }
    }
    chunk(&mut out, 2, &[if c.tcp { 6 } else { 17 }]);
    chunk(&mut out, 7, &c.src.port().to_be_bytes());
    chunk(&mut out, 8, &c.dst.port().to_be_bytes());
    let t = c.time.duration_since(UNIX_EPOCH).unwrap_or_default();
    chunk(&mut out, 9, &(t.as_secs() as u32).to_be_bytes());
    chunk(&mut out, 10, &t.subsec_micros().to_be_bytes());
    chunk(&mut out, 11, &[1]); // SIP
    chunk(&mut out, 12, &agent_id.to_be_bytes());
    if let Some(p) = password {
        chunk(&mut out, 14, p.as_bytes());
    }
    // Leave room under the 64 KiB datagram limit for the header chunks.
    let payload = &c.payload[..c.payload.len().min(60_000)];
    chunk(&mut out, 15, payload);
    if let Some(id) = c.call_id {
        chunk(&mut out, 17, &id.as_bytes()[..id.len().min(1024)]);
    }
    let len = out.len() as u16;
    out[4..6].copy_from_slice(&len.to_be_bytes());
    out
}

/// Finds the Call-ID of a raw SIP message without a full parse.
pub fn call_id(payload: &[u8]) -> Option<&str> {
    let head = std::str::from_utf8(&payload[..payload.len().min(8192)]).ok()?;
    head.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        let n = n.trim();
        (n.eq_ignore_ascii_case("call-id") || n.eq_ignore_ascii_case("i")).then(|| v.trim())
    })
}

/// A capture sink: a UDP socket towards the Homer server.
pub struct Hep {
    socket: UdpSocket,
    server: SocketAddr,
    agent_id: u32,
    password: Option<String>,
}

impl Hep {
    pub fn new(
        server: SocketAddr,
        agent_id: u32,
        password: Option<String>,
    ) -> std::io::Result<Hep> {
        let bind: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse()
        } else {
            "[::]:0".parse()
        }
        .map_err(std::io::Error::other)?;
        let socket = UdpSocket::bind(bind)?;
        socket.set_nonblocking(true)?;
        Ok(Hep {
            socket,
            server,
            agent_id,
            password,
        })
    }

    /// Sends a capture; never blocks (a full buffer drops the capture, not a call).
    pub fn send(&self, c: &Capture<'_>) {
        let pkt = encode(c, self.agent_id, self.password.as_deref());
        let _ = self.socket.send_to(&pkt, self.server);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads chunks back: (type, value).
    fn decode(p: &[u8]) -> Vec<(u16, Vec<u8>)> {
        assert_eq!(&p[..4], b"HEP3");
        assert_eq!(u16::from_be_bytes([p[4], p[5]]) as usize, p.len());
        let mut out = Vec::new();
        let mut i = 6;
        while i < p.len() {
            let kind = u16::from_be_bytes([p[i + 2], p[i + 3]]);
            let len = u16::from_be_bytes([p[i + 4], p[i + 5]]) as usize;
            out.push((kind, p[i + 6..i + len].to_vec()));
            i += len;
        }
        out
    }

    #[test]
    fn encodes_every_chunk_homer_reads() {
        let msg = b"OPTIONS sip:x SIP/2.0\r\nCall-ID: abc@h\r\n\r\n";
        let c = Capture {
            src: "127.0.0.1:5070".parse().unwrap(),
            dst: "127.0.0.2:5060".parse().unwrap(),
            tcp: false,
            time: UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456),
            payload: msg,
            call_id: call_id(msg),
        };
        let chunks = decode(&encode(&c, 2001, Some("secret")));
        let get = |k: u16| {
            chunks
                .iter()
                .find(|(t, _)| *t == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get(1), vec![2]);
        assert_eq!(get(2), vec![17]);
        assert_eq!(get(3), vec![127, 0, 0, 1]);
        assert_eq!(get(4), vec![127, 0, 0, 2]);
        assert_eq!(get(7), 5070u16.to_be_bytes());
        assert_eq!(get(8), 5060u16.to_be_bytes());
        assert_eq!(get(9), 1_700_000_000u32.to_be_bytes());
        assert_eq!(get(10), 123_456u32.to_be_bytes());
        assert_eq!(get(11), vec![1]);
        assert_eq!(get(12), 2001u32.to_be_bytes());
        assert_eq!(get(14), b"secret");
        assert_eq!(get(15), msg);
        assert_eq!(get(17), b"abc@h");
    }
}
