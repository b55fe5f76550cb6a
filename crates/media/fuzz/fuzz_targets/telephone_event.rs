#![no_main]
use libfuzzer_sys::fuzz_target;
use media::dtmf::{EventReceiver, TelephoneEvent};

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = TelephoneEvent::parse(data) {
        assert_eq!(TelephoneEvent::parse(&e.to_bytes()).unwrap().event, e.event);
    }
    let mut rx = EventReceiver::new(8000);
    for chunk in data.chunks(8) {
        if chunk.len() >= 4 {
            let ts = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let _ = rx.on_packet(ts, &chunk[4..]);
        }
    }
});
