#![no_main]
use libfuzzer_sys::fuzz_target;
use media::rtp::{RtpHeaderMut, RtpPacket};

fuzz_target!(|data: &[u8]| {
    let _ = media::rtp::is_rtcp(data);
    if let Ok(p) = RtpPacket::parse(data) {
        let _ = (
            p.marker(),
            p.payload_type(),
            p.sequence(),
            p.timestamp(),
            p.ssrc(),
        );
        let _ = p.csrcs().count();
        let _ = p.extension();
        assert!(p.header_len() + p.payload().len() <= data.len());
        let mut copy = data.to_vec();
        let mut h = RtpHeaderMut::new(&mut copy).expect("parsed");
        h.set_sequence(1);
        h.set_timestamp(2);
        h.set_ssrc(3);
        let q = RtpPacket::parse(&copy).expect("rewritten header still parses");
        assert_eq!(q.payload(), p.payload());
    }
});
