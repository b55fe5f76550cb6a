//! A parsed SIP message: one `Bytes` buffer plus the positions of its parts.
//!
//! Parsing is one pass over the header section. Folded header lines (LWS
//! continuation, RFC 3261 §7.3.1) are the one case that copies: the header
//! section is rewritten once with each fold replaced by a single space, so
//! every value afterwards is a plain slice.

use bytes::{Bytes, BytesMut};

use crate::cseq::CSeq;
use crate::error::ParseError;
use crate::header::HeaderName;
use crate::method::{is_token_char, Method, TOKEN};
use crate::name_addr::NameAddr;
use crate::split::{split_commas, split_commas_all};
use crate::uri::Uri;
use crate::via::Via;

/// Largest message accepted on any transport (RFC 3261 §18.1.1 allows a
/// UDP datagram of 65,535 bytes; anything beyond is refused with 513).
pub const MAX_MESSAGE_SIZE: usize = 65_535;

type Span = (u32, u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine {
    Request {
        method: Method,
        method_span: Span,
        uri: Span,
    },
    Response {
        status: u16,
        reason: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField {
    pub name: HeaderName,
    name_span: Span,
    value_span: Span,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Known {
    via: Option<u16>,
    from: Option<u16>,
    to: Option<u16>,
    call_id: Option<u16>,
    cseq: Option<u16>,
    content_length: Option<u16>,
    content_type: Option<u16>,
    max_forwards: Option<u16>,
}

/// A parsed SIP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    buf: Bytes,
    start: StartLine,
    headers: Vec<HeaderField>,
    body: Span,
    known: Known,
    /// The first entry of the first Via field, found during validation.
    top_via: Span,
    /// CSeq number and method, validated once.
    cseq: (u32, Method, Span),
}

impl Message {
    /// Parses one message from a datagram (or an already framed stream
    /// message). Octets after `Content-Length` are ignored (RFC 3261
    /// §18.3); without `Content-Length` the body runs to the end.
    pub fn parse(buf: Bytes) -> Result<Message, ParseError> {
        if buf.len() > MAX_MESSAGE_SIZE {
            return Err(ParseError::TooLarge(MAX_MESSAGE_SIZE));
        }
        let skip = buf
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let buf = if skip > 0 { buf.slice(skip..) } else { buf };
        let head_end = find_head_end(&buf).ok_or(ParseError::Incomplete)?;
        if std::str::from_utf8(&buf[..head_end]).is_err() {
            return Err(ParseError::NotUtf8);
        }
        match parse_head(buf, head_end)? {
            Parsed::Done(m) => Ok(m),
            Parsed::Folded(buf) => {
                let (buf, head_end) = unfold(&buf, head_end);
                match parse_head(buf, head_end)? {
                    Parsed::Done(m) => Ok(m),
                    Parsed::Folded(_) => Err(ParseError::BadHeader(0)),
                }
            }
        }
    }

    /// Stream framing (TCP/TLS): the length of the first complete message in
    /// `data` (header section + Content-Length body), `Ok(None)` when more
    /// bytes are needed. Leading CRLF keep-alives (RFC 5626 §4.4.1) are
    /// counted into the frame and skipped by [`Message::parse`]; a buffer of
    /// nothing but keep-alives is `Ok(None)` (see [`Message::keepalive_len`]).
    ///
    /// Errors: a header section beyond [`MAX_MESSAGE_SIZE`] is 513, a
    /// declared body that would take the message beyond it is 413
    /// ([`ParseError::BodyTooLarge`]), and a missing or malformed
    /// Content-Length is 400; the connection should then be closed.
    pub fn frame_len(data: &[u8]) -> Result<Option<usize>, ParseError> {
        let skip = Self::keepalive_len(data);
        let data_rest = &data[skip..];
        let Some(head_end) = find_head_end(data_rest) else {
            return if data_rest.len() > MAX_MESSAGE_SIZE {
                Err(ParseError::TooLarge(MAX_MESSAGE_SIZE))
            } else {
                Ok(None)
            };
        };
        if head_end + 4 > MAX_MESSAGE_SIZE {
            return Err(ParseError::TooLarge(MAX_MESSAGE_SIZE));
        }
        let head = &data_rest[..head_end];
        let mut len = None;
        let mut lines = head.split(|&b| b == b'\n').skip(1).peekable();
        while let Some(line) = lines.next() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let name = trim_ws(&line[..colon]);
            if !is_content_length(name) {
                continue;
            }
            // gather folded continuation lines of this one header
            let mut value = trim_ws(&line[colon + 1..]).to_vec();
            while let Some(next) = lines.peek() {
                if !matches!(next.first(), Some(b' ' | b'\t')) {
                    break;
                }
                let next = lines.next().unwrap_or_default();
                let next = next.strip_suffix(b"\r").unwrap_or(next);
                value.extend_from_slice(trim_ws(next));
            }
            if len.is_some() {
                return Err(ParseError::Duplicate("Content-Length"));
            }
            let v = std::str::from_utf8(&value).map_err(|_| ParseError::BadContentLength)?;
            len = Some(parse_content_length(v)?);
        }
        // Stream transports require Content-Length (RFC 3261 §18.3).
        let len = len.ok_or(ParseError::Missing("Content-Length"))?;
        let msg_len = head_end + 4 + len;
        if msg_len > MAX_MESSAGE_SIZE {
            return Err(ParseError::BodyTooLarge(len));
        }
        let total = skip + msg_len;
        Ok((data.len() >= total).then_some(total))
    }

    /// The number of leading CR/LF octets (RFC 5626 keep-alive "pings"
    /// `CRLFCRLF` and "pongs" `CRLF`) at the start of a stream buffer.
    pub fn keepalive_len(data: &[u8]) -> usize {
        data.iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count()
    }

    /// The whole message as received (after unfolding, if it was folded).
    pub fn as_bytes(&self) -> &Bytes {
        &self.buf
    }

    fn text(&self, (a, b): Span) -> &str {
        std::str::from_utf8(&self.buf[a as usize..b as usize]).unwrap_or_default()
    }

    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    pub fn method(&self) -> Option<Method> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            _ => None,
        }
    }

    /// The method token as sent (extension methods included).
    pub fn method_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { method_span, .. } => Some(self.text(method_span)),
            _ => None,
        }
    }

    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.text(uri)),
            _ => None,
        }
    }

    /// The Request-URI, when it is a SIP, SIPS or TEL URI.
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        self.request_uri_str().and_then(Uri::parse)
    }

    /// The Request-URI scheme as sent (`sip`, `SIPS`, `tel`, `im`, ...).
    /// A request whose scheme the engine does not serve gets 416
    /// (RFC 3261 §8.2.2.1).
    pub fn request_uri_scheme(&self) -> Option<&str> {
        self.request_uri_str().and_then(Uri::scheme_of)
    }

    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            _ => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.text(reason)),
            _ => None,
        }
    }

    /// All header fields in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|h| (self.text(h.name_span), self.text(h.value_span)))
    }

    /// All header fields in order, with their classified names.
    pub fn header_fields(&self) -> impl Iterator<Item = (HeaderName, &str, &str)> {
        self.headers
            .iter()
            .map(|h| (h.name, self.text(h.name_span), self.text(h.value_span)))
    }

    /// Values of every field with this (known) name, in order.
    pub fn headers(&self, name: HeaderName) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| self.text(h.value_span))
    }

    /// Values of fields by textual name (case-insensitive; for extension
    /// headers). Compact forms match their long names both ways:
    /// `headers_named("Content-Encoding")` finds `e:` fields.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        let want = HeaderName::expand_compact(name);
        self.headers
            .iter()
            .filter(move |h| {
                HeaderName::expand_compact(self.text(h.name_span)).eq_ignore_ascii_case(want)
            })
            .map(|h| self.text(h.value_span))
    }

    /// First value of a header.
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.headers(name).next()
    }

    /// Every element of a list header, across repeated fields.
    pub fn list(&self, name: HeaderName) -> impl Iterator<Item = &str> {
        self.headers(name).flat_map(split_commas)
    }

    fn known(&self, idx: Option<u16>) -> &str {
        idx.map(|i| self.text(self.headers[i as usize].value_span))
            .unwrap_or_default()
    }

    pub fn call_id(&self) -> &str {
        self.known(self.known.call_id)
    }

    pub fn cseq(&self) -> CSeq<'_> {
        CSeq {
            seq: self.cseq.0,
            method: self.cseq.1,
            method_str: self.text(self.cseq.2),
        }
    }

    /// The text of the topmost Via entry.
    pub fn top_via_str(&self) -> &str {
        self.text(self.top_via)
    }

    pub fn top_via(&self) -> Result<Via<'_>, ParseError> {
        Via::parse(self.top_via_str())
    }

    /// Every Via entry, topmost first, across repeated fields.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ParseError>> {
        self.list(HeaderName::Via).map(Via::parse)
    }

    pub fn from(&self) -> NameAddr<'_> {
        NameAddr::parse(self.known(self.known.from), "From").unwrap_or(EMPTY_ADDR)
    }

    pub fn to(&self) -> NameAddr<'_> {
        NameAddr::parse(self.known(self.known.to), "To").unwrap_or(EMPTY_ADDR)
    }

    pub fn from_str_raw(&self) -> &str {
        self.known(self.known.from)
    }

    pub fn to_str_raw(&self) -> &str {
        self.known(self.known.to)
    }

    /// Max-Forwards (validated to 0..=255; leading zeros allowed).
    pub fn max_forwards(&self) -> Option<u32> {
        self.known
            .max_forwards
            .and_then(|_| self.known(self.known.max_forwards).parse().ok())
    }

    pub fn content_type(&self) -> Option<&str> {
        self.known
            .content_type
            .map(|_| self.known(self.known.content_type))
    }

    /// The declared Content-Length, when present.
    pub fn content_length(&self) -> Option<usize> {
        self.known
            .content_length
            .map(|_| (self.body.1 - self.body.0) as usize)
    }

    /// The first Contact, parsed.
    pub fn contact(&self) -> Option<NameAddr<'_>> {
        self.list(HeaderName::Contact)
            .next()
            .and_then(|c| NameAddr::parse(c, "Contact").ok())
    }

    /// Every Contact, parsed (validated during parsing).
    pub fn contacts(&self) -> impl Iterator<Item = NameAddr<'_>> {
        self.list(HeaderName::Contact)
            .filter_map(|c| NameAddr::parse(c, "Contact").ok())
    }

    pub fn expires(&self) -> Option<u32> {
        self.header(HeaderName::Expires)
            .and_then(|e| e.trim().parse().ok())
    }

    /// The body, sharing the message's buffer.
    pub fn body(&self) -> Bytes {
        self.buf.slice(self.body.0 as usize..self.body.1 as usize)
    }
}

