//! Multipart bodies (RFC 2046 §5.1): the first line of the input is the
//! Content-Type, the rest is the body.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_core::multipart;

fuzz_target!(|data: &[u8]| {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let Ok(ct) = std::str::from_utf8(&data[..nl]) else {
        return;
    };
    let body = Bytes::copy_from_slice(&data[nl + 1..]);
    if let Some(b) = multipart::boundary(ct) {
        if let Ok(parts) = multipart::split(&body, b) {
            for p in parts {
                let _ = (p.content_type(), p.headers().count(), p.body.len());
            }
        }
    }
});
