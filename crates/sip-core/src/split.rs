//! Splitting comma-separated header values, respecting quoted strings and
//! `<...>` URIs (which may themselves contain commas).

/// Splits a list header value on top-level commas; each item is trimmed and
/// empty items are skipped.
pub fn split_commas(value: &str) -> impl Iterator<Item = &str> {
    SplitCommas { rest: value }
}

struct SplitCommas<'a> {
    rest: &'a str,
}

impl<'a> Iterator for SplitCommas<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let bytes = self.rest.as_bytes();
            let (mut in_quote, mut in_angle, mut escaped) = (false, false, false);
            let mut end = bytes.len();
            for (i, &b) in bytes.iter().enumerate() {
                if in_quote {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_quote = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_quote = true,
                    b'<' => in_angle = true,
                    b'>' => in_angle = false,
                    b',' if !in_angle => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            let item = self.rest[..end].trim();
            self.rest = if end < bytes.len() {
                &self.rest[end + 1..]
            } else {
                ""
            };
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Finds `needle` outside quoted strings; used to split off parameters.
pub(crate) fn find_unquoted(s: &str, needle: u8) -> Option<usize> {
    let (mut in_quote, mut escaped) = (false, false);
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quote = false;
            }
        } else if b == b'"' {
            in_quote = true;
        } else if b == needle {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_top_level_commas_only() {
        let v: Vec<_> = split_commas(r#""a, b" <sip:x@y;p=1,2>;q=1 , <sip:z@w>,, c"#).collect();
        assert_eq!(v, vec![r#""a, b" <sip:x@y;p=1,2>;q=1"#, "<sip:z@w>", "c"]);
    }
}
