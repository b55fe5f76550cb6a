//! SDP (RFC 4566): parse never panics; what parses prints and parses again
//! to the same description; an answer to it never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_core::sdp::{self, Sdp};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Sdp::parse(data) {
        let printed = s.to_string();
        let again = Sdp::parse(printed.as_bytes()).expect("a printed SDP parses");
        assert_eq!(again.to_string(), printed);
        let _ = sdp::answer_audio(&s, "127.0.0.1".parse().unwrap(), 20_000, &["PCMU", "PCMA"], 1);
        let _ = sdp::remote_audio(&s);
    }
});
