//! `;name=value` parameter lists (header params and URI params).

use crate::method::is_token_char;

/// A borrowed `;a=1;b;c="x"` list (the text after the first `;`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params<'a>(pub &'a str);

impl<'a> Params<'a> {
    /// Iterates `(name, value)` pairs; a flag parameter has value `None`.
    /// Quoted values are returned with their quotes removed (escapes kept).
    /// A `;` inside a quoted value does not split it.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        RawParams { rest: self.0 }.filter_map(split_param)
    }

    /// Parameter names are case-insensitive (RFC 3261 §7.3.1). Same
    /// answer as searching [`Params::iter`], without splitting the pieces
    /// whose names cannot match.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        let want = name.as_bytes();
        if !want.iter().all(|&c| is_token_char(c)) || want.is_empty() {
            // not a parameter name the fast path can reason about
            return self
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v);
        }
        let mut pieces = RawParams { rest: self.0 };
        while let Some(piece) = pieces.next_fast() {
            let p = piece.trim_ascii_start().as_bytes();
            let candidate = p.len() >= want.len()
                && p[..want.len()].eq_ignore_ascii_case(want)
                && matches!(
                    p.get(want.len()),
                    None | Some(b'=' | b' ' | b'\t' | b'\r' | b'\n' | b'\x0c')
                );
            if candidate {
                // the piece starts with `name`: it is this parameter when
                // what follows is nothing or '=' (as `split_param` would cut)
                let p = piece.trim_ascii();
                let after = p[want.len()..].trim_ascii_start();
                match after.as_bytes().first() {
                    None => return Some(None),
                    Some(b'=') => {
                        let v = after[1..].trim_ascii_start();
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or(v);
                        return Some(Some(v));
                    }
                    Some(_) => {}
                }
            }
        }
        None
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
        self.check_find(b"").is_some()
    }

    /// [`Params::is_valid`] and, in the same pass, what [`Params::get`]
    /// would answer for `want` (a lower-case token): `None` when the list
    /// is invalid, else `Some(get(want))`.
    pub(crate) fn check_find(&self, want: &[u8]) -> Option<Option<Option<&'a str>>> {
        match scan_params(self.0, 0, want)? {
            (_, stop, found) if stop == self.0.len() => Some(found),
            _ => None,
        }
    }
}

/// The strict parameter grammar of [`Params::is_valid`], read from `s[i..]`
/// up to its end or a top-level `,` (the next element of a list header).
/// Returns the end of the last parameter (whitespace excluded), where the
/// scan stopped (`s.len()` or the comma) and [`Params::get`]`(want)`;
/// `None` when the parameters are invalid.
#[allow(clippy::type_complexity)]
pub(crate) fn scan_params<'a>(
    s: &'a str,
    mut i: usize,
    want: &[u8],
) -> Option<(usize, usize, Option<Option<&'a str>>)> {
    debug_assert!(want.iter().all(u8::is_ascii_lowercase));
    let b = s.as_bytes();
    let mut found = None;
    // whitespace is rare: each skip is guarded by a one-byte test
    let ws = |c: Option<&u8>| matches!(c, Some(b' ' | b'\t'));
    loop {
        if ws(b.get(i)) {
            i = skip_ws(b, i);
        }
        let name_start = i;
        i = scan(b, i, &crate::method::TOKEN);
        let name_end = i;
        if name_end == name_start {
            return None;
        }
        if ws(b.get(i)) {
            i = skip_ws(b, i);
        }
        // the value as positions; a `str` is cut only for the one wanted
        let mut value = None;
        let mut end = name_end;
        if b.get(i) == Some(&b'=') {
            i += 1;
            if ws(b.get(i)) {
                i = skip_ws(b, i);
            }
            if b.get(i) == Some(&b'"') {
                let n = crate::split::quoted_len(s.get(i..)?)?;
                value = Some((i + 1, i + n - 1));
                i += n;
                end = i;
            } else {
                let v_start = i;
                i = scan(b, i, &PARAM_VALUE);
                if i == v_start {
                    return None;
                }
                value = Some((v_start, i));
                end = i;
            }
        }
        if ws(b.get(i)) {
            i = skip_ws(b, i);
        }
        // `want` is lower-case letters and the name token characters: OR-ing
        // 0x20 maps no other token character onto a lower-case letter
        if found.is_none()
            && name_end - name_start == want.len()
            && !want.is_empty()
            && b[name_start..name_end]
                .iter()
                .zip(want)
                .all(|(&c, &w)| c | 0x20 == w)
        {
            found = Some(match value {
                Some((a, z)) => Some(s.get(a..z)?),
                None => None,
            });
        }
        match b.get(i) {
            Some(b';') => i += 1,
            None | Some(b',') => return Some((end, i, found)),
            Some(_) => return None,
        }
    }
}

/// `token` characters plus those a host adds (':' '[' ']').
static PARAM_VALUE: [bool; 256] = {
    let mut t = crate::method::TOKEN;
    t[b':' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t
};

#[inline]
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// The end of the run of `table` bytes starting at `i`, unrolled by eight
/// (one bounds check per eight bytes; early exits keep short runs cheap).
#[inline]
pub(crate) fn scan(b: &[u8], mut i: usize, table: &[bool; 256]) -> usize {
    while let Some(w) = b.get(i..i + 8) {
        for (k, &c) in w.iter().enumerate() {
            if !table[c as usize] {
                return i + k;
            }
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if !table[c as usize] {
            break;
        }
        i += 1;
    }
    i
}

/// `name[=value]` with whitespace trimmed and quotes removed from the value.
fn split_param(p: &str) -> Option<(&str, Option<&str>)> {
    let p = p.trim_ascii();
    if p.is_empty() {
        return None;
    }
    Some(match crate::split::find_byte(b'=', p.as_bytes()) {
        Some(i) => {
            let v = p[i + 1..].trim_ascii_start();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (p[..i].trim_ascii_end(), Some(v))
        }
        None => (p, None),
    })
}

/// Splits on `;` outside quoted strings, yielding every piece (empty ones too).
struct RawParams<'a> {
    rest: &'a str,
}

impl<'a> RawParams<'a> {
    fn next_fast(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let s = self.rest;
        let b = s.as_bytes();
        // one pass to the next ';', unless a quote comes first
        let end = match memchr::memchr2(b';', b'"', b) {
            Some(i) if b[i] == b';' => i,
            Some(_) => crate::split::find_unquoted(s, b';').unwrap_or(b.len()),
            None => b.len(),
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

impl<'a> Iterator for RawParams<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        self.next_fast()
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
