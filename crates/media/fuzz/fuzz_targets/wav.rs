#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = media::wav::read_wav(data) {
        // Resampling what was read must not panic either (bounded size).
        if a.samples.len() < 100_000 {
            let _ = media::Prompt::from_pcm(&a.samples, a.rate);
        }
    }
});
