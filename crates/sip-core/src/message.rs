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
use crate::params::skip_ws;
use crate::split::{split_commas, split_commas_all};
use crate::uri::Uri;
use crate::via::Via;

/// Largest message accepted on any transport (RFC 3261 §18.1.1 allows a
/// UDP datagram of 65,535 bytes; anything beyond is refused with 513).
pub const MAX_MESSAGE_SIZE: usize = 65_535;

type Span = (u32, u32);

/// Where a validated Via entry's parts lie in the buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ViaSpans {
    transport: Span,
    host: Span,
    port: Option<u16>,
    params: Span,
    /// The branch value, when there is one.
    branch: Option<Span>,
}

/// Where a validated name-addr's parts lie in the buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct AddrSpans {
    display: Option<Span>,
    uri: Span,
    params: Span,
    /// The tag value, when there is one.
    tag: Option<Span>,
}

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
    /// Its parts, so reading it does not parse it again.
    top_via_parts: ViaSpans,
    /// From and To, split during validation.
    from_addr: AddrSpans,
    to_addr: AddrSpans,
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
        match parse_head(buf)? {
            Parsed::Done(m) => Ok(m),
            Parsed::Folded(buf) => {
                let head_end = find_head_end(&buf).ok_or(ParseError::Incomplete)?;
                let (buf, _) = unfold(&buf, head_end);
                match parse_head(buf)? {
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

    /// The topmost Via entry, parsed (it was validated with the message).
    pub fn top_via(&self) -> Result<Via<'_>, ParseError> {
        let v = &self.top_via_parts;
        let (whole, sub) = self.sub_text(self.top_via);
        Ok(Via {
            transport: sub(whole, v.transport),
            host: sub(whole, v.host),
            port: v.port,
            params: crate::params::Params(sub(whole, v.params)),
            branch: Some(v.branch.map(|b| sub(whole, b))),
        })
    }

    /// The text of `outer` (one UTF-8 check) and a way to cut spans inside it.
    #[allow(clippy::type_complexity)]
    fn sub_text(&self, outer: Span) -> (&str, impl Fn(&str, Span) -> &str) {
        let base = outer.0;
        (self.text(outer), move |whole: &str, (a, b): Span| {
            match (a.checked_sub(base), b.checked_sub(base)) {
                (Some(a), Some(b)) => whole.get(a as usize..b as usize).unwrap_or_default(),
                _ => "",
            }
        })
    }

    /// Every Via entry, topmost first, across repeated fields.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ParseError>> {
        self.list(HeaderName::Via).map(Via::parse)
    }

    pub fn from(&self) -> NameAddr<'_> {
        self.addr(self.known.from, &self.from_addr)
    }

    pub fn to(&self) -> NameAddr<'_> {
        self.addr(self.known.to, &self.to_addr)
    }

    fn addr(&self, idx: Option<u16>, a: &AddrSpans) -> NameAddr<'_> {
        let outer = idx.map_or((0, 0), |i| self.headers[i as usize].value_span);
        let (whole, sub) = self.sub_text(outer);
        NameAddr {
            display: a.display.map(|d| sub(whole, d)),
            uri_text: sub(whole, a.uri),
            params: crate::params::Params(sub(whole, a.params)),
            star: false,
            tag: Some(a.tag.map(|t| sub(whole, t))),
        }
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

/// Finds the LF that ends each header line: `memchr`'s vector searcher,
/// set up once per message rather than once per (short) line.
struct LfFinder {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl LfFinder {
    fn new() -> LfFinder {
        LfFinder {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(b'\n'),
        }
    }