const EMPTY_ADDR: NameAddr<'static> = NameAddr {
    display: None,
    uri_text: "",
    params: crate::params::Params(""),
    star: false,
};

fn find_head_end(buf: &[u8]) -> Option<usize> {
    memchr::memmem::find(buf, b"\r\n\r\n")
}

fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn is_content_length(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"l") || name.eq_ignore_ascii_case(b"content-length")
}

/// Replaces every CRLF followed by whitespace in the header section (after
/// the start line) with a single space and returns the new buffer and
/// header end.
fn unfold(buf: &Bytes, head_end: usize) -> (Bytes, usize) {
    let head = &buf[..head_end];
    let mut out = BytesMut::with_capacity(buf.len());
    let first = memchr::memmem::find(head, b"\r\n").map_or(head.len(), |i| i + 2);
    out.extend_from_slice(&head[..first]);
    let mut i = first;
    while i < head.len() {
        if head[i] == b'\r'
            && head.get(i + 1) == Some(&b'\n')
            && matches!(head.get(i + 2), Some(b' ' | b'\t'))
            && i > first
        {
            // drop trailing whitespace already written, then one space
            while out.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
                out.truncate(out.len() - 1);
            }
            out.extend_from_slice(b" ");
            i += 2;
            while i < head.len() && (head[i] == b' ' || head[i] == b'\t') {
                i += 1;
            }
        } else {
            out.extend_from_slice(&head[i..i + 1]);
            i += 1;
        }
    }
    let new_end = out.len();
    out.extend_from_slice(&buf[head_end..]);
    (out.freeze(), new_end)
}

