#![no_main]
//! Hostile RTP payloads into every decoder and transcoder the relay runs
//! on wire input: G.722, Opus (any TOC, any length), and each codec pair.
//! The first byte picks the pair; the rest is a stream of payloads split
//! on 0xFF boundaries so state carries across packets as it does live.
use libfuzzer_sys::fuzz_target;
use media::transcode::{AudioDecoder, Transcoder};
use media::Codec;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let from = Codec::ALL[(sel & 3) as usize];
    let to = Codec::ALL[((sel >> 2) & 3) as usize];
    let mut dec = AudioDecoder::with_rate(from, 8000).expect("8 kHz is supported");
    let mut xc = Transcoder::new(from, to);
    for payload in rest.split(|&b| b == 0xFF).take(64) {
        if let Ok(pcm) = dec.decode(payload) {
            assert!(pcm.len() <= 8000);
        }
        let _ = xc.transcode(payload);
        if sel & 0x10 != 0 {
            let _ = dec.conceal();
            let _ = xc.conceal();
        }
    }
});
