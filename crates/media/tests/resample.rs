//! The streaming resampler (`media::resample::Resampler`) between 8, 16 and
//! 48 kHz: a tone in the pass band keeps its level (±1 dB), a tone that
//! would alias (down) or its image (up) is attenuated by more than 40 dB,
//! 20 ms frames give exactly the whole-signal output, and each frame gives
//! exactly `len × to / from` samples.

use media::resample::Resampler;
use proptest::prelude::*;
use std::f64::consts::PI;

const RATES: [u32; 3] = [8000, 16000, 48000];

fn tone(rate: u32, f: f64, n: usize, amp: f64) -> Vec<i16> {
    (0..n)
        .map(|i| (amp * (2.0 * PI * f * i as f64 / rate as f64).sin()).round() as i16)
        .collect()
}

/// Feeds `x` in 20 ms frames; checks every frame's output length.
fn run_frames(from: u32, to: u32, x: &[i16]) -> Vec<i16> {
    let mut r = Resampler::new(from, to);
    let fin = from as usize / 50;
    let fout = to as usize / 50;
    let mut y = Vec::new();
    let mut out = vec![0i16; fout];
    for frame in x.chunks(fin) {
        assert_eq!(r.output_len(frame.len()), fout);
        assert_eq!(r.process(frame, &mut out), fout, "{from}->{to}");
        y.extend_from_slice(&out);
    }
    y
}

/// Amplitude of the `f` Hz component of `y` (least-squares fit of a sine
/// and a cosine over a whole number of cycles is not needed: a long
/// window makes the leakage negligible).
fn amplitude(y: &[i16], rate: u32, f: f64) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        let ph = 2.0 * PI * f * i as f64 / rate as f64;
        s += v as f64 * ph.sin();
        c += v as f64 * ph.cos();
    }
    2.0 * (s * s + c * c).sqrt() / y.len() as f64
}

fn rms(y: &[i16]) -> f64 {
    (y.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / y.len() as f64).sqrt()
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// The steady-state part of one second of output (transient skipped).
fn steady(y: &[i16], to: u32) -> &[i16] {
    let skip = to as usize / 10;
    &y[skip..y.len() - skip]
}

#[test]
fn passband_tone_within_1_db() {
    for from in RATES {
        for to in RATES {
            // 1 kHz, and 3 kHz (near the 8 kHz pass-band edge of 3.4 kHz).
            for f in [1000.0, 3000.0] {
                let x = tone(from, f, from as usize, 10000.0);
                let y = run_frames(from, to, &x);
                let a = amplitude(steady(&y, to), to, f);
                let gain = db(a / 10000.0);
                println!("{from} -> {to}: {f} Hz {gain:+.3} dB");
                assert!(gain.abs() < 1.0, "{from} -> {to}: {f} Hz gain {gain:.2} dB");
            }
        }
    }
}

#[test]
fn aliasing_attenuated_over_40_db() {
    for from in RATES {
        for to in RATES {
            if to >= from {
                continue;
            }
            // A tone above the output's Nyquist (5 kHz → 8 kHz would fold to
            // 3 kHz; 10 kHz → 16 kHz to 6 kHz): must be removed.
            let nyq = to as f64 / 2.0;
            for f in [nyq * 1.25, nyq * 1.5, (from as f64 / 2.0) * 0.95] {
                let x = tone(from, f, from as usize, 10000.0);
                let y = run_frames(from, to, &x);
                let att = db(rms(steady(&y, to)) / (10000.0 / 2f64.sqrt()));
                println!("{from} -> {to}: {f} Hz {att:+.1} dB");
                assert!(att < -40.0, "{from} -> {to}: {f} Hz only {att:.1} dB");
            }
        }
    }
}

#[test]
fn images_attenuated_over_40_db() {
    for from in RATES {
        for to in RATES {
            if to <= from {
                continue;
            }
            // Up-sampling a 1 kHz tone leaves images at k·from ± 1 kHz.
            let f = 1000.0;
            let x = tone(from, f, from as usize, 10000.0);
            let y = run_frames(from, to, &x);
            let y = steady(&y, to);
            let mut k = 1.0;
            while k * from as f64 - f < to as f64 / 2.0 {
                for img in [k * from as f64 - f, k * from as f64 + f] {
                    if img < to as f64 / 2.0 {
                        let att = db(amplitude(y, to, img) / 10000.0);
                        println!("{from} -> {to}: image {img} Hz {att:+.1} dB");
                        assert!(att < -40.0, "{from} -> {to}: image {img} Hz {att:.1} dB");
                    }
                }
                k += 1.0;
            }
        }
    }
}

#[test]
fn frames_equal_whole_signal() {
    for from in RATES {
        for to in RATES {
            let mut x = tone(from, 440.0, from as usize, 8000.0);
            for (i, v) in x.iter_mut().enumerate() {
                *v = v.wrapping_add(((i * 7919) % 2001) as i16 - 1000);
            }
            let framed = run_frames(from, to, &x);
            let mut whole = vec![0i16; to as usize];
            let mut r = Resampler::new(from, to);
            assert_eq!(r.process(&x, &mut whole), to as usize);
            assert_eq!(framed, whole, "{from} -> {to}");
        }
    }
}

#[test]
fn constant_stays_constant_and_reset_restarts() {
    for (from, to) in [(8000, 48000), (48000, 8000), (16000, 8000), (16000, 48000)] {
        let x = vec![1234i16; from as usize / 5];
        let mut r = Resampler::new(from, to);
        let mut y = vec![0i16; to as usize / 5];
        r.process(&x, &mut y);
        let tail = &y[y.len() / 2..];
        assert!(
            tail.iter().all(|&v| (v - 1234).abs() <= 1),
            "{from} -> {to}: {:?}",
            &tail[..8]
        );
        r.reset();
        let mut again = vec![0i16; to as usize / 5];
        r.process(&x, &mut again);
        assert_eq!(y, again);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any split of the input into calls gives the whole-signal output.
    #[test]
    fn any_split_equals_whole(
        rates in (0usize..3, 0usize..3),
        x in proptest::collection::vec(any::<i16>(), 0..3000),
        cuts in proptest::collection::vec(0usize..3000, 0..8),
    ) {
        let (from, to) = (RATES[rates.0], RATES[rates.1]);
        let mut whole_r = Resampler::new(from, to);
        let mut whole = vec![0i16; whole_r.output_len(x.len())];
        let n = whole_r.process(&x, &mut whole);
        prop_assert_eq!(n, whole.len());
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(x.len())).collect();
        cuts.sort_unstable();
        let mut r = Resampler::new(from, to);
        let mut got = Vec::new();
        let mut start = 0;
        for end in cuts.into_iter().chain([x.len()]) {
            let mut out = vec![0i16; r.output_len(end - start)];
            prop_assert_eq!(r.process(&x[start..end], &mut out), out.len());
            got.extend_from_slice(&out);
            start = end;
        }
        prop_assert_eq!(got, whole);
    }
}
