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
        const TABLE: &[(&str, HeaderName)] = &[
            ("via", HeaderName::Via),
            ("from", HeaderName::From),
            ("to", HeaderName::To),
            ("call-id", HeaderName::CallId),
            ("cseq", HeaderName::CSeq),
            ("contact", HeaderName::Contact),
            ("max-forwards", HeaderName::MaxForwards),
            ("content-length", HeaderName::ContentLength),
            ("content-type", HeaderName::ContentType),
            ("expires", HeaderName::Expires),
            ("route", HeaderName::Route),
            ("record-route", HeaderName::RecordRoute),
            ("authorization", HeaderName::Authorization),
            ("proxy-authorization", HeaderName::ProxyAuthorization),
            ("www-authenticate", HeaderName::WwwAuthenticate),
            ("proxy-authenticate", HeaderName::ProxyAuthenticate),
            ("require", HeaderName::Require),
            ("proxy-require", HeaderName::ProxyRequire),
            ("supported", HeaderName::Supported),
            ("allow", HeaderName::Allow),
            ("accept", HeaderName::Accept),
            ("user-agent", HeaderName::UserAgent),
            ("server", HeaderName::Server),
            ("retry-after", HeaderName::RetryAfter),
            ("subject", HeaderName::Subject),
            ("refer-to", HeaderName::ReferTo),
            ("event", HeaderName::Event),
            ("session-expires", HeaderName::SessionExpires),
        ];
        for (text, h) in TABLE {
            if text.len() == name.len() && text.eq_ignore_ascii_case(name) {
                return *h;
            }
        }
        HeaderName::Other
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
