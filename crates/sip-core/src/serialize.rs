//! Printing a parsed message in canonical form.
//!
//! Canonical form: the start line with single spaces and `SIP/2.0`; each
//! header field on one line (folds already undone) as `Name: value` with
//! known and compact names written long (`v` → `Via`, `e` →
//! `Content-Encoding`), unknown names as sent; header order and values as
//! received; `Content-Length` always present and equal to the body length.
//! Printing a canonical message gives the same bytes again, and parsing it
//! gives the same fields (see `tests/roundtrip.rs`).

use std::fmt;

use bytes::Bytes;

use crate::builder::decimal;
use crate::header::HeaderName;
use crate::message::{Message, StartLine};

impl Message {
    /// Appends the canonical form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let body = self.body();
        out.reserve(self.as_bytes().len() + 24);
        match self.start_line() {
            StartLine::Request { .. } => {
                out.extend_from_slice(self.method_str().unwrap_or_default().as_bytes());
                out.push(b' ');
                out.extend_from_slice(self.request_uri_str().unwrap_or_default().as_bytes());
                out.extend_from_slice(b" SIP/2.0\r\n");
            }
            StartLine::Response { status, .. } => {
                out.extend_from_slice(b"SIP/2.0 ");
                out.extend_from_slice(decimal(u64::from(*status), &mut [0; 20]));
                out.push(b' ');
                out.extend_from_slice(self.reason().unwrap_or_default().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        let mut wrote_length = false;
        for (kind, name, value) in self.header_fields() {
            if kind == HeaderName::ContentLength {
                if !wrote_length {
                    out.extend_from_slice(b"Content-Length: ");
                    out.extend_from_slice(decimal(body.len() as u64, &mut [0; 20]));
                    out.extend_from_slice(b"\r\n");
                    wrote_length = true;
                }
                continue;
            }
            let name = kind
                .as_str()
                .unwrap_or_else(|| HeaderName::expand_compact(name));
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !wrote_length {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(decimal(body.len() as u64, &mut [0; 20]));
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
    }

    /// The canonical form as one buffer, ready to send.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.write_to(&mut out);
        Bytes::from(out)
    }
}

/// The canonical form; a body that is not UTF-8 is shown lossily (use
/// [`Message::to_bytes`] to send).
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_canonical_form() {
        let raw = "INVITE sip:b@h SIP/2.0\r\nv: SIP/2.0/UDP h\r\n ;branch=z9hG4bK1\r\n\
                   f: <sip:a@h>;tag=1\r\nt: <sip:b@h>\r\ni: x\r\nCSeq: 1 INVITE\r\n\
                   e: gzip\r\nX-Custom:  y \r\n\r\nbody";
        let m = Message::parse(Bytes::from(raw)).unwrap();
        assert_eq!(
            m.to_string(),
            "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h ;branch=z9hG4bK1\r\n\
             From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\
             Content-Encoding: gzip\r\nX-Custom: y\r\nContent-Length: 4\r\n\r\nbody"
        );
        let again = Message::parse(m.to_bytes()).unwrap();
        assert_eq!(again.to_bytes(), m.to_bytes());
    }
}
