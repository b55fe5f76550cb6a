//! SIP/SIPS/TEL URIs (RFC 3261 §19.1, RFC 3966, RFC 5118 IPv6 references).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_core::Uri;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Uri::scheme_of(s);
    if let Some(u) = Uri::parse(s) {
        let _ = (u.user_decoded(), u.transport(), u.params.iter().count());
        // every part is a slice of the input
        for part in [u.user, u.password, Some(u.host), u.headers].into_iter().flatten() {
            let (p, base) = (part.as_ptr() as usize, s.as_ptr() as usize);
            assert!(p >= base && p + part.len() <= base + s.len());
        }
    }
});
