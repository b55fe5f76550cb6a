//! DTMF carried in SIP INFO bodies (the de-facto `application/dtmf-relay`
//! and `application/dtmf` formats used by carriers and desk phones), the
//! out-of-band alternative to RFC 4733 telephone-events.

/// One key press reported by INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDtmf {
    /// `0-9`, `*`, `#`, `A-D`, or `F` for flash.
    pub digit: char,
    /// Milliseconds, when the body says.
    pub duration_ms: Option<u32>,
}

fn digit_of(s: &str) -> Option<char> {
    let s = s.trim();
    let c = match s {
        "10" => '*',
        "11" => '#',
        "16" => 'F',
        _ if s.len() == 1 => s.chars().next()?.to_ascii_uppercase(),
        // 12-15: A-D (RFC 4733 event codes).
        "12" => 'A',
        "13" => 'B',
        "14" => 'C',
        "15" => 'D',
        _ => return None,
    };
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D' | 'F').then_some(c)
}

/// Parses an INFO body by its Content-Type: `application/dtmf-relay`
/// (`Signal=5` / `Duration=160` lines) or `application/dtmf` (just the
/// digit or its event code). `None` for other types or unreadable bodies.
pub fn parse_info_dtmf(content_type: &str, body: &[u8]) -> Option<InfoDtmf> {
    let ctype = content_type.split(';').next()?.trim();
    let text = std::str::from_utf8(body).ok()?;
    if ctype.eq_ignore_ascii_case("application/dtmf-relay") {
        let (mut digit, mut duration_ms) = (None, None);
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k.trim() {
                k if k.eq_ignore_ascii_case("Signal") => digit = digit_of(v),
                k if k.eq_ignore_ascii_case("Duration") => duration_ms = v.trim().parse().ok(),
                _ => {}
            }
        }
        Some(InfoDtmf {
            digit: digit?,
            duration_ms,
        })
    } else if ctype.eq_ignore_ascii_case("application/dtmf") {
        Some(InfoDtmf {
            digit: digit_of(text)?,
            duration_ms: None,
        })
    } else {
        None
    }
}

/// The `application/dtmf-relay` body for a digit (to relay DTMF to a peer
/// that wants INFO).
pub fn dtmf_relay_body(digit: char, duration_ms: u32) -> String {
    format!("Signal={digit}\r\nDuration={duration_ms}\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_formats() {
        assert_eq!(
            parse_info_dtmf("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n"),
            Some(InfoDtmf {
                digit: '5',
                duration_ms: Some(160)
            })
        );
        assert_eq!(
            parse_info_dtmf(
                "Application/DTMF-Relay; charset=x",
                b"Signal= #\nDuration= 250"
            )
            .unwrap()
            .digit,
            '#'
        );
        assert_eq!(
            parse_info_dtmf("application/dtmf", b"11").unwrap().digit,
            '#'
        );
        assert_eq!(
            parse_info_dtmf("application/dtmf", b"13").unwrap().digit,
            'B'
        );
        assert_eq!(
            parse_info_dtmf("application/dtmf", b"*").unwrap().digit,
            '*'
        );
        assert_eq!(parse_info_dtmf("application/dtmf", b"x"), None);
        assert_eq!(parse_info_dtmf("application/dtmf", b"17"), None);
        assert_eq!(
            parse_info_dtmf("application/dtmf", b"16").unwrap().digit,
            'F'
        );
        assert_eq!(
            parse_info_dtmf("application/dtmf-relay", b"Duration=5"),
            None
        );
        assert_eq!(parse_info_dtmf("text/plain", b"5"), None);
        assert_eq!(parse_info_dtmf("application/dtmf", b"\xff"), None);
        let body = dtmf_relay_body('7', 100);
        assert_eq!(
            parse_info_dtmf("application/dtmf-relay", body.as_bytes()).unwrap(),
            InfoDtmf {
                digit: '7',
                duration_ms: Some(100)
            }
        );
    }
}