    /// The first LF at or after `i`.
    #[inline]
    fn find(&self, b: &[u8], i: usize) -> Option<usize> {
        let hay = b.get(i..)?;
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = &self.avx2 {
            return one.find(hay).map(|k| i + k);
        }
        memchr::memchr(b'\n', hay).map(|k| i + k)
    }
}

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

// `Done` is the common case; boxing it would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
enum Parsed {
    Done(Message),
    /// The header section has folded lines; unfold and parse again.
    Folded(Bytes),
}

fn parse_head(buf: Bytes) -> Result<Parsed, ParseError> {
    let b: &[u8] = &buf;
    // A bare LF is a malformed line, unless the message never reaches a
    // CRLFCRLF at all, which is an incomplete one.
    let bad = |e: ParseError| {
        if find_head_end(b).is_none() {
            ParseError::Incomplete
        } else {
            e
        }
    };
    // Each line is read once: its name as a token, then the rest to its LF
    // (the blank line that closes the header section is one more line).
    let lf = LfFinder::new();
    let first_nl = lf.find(b, 0).ok_or(ParseError::Incomplete)?;
    if first_nl == 0 || b[first_nl - 1] != b'\r' {
        return Err(bad(ParseError::BadStartLine));
    }
    let first_end = first_nl - 1;
    // about one header field per 48 bytes of message: one allocation for
    // typical messages, no regrowth for long ones
    let mut headers = Vec::with_capacity((b.len() / 48).clamp(16, 256));
    let mut known = Known::default();
    let mut pos = first_nl + 1;
    let mut line_no = 2;
    let head_end = loop {
        // name: a token, checked while it is scanned (CR and LF are not
        // token characters, so the scan stops inside the line)
        let name_end = crate::params::scan(b, pos, &TOKEN);
        let nl = lf.find(b, name_end).ok_or(ParseError::Incomplete)?;
        if nl <= pos || b[nl - 1] != b'\r' {
            return Err(bad(ParseError::BadHeader(line_no)));
        }
        let line_end = nl - 1;
        if line_end == pos {
            break pos - 2;
        }
        if matches!(b.get(nl + 1), Some(b' ' | b'\t')) {
            return Ok(Parsed::Folded(buf));
        }
        // b[line_end] is the CR, where every forward scan below stops
        let colon = skip_ws(b, name_end);
        if name_end == pos || b.get(colon) != Some(&b':') {
            return Err(ParseError::BadHeader(line_no));
        }
        let vs = skip_ws(b, colon + 1);
        let mut ve = line_end;
        while ve > vs && matches!(b[ve - 1], b' ' | b'\t') {
            ve -= 1;
        }
        let kind = HeaderName::classify(&b[pos..name_end]);
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
            name_span: (pos as u32, name_end as u32),
            value_span: (vs as u32, ve as u32),
        });
        pos = nl + 1;
        line_no += 1;
    };
    // The one UTF-8 check; every span above ends at an ASCII byte.
    let head = std::str::from_utf8(&b[..head_end]).map_err(|_| ParseError::NotUtf8)?;
    let start = parse_start_line(&head[..first_end.min(head_end)], head)?;
    let body_start = head_end + 4;
    let available = b.len() - body_start;
    let body_len = match known.content_length {
        Some(i) => {
            let (x, y) = headers[i as usize].value_span;
            let len = parse_content_length(&head[x as usize..y as usize])?;
            if len > available {
                return Err(ParseError::BadContentLength);
            }
            len
        }
        None => available,
    };
    let v = validate(head, &start, &headers, &known)?;
    Ok(Parsed::Done(Message {
        start,
        headers,
        body: (body_start as u32, (body_start + body_len) as u32),
        known,
        top_via: v.top_via,
        top_via_parts: v.top_via_parts,
        from_addr: v.from_addr,
        to_addr: v.to_addr,
        cseq: v.cseq,
        buf,
    }))
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
    let sp1 = crate::split::find_byte(b' ', lb).ok_or(ParseError::BadStartLine)?;
    let sp2 = crate::split::find_byte(b' ', &lb[sp1 + 1..])
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
    // SIP, SIPS and TEL: Uri::parse checks the scheme and refuses controls,
    // spaces, '<', '>' and '"' in one pass.
    if let Some((parsed, del)) = Uri::parse_checked(uri) {
        if parsed.scheme != crate::uri::Scheme::Tel && parsed.headers.is_some() || del {
            return Err(ParseError::BadRequestUri);
        }
        return Ok(());
    }
    let scheme = Uri::scheme_of(uri).ok_or(ParseError::BadRequestUri)?;
    if ["sip", "sips", "tel"]
        .iter()
        .any(|k| scheme.eq_ignore_ascii_case(k))
        || uri
            .bytes()
            .any(|b| b <= b' ' || b == b'<' || b == b'>' || b == 0x7f)
    {
        return Err(ParseError::BadRequestUri);
    }
    Ok(())
}

/// Checks a name-addr / addr-spec header value and its parameters.
/// The strict path: [`NameAddr::parse`], then the parameters and the
/// scheme; the tag is looked up on the way.
fn check_addr<'a>(value: &'a str, label: &'static str) -> Result<NameAddr<'a>, ParseError> {
    let mut addr = NameAddr::parse(value, label)?;
    if addr.star {
        return Ok(addr);
    }
    let tag = if addr.params.0.is_empty() {
        None
    } else {
        addr.params
            .check_find(b"tag")
            .ok_or(ParseError::BadHeaderValue(label))?
    };
    addr.tag = Some(tag.flatten());
    if Uri::scheme_of(addr.uri_text).is_none() {
        return Err(ParseError::BadHeaderValue(label));
    }
    Ok(addr)
}

/// One From or To value: the fast path, else the strict one.
fn check_one_addr<'a>(value: &'a str, label: &'static str) -> Result<NameAddr<'a>, ParseError> {
    match NameAddr::scan_one(value, 0, false) {
        Some((addr, _)) => Ok(addr),
        None => check_addr(value, label),
    }
}

/// Every element of a Contact, Route or Record-Route value is valid, in
/// the fast path's common shape (false: run the strict path).
fn addr_list_fast(value: &str) -> bool {
    let b = value.as_bytes();
    let mut i = 0;
    loop {
        let Some((_, stop)) = NameAddr::scan_one(value, i, true) else {
            return false;
        };
        if stop == b.len() {
            return true;
        }
        i = crate::params::skip_ws(b, stop + 1);
        if i == b.len() {
            return false;
        }
    }
}