fn parse_content_length(v: &str) -> Result<usize, ParseError> {
    if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadContentLength);
    }
    v.parse().map_err(|_| ParseError::BadContentLength)
}

fn span(base: usize, s: &str, whole: &str) -> Span {
    let start = s.as_ptr() as usize - whole.as_ptr() as usize + base;
    (start as u32, (start + s.len()) as u32)
}

enum Parsed {
    Done(Message),
    /// The header section has folded lines; unfold and parse again.
    Folded(Bytes),
}

fn parse_head(buf: Bytes, head_end: usize) -> Result<Parsed, ParseError> {
    // Safe: the caller checked the header section is UTF-8; unfolding only
    // removes ASCII.
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| ParseError::NotUtf8)?;
    let hb = head.as_bytes();
    let first_end = memchr::memchr(b'\n', hb).unwrap_or(hb.len() + 1);
    let first_end = if first_end <= hb.len() {
        if first_end == 0 || hb[first_end - 1] != b'\r' {
            return Err(ParseError::BadStartLine);
        }
        first_end - 1
    } else {
        hb.len()
    };
    let start = parse_start_line(&head[..first_end], head)?;
    let mut headers = Vec::with_capacity(24);
    let mut known = Known::default();
    let mut pos = first_end + 2;
    let mut line_no = 2;
    while pos <= hb.len() {
        let rest = &hb[pos..];
        let (line_end, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => {
                if i == 0 || rest[i - 1] != b'\r' {
                    return Err(ParseError::BadHeader(line_no));
                }
                (pos + i - 1, pos + i + 1)
            }
            None => (hb.len(), hb.len() + 2),
        };
        if next < hb.len() && matches!(hb[next], b' ' | b'\t') {
            return Ok(Parsed::Folded(buf));
        }
        let line = &hb[pos..line_end];
        let colon = memchr::memchr(b':', line).ok_or(ParseError::BadHeader(line_no))?;
        let mut name_end = colon;
        while name_end > 0 && matches!(line[name_end - 1], b' ' | b'\t') {
            name_end -= 1;
        }
        let name = &line[..name_end];
        if name.is_empty() || !name.iter().all(|&b| TOKEN[b as usize]) {
            return Err(ParseError::BadHeader(line_no));
        }
        let mut vs = colon + 1;
        while vs < line.len() && matches!(line[vs], b' ' | b'\t') {
            vs += 1;
        }
        let mut ve = line.len();
        while ve > vs && matches!(line[ve - 1], b' ' | b'\t') {
            ve -= 1;
        }
        // Safe slicing: name is ASCII (token) and the trimmed bytes are ASCII.
        let kind = HeaderName::parse(&head[pos..pos + name_end]);
        let idx = headers.len() as u16;
        let slot = match kind {
            HeaderName::Via => {
                known.via.get_or_insert(idx);
                None
            }
            HeaderName::From => Some((&mut known.from, "From")),
            HeaderName::To => Some((&mut known.to, "To")),
            HeaderName::CallId => Some((&mut known.call_id, "Call-ID")),
            HeaderName::CSeq => Some((&mut known.cseq, "CSeq")),
            HeaderName::ContentLength => Some((&mut known.content_length, "Content-Length")),
            HeaderName::ContentType => Some((&mut known.content_type, "Content-Type")),
            HeaderName::MaxForwards => Some((&mut known.max_forwards, "Max-Forwards")),
            _ => None,
        };
        if let Some((slot, label)) = slot {
            if slot.is_some() {
                return Err(ParseError::Duplicate(label));
            }
            *slot = Some(idx);
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ParseError::TooLarge(MAX_MESSAGE_SIZE));
        }
        headers.push(HeaderField {
            name: kind,
            name_span: (pos as u32, (pos + name_end) as u32),
            value_span: ((pos + vs) as u32, (pos + ve) as u32),
        });
        pos = next;
        line_no += 1;
    }
    let body_start = head_end + 4;
    let available = buf.len() - body_start;
    let body_len = match known.content_length {
        Some(i) => {
            let (a, b) = headers[i as usize].value_span;
            let len = parse_content_length(&head[a as usize..b as usize])?;
            if len > available {
                return Err(ParseError::BadContentLength);
            }
            len
        }
        None => available,
    };
    let mut msg = Message {
        buf,
        start,
        headers,
        body: (body_start as u32, (body_start + body_len) as u32),
        known,
        top_via: (0, 0),
        cseq: (0, Method::Other, (0, 0)),
    };
    validate(&mut msg)?;
    Ok(Parsed::Done(msg))
}

