//! One Via entry (RFC 3261 §20.42, §18.2.1, RFC 3581 rport).

use crate::error::ParseError;
use crate::params::Params;
use crate::uri::split_host_port;

/// `SIP/2.0/UDP host:port;branch=...;received=...;rport`
#[derive(Clone, Copy)]
pub struct Via<'a> {
    /// Upper or mixed case as sent (`UDP`, `TCP`, `TLS`, `WS`, ...).
    pub transport: &'a str,
    pub host: &'a str,
    pub port: Option<u16>,
    pub params: Params<'a>,
    /// [`Via::branch`], when the message parser found it while validating
    /// the parameters (`None`: not looked up yet).
    pub(crate) branch: Option<Option<&'a str>>,
}

/// Equality and `Debug` see the parsed parts only, not the cached branch.
impl PartialEq for Via<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.transport, self.host, self.port, self.params)
            == (other.transport, other.host, other.port, other.params)
    }
}

impl Eq for Via<'_> {}

impl std::fmt::Debug for Via<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Via")
            .field("transport", &self.transport)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("params", &self.params)
            .finish()
    }
}

/// RFC 3261 magic cookie that marks a compliant branch.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

impl<'a> Via<'a> {
    /// Parses one via-parm. Linear whitespace is allowed around the slashes
    /// (RFC 3261 §7.3.1, RFC 4475 wsinv); at least one space must separate
    /// the protocol from sent-by.
    pub fn parse(s: &'a str) -> Result<Via<'a>, ParseError> {
        const BAD: ParseError = ParseError::BadHeaderValue("Via");
        let b = s.as_bytes();
        let mut i = skip_ws(b, 0);
        let name_end = scan_token(b, i);
        if !b[i..name_end].eq_ignore_ascii_case(b"SIP") {
            return Err(BAD);
        }
        i = skip_ws(b, name_end);
        if b.get(i) != Some(&b'/') {
            return Err(BAD);
        }
        i = skip_ws(b, i + 1);
        let version_end = scan_token(b, i);
        if &b[i..version_end] != b"2.0" {
            return Err(BAD);
        }
        i = skip_ws(b, version_end);
        if b.get(i) != Some(&b'/') {
            return Err(BAD);
        }
        i = skip_ws(b, i + 1);
        let transport_end = scan_token(b, i);
        if transport_end == i {
            return Err(BAD);
        }
        let transport = &s[i..transport_end];
        let sent_by_start = skip_ws(b, transport_end);
        if sent_by_start == transport_end {
            return Err(BAD);
        }
        let semi = crate::split::find_byte(b';', &b[sent_by_start..]).map(|k| sent_by_start + k);
        let (sent_by, params) = match semi {
            Some(k) => (&s[sent_by_start..k], &s[k + 1..]),
            None => (&s[sent_by_start..], ""),
        };
        let (host, port) = split_host_port(sent_by.trim_ascii_end()).ok_or(BAD)?;
        Ok(Via {
            transport,
            host,
            port,
            params: Params(params),
            branch: None,
        })
    }

    /// The message parser's fast path: every entry of one Via field value
    /// in its common shape (`SIP/2.0/TRANSPORT host[:port][;params]`,
    /// entries separated by commas), checked in one pass with the same
    /// verdict as splitting the list and running [`Via::parse`] and
    /// [`Params::is_valid`] on each entry. Returns the first entry (its
    /// text and its parts, branch included) when `keep_first`; `None` when
    /// the value is not in that shape or not valid, and the caller runs
    /// the strict path, which has the final word.
    #[allow(clippy::type_complexity)]
    pub(crate) fn scan_field(
        value: &'a str,
        keep_first: bool,
    ) -> Option<Option<(&'a str, Via<'a>)>> {
        use crate::params::{scan, scan_params};
        let b = value.as_bytes();
        let mut first = None;
        let mut i = skip_ws(b, 0);
        loop {
            let start = i;
            // "SIP/2.0/", the protocol name in any case
            let head: [u8; 8] = b.get(i..i + 8)?.try_into().ok()?;
            if u64::from_le_bytes(head) | 0x0020_2020 != u64::from_le_bytes(*b"sip/2.0/") {
                return None;
            }
            let t_start = i + 8;
            let t_end = scan(b, t_start, &crate::method::TOKEN);
            let h_start = skip_ws(b, t_end);
            if t_end == t_start || h_start == t_end {
                return None;
            }
            let h_end = scan(b, h_start, &crate::uri::HOST_CHAR);
            if h_end == h_start {
                return None;
            }
            let mut j = h_end;
            let mut port = None;
            if b.get(j) == Some(&b':') {
                let d_end = b[j + 1..]
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .map_or(b.len(), |k| j + 1 + k);
                port = Some(crate::uri::parse_port(&b[j + 1..d_end])?);
                j = d_end;
            }
            let mut end = j;
            j = skip_ws(b, j);
            // only the entry kept is cut into parts
            let keep = keep_first && first.is_none();
            let want: &[u8] = if keep { b"branch" } else { b"" };
            let (params, branch) = if b.get(j) == Some(&b';') {
                let (p_end, stop, found) = scan_params(value, j + 1, want)?;
                let params = (j + 1, p_end);
                (end, j) = (p_end, stop);
                (params, found.flatten())
            } else {
                ((j, j), None)
            };
            if keep {
                let params = &value[params.0..params.1];
                let via = Via {
                    transport: &value[t_start..t_end],
                    host: &value[h_start..h_end],
                    port,
                    params: Params(params),
                    branch: Some(branch),
                };
                first = Some((&value[start..end], via));
            }
            match b.get(j) {
                None => return Some(first),
                Some(b',') => {
                    i = skip_ws(b, j + 1);
                    if i == b.len() {
                        return None;
                    }
                }
                Some(_) => return None,
            }
        }
    }

    pub fn branch(&self) -> Option<&'a str> {
        match self.branch {
            Some(b) => b,
            None => self.params.value("branch"),
        }
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

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

fn scan_token(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && crate::method::is_token_char(b[i]) {
        i += 1;
    }
    i
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
