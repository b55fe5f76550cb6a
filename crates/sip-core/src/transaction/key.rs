//! Transaction identity (RFC 3261 §17.1.3, §17.2.3) and where responses go
//! (§18.2.2, RFC 3581 §4).

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::message::Message;
use crate::method::Method;
use crate::via::Via;

/// Which side of a transaction this node is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Client,
    Server,
}

/// Identifies one transaction.
///
/// RFC 3261 requests are keyed by `branch` + `sent-by` + method, with ACK
/// folded into INVITE so an ACK for a non-2xx response finds its INVITE
/// (§17.2.3); CANCEL keeps its own method, so it is a separate transaction
/// that shares the INVITE's branch. Client transactions are keyed by branch
/// and the CSeq method (§17.1.3). Requests whose branch lacks the magic
/// cookie (RFC 2543 peers) are keyed by Request-URI, From tag, Call-ID,
/// CSeq number and top Via instead.
///
/// The three strings live in one shared allocation, so a clone (the layer
/// keeps one per armed timer, and hands them to the TU) copies no text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TxKey {
    role: Role,
    legacy: bool,
    /// Lengths of the id and sent-by prefixes of `text`.
    id_len: u32,
    sent_by_len: u32,
    /// The branch (or the RFC 2543 composite), then the lowercased
    /// `host:port` of the top Via (server side only), then the method as
    /// matched (`ACK` appears as `INVITE`).
    text: Arc<str>,
}

impl TxKey {
    fn build(role: Role, id: &str, sent_by: &str, method: &str, legacy: bool) -> TxKey {
        let method = fold_ack(method);
        let mut text = String::with_capacity(id.len() + sent_by.len() + method.len());
        text.push_str(id);
        text.push_str(sent_by);
        text.push_str(method);
        TxKey {
            role,
            legacy,
            id_len: len32(id),
            sent_by_len: len32(sent_by),
            text: Arc::from(text),
        }
    }

    /// The key of a client transaction we started with `branch`.
    pub fn client(branch: &str, method: &str) -> TxKey {
        TxKey::build(Role::Client, branch, "", method, false)
    }

    /// The key of the server transaction a request belongs to; `None` when
    /// it is not a request or has no usable Via.
    pub fn server(msg: &Message) -> Option<TxKey> {
        let method = msg.method_str()?;
        let via = msg.top_via().ok()?;
        if via.is_rfc3261() {
            let mut sent_by = String::with_capacity(via.host.len() + 6);
            sent_by.push_str(via.host);
            sent_by.make_ascii_lowercase();
            if let Some(p) = via.port {
                sent_by.push(':');
                crate::builder::push_decimal(&mut sent_by, u64::from(p));
            }
            return Some(TxKey::build(
                Role::Server,
                via.branch()?,
                &sent_by,
                method,
                false,
            ));
        }
        let id = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            msg.request_uri_str().unwrap_or_default(),
            msg.from().tag().unwrap_or_default(),
            msg.call_id(),
            msg.cseq().seq,
            msg.top_via_str()
        );
        Some(TxKey::build(Role::Server, &id, "", method, true))
    }

    /// The client transaction a response belongs to (§17.1.3).
    pub fn for_response(msg: &Message) -> Option<TxKey> {
        if msg.is_request() {
            return None;
        }
        let via = msg.top_via().ok()?;
        let branch = via.branch()?;
        Some(TxKey::client(branch, msg.cseq().method_str))
    }

    /// This key with another method (e.g. the INVITE a CANCEL targets).
    pub fn with_method(&self, method: &str) -> TxKey {
        TxKey::build(
            self.role,
            self.branch(),
            self.sent_by(),
            method,
            self.legacy,
        )
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_server(&self) -> bool {
        self.role == Role::Server
    }

    /// The branch (for RFC 2543 keys, the composite identifier).
    pub fn branch(&self) -> &str {
        &self.text[..self.id_len as usize]
    }

    /// Lowercased `host:port` of the top Via (empty for client and RFC
    /// 2543 keys).
    fn sent_by(&self) -> &str {
        let start = self.id_len as usize;
        &self.text[start..start + self.sent_by_len as usize]
    }

    pub fn method(&self) -> &str {
        &self.text[(self.id_len + self.sent_by_len) as usize..]
    }

    pub fn is_invite(&self) -> bool {
        self.method() == "INVITE"
    }

    /// True for an RFC 2543 (no magic cookie) key.
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }
}