/// Most header fields one message may carry.
const MAX_HEADERS: usize = 1024;

fn parse_start_line(line: &str, head: &str) -> Result<StartLine, ParseError> {
    // The SIP-Version literal is case-insensitive (RFC 3261 §25.1).
    if line.len() >= 4 && line.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
        let rest = &line[4..];
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let (version, rest) = rest.split_once(' ').ok_or(ParseError::BadStartLine)?;
        if version != "2.0" {
            return Err(ParseError::BadVersion);
        }
        // No reason at all ("SIP/2.0 200") is read as an empty one; the
        // empty slice must still point into `head` for its span.
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, &rest[rest.len()..]));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::BadStatus);
        }
        let status: u16 = code.parse().map_err(|_| ParseError::BadStatus)?;
        if !(100..=699).contains(&status) {
            return Err(ParseError::BadStatus);
        }
        if reason.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(ParseError::BadStartLine);
        }
        return Ok(StartLine::Response {
            status,
            reason: span(0, reason, head),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version; exactly one SP each.
    let lb = line.as_bytes();
    let sp1 = memchr::memchr(b' ', lb).ok_or(ParseError::BadStartLine)?;
    let sp2 = memchr::memchr(b' ', &lb[sp1 + 1..])
        .map(|i| sp1 + 1 + i)
        .ok_or(ParseError::BadStartLine)?;
    let (method, uri, version) = (&line[..sp1], &line[sp1 + 1..sp2], &line[sp2 + 1..]);
    if method.is_empty() || !method.bytes().all(is_token_char) {
        return Err(ParseError::BadStartLine);
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(
            if version.len() > 4
                && version.is_char_boundary(4)
                && version[..4].eq_ignore_ascii_case("SIP/")
                && !version.contains(' ')
            {
                ParseError::BadVersion
            } else {
                ParseError::BadStartLine
            },
        );
    }
    validate_request_uri(uri)?;
    Ok(StartLine::Request {
        method: Method::from_token(method),
        method_span: span(0, method, head),
        uri: span(0, uri, head),
    })
}

/// Any absolute URI is syntactically acceptable (an unknown scheme is an
/// application-layer 416); SIP URIs must parse and may not carry headers.
fn validate_request_uri(uri: &str) -> Result<(), ParseError> {
    let scheme = Uri::scheme_of(uri).ok_or(ParseError::BadRequestUri)?;
    if uri
        .bytes()
        .any(|b| b <= b' ' || b == b'<' || b == b'>' || b == 0x7f)
    {
        return Err(ParseError::BadRequestUri);
    }
    if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        let parsed = Uri::parse(uri).ok_or(ParseError::BadRequestUri)?;
        if parsed.headers.is_some() {
            return Err(ParseError::BadRequestUri);
        }
    } else if scheme.eq_ignore_ascii_case("tel") {
        Uri::parse(uri).ok_or(ParseError::BadRequestUri)?;
    }
    Ok(())
}

