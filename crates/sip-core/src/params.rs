//! `;name=value` parameter lists (header params and URI params).

use crate::method::is_token;

/// A borrowed `;a=1;b;c="x"` list (the text after the first `;`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params<'a>(pub &'a str);

impl<'a> Params<'a> {
    /// Iterates `(name, value)` pairs; a flag parameter has value `None`.
    /// Quoted values are returned with their quotes removed (escapes kept).
    /// A `;` inside a quoted value does not split it.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        RawParams { rest: self.0 }.filter_map(|p| {
            let p = p.trim();
            if p.is_empty() {
                return None;
            }
            Some(match p.split_once('=') {
                Some((n, v)) => {
                    let v = v.trim();
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v);
                    (n.trim(), Some(v))
                }
                None => (p, None),
            })
        })
    }

    /// Parameter names are case-insensitive (RFC 3261 §7.3.1).
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).flatten()
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Strict RFC 3261 `generic-param` check: every parameter has a token
    /// name and, after `=`, a token, host (IPv6 included) or a closed quoted
    /// string. Empty parameters (`;;`) are rejected (RFC 4475 badinv01).
    pub fn is_valid(&self) -> bool {
        if self.0.trim().is_empty() {
            // `<uri>;` with nothing after the semicolon
            return false;
        }
        RawParams { rest: self.0 }.all(valid_param)
    }
}

fn valid_param(p: &str) -> bool {
    let p = p.trim_matches([' ', '\t']);
    let (name, value) = match p.split_once('=') {
        Some((n, v)) => (
            n.trim_end_matches([' ', '\t']),
            Some(v.trim_start_matches([' ', '\t'])),
        ),
        None => (p, None),
    };
    if !is_token(name) {
        return false;
    }
    match value {
        None => true,
        Some(v) if v.starts_with('"') => crate::split::quoted_len(v) == Some(v.len()),
        Some(v) => {
            !v.is_empty()
                && v.bytes()
                    .all(|b| crate::method::is_token_char(b) || matches!(b, b':' | b'[' | b']'))
        }
    }
}

/// Splits on `;` outside quoted strings, yielding every piece (empty ones too).
struct RawParams<'a> {
    rest: &'a str,
}

impl<'a> Iterator for RawParams<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let s = self.rest;
        let b = s.as_bytes();
        // Fast path: no quote before the next ';'.
        let semi = memchr::memchr(b';', b);
        let quote = memchr::memchr(b'"', &b[..semi.unwrap_or(b.len())]);
        let end = match (semi, quote) {
            (Some(i), None) => i,
            (None, None) => b.len(),
            _ => crate::split::find_unquoted(s, b';').unwrap_or(b.len()),
        };
        let item = &s[..end];
        self.rest = if end < b.len() {
            let rest = &s[end + 1..];
            if rest.is_empty() {
                // a trailing ';' leaves one empty piece, reported as such
                " "
            } else {
                rest
            }
        } else {
            ""
        };
        Some(item)
    }
}

/// Looks up one parameter in a `;`-separated list.
pub fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    Params(params).value(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_and_validates() {
        let p = Params(r#" tag = 1 ; lr;x="a;b" ;received=2001:db8::9:255"#);
        let v: Vec<_> = p.iter().collect();
        assert_eq!(
            v,
            vec![
                ("tag", Some("1")),
                ("lr", None),
                ("x", Some("a;b")),
                ("received", Some("2001:db8::9:255"))
            ]
        );
        assert!(p.is_valid());
        assert_eq!(p.value("TAG"), Some("1"));
        assert!(!Params(";").is_valid());
        assert!(!Params("a;;b").is_valid());
        assert!(!Params("a;").is_valid());
        assert!(!Params("a=").is_valid());
        assert!(!Params(r#"a="open"#).is_valid());
        assert!(!Params("a b").is_valid());
    }
}