fn len32(s: &str) -> u32 {
    // A key's strings come from one SIP message, far below 4 GiB.
    u32::try_from(s.len()).unwrap_or(u32::MAX)
}

/// Ordered by role, id, sent-by, method, then legacy (as the fields read).
impl Ord for TxKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.role
            .cmp(&other.role)
            .then_with(|| self.branch().cmp(other.branch()))
            .then_with(|| self.sent_by().cmp(other.sent_by()))
            .then_with(|| self.method().cmp(other.method()))
            .then_with(|| self.legacy.cmp(&other.legacy))
    }
}

impl PartialOrd for TxKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for TxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxKey")
            .field("role", &self.role)
            .field("id", &self.branch())
            .field("sent_by", &self.sent_by())
            .field("method", &self.method())
            .field("legacy", &self.legacy)
            .finish()
    }
}

fn fold_ack(method: &str) -> &str {
    if method == "ACK" {
        "INVITE"
    } else {
        method
    }
}

pub(crate) fn method_token(method: Method, request: &[u8]) -> String {
    match method.as_str() {
        Some(m) => m.to_string(),
        None => {
            let end = request
                .iter()
                .position(|&b| b == b' ')
                .unwrap_or(request.len());
            String::from_utf8_lossy(&request[..end]).into_owned()
        }
    }
}

/// Where to send responses to a request received over an unreliable
/// transport from `source` (RFC 3261 §18.2.2 with RFC 3581 §4):
/// `maddr` if present; otherwise the `received` address (a request's
/// `received` is normally the source address itself); the port is `rport`'s
/// value, the source port when `rport` is present without one, else the
/// sent-by port, else 5060 (5061 for TLS). Over reliable transports send on
/// the connection the request came in on instead.
pub fn response_dest(via: &Via, source: SocketAddr) -> SocketAddr {
    let ip = via
        .params
        .value("maddr")
        .and_then(|m| m.parse::<IpAddr>().ok())
        .or_else(|| {
            via.received()
                .and_then(|r| r.trim_matches(['[', ']']).parse().ok())
        })
        .unwrap_or(source.ip());
    let port = match via.rport() {
        Some(Some(p)) if p != 0 => p,
        Some(_) => source.port(),
        None => via.port.unwrap_or(default_port(via.transport)),
    };
    SocketAddr::new(ip, port)
}

/// True when responses to a request with this top Via need it stamped
/// with `received`/`rport` (RFC 3261 §18.2.1, RFC 3581 §4).
pub fn via_needs_stamp(via: &Via, source: SocketAddr) -> bool {
    let rport_flag = via.rport() == Some(None);
    let host_differs = via
        .host
        .parse::<IpAddr>()
        .map_or(true, |ip| ip != source.ip());
    rport_flag || (via.received().is_none() && host_differs)
}

/// Adds `received=<source ip>` and fills a bare `rport` with the source
/// port in the first Via of a response about to be sent, as the server
/// transport does for the request (RFC 3261 §18.2.1, RFC 3581 §4): a UA
/// behind NAT learns its public address from it. `None` when nothing
/// changes.
pub fn stamp_via(response: &[u8], source: SocketAddr) -> Option<Vec<u8>> {
    let head_end = memchr::memmem::find(response, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..head_end]).ok()?;
    // The first Via line (long or compact name).
    let mut offset = head.find("\r\n")? + 2;
    let (line_start, line) = loop {
        let rest = &head[offset..];
        let end = rest.find("\r\n").unwrap_or(rest.len());
        let line = &rest[..end];
        let name = line.split(':').next()?.trim();
        if name.eq_ignore_ascii_case("via") || name.eq_ignore_ascii_case("v") {
            break (offset, line);
        }
        if end == rest.len() {
            return None;
        }
        offset += end + 2;
    };
    let colon = line.find(':')?;
    let value = &line[colon + 1..];
    let first = crate::split::split_commas(value).next()?;
    let via = Via::parse(first).ok()?;
    if !via_needs_stamp(&via, source) {
        return None;
    }
    let mut entry = String::with_capacity(first.len() + 40);
    let (base, params) = match first.find(';') {
        Some(i) => (&first[..i], &first[i + 1..]),
        None => (first, ""),
    };
    entry.push_str(base.trim_end());
    for p in params.split(';') {
        let t = p.trim();
        if t.is_empty() {
            continue;
        }
        entry.push(';');
        if t.eq_ignore_ascii_case("rport") {
            entry.push_str("rport=");
            crate::builder::push_decimal(&mut entry, u64::from(source.port()));
        } else {
            entry.push_str(t);
        }
    }
    if via.received().is_none() {
        let _ = write!(entry, ";received={}", source.ip());
    }
    let first_start = line_start + colon + 1 + (first.as_ptr() as usize - value.as_ptr() as usize);
    let mut out = Vec::with_capacity(response.len() + 40);
    out.extend_from_slice(&response[..first_start]);
    out.extend_from_slice(entry.as_bytes());
    out.extend_from_slice(&response[first_start + first.len()..]);
    Some(out)
}

