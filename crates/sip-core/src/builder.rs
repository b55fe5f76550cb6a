//! Writing SIP messages: responses derived from a request (RFC 3261 §8.2.6)
//! and new requests. Both write straight into one growing buffer.

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
        let _ = write!(self.extra, "{name}: {value}\r\n");
        self
    }

    pub fn body(mut self, content_type: &'m str, body: &'m [u8]) -> Self {
        self.body = Some((content_type, body));
        self
    }

    pub fn build(self) -> Vec<u8> {
        let req = self.req;
        let mut out = String::with_capacity(512 + self.extra.len());
        let _ = write!(
            out,
            "SIP/2.0 {} {}\r\n",
            self.status,
            self.reason.unwrap_or_else(|| reason_phrase(self.status))
        );
        for via in req.headers(HeaderName::Via) {
            let _ = write!(out, "Via: {via}\r\n");
        }
        let _ = write!(out, "From: {}\r\n", req.from_str_raw());
        out.push_str("To: ");
        out.push_str(req.to_str_raw());
        if let (Some(tag), None) = (self.to_tag, req.to().tag()) {
            if self.status > 100 {
                let _ = write!(out, ";tag={tag}");
            }
        }
        out.push_str("\r\n");
        let _ = write!(out, "Call-ID: {}\r\n", req.call_id());
        let cseq = req.cseq();
        let _ = write!(out, "CSeq: {} {}\r\n", cseq.seq, cseq.method_str);
        out.push_str(&self.extra);
        finish(out, self.body)
    }
}

fn finish(mut out: String, body: Option<(&str, &[u8])>) -> Vec<u8> {
    match body {
        Some((ctype, body)) => {
            let _ = write!(
                out,
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
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

/// A new request. Headers are written in the order they are added; the
/// caller supplies Via, From, To, Call-ID, CSeq and Max-Forwards.
pub struct RequestBuilder {
    out: String,
}

impl RequestBuilder {
    pub fn new(method: &str, uri: &str) -> Self {
        let mut out = String::with_capacity(768);
        let _ = write!(out, "{method} {uri} SIP/2.0\r\n");
        RequestBuilder { out }
    }

    pub fn header(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        let _ = write!(self.out, "{name}: {value}\r\n");
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
}
