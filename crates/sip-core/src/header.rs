//! Header names: the ones the stack interprets, with their compact forms
//! (RFC 3261 §7.3.3, §20), matched case-insensitively.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    MaxForwards,
    ContentLength,
    ContentType,
    Expires,
    Route,
    RecordRoute,
    Authorization,
    ProxyAuthorization,
    WwwAuthenticate,
    ProxyAuthenticate,
    Require,
    ProxyRequire,
    Supported,
    Allow,
    Accept,
    UserAgent,
    Server,
    RetryAfter,
    Subject,
    ReferTo,
    Event,
    SessionExpires,
    /// Any other header; its name is kept verbatim.
    Other,
}

impl HeaderName {
    pub fn parse(name: &str) -> HeaderName {
        // `classify` assumes token characters; '\r' is the one non-token
        // byte it could confuse (with '-').
        match HeaderName::classify(name.as_bytes()) {
            HeaderName::Other => HeaderName::Other,
            _ if name.as_bytes().contains(&b'\r') => HeaderName::Other,
            h => h,
        }
    }

    /// Classifies a header name made of token characters (the parser
    /// checked them): by length, then one word-wise case-insensitive compare.
    #[inline]
    pub(crate) fn classify(name: &[u8]) -> HeaderName {
        use HeaderName as H;
        let Some(&first) = name.first() else {
            return H::Other;
        };
        let first = first | 0x20;
        let (text, h): (&[u8], HeaderName) = match (name.len(), first) {
            (1, _) => {
                return match first {
                    b'v' => H::Via,
                    b'f' => H::From,
                    b't' => H::To,
                    b'i' => H::CallId,
                    b'm' => H::Contact,
                    b'l' => H::ContentLength,
                    b'c' => H::ContentType,
                    b's' => H::Subject,
                    b'k' => H::Supported,
                    b'r' => H::ReferTo,
                    b'o' => H::Event,
                    b'x' => H::SessionExpires,
                    _ => H::Other,
                }
            }
            (2, b't') => (b"to", H::To),
            (3, b'v') => (b"via", H::Via),
            (4, b'f') => (b"from", H::From),
            (4, b'c') => (b"cseq", H::CSeq),
            (5, b'r') => (b"route", H::Route),
            (5, b'a') => (b"allow", H::Allow),
            (5, b'e') => (b"event", H::Event),
            (6, b'a') => (b"accept", H::Accept),
            (6, b's') => (b"server", H::Server),
            (7, b'c') if name[1] | 0x20 == b'a' => (b"call-id", H::CallId),
            (7, b'c') => (b"contact", H::Contact),
            (7, b'e') => (b"expires", H::Expires),
            (7, b'r') => (b"require", H::Require),
            (7, b's') => (b"subject", H::Subject),
            (8, b'r') => (b"refer-to", H::ReferTo),
            (9, b's') => (b"supported", H::Supported),
            (10, b'u') => (b"user-agent", H::UserAgent),
            (11, b'r') => (b"retry-after", H::RetryAfter),
            (12, b'm') => (b"max-forwards", H::MaxForwards),
            (12, b'c') => (b"content-type", H::ContentType),
            (12, b'r') => (b"record-route", H::RecordRoute),
            (13, b'a') => (b"authorization", H::Authorization),
            (13, b'p') => (b"proxy-require", H::ProxyRequire),
            (14, b'c') => (b"content-length", H::ContentLength),
            (15, b's') => (b"session-expires", H::SessionExpires),
            (16, b'w') => (b"www-authenticate", H::WwwAuthenticate),
            (18, b'p') => (b"proxy-authenticate", H::ProxyAuthenticate),
            (19, b'p') => (b"proxy-authorization", H::ProxyAuthorization),
            _ => return H::Other,
        };
        if eq_lower(name, text) {
            h
        } else {
            H::Other
        }
    }

    /// The long form of a compact header name (RFC 3261 §7.3.3 and the IANA
    /// registry), or the name itself; `e` → `Content-Encoding`.
    pub fn expand_compact(name: &str) -> &str {
        if name.len() != 1 {
            return name;
        }
        match name.as_bytes()[0].to_ascii_lowercase() {
            b'a' => "Accept-Contact",
            b'b' => "Referred-By",
            b'c' => "Content-Type",
            b'd' => "Request-Disposition",
            b'e' => "Content-Encoding",
            b'f' => "From",
            b'i' => "Call-ID",
            b'j' => "Reject-Contact",
            b'k' => "Supported",
            b'l' => "Content-Length",
            b'm' => "Contact",
            b'n' => "Identity-Info",
            b'o' => "Event",
            b'r' => "Refer-To",
            b's' => "Subject",
            b't' => "To",
            b'u' => "Allow-Events",
            b'v' => "Via",
            b'x' => "Session-Expires",
            b'y' => "Identity",
            _ => name,
        }
    }

