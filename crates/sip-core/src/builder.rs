//! Writing SIP messages: responses derived from a request (RFC 3261 §8.2.6)
//! and new requests. Both write straight into one buffer, sized up front
//! where the parts are known (no reallocation, no `format!`).

use std::fmt::Write as _;

use crate::header::HeaderName;
use crate::message::Message;

/// The default reason phrase for a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => match code / 100 {
            1 => "Trying",
            2 => "OK",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// A response to `req`: copies Via (all), From, To, Call-ID and CSeq, adds
/// a To tag when asked and the request's To has none.
pub struct ResponseBuilder<'m> {
    req: &'m Message,
    status: u16,
    reason: Option<&'m str>,
    to_tag: Option<&'m str>,
    extra: String,
    body: Option<(&'m str, &'m [u8])>,
}

impl<'m> ResponseBuilder<'m> {
    pub fn new(req: &'m Message, status: u16) -> Self {
        ResponseBuilder {
            req,
            status,
            reason: None,
            to_tag: None,
            extra: String::new(),
            body: None,
        }
    }

    pub fn reason(mut self, reason: &'m str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Adds `;tag=` to To unless the request already carried one.
    pub fn to_tag(mut self, tag: &'m str) -> Self {
        self.to_tag = Some(tag);
        self
    }

    pub fn header(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        if self.extra.capacity() == 0 {
            self.extra.reserve(128);
        }
        self.extra.push_str(name);
        self.extra.push_str(": ");
        let _ = write!(self.extra, "{value}");
        self.extra.push_str("\r\n");
        self
    }

    pub fn body(mut self, content_type: &'m str, body: &'m [u8]) -> Self {
        self.body = Some((content_type, body));
        self
    }

    pub fn build(self) -> Vec<u8> {
        let req = self.req;
        let reason = self.reason.unwrap_or_else(|| reason_phrase(self.status));
        let to_tag = match (self.to_tag, req.to().tag()) {
            (Some(tag), None) if self.status > 100 => Some(tag),
            _ => None,
        };
        let cseq = req.cseq();
        // every part is known: one allocation of the final size
        let vias: usize = req.headers(HeaderName::Via).map(|v| v.len() + 7).sum();
        let len = 16
            + reason.len()
            + vias
            + req.from_str_raw().len()
            + 8
            + req.to_str_raw().len()
            + to_tag.map_or(0, |t| t.len() + 5)
            + 6
            + req.call_id().len()
            + 11
            + cseq.method_str.len()
            + 19
            + self.extra.len()
            + body_len(self.body);
        let mut out = String::with_capacity(len);
        out.push_str("SIP/2.0 ");
        push_decimal(&mut out, u64::from(self.status));
        out.push(' ');
        out.push_str(reason);
        out.push_str("\r\n");
        for via in req.headers(HeaderName::Via) {
            out.push_str("Via: ");
            out.push_str(via);
            out.push_str("\r\n");
        }
        out.push_str("From: ");
        out.push_str(req.from_str_raw());
        out.push_str("\r\nTo: ");
        out.push_str(req.to_str_raw());
        if let Some(tag) = to_tag {
            out.push_str(";tag=");
            out.push_str(tag);
        }
        out.push_str("\r\nCall-ID: ");
        out.push_str(req.call_id());
        out.push_str("\r\nCSeq: ");
        push_decimal(&mut out, u64::from(cseq.seq));
        out.push(' ');
        out.push_str(cseq.method_str);
        out.push_str("\r\n");
        out.push_str(&self.extra);
        finish(out, self.body)
    }
}

/// What [`finish`] appends.
fn body_len(body: Option<(&str, &[u8])>) -> usize {
    match body {
        Some((ctype, body)) => 14 + ctype.len() + 2 + 16 + 20 + 4 + body.len(),
        None => 21,
    }
}

fn finish(mut out: String, body: Option<(&str, &[u8])>) -> Vec<u8> {
    match body {
        Some((ctype, body)) => {
            out.reserve(body_len(Some((ctype, body))));
            out.push_str("Content-Type: ");
            out.push_str(ctype);
            out.push_str("\r\nContent-Length: ");
            push_decimal(&mut out, body.len() as u64);
            out.push_str("\r\n\r\n");
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(body);
            bytes
        }
        None => {
            out.push_str("Content-Length: 0\r\n\r\n");
            out.into_bytes()
        }
    }
}

/// Appends `n` in decimal, without the formatting machinery.
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    for &d in decimal(n, &mut buf) {
        out.push(char::from(d));
    }
}

/// `n` in decimal digits, written at the end of `buf`.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// A new request. Headers are written in the order they are added; the
/// caller supplies Via, From, To, Call-ID, CSeq and Max-Forwards.
pub struct RequestBuilder {
    out: String,
}

impl RequestBuilder {
    pub fn new(method: &str, uri: &str) -> Self {
        let mut out = String::with_capacity(768);
        out.push_str(method);
        out.push(' ');
        out.push_str(uri);
        out.push_str(" SIP/2.0\r\n");
        RequestBuilder { out }
    }

    pub fn header(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        self.out.push_str(name);
        self.out.push_str(": ");
        let _ = write!(self.out, "{value}");
        self.out.push_str("\r\n");
        self
    }

    pub fn build(self, body: Option<(&str, &[u8])>) -> Vec<u8> {
        finish(self.out, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn response_copies_dialog_headers_and_adds_tag() {
        let raw = "BYE sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP g;branch=z9hG4bK0\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x\r\nCSeq: 5 BYE\r\nContent-Length: 0\r\n\r\n";
        let req = Message::parse(Bytes::from(raw)).unwrap();
        let resp = ResponseBuilder::new(&req, 486)
            .to_tag("t9")
            .header("Retry-After", 30)
            .build();
        let parsed = Message::parse(Bytes::from(resp)).unwrap();
        assert_eq!(parsed.status(), Some(486));
        assert_eq!(parsed.reason(), Some("Busy Here"));
        assert_eq!(parsed.to().tag(), Some("t9"));
        assert_eq!(parsed.headers(HeaderName::Via).count(), 2);
        assert_eq!(parsed.header(HeaderName::RetryAfter), Some("30"));
        assert_eq!(parsed.cseq().seq, 5);
    }

    #[test]
    fn response_is_written_in_one_allocation() {
        let raw = "INVITE sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: \"A\" <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x@h\r\nCSeq: 4294 INVITE\r\nContent-Length: 0\r\n\r\n";
        let req = Message::parse(Bytes::from(raw)).unwrap();
        let body = b"v=0\r\n";
        let resp = ResponseBuilder::new(&req, 200)
            .to_tag("t1")
            .header("Contact", "<sip:b@10.0.0.1>")
            .body("application/sdp", body)
            .build();
        assert!(resp.capacity() >= resp.len());
        assert!(resp.capacity() - resp.len() < 64, "sized up front");
        let text = String::from_utf8(resp).unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"));
        assert!(text.contains("\r\nTo: <sip:b@h>;tag=t1\r\n"));
        assert!(text.contains("\r\nCSeq: 4294 INVITE\r\n"));
        assert!(text.ends_with("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"));
        let mut s = String::new();
        for n in [0, 7, 10, 65535, u64::MAX] {
            s.clear();
            push_decimal(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }
}
