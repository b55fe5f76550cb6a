//! CSeq (RFC 3261 §20.16): a sequence number below 2^31 and a method.

use crate::error::ParseError;
use crate::method::{is_token, Method};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub seq: u32,
    pub method: Method,
    pub method_str: &'a str,
}

impl<'a> CSeq<'a> {
    pub fn parse(s: &'a str) -> Result<CSeq<'a>, ParseError> {
        const BAD: ParseError = ParseError::BadHeaderValue("CSeq");
        let s = s.trim_ascii();
        // digits (the number read as they are counted), whitespace, one token
        let mut seq: u64 = 0;
        let mut digits = 0;
        for &c in s.as_bytes() {
            if !c.is_ascii_digit() || digits > 10 {
                break;
            }
            seq = seq * 10 + u64::from(c - b'0');
            digits += 1;
        }
        let rest = &s[digits..];
        let method = rest.trim_ascii_start();
        if digits == 0 || digits > 10 || method.len() == rest.len() || !is_token(method) {
            return Err(BAD);
        }
        if seq >= 1 << 31 {
            return Err(BAD);
        }
        Ok(CSeq {
            seq: seq as u32,
            method: Method::from_token(method),
            method_str: method,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bounds_cseq() {
        let c = CSeq::parse(" 0009 \t INVITE ").unwrap();
        assert_eq!(
            (c.seq, c.method, c.method_str),
            (9, Method::Invite, "INVITE")
        );
        assert_eq!(CSeq::parse("2147483647 BYE").unwrap().seq, 2147483647);
        for bad in [
            "2147483648 BYE",
            "1BYE",
            "BYE",
            "1",
            "1 BYE x",
            "-1 BYE",
            "1 B@E",
            "",
            "36893488147419103232 REGISTER",
        ] {
            assert!(CSeq::parse(bad).is_err(), "{bad}");
        }
    }
}
