//! Whole messages: datagram parsing, stream framing, every accessor, and
//! the canonical printer (a message that parses must reprint to a message
//! that parses to the same canonical bytes).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_core::{multipart, HeaderName, Message};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(n)) = Message::frame_len(data) {
        assert!(n <= data.len());
    }
    let Ok(m) = Message::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = (m.method(), m.method_str(), m.request_uri(), m.request_uri_scheme());
    let _ = (m.status(), m.reason(), m.call_id(), m.cseq(), m.top_via());
    let (from, to) = (m.from(), m.to());
    let _ = (from.tag(), from.uri(), from.display_name(), to.tag(), to.uri());
    let _ = (m.max_forwards(), m.expires(), m.content_type(), m.content_length());
    for v in m.vias().flatten() {
        let _ = (v.branch(), v.received(), v.rport());
    }
    for c in m.contacts() {
        let _ = c.uri().map(|u| u.user_decoded());
    }
    let _ = m.list(HeaderName::Route).count();
    let _ = m.headers_named("e").count();
    if let Some(b) = m.content_type().and_then(multipart::boundary) {
        let _ = multipart::split(&m.body(), b);
    }
    let printed = m.to_bytes();
    let again = Message::parse(printed.clone()).expect("canonical form must parse");
    assert_eq!(again.to_bytes(), printed, "printing must be stable");
    assert_eq!(again.call_id(), m.call_id());
    assert_eq!(again.body(), m.body());
});
