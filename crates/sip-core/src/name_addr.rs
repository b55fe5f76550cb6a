//! `name-addr` / `addr-spec` with header parameters: From, To, Contact,
//! Route, Record-Route, Refer-To (RFC 3261 §20.10, §25.1).

use crate::error::ParseError;
use crate::params::Params;
use crate::split::find_unquoted;
use crate::uri::Uri;

#[derive(Clone, Copy)]
pub struct NameAddr<'a> {
    /// Display name as sent, quotes included when quoted.
    pub display: Option<&'a str>,
    /// The URI text (without `<>`).
    pub uri_text: &'a str,
    pub params: Params<'a>,
    /// True for `Contact: *`.
    pub star: bool,
    /// [`NameAddr::tag`], when the message parser found it while
    /// validating the parameters (`None`: not looked up yet).
    pub(crate) tag: Option<Option<&'a str>>,
}

/// Equality and `Debug` see the parsed parts only, not the cached tag.
impl PartialEq for NameAddr<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.display, self.uri_text, self.params, self.star)
            == (other.display, other.uri_text, other.params, other.star)
    }
}

impl Eq for NameAddr<'_> {}

impl std::fmt::Debug for NameAddr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameAddr")
            .field("display", &self.display)
            .field("uri_text", &self.uri_text)
            .field("params", &self.params)
            .field("star", &self.star)
            .finish()
    }
}

impl<'a> NameAddr<'a> {
    pub fn parse(s: &'a str, header: &'static str) -> Result<NameAddr<'a>, ParseError> {
        let bad = ParseError::BadHeaderValue(header);
        let s = s.trim_ascii();
        if s == "*" {
            return Ok(NameAddr {
                display: None,
                uri_text: "*",
                params: Params(""),
                star: true,
                tag: None,
            });
        }
        let b = s.as_bytes();
        // '<' opens a name-addr unless it sits inside the quoted display name
        let lt = if b.first() == Some(&b'"') {
            find_unquoted(s, b'<')
        } else {
            memchr::memchr2(b'<', b'"', b)
                .filter(|&i| b[i] == b'<')
                .or_else(|| find_unquoted(s, b'<'))
        };
        if let Some(lt) = lt {
            let display = s[..lt].trim_ascii_end();
            let after = &s[lt + 1..];
            let gt = crate::split::find_byte(b'>', after.as_bytes()).ok_or(bad.clone())?;
            // LAQUOT / RAQUOT admit no whitespace inside (RFC 4475 badaspec).
            let uri_text = &after[..gt];
            let rest = after[gt + 1..].trim_ascii_start();
            let params = match rest.as_bytes().first() {
                None => "",
                Some(b';') => &rest[1..],
                Some(_) => return Err(bad),
            };
            if !display.is_empty() && !valid_display(display) {
                return Err(bad);
            }
            if uri_text.is_empty() || memchr::memchr2(b' ', b'\t', uri_text.as_bytes()).is_some() {
                return Err(bad);
            }
            return Ok(NameAddr {
                display: (!display.is_empty()).then_some(display),
                uri_text,
                params: Params(params),
                star: false,
                tag: None,
            });
        }
        // addr-spec: parameters after the URI belong to the header, so the
        // URI may not carry its own ';' params or '?' headers (RFC 3261 §20).
        if b.first() == Some(&b'"') {
            return Err(bad);
        }
        let (uri_text, params) = match crate::split::find_byte(b';', b) {
            Some(i) => (s[..i].trim_ascii_end(), &s[i + 1..]),
            None => (s, ""),
        };
        if uri_text.is_empty() || memchr::memchr3(b' ', b'\t', b'?', uri_text.as_bytes()).is_some()
        {
            return Err(bad);
        }
        Ok(NameAddr {
            display: None,
            uri_text,
            params: Params(params),
            star: false,
            tag: None,
        })
    }

    /// The message parser's fast path: one name-addr in its common shape
    /// (`<uri>`, `"display" <uri>` or `token display <uri>`, then
    /// parameters) starting at `s[i..]`, checked in one pass with the same
    /// verdict as [`NameAddr::parse`], the scheme check and
    /// [`Params::is_valid`]. It ends at the end of `s`, or at a top-level
    /// comma when `list`. Returns the name-addr (tag included) and where it
    /// stopped; `None` when the value is not in that shape or not valid,
    /// and the caller runs the strict path, which has the final word.
    pub(crate) fn scan_one(s: &'a str, i: usize, list: bool) -> Option<(NameAddr<'a>, usize)> {
        use crate::params::{scan_params, skip_ws};
        let b = s.as_bytes();
        let (display, lt) = match *b.get(i)? {
            b'<' => (None, i),
            b'"' => {
                // a quoted display name without escapes
                let close = i + 1 + memchr::memchr2(b'"', b'\\', &b[i + 1..])?;
                let lt = skip_ws(b, close + 1);
                if b[close] != b'"' || b.get(lt) != Some(&b'<') {
                    return None;
                }
                (Some(&s[i..close + 1]), lt)
            }
            _ => {
                // tokens separated by whitespace
                let mut j = i;
                let mut last = i;
                while let Some(&c) = b.get(j) {
                    if crate::method::is_token_char(c) {
                        last = j + 1;
                    } else if c != b' ' && c != b'\t' {
                        break;
                    }
                    j += 1;
                }
                if last == i || b.get(j) != Some(&b'<') {
                    return None;
                }
                (Some(&s[i..last]), j)
            }
        };
        // scheme ":" (what `Uri::scheme_of` accepts), then up to '>'
        let u = lt + 1;
        if !b.get(u)?.is_ascii_alphabetic() {
            return None;
        }
        let colon = b[u + 1..]
            .iter()
            .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
            .map_or(b.len(), |k| u + 1 + k);
        if b.get(colon) != Some(&b':') {
            return None;
        }
        // the first '>' closes the URI, which holds no whitespace
        let gt = colon + 1 + memchr::memchr3(b'>', b' ', b'\t', &b[colon + 1..])?;
        if b[gt] != b'>' {
            return None;
        }
        let uri_text = &s[u..gt];
        let mut j = skip_ws(b, gt + 1);
        let (params, tag) = if b.get(j) == Some(&b';') {
            let (p_end, stop, found) = scan_params(s, j + 1, b"tag")?;
            let params = &s[j + 1..p_end];
            j = stop;
            (params, found.flatten())
        } else {
            ("", None)
        };
        match b.get(j) {
            None => {}
            Some(b',') if list => {}
            Some(_) => return None,
        }
        let addr = NameAddr {
            display,
            uri_text,
            params: Params(params),
            star: false,
            tag: Some(tag),
        };
        Some((addr, j))
    }

    pub fn uri(&self) -> Option<Uri<'a>> {
        Uri::parse(self.uri_text)
    }

    /// The display name with its quotes removed and `\x` escapes decoded
    /// (`"Agent \"7\""` → `Agent "7"`); token display names as sent.
    pub fn display_name(&self) -> Option<std::borrow::Cow<'a, str>> {
        let d = self.display?;
        let Some(inner) = d.strip_prefix('"').and_then(|d| d.strip_suffix('"')) else {
            return Some(std::borrow::Cow::Borrowed(d));
        };
        if !inner.contains('\\') {
            return Some(std::borrow::Cow::Borrowed(inner));
        }
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        Some(std::borrow::Cow::Owned(out))
    }

    pub fn tag(&self) -> Option<&'a str> {
        match self.tag {
            Some(t) => t,
            None => self.params.value("tag"),
        }
    }
}

