//! One Via entry (RFC 3261 §20.42, §18.2.1, RFC 3581 rport).

use crate::error::ParseError;
use crate::params::Params;
use crate::uri::split_host_port;

/// `SIP/2.0/UDP host:port;branch=...;received=...;rport`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Upper or mixed case as sent (`UDP`, `TCP`, `TLS`, `WS`, ...).
    pub transport: &'a str,
    pub host: &'a str,
    pub port: Option<u16>,
    pub params: Params<'a>,
}

/// RFC 3261 magic cookie that marks a compliant branch.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

impl<'a> Via<'a> {
    pub fn parse(s: &'a str) -> Result<Via<'a>, ParseError> {
        const BAD: ParseError = ParseError::BadHeaderValue("Via");
        let (proto, rest) = split_ws(s).ok_or(BAD)?;
        let mut parts = proto.split('/').map(str::trim);
        let (name, version, transport) = (
            parts.next().ok_or(BAD)?,
            parts.next().ok_or(BAD)?,
            parts.next().ok_or(BAD)?,
        );
        if parts.next().is_some()
            || !name.eq_ignore_ascii_case("SIP")
            || version != "2.0"
            || transport.is_empty()
        {
            return Err(BAD);
        }
        let rest = rest.trim_start();
        let (sent_by, params) = match rest.find(';') {
            Some(i) => (rest[..i].trim(), &rest[i + 1..]),
            None => (rest.trim(), ""),
        };
        let (host, port) = split_host_port(sent_by).ok_or(BAD)?;
        Ok(Via {
            transport,
            host,
            port,
            params: Params(params),
        })
    }

    pub fn branch(&self) -> Option<&'a str> {
        self.params.value("branch")
    }

    /// True when the branch carries the RFC 3261 magic cookie, so it alone
    /// identifies the transaction (§17.2.3). RFC 4475 `badbranch`: a branch
    /// that is only the cookie is still treated as compliant.
    pub fn is_rfc3261(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(BRANCH_COOKIE))
    }

    pub fn received(&self) -> Option<&'a str> {
        self.params.value("received")
    }

    /// `Some(None)` when `rport` is present without a value (RFC 3581).
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }
}

/// Splits at the first run of whitespace after the protocol, tolerating LWS
/// around the slashes (`SIP / 2.0 / UDP host`).
fn split_ws(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    // The protocol has exactly two slashes; find the end of the transport token.
    let mut slashes = 0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' => slashes += 1,
            b' ' | b'\t' if slashes == 2 => {
                // whitespace after the transport token (skip whitespace right after the slash)
                let before = s[..i].trim_end();
                if !before.ends_with('/') {
                    return Some((&s[..i], &s[i..]));
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_via_with_rport_and_ipv6() {
        let v = Via::parse("SIP/2.0/UDP [::1]:5070;branch=z9hG4bKabc;rport").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, "::1");
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.branch(), Some("z9hG4bKabc"));
        assert_eq!(v.rport(), Some(None));
        assert!(v.is_rfc3261());
    }

    #[test]
    fn tolerates_lws_around_slashes() {
        let v = Via::parse("SIP  /   2.0 / TCP   host.example ;branch=1").unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host, "host.example");
        assert!(!v.is_rfc3261());
    }

    #[test]
    fn rejects_garbage() {
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("HTTP/1.1/TCP host").is_err());
        assert!(Via::parse("SIP/2.0/UDP host:70000").is_err());
    }
}
