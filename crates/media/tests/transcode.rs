//! Transcoding between every pair of {PCMU, PCMA, G722, Opus}: a 1004 Hz tone
//! at −12 dBFS encoded in codec A, transcoded A → B packet by packet (20 ms),
//! decoded from B, keeps its level and has a signal-to-noise-and-distortion
//! ratio above a stated bound per pair; no allocation per packet; the Opus
//! decoder path survives any bytes.
//!
//! Bounds (SINAD over the whole chain: encode A, transcode, decode B;
//! deterministic, measured values in the README's Codecs section): ≥ 30 dB
//! for every path without Opus (one G.711 stage ≈ 38 dB for a −12 dBFS
//! tone, µ-law then A-law ≈ 32), ≥ 25 dB with Opus at 32 kbit/s (≈ 32–40;
//! a perceptual codec, waveform SNR is not its goal). Level within ±1 dB.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::f64::consts::PI;

use media::transcode::{AudioDecoder, AudioEncoder, Transcoder};
use media::Codec;
use proptest::prelude::*;

/// Counts allocations made by the current thread while armed.
struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counters are thread-local `Cell`s with const initialisers,
// which never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(|a| a.get()) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.with(|a| a.get()) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    COUNT.with(|c| c.get())
}

const AMP: f64 = 8192.0; // −12 dBFS
/// The telephony test tone: 1004 Hz, not a sub-multiple of 8 kHz, so the
/// quantisation error spreads over the band instead of landing on a few
/// harmonics of a period-8 pattern.
const F: f64 = 1004.0;

fn tone(hz: u32, seconds: f64) -> Vec<i16> {
    let n = (hz as f64 * seconds) as usize;
    (0..n)
        .map(|i| (AMP * (2.0 * PI * F * i as f64 / hz as f64).sin()).round() as i16)
        .collect()
}

/// Fit of a·sin + b·cos + c at `F`: (amplitude, SINAD dB).
fn sinad(y: &[i16], hz: u32) -> (f64, f64) {
    // The basis is orthogonal enough over whole seconds: project.
    let n = y.len() as f64;
    let (mut s, mut c, mut m) = (0.0, 0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        let ph = 2.0 * PI * F * i as f64 / hz as f64;
        s += v as f64 * ph.sin();
        c += v as f64 * ph.cos();
        m += v as f64;
    }
    let (a, b, dc) = (2.0 * s / n, 2.0 * c / n, m / n);
    let mut sig = 0.0;
    let mut err = 0.0;
    for (i, &v) in y.iter().enumerate() {
        let ph = 2.0 * PI * F * i as f64 / hz as f64;
        let fit = a * ph.sin() + b * ph.cos() + dc;
        sig += (fit - dc).powi(2);
        err += (v as f64 - fit).powi(2);
    }
    ((a * a + b * b).sqrt(), 10.0 * (sig / err.max(1e-9)).log10())
}

fn bound(from: Codec, to: Codec) -> f64 {
    if from == Codec::Opus || to == Codec::Opus {
        25.0
    } else {
        30.0
    }
}

/// Encodes one second of tone in `from`, transcodes to `to` per 20 ms
/// packet, decodes; returns the decoded signal at `to`'s rate.
fn round_trip(from: Codec, to: Codec) -> Vec<i16> {
    let mut enc = AudioEncoder::new(from);
    let mut t = Transcoder::new(from, to);
    let mut dec = AudioDecoder::new(to);
    let x = tone(from.sample_rate(), 1.0);
    let mut y = Vec::new();
    for frame in x.chunks(from.samples_per_20ms()) {
        let p = enc.encode(frame).unwrap();
        let q = t.transcode(p).unwrap();
        y.extend_from_slice(dec.decode(q).unwrap());
    }
    y
}

#[test]
fn every_pair_keeps_a_1khz_tone_within_bounds() {
    let mut failures = Vec::new();
    println!("| from \\ to | PCMU | PCMA | G722 | opus |");
    println!("|---|---|---|---|---|");
    for from in Codec::ALL {
        let mut row = format!("| {} |", from.name());
        for to in Codec::ALL {
            let y = round_trip(from, to);
            assert_eq!(y.len(), to.sample_rate() as usize, "{from:?} -> {to:?}");
            // Skip 200 ms of start-up (filters, ADPCM and Opus adaptation).
            let (amp, snr) = sinad(&y[y.len() / 5..], to.sample_rate());
            let gain = 20.0 * (amp / AMP).log10();
            row += &format!(" {snr:.1} dB ({gain:+.1}) |");
            if snr < bound(from, to) || gain.abs() > 1.0 {
                failures.push(format!(
                    "{from:?} -> {to:?}: SINAD {snr:.1} dB (bound {}), gain {gain:+.2} dB",
                    bound(from, to)
                ));
            }
        }
        println!("{row}");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn no_allocation_per_packet() {
    for from in Codec::ALL {
        for to in Codec::ALL {
            let mut enc = AudioEncoder::new(from);
            let mut t = Transcoder::new(from, to);
            let mut dec = AudioDecoder::with_rate(to, 48000).unwrap();
            let x = tone(from.sample_rate(), 0.4);
            let packets: Vec<Vec<u8>> = x
                .chunks(from.samples_per_20ms())
                .map(|f| enc.encode(f).unwrap().to_vec())
                .collect();
            // Warm up (first packets may size lazily-built state).
            for p in &packets[..5] {
                let q = t.transcode(p).unwrap();
                dec.decode(q).unwrap();
            }
            let n = allocations(|| {
                for p in &packets[5..] {
                    let q = t.transcode(p).unwrap();
                    dec.decode(q).unwrap();
                }
                t.conceal().unwrap();
                dec.conceal().unwrap();
            });
            assert_eq!(n, 0, "{from:?} -> {to:?}: {n} allocations");
        }
    }
}

/// A valid Opus packet of 20 ms of tone.
fn opus_packet() -> Vec<u8> {
    let mut enc = AudioEncoder::new(Codec::Opus);
    let x = tone(48000, 0.1);
    let mut last = Vec::new();
    for f in x.chunks(960) {
        last = enc.encode(f).unwrap().to_vec();
    }
    last
}

#[test]
fn opus_truncations_and_bit_flips_never_panic() {
    let p = opus_packet();
    let mut t = Transcoder::new(Codec::Opus, Codec::Pcmu);
    for len in 0..=p.len() {
        let _ = t.transcode(&p[..len]);
    }
    for bit in 0..p.len() * 8 {
        let mut q = p.clone();
        q[bit / 8] ^= 1 << (bit % 8);
        let _ = t.transcode(&q);
    }
    // Still works afterwards.
    assert_eq!(t.transcode(&p).unwrap().len(), 160);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_payload_never_panics(
        data in proptest::collection::vec(any::<u8>(), 0..1600),
        from in 0usize..4,
        to in 0usize..4,
    ) {
        let (from, to) = (Codec::ALL[from], Codec::ALL[to]);
        let mut t = Transcoder::new(from, to);
        let _ = t.transcode(&data);
        let mut d = AudioDecoder::with_rate(from, 16000).unwrap();
        let _ = d.decode(&data);
    }

    #[test]
    fn opus_toc_prefixed_garbage_never_panics(
        toc in any::<u8>(),
        data in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut d = AudioDecoder::new(Codec::Opus);
        let mut p = vec![toc];
        p.extend_from_slice(&data);
        let _ = d.decode(&p);
        let _ = d.decode(&p);
    }
}