/// A display name is a quoted string (closed, escapes balanced) or tokens
/// separated by LWS.
fn valid_display(d: &str) -> bool {
    if let Some(inner) = d.strip_prefix('"') {
        let b = inner.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return i == b.len() - 1,
                _ => i += 1,
            }
        }
        false
    } else {
        d.bytes()
            .all(|c| crate::method::is_token_char(c) || c == b' ' || c == b'\t')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_addr_and_addr_spec() {
        let n = NameAddr::parse(
            r#""Agent \"One\"" <sip:1001@127.0.0.1:5070>;tag=abc"#,
            "From",
        )
        .unwrap();
        assert_eq!(n.display, Some(r#""Agent \"One\"""#));
        assert_eq!(n.uri_text, "sip:1001@127.0.0.1:5070");
        assert_eq!(n.tag(), Some("abc"));
        let a = NameAddr::parse("sip:carrier@10.0.0.1;tag=9", "To").unwrap();
        assert_eq!(a.uri_text, "sip:carrier@10.0.0.1");
        assert_eq!(a.tag(), Some("9"));
        let t = NameAddr::parse("caller<sip:caller@example.com>", "To").unwrap();
        assert_eq!(t.display, Some("caller"));
    }

    #[test]
    fn rejects_unbalanced_quotes_and_bad_display() {
        assert!(NameAddr::parse(r#""Mr J. User <sip:j@example.com>"#, "From").is_err());
        assert!(NameAddr::parse("Bell, Alexander <sip:a@b>", "To").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=x", "Contact").is_err());
        assert!(NameAddr::parse("<sip:a @b>", "To").is_err());
        assert!(NameAddr::parse("\"W\" < sip:t@example.org >", "To").is_err());
    }
}