    /// The canonical long name used when printing; `None` for `Other`.
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            HeaderName::Via => "Via",
            HeaderName::From => "From",
            HeaderName::To => "To",
            HeaderName::CallId => "Call-ID",
            HeaderName::CSeq => "CSeq",
            HeaderName::Contact => "Contact",
            HeaderName::MaxForwards => "Max-Forwards",
            HeaderName::ContentLength => "Content-Length",
            HeaderName::ContentType => "Content-Type",
            HeaderName::Expires => "Expires",
            HeaderName::Route => "Route",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::Authorization => "Authorization",
            HeaderName::ProxyAuthorization => "Proxy-Authorization",
            HeaderName::WwwAuthenticate => "WWW-Authenticate",
            HeaderName::ProxyAuthenticate => "Proxy-Authenticate",
            HeaderName::Require => "Require",
            HeaderName::ProxyRequire => "Proxy-Require",
            HeaderName::Supported => "Supported",
            HeaderName::Allow => "Allow",
            HeaderName::Accept => "Accept",
            HeaderName::UserAgent => "User-Agent",
            HeaderName::Server => "Server",
            HeaderName::RetryAfter => "Retry-After",
            HeaderName::Subject => "Subject",
            HeaderName::ReferTo => "Refer-To",
            HeaderName::Event => "Event",
            HeaderName::SessionExpires => "Session-Expires",
            HeaderName::Other => return None,
        })
    }

    /// Headers whose value is a comma-separated list (RFC 3261 §7.3.1) and
    /// may therefore be split or combined.
    pub fn is_list(self) -> bool {
        matches!(
            self,
            HeaderName::Via
                | HeaderName::Contact
                | HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::Require
                | HeaderName::ProxyRequire
                | HeaderName::Supported
                | HeaderName::Allow
                | HeaderName::Accept
        )
    }
}

/// `name` equals the lower-case `lower` ignoring ASCII case, for token
/// characters: OR-ing 0x20 lower-cases letters and leaves every other token
/// character distinct from the letters and '-' that header names use.
#[inline]
fn eq_lower(name: &[u8], lower: &[u8]) -> bool {
    const MASK: u64 = 0x2020_2020_2020_2020;
    let n = name.len();
    if n != lower.len() {
        return false;
    }
    let word = |b: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(w)
    };
    if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            if word(name, i) | MASK != word(lower, i) {
                return false;
            }
            i += 8;
        }
        // the tail, as an overlapping last word
        n & 7 == 0 || word(name, n - 8) | MASK == word(lower, n - 8)
    } else {
        name.iter().zip(lower).all(|(a, b)| a | 0x20 == *b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_known_name_in_any_case() {
        let all = [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::Contact,
            HeaderName::MaxForwards,
            HeaderName::ContentLength,
            HeaderName::ContentType,
            HeaderName::Expires,
            HeaderName::Route,
            HeaderName::RecordRoute,
            HeaderName::Authorization,
            HeaderName::ProxyAuthorization,
            HeaderName::WwwAuthenticate,
            HeaderName::ProxyAuthenticate,
            HeaderName::Require,
            HeaderName::ProxyRequire,
            HeaderName::Supported,
            HeaderName::Allow,
            HeaderName::Accept,
            HeaderName::UserAgent,
            HeaderName::Server,
            HeaderName::RetryAfter,
            HeaderName::Subject,
            HeaderName::ReferTo,
            HeaderName::Event,
            HeaderName::SessionExpires,
        ];
        for h in all {
            let name = h.as_str().unwrap();
            assert_eq!(HeaderName::parse(name), h);
            assert_eq!(HeaderName::parse(&name.to_ascii_uppercase()), h);
            assert_eq!(HeaderName::parse(&name.to_ascii_lowercase()), h);
        }
        assert_eq!(HeaderName::parse("C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::parse("V"), HeaderName::Via);
        assert_eq!(HeaderName::parse("X-Foo"), HeaderName::Other);
        assert_eq!(HeaderName::parse("Call\rID"), HeaderName::Other);
        assert_eq!(HeaderName::parse("Contacts"), HeaderName::Other);
        assert_eq!(HeaderName::parse("Content-Lengtx"), HeaderName::Other);
        assert_eq!(HeaderName::parse("Call_ID"), HeaderName::Other);
    }
}