/// Checks a name-addr / addr-spec header value and its parameters.
fn check_addr<'a>(value: &'a str, label: &'static str) -> Result<NameAddr<'a>, ParseError> {
    let addr = NameAddr::parse(value, label)?;
    if !addr.star && !addr.params.0.is_empty() && !addr.params.is_valid() {
        return Err(ParseError::BadHeaderValue(label));
    }
    if !addr.star && Uri::scheme_of(addr.uri_text).is_none() {
        return Err(ParseError::BadHeaderValue(label));
    }
    Ok(addr)
}

/// The checks every message must pass before the stack acts on it
/// (RFC 3261 §8.1.1, §8.2.2, §16.3; RFC 4475 §3.1.2).
fn validate(msg: &mut Message) -> Result<(), ParseError> {
    let k = msg.known;
    if k.via.is_none() {
        return Err(ParseError::Missing("Via"));
    }
    if k.from.is_none() {
        return Err(ParseError::Missing("From"));
    }
    if k.to.is_none() {
        return Err(ParseError::Missing("To"));
    }
    let call_id = msg.call_id();
    if k.call_id.is_none() || call_id.is_empty() {
        return Err(ParseError::Missing("Call-ID"));
    }
    if call_id.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(ParseError::BadHeaderValue("Call-ID"));
    }
    if k.cseq.is_none() {
        return Err(ParseError::Missing("CSeq"));
    }
    let cseq_text = msg.known(k.cseq);
    let cseq = CSeq::parse(cseq_text)?;
    let method_span = {
        let base = msg.headers[k.cseq.unwrap_or(0) as usize].value_span.0 as usize;
        let off = cseq.method_str.as_ptr() as usize - cseq_text.as_ptr() as usize;
        (
            (base + off) as u32,
            (base + off + cseq.method_str.len()) as u32,
        )
    };
    if let Some(method) = msg.method_str() {
        if cseq.method_str != method {
            return Err(ParseError::CSeqMismatch);
        }
    }
    let cseq_fields = (cseq.seq, cseq.method);

    let mut top_via = None;
    for h in msg.headers.iter().filter(|h| h.name == HeaderName::Via) {
        let value = msg.text(h.value_span);
        for item in split_commas_all(value) {
            let via = Via::parse(item)?;
            if !via.params.0.is_empty() && !via.params.is_valid() {
                return Err(ParseError::BadHeaderValue("Via"));
            }
            if !crate::method::is_token(via.transport) {
                return Err(ParseError::BadHeaderValue("Via"));
            }
            if top_via.is_none() {
                let off = item.as_ptr() as usize - value.as_ptr() as usize;
                let a = h.value_span.0 as usize + off;
                top_via = Some((a as u32, (a + item.len()) as u32));
            }
        }
    }
    check_addr(msg.known(k.from), "From")?;
    check_addr(msg.known(k.to), "To")?;
    if let Some(i) = k.max_forwards {
        let v = msg.known(Some(i));
        if v.is_empty()
            || v.len() > 10
            || !v.bytes().all(|b| b.is_ascii_digit())
            || v.parse::<u64>().unwrap_or(256) > 255
        {
            return Err(ParseError::BadHeaderValue("Max-Forwards"));
        }
    }
    for h in &msg.headers {
        let label = match h.name {
            HeaderName::Contact => "Contact",
            HeaderName::Route => "Route",
            HeaderName::RecordRoute => "Record-Route",
            _ => continue,
        };
        let value = msg.text(h.value_span);
        let mut n = 0;
        let mut star = false;
        for item in split_commas_all(value) {
            n += 1;
            star |= check_addr(item, label)?.star;
        }
        if star && (n > 1 || label != "Contact") {
            return Err(ParseError::BadHeaderValue(label));
        }
    }
    msg.top_via = top_via.ok_or(ParseError::BadHeaderValue("Via"))?;
    msg.cseq = (cseq_fields.0, cseq_fields.1, method_span);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:5000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n\
