//! Multipart bodies (RFC 2046 §5.1, as SIP uses them: RFC 3261 §7.4,
//! RFC 5621): split a body into its parts by boundary, zero-copy.
//!
//! ```
//! use bytes::Bytes;
//! let body = Bytes::from_static(
//!     b"--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b1\r\n\
//!       Content-Type: application/isup\r\n\r\n\x01\x02\r\n--b1--\r\n");
//! let b = sip_core::multipart::boundary("multipart/mixed; boundary=\"b1\"").unwrap();
//! let parts = sip_core::multipart::split(&body, b).unwrap();
//! assert_eq!(parts[0].content_type(), Some("application/sdp"));
//! assert_eq!(&parts[1].body[..], b"\x01\x02");
//! ```

use bytes::Bytes;

use crate::error::ParseError;
use crate::params::Params;

/// One body part: its header section (text) and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The part's header section without the blank line; may be empty.
    head: Bytes,
    /// The part's content, sharing the message buffer.
    pub body: Bytes,
}

impl Part {
    /// The header section as text (checked UTF-8 by [`split`]).
    pub fn head(&self) -> &str {
        std::str::from_utf8(&self.head).unwrap_or_default()
    }

    /// `(name, value)` of each header line of the part (folding is undone
    /// by trimming; continuation lines join their header).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.head()
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim(), v.trim()))
    }

    /// First value of a part header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The part's Content-Type (compact `c` accepted); RFC 2046 defaults an
    /// absent one to `text/plain`, which the caller may assume.
    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type").or_else(|| self.header("c"))
    }
}

/// The `boundary` parameter of a `multipart/*` Content-Type, unquoted.
pub fn boundary(content_type: &str) -> Option<&str> {
    let (media, params) = content_type.split_once(';')?;
    if !media.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    let b = Params(params).value("boundary")?;
    (!b.is_empty() && b.len() <= 70).then_some(b)
}

/// Splits a multipart body into its parts. The preamble and epilogue are
/// dropped; a body without a closing delimiter, or a part without its blank
/// line, is malformed.
pub fn split(body: &Bytes, boundary: &str) -> Result<Vec<Part>, ParseError> {
    const BAD: ParseError = ParseError::BadMultipart;
    let mut delim = Vec::with_capacity(boundary.len() + 4);
    delim.extend_from_slice(b"\r\n--");
    delim.extend_from_slice(boundary.as_bytes());
    let finder = memchr::memmem::Finder::new(&delim);
    // The first delimiter may open the body without a preceding CRLF.
    let mut pos = if body.starts_with(&delim[2..]) {
        delim.len() - 2
    } else {
        finder.find(body).ok_or(BAD)? + delim.len()
    };
    let mut parts = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        // transport padding, then CRLF
        let pad = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if !rest[pad..].starts_with(b"\r\n") {
            return Err(BAD);
        }
        let start = pos + pad + 2;
        let end = start + finder.find(&body[start..]).ok_or(BAD)?;
        let part = &body[start..end];
        let (head, content) = if part.starts_with(b"\r\n") {
            (0..0, start + 2..end)
        } else {
            let h = memchr::memmem::find(part, b"\r\n\r\n").ok_or(BAD)?;
            (start..start + h, start + h + 4..end)
        };
        if std::str::from_utf8(&body[head.clone()]).is_err() {
            return Err(BAD);
        }
        parts.push(Part {
            head: body.slice(head),
            body: body.slice(content),
        });
        pos = end + delim.len();
        if parts.len() > 64 {
            return Err(BAD);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_boundary_parameter() {
        assert_eq!(
            boundary("multipart/mixed;boundary=7a9cbec02ceef655"),
            Some("7a9cbec02ceef655")
        );
        assert_eq!(
            boundary("Multipart/Related ; type=x ; BOUNDARY=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("application/sdp"), None);
        assert_eq!(boundary("multipart/mixed"), None);
    }

    #[test]
    fn splits_with_preamble_padding_and_headerless_parts() {
        let body = Bytes::from_static(
            b"preamble\r\n--xx  \r\n\r\nno headers\r\n--xx\r\nc: text/plain\r\n\r\nhi\r\n--xx--\r\nepilogue",
        );
        let parts = split(&body, "xx").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].head(), "");
        assert_eq!(&parts[0].body[..], b"no headers");
        assert_eq!(parts[1].content_type(), Some("text/plain"));
        assert_eq!(&parts[1].body[..], b"hi");
    }

    #[test]
    fn rejects_unterminated_bodies() {
        let body = Bytes::from_static(b"--xx\r\nc: a/b\r\n\r\nhi");
        assert_eq!(split(&body, "xx"), Err(ParseError::BadMultipart));
        let body = Bytes::from_static(b"nothing here");
        assert_eq!(split(&body, "xx"), Err(ParseError::BadMultipart));
        let body = Bytes::from_static(b"--xx\r\nno blank line\r\n--xx--");
        assert_eq!(split(&body, "xx"), Err(ParseError::BadMultipart));
    }
}
