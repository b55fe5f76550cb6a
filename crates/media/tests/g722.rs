//! G.722 is bit-exact with an independent implementation (spandsp, which
//! passes the ITU-T test sequences): encoder and decoder on reference
//! vectors in `tests/fixtures/g722` (see the README there for how they were
//! made), fed in 20 ms packets so state carries across calls; and the
//! decoder never panics on any bytes.

use media::g722::{G722Decoder, G722Encoder};
use proptest::prelude::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/g722/");

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn samples(name: &str) -> Vec<i16> {
    bytes(name)
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn first_diff<T: PartialEq + Copy>(a: &[T], b: &[T]) -> Option<(usize, T, T)> {
    a.iter()
        .zip(b)
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .map(|(i, (&x, &y))| (i, x, y))
}

/// Encodes in 20 ms packets (320 samples → 160 bytes).
fn encode(pcm: &[i16]) -> Vec<u8> {
    let mut enc = G722Encoder::new();
    let mut out = vec![0u8; pcm.len() / 2];
    for (p, o) in pcm.chunks(320).zip(out.chunks_mut(160)) {
        assert_eq!(enc.encode(p, o), o.len());
    }
    out
}

/// Decodes in 20 ms packets.
fn decode(code: &[u8]) -> Vec<i16> {
    let mut dec = G722Decoder::new();
    let mut out = vec![0i16; code.len() * 2];
    for (c, o) in code.chunks(160).zip(out.chunks_mut(320)) {
        assert_eq!(dec.decode(c, o), o.len());
    }
    out
}

#[test]
fn encoder_bit_exact() {
    for name in ["sweep", "speech", "silence", "fullscale"] {
        let pcm = samples(&format!("{name}.pcm"));
        let want = bytes(&format!("{name}.g722"));
        let got = encode(&pcm);
        assert_eq!(got.len(), want.len(), "{name}");
        assert_eq!(
            first_diff(&got, &want),
            None,
            "{name}: first differing byte"
        );
    }
}

/// Decodes with the final limiter bypassed (the receive QMF's raw output).
fn decode_wide(code: &[u8]) -> Vec<i32> {
    let mut dec = G722Decoder::new();
    code.iter().flat_map(|&c| dec.decode_byte_wide(c)).collect()
}

#[test]
fn decoder_bit_exact() {
    for name in ["sweep", "speech", "silence"] {
        let got = decode(&bytes(&format!("{name}.g722")));
        let want = samples(&format!("{name}.dec"));
        assert_eq!(got.len(), want.len(), "{name}");
        assert_eq!(
            first_diff(&got, &want),
            None,
            "{name}: first differing sample"
        );
    }
}

/// When the receive QMF's output exceeds 16 bits (over-driven full-scale
/// input, or arbitrary bytes), spandsp 0.0.6 wraps it (an `(int16_t)`
/// cast) where we saturate, as the recommendation's limiters do (and as
/// ffmpeg's and WebRTC's derivatives of spandsp do). So: our unlimited
/// output wrapped to 16 bits equals spandsp's output exactly, and our
/// output is that value saturated.
#[test]
fn decoder_bit_exact_except_where_spandsp_wraps() {
    for (name, min_wrapped) in [("fullscale", 1), ("random", 1)] {
        let code = bytes(&format!("{name}.g722"));
        let want = samples(&format!("{name}.dec"));
        let wide = decode_wide(&code);
        let got = decode(&code);
        assert_eq!(wide.len(), want.len(), "{name}");
        let wrapped: Vec<i16> = wide.iter().map(|&v| v as i16).collect();
        assert_eq!(
            first_diff(&wrapped, &want),
            None,
            "{name}: first differing sample"
        );
        let saturated: Vec<i16> = wide
            .iter()
            .map(|&v| v.clamp(i16::MIN.into(), i16::MAX.into()) as i16)
            .collect();
        assert_eq!(got, saturated, "{name}");
        let n = wide.iter().filter(|&&v| v != v as i16 as i32).count();
        assert!(n >= min_wrapped, "{name}: {n} samples beyond 16 bits");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000), split in 0usize..2000) {
        let mut dec = G722Decoder::new();
        let mut out = vec![0i16; data.len() * 2];
        let split = split.min(data.len());
        let n = dec.decode(&data[..split], &mut out);
        let m = dec.decode(&data[split..], &mut out[n..]);
        prop_assert_eq!(n + m, data.len() * 2);
    }

    #[test]
    fn encoder_never_panics(pcm in proptest::collection::vec(any::<i16>(), 0..2000)) {
        let mut enc = G722Encoder::new();
        let mut out = vec![0u8; pcm.len() / 2];
        prop_assert_eq!(enc.encode(&pcm, &mut out), pcm.len() / 2);
    }
}
