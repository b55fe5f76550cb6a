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
        let mut it = s.split_whitespace();
        let num = it.next().ok_or(BAD)?;
        let method = it.next().ok_or(BAD)?;
        if it.next().is_some() || !num.bytes().all(|b| b.is_ascii_digit()) || !is_token(method) {
            return Err(BAD);
        }
        let seq: u32 = num.parse().map_err(|_| BAD)?;
        if seq >= 1 << 31 {
            return Err(BAD);
        }
        Ok(CSeq {
            seq,
            method: Method::from_token(method),
            method_str: method,
        })
    }
}
