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
        if name.len() == 1 {
            return match name.as_bytes()[0].to_ascii_lowercase() {
                b'v' => HeaderName::Via,
                b'f' => HeaderName::From,
                b't' => HeaderName::To,
                b'i' => HeaderName::CallId,
                b'm' => HeaderName::Contact,
                b'l' => HeaderName::ContentLength,
                b'c' => HeaderName::ContentType,
                b's' => HeaderName::Subject,
                b'k' => HeaderName::Supported,
                b'r' => HeaderName::ReferTo,
                b'o' => HeaderName::Event,
                b'x' => HeaderName::SessionExpires,
                _ => HeaderName::Other,
            };
        }
        // Classify by length first, then one case-insensitive compare: no
        // table walk on the hot path.
        let candidates: &[(&str, HeaderName)] = match name.len() {
            2 => &[("to", HeaderName::To)],
            3 => &[("via", HeaderName::Via)],
            4 => &[("from", HeaderName::From), ("cseq", HeaderName::CSeq)],
            5 => &[
                ("route", HeaderName::Route),
                ("allow", HeaderName::Allow),
                ("event", HeaderName::Event),
            ],
            6 => &[
                ("accept", HeaderName::Accept),
                ("server", HeaderName::Server),
            ],
            7 => &[
                ("call-id", HeaderName::CallId),
                ("contact", HeaderName::Contact),
                ("expires", HeaderName::Expires),
                ("require", HeaderName::Require),
                ("subject", HeaderName::Subject),
            ],
            8 => &[("refer-to", HeaderName::ReferTo)],
            9 => &[("supported", HeaderName::Supported)],
            10 => &[("user-agent", HeaderName::UserAgent)],
            11 => &[("retry-after", HeaderName::RetryAfter)],
            12 => &[
                ("max-forwards", HeaderName::MaxForwards),
                ("content-type", HeaderName::ContentType),
                ("record-route", HeaderName::RecordRoute),
            ],
            13 => &[
                ("authorization", HeaderName::Authorization),
                ("proxy-require", HeaderName::ProxyRequire),
            ],
            14 => &[("content-length", HeaderName::ContentLength)],
            15 => &[("session-expires", HeaderName::SessionExpires)],
            16 => &[("www-authenticate", HeaderName::WwwAuthenticate)],
            18 => &[("proxy-authenticate", HeaderName::ProxyAuthenticate)],
            19 => &[("proxy-authorization", HeaderName::ProxyAuthorization)],
            _ => return HeaderName::Other,
        };
        let first = name.as_bytes()[0].to_ascii_lowercase();
        for (text, h) in candidates {
            if text.as_bytes()[0] == first && text.eq_ignore_ascii_case(name) {
                return *h;
            }
        }
        HeaderName::Other
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
    }
}