v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-0, SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK-00\r\n\
From: \"Carrier\" <sip:+15551234@127.0.0.1>;tag=a1\r\n\
To: <sip:5000@127.0.0.1>\r\n\
Call-ID: call-1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:carrier@127.0.0.1:5070>\r\n\
X-Custom: folded\r\n  value\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\nEXTRA";

    #[test]
    fn parses_a_request_with_folding_and_compact_headers() {
        let m = Message::parse(Bytes::from(INVITE)).unwrap();
        assert_eq!(m.method(), Some(Method::Invite));
        assert_eq!(m.request_uri().unwrap().user, Some("5000"));
        assert_eq!(m.call_id(), "call-1@127.0.0.1");
        assert_eq!(m.cseq().seq, 1);
        assert_eq!(m.list(HeaderName::Via).count(), 3);
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK-1"));
        assert_eq!(m.from().tag(), Some("a1"));
        assert_eq!(m.to().tag(), None);
        assert_eq!(m.headers_named("x-custom").next(), Some("folded value"));
        assert_eq!(&m.body()[..], b"v=0\n");
        assert_eq!(m.max_forwards(), Some(70));
    }

    #[test]
    fn parses_a_response_with_empty_reason() {
        let raw = "SIP/2.0 180 \r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: x\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n";
        let m = Message::parse(Bytes::from(raw)).unwrap();
        assert_eq!(m.status(), Some(180));
        assert_eq!(m.reason(), Some(""));
        assert_eq!(m.to().tag(), Some("2"));
    }

    #[test]
    fn rejects_structural_faults() {
        let base = INVITE.replace("\r\nContent-Length: 4", "\r\nContent-Length: 400");
        assert_eq!(
            Message::parse(Bytes::from(base)),
            Err(ParseError::BadContentLength)
        );
        let twice = INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 INVITE\r\nCall-ID: again");
        assert_eq!(
            Message::parse(Bytes::from(twice)),
            Err(ParseError::Duplicate("Call-ID"))
        );
        let mismatch = INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 ACK");
        assert_eq!(
            Message::parse(Bytes::from(mismatch)),
            Err(ParseError::CSeqMismatch)
        );
        let version = INVITE.replace("SIP/2.0\r\nVia", "SIP/7.0\r\nVia");
        assert_eq!(
            Message::parse(Bytes::from(version)).unwrap_err().status(),
            505
        );
        let two_spaces = INVITE.replace("INVITE sip", "INVITE  sip");
        assert_eq!(
            Message::parse(Bytes::from(two_spaces)),
            Err(ParseError::BadStartLine)
        );
        assert_eq!(
            Message::parse(Bytes::from_static(b"\x00\x01garbage")),
            Err(ParseError::Incomplete)
        );
    }

    #[test]
    fn frames_stream_messages() {
        let one = INVITE.replace("EXTRA", "");
        let mut two = format!("\r\n\r\n{one}{one}");
        assert_eq!(
            Message::frame_len(two.as_bytes()).unwrap(),
            Some(4 + one.len())
        );
        two.truncate(10);
        assert_eq!(Message::frame_len(two.as_bytes()).unwrap(), None);
    }
}
