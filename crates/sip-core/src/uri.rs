//! SIP, SIPS and TEL URIs (RFC 3261 §19.1, RFC 3966), IPv6 references
//! (RFC 5118). Borrowed from the message buffer; escapes are kept as sent
//! and compared decoded where it matters (user part).

use crate::params::Params;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    pub scheme: Scheme,
    /// User part, still %-escaped; for `tel:` the number.
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    /// Host without brackets for IPv6 (`::1`, not `[::1]`); empty for `tel:`.
    pub host: &'a str,
    pub port: Option<u16>,
    pub params: Params<'a>,
    /// `?a=b&c=d` headers, without the `?`.
    pub headers: Option<&'a str>,
}

impl<'a> Uri<'a> {
    /// Parses an absolute SIP/SIPS/TEL URI. Other schemes return `None`
    /// (the caller answers 416 where a SIP URI was required).
    pub fn parse(s: &'a str) -> Option<Uri<'a>> {
        Uri::parse_checked(s).map(|(uri, _)| uri)
    }

    /// [`Uri::parse`], and whether the URI holds a DEL (0x7f) octet, which
    /// the Request-URI check refuses.
    pub(crate) fn parse_checked(s: &'a str) -> Option<(Uri<'a>, bool)> {
        let b = s.as_bytes();
        let prefix = |p: &[u8]| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p);
        let (scheme, rest) = if prefix(b"sip:") {
            (Scheme::Sip, &s[4..])
        } else if prefix(b"sips:") {
            (Scheme::Sips, &s[5..])
        } else if prefix(b"tel:") {
            (Scheme::Tel, &s[4..])
        } else {
            return None;
        };
        // One pass: refuse controls, spaces, '<', '>', '"', and find the
        // first '@', which can only be the userinfo separator (params and
        // headers must escape it; userinfo may hold '?', ';' and ':').
        let (mut at, mut del) = (None, false);
        let rb = rest.as_bytes();
        let mut i = 0;
        loop {
            i = crate::params::scan(rb, i, &URI_PLAIN);
            match rb.get(i) {
                None => break,
                Some(b'@') => {
                    at.get_or_insert(i);
                }
                Some(0x7f) => del = true,
                Some(_) => return None,
            }
            i += 1;
        }
        if scheme == Scheme::Tel {
            let (number, params) = match memchr::memchr(b';', rest.as_bytes()) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            if number.is_empty() {
                return None;
            }
            let uri = Uri {
                scheme: Scheme::Tel,
                user: Some(number),
                password: None,
                host: &rest[..0], // an empty slice of the input, like every other part
                port: None,
                params: Params(params),
                headers: None,
            };
            return Some((uri, del));
        }
        let (userinfo, hp) = match at {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(u) => match memchr::memchr(b':', u.as_bytes()) {
                Some(i) => (Some(&u[..i]), Some(&u[i + 1..])),
                None => (Some(u), None),
            },
            None => (None, None),
        };
        if user == Some("") {
            return None;
        }
        // host [":" port] then ";params" then "?headers"
        let hb = hp.as_bytes();
        let (host, mut i) = if hb.first() == Some(&b'[') {
            let end = memchr::memchr(b']', hb)?;
            let host = &hp[1..end];
            // RFC 5118 §4.9: "[2001:db8:::192.0.2.1]" is not an address.
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return None;
            }
            (host, end + 1)
        } else {
            let n = crate::params::scan(hb, 0, &HOST_CHAR);
            if n == 0 {
                return None;
            }
            (&hp[..n], n)
        };
        let mut port = None;
        if hb.get(i) == Some(&b':') {
            let digits = hb[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            port = Some(parse_port(&hb[i + 1..i + 1 + digits])?);
            i += 1 + digits;
        }
        let (params, headers) = match hb.get(i) {
            None => ("", None),
            Some(b';') => {
                let p = &hp[i + 1..];
                match memchr::memchr(b'?', p.as_bytes()) {
                    Some(q) => (&p[..q], Some(&p[q + 1..])),
                    None => (p, None),
                }
            }
            Some(b'?') => ("", Some(&hp[i + 1..])),
            Some(_) => return None,
        };
        let uri = Uri {
            scheme,
            user,
            password,
            host,
            port,
            params: Params(params),
            headers,
        };
        Some((uri, del))
    }