fn default_port(transport: &str) -> u16 {
    if transport.eq_ignore_ascii_case("TLS") || transport.eq_ignore_ascii_case("WSS") {
        5061
    } else {
        5060
    }
}

/// A fresh RFC 3261 branch: the magic cookie and 16 random alphanumerics.
pub fn new_branch() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let mut b = String::with_capacity(23);
    b.push_str(crate::via::BRANCH_COOKIE);
    for _ in 0..16 {
        b.push(rng.sample(rand::distributions::Alphanumeric) as char);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(s: &str) -> Via<'_> {
        Via::parse(s).unwrap()
    }

    #[test]
    fn response_dest_follows_18_2_2_and_rport() {
        let src: SocketAddr = "198.51.100.7:40123".parse().unwrap();
        // rport flag: answer to the source address and port (NAT).
        assert_eq!(
            response_dest(&via("SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bK1;rport"), src),
            src
        );
        // No rport: source IP (the received address), sent-by port.
        assert_eq!(
            response_dest(&via("SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bK1"), src),
            "198.51.100.7:5070".parse().unwrap()
        );
        // No port: 5060, or 5061 for TLS.
        assert_eq!(
            response_dest(&via("SIP/2.0/UDP pc.example.com;branch=z9hG4bK1"), src).port(),
            5060
        );
        assert_eq!(
            response_dest(&via("SIP/2.0/TLS pc.example.com;branch=z9hG4bK1"), src).port(),
            5061
        );
        // Already stamped received/rport values win.
        assert_eq!(
            response_dest(
                &via("SIP/2.0/UDP h;received=192.0.2.1;rport=9999;branch=z9hG4bK1"),
                src
            ),
            "192.0.2.1:9999".parse().unwrap()
        );
        assert_eq!(
            response_dest(
                &via("SIP/2.0/UDP h:5080;maddr=239.1.1.1;branch=z9hG4bK1"),
                src
            ),
            "239.1.1.1:5080".parse().unwrap()
        );
    }

    #[test]
    fn stamps_received_and_rport_into_the_first_via_only() {
        let resp = b"SIP/2.0 200 OK\r\nFrom: <sip:a@h>;tag=1\r\nv: SIP/2.0/UDP 10.0.0.2:5070;rport;branch=z9hG4bK1 , SIP/2.0/UDP p\r\nVia: SIP/2.0/UDP q\r\nContent-Length: 0\r\n\r\n";
        let src: SocketAddr = "198.51.100.7:40123".parse().unwrap();
        let out = String::from_utf8(stamp_via(resp, src).unwrap()).unwrap();
        assert!(out.contains("v: SIP/2.0/UDP 10.0.0.2:5070;rport=40123;branch=z9hG4bK1;received=198.51.100.7 , SIP/2.0/UDP p\r\nVia: SIP/2.0/UDP q\r\n"), "{out}");
        // Sent-by already the source address and no rport: untouched.
        let plain = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1\r\n\r\n";
        assert!(stamp_via(plain, src).is_none());
        // A host name always gets `received`.
        let named = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP pc.example.com;branch=z9hG4bK1\r\n\r\n";
        let out = String::from_utf8(stamp_via(named, src).unwrap()).unwrap();
        assert!(out
            .contains("Via: SIP/2.0/TCP pc.example.com;branch=z9hG4bK1;received=198.51.100.7\r\n"));
        assert!(stamp_via(b"garbage", src).is_none());
    }

    #[test]
    fn branches_are_unique_and_compliant() {
        let a = new_branch();
        assert!(a.starts_with("z9hG4bK"));
        assert_eq!(a.len(), 23);
        assert_ne!(a, new_branch());
    }
}
