//! `;name=value` parameter lists (header params and URI params).

/// A borrowed `;a=1;b;c="x"` list (the text after the first `;`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params<'a>(pub &'a str);

impl<'a> Params<'a> {
    /// Iterates `(name, value)` pairs; a flag parameter has value `None`.
    /// Quoted values are returned with their quotes removed.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        self.0.split(';').filter_map(|p| {
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
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).flatten()
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Looks up one parameter in a `;`-separated list.
pub fn param<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    Params(params).value(name)
}