    /// The scheme of an absolute URI (`sip`, `tel`, `im`, `soap.beep`...),
    /// checked against RFC 3986 `scheme` syntax. The engine answers 416
    /// for a Request-URI scheme it does not serve (RFC 4475 unkscm, novelsc).
    pub fn scheme_of(s: &str) -> Option<&str> {
        let colon = crate::split::find_byte(b':', s.as_bytes())?;
        let scheme = &s[..colon];
        let b = scheme.as_bytes();
        (!b.is_empty()
            && b[0].is_ascii_alphabetic()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
        .then_some(scheme)
    }

    /// The user part with %-escapes decoded (allocates only when escaped).
    pub fn user_decoded(&self) -> Option<std::borrow::Cow<'a, str>> {
        self.user.map(percent_decode)
    }

    pub fn transport(&self) -> Option<&'a str> {
        self.params.value("transport")
    }
}

/// Bytes a URI holds with no further look: not refused (controls, space,
/// '<', '>', '"'), not '@' (the userinfo end), not DEL (counted).
static URI_PLAIN: [bool; 256] = {
    let mut t = [true; 256];
    let mut i = 0;
    while i <= b' ' as usize {
        t[i] = false;
        i += 1;
    }
    t[b'<' as usize] = false;
    t[b'>' as usize] = false;
    t[b'"' as usize] = false;
    t[b'@' as usize] = false;
    t[0x7f] = false;
    t
};

/// Characters of a hostname or IPv4 address.
pub(crate) static HOST_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_';
        i += 1;
    }
    t
};

/// Splits `host[:port]`, `[v6][:port]`. Validates the host characters.
pub(crate) fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    let b = s.as_bytes();
    let (host, port) = if b.first() == Some(&b'[') {
        let end = crate::split::find_byte(b']', b)?;
        let host = &s[1..end];
        // RFC 5118 §4.9: "[2001:db8:::192.0.2.1]" is not an address.
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return None;
        }
        (host, &b[end + 1..])
    } else {
        let mut end = 0;
        while end < b.len() {
            match b[end] {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => end += 1,
                b':' => break,
                _ => return None,
            }
        }
        if end == 0 {
            return None;
        }
        (&s[..end], &b[end..])
    };
    let port = match port {
        [] => None,
        [b':', digits @ ..] => Some(parse_port(digits)?),
        _ => return None,
    };
    Some((host, port))
}

pub(crate) fn parse_port(d: &[u8]) -> Option<u16> {
    if d.is_empty() || d.len() > 5 {
        return None;
    }
    let mut v: u32 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    u16::try_from(v).ok()
}

/// Decodes `%XX` escapes; invalid escapes are kept literally.
pub fn percent_decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sip_uri_with_params_and_headers() {
        let u = Uri::parse("sip:alice:pw@example.com:5061;transport=tcp;lr?subject=x").unwrap();
        assert_eq!(u.scheme, Scheme::Sip);
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("pw"));
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.params.has("lr"));
        assert_eq!(u.headers, Some("subject=x"));
    }

    #[test]
    fn every_part_of_a_tel_uri_is_a_slice_of_the_input() {
        // Found by fuzzing (fuzz/run.sh uri): the empty host was a static "".
        let s = String::from("tel:l");
        let u = Uri::parse(&s).unwrap();
        let (p, base) = (u.host.as_ptr() as usize, s.as_ptr() as usize);
        assert!(p >= base && p + u.host.len() <= base + s.len());
        assert_eq!(u.host, "");
    }

    #[test]
    fn parses_ipv6_reference_and_tel() {
        let u = Uri::parse("sips:[2001:db8::10]:5070").unwrap();
        assert_eq!(u.host, "2001:db8::10");
        assert_eq!(u.port, Some(5070));
        let t = Uri::parse("tel:+1-201-555-0123;phone-context=x").unwrap();
        assert_eq!(t.user, Some("+1-201-555-0123"));
    }

    #[test]
    fn user_may_hold_semicolons_and_escapes() {
        let u = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        assert_eq!(u.user_decoded().unwrap(), "user;par=u@example.net");
        assert_eq!(u.host, "example.com");
    }

    #[test]
    fn userinfo_may_hold_question_marks_and_escaped_nul() {
        let u = Uri::parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").unwrap();
        assert_eq!(
            u.user,
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password,
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.host, "example.com");
        assert_eq!(u.headers, None);
        let n = Uri::parse("sip:%00@host5.example.com").unwrap();
        assert_eq!(n.user_decoded().unwrap(), "\0");
        assert_eq!(
            Uri::scheme_of("soap.beep://192.0.2.103:3002"),
            Some("soap.beep")
        );
        assert_eq!(Uri::scheme_of("1x:y"), None);
    }

    #[test]
    fn rejects_unknown_schemes_and_spaces() {
        assert!(Uri::parse("http://x").is_none());
        assert!(Uri::parse("sip:a b@c").is_none());
        assert!(Uri::parse("sip:a@[::1").is_none());
        assert!(Uri::parse("sip:a@host:99999").is_none());
    }
}
