//! Digest `Authorization` headers (RFC 2617/7616/8760): parsing and
//! verifying hostile credentials never panics and never succeeds by accident.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_core::auth::{Credentials, DigestServer};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Credentials::parse(s);
    let mut server = DigestServer::new("switchboard", b"fuzz-secret");
    let verdict = server.verify(s, "REGISTER", 1_700_000_000, |_| Some("pw".to_string()));
    // A valid response needs the HMAC secret's nonce: random bytes never pass.
    assert!(verdict.is_err());
});