/// The strict path for one Via field value: every entry is valid. Returns
/// the first entry, its branch looked up (none in an empty value).
fn check_vias(value: &str) -> Result<Option<(&str, Via<'_>)>, ParseError> {
    const BAD: ParseError = ParseError::BadHeaderValue("Via");
    let mut first = None;
    for item in split_commas_all(value) {
        let mut via = Via::parse(item)?;
        let branch = if via.params.0.is_empty() {
            None
        } else {
            via.params.check_find(b"branch").ok_or(BAD)?
        };
        if first.is_none() {
            via.branch = Some(branch.flatten());
            first = Some((item, via));
        }
    }
    Ok(first)
}

/// What validation learns and the accessors reuse.
struct Validated {
    top_via: Span,
    top_via_parts: ViaSpans,
    from_addr: AddrSpans,
    to_addr: AddrSpans,
    cseq: (u32, Method, Span),
}

/// The span of `s`, a slice of `head` (or an empty literal: empty span).
fn span_in(head: &str, s: &str) -> Span {
    match (s.as_ptr() as usize).checked_sub(head.as_ptr() as usize) {
        Some(start) if start + s.len() <= head.len() => (start as u32, (start + s.len()) as u32),
        _ => (0, 0),
    }
}

/// The checks every message must pass before the stack acts on it
/// (RFC 3261 §8.1.1, §8.2.2, §16.3; RFC 4475 §3.1.2).
fn validate(
    head: &str,
    start: &StartLine,
    headers: &[HeaderField],
    k: &Known,
) -> Result<Validated, ParseError> {
    let text = |(a, b): Span| &head[a as usize..b as usize];
    let value = |i: Option<u16>| i.map(|i| text(headers[i as usize].value_span));
    let (Some(_), Some(from), Some(to), Some(call_id), Some(cseq_text)) = (
        k.via,
        value(k.from),
        value(k.to),
        value(k.call_id),
        value(k.cseq),
    ) else {
        let missing = [
            (k.via, "Via"),
            (k.from, "From"),
            (k.to, "To"),
            (k.call_id, "Call-ID"),
            (k.cseq, "CSeq"),
        ];
        let name = missing
            .iter()
            .find(|(i, _)| i.is_none())
            .map_or("", |m| m.1);
        return Err(ParseError::Missing(name));
    };
    if call_id.is_empty() {
        return Err(ParseError::Missing("Call-ID"));
    }
    if call_id.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(ParseError::BadHeaderValue("Call-ID"));
    }
    let cseq = CSeq::parse(cseq_text)?;
    if let StartLine::Request { method_span, .. } = start {
        if cseq.method_str != text(*method_span) {
            return Err(ParseError::CSeqMismatch);
        }
    }

    let mut top_via = None;
    let mut top_via_parts = ViaSpans::default();
    for h in headers.iter().filter(|h| h.name == HeaderName::Via) {
        let value = text(h.value_span);
        let first = match Via::scan_field(value, top_via.is_none()) {
            Some(first) => first,
            None => check_vias(value)?,
        };
        if let (None, Some((item, via))) = (top_via, first) {
            top_via = Some(span_in(head, item));
            top_via_parts = ViaSpans {
                transport: span_in(head, via.transport),
                host: span_in(head, via.host),
                port: via.port,
                params: span_in(head, via.params.0),
                branch: via.branch().map(|b| span_in(head, b)),
            };
        }
    }
    let addr_spans = |a: NameAddr<'_>| AddrSpans {
        display: a.display.map(|d| span_in(head, d)),
        uri: span_in(head, a.uri_text),
        params: span_in(head, a.params.0),
        tag: a.tag().map(|t| span_in(head, t)),
    };
    let from = check_one_addr(from, "From")?;
    let to = check_one_addr(to, "To")?;
    if from.star || to.star {
        return Err(ParseError::BadHeaderValue(if from.star {
            "From"
        } else {
            "To"
        }));
    }
    if let Some(v) = value(k.max_forwards) {
        if v.is_empty()
            || v.len() > 10
            || !v.bytes().all(|b| b.is_ascii_digit())
            || v.parse::<u64>().unwrap_or(256) > 255
        {
            return Err(ParseError::BadHeaderValue("Max-Forwards"));
        }
    }
    for h in headers {
        let label = match h.name {
            HeaderName::Contact => "Contact",
            HeaderName::Route => "Route",
            HeaderName::RecordRoute => "Record-Route",
            _ => continue,
        };
        let value = text(h.value_span);
        if addr_list_fast(value) {
            continue;
        }
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
    Ok(Validated {
        top_via: top_via.ok_or(ParseError::BadHeaderValue("Via"))?,
        top_via_parts,
        from_addr: addr_spans(from),
        to_addr: addr_spans(to),
        cseq: (cseq.seq, cseq.method, span_in(head, cseq.method_str)),
    })
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
