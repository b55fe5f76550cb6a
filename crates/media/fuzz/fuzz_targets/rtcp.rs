#![no_main]
use libfuzzer_sys::fuzz_target;
use media::rtcp::{self, RtcpRewrite};

struct Flip;
impl RtcpRewrite for Flip {
    fn sender(&mut self, s: u32) -> u32 {
        !s
    }
    fn source(&mut self, s: u32) -> u32 {
        s.rotate_left(3)
    }
    fn sender_info(&mut self, _: u32, ts: &mut u32, p: &mut u32, o: &mut u32) {
        *ts = ts.wrapping_add(1);
        *p = !*p;
        *o = 0;
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = rtcp::parse(data);
    let mut copy = data.to_vec();
    let rewritten = rtcp::rewrite(&mut copy, &mut Flip);
    assert_eq!(parsed.is_ok(), rewritten.is_ok());
    if let Ok(a) = parsed {
        assert_eq!(
            a.len(),
            rtcp::parse(&copy).expect("rewrite keeps validity").len()
        );
    }
});
