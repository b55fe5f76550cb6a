//! Per-packet cost of the codecs, the streaming resampler and every
//! transcoding pair, on 20 ms packets of a 1 kHz tone plus noise (speech
//! level, ≈ −18 dBFS). `cargo bench -p media --bench codecs`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use media::g722::{G722Decoder, G722Encoder};
use media::opus::{OpusDecoder, OpusEncoder};
use media::resample::Resampler;
use media::transcode::{AudioEncoder, Transcoder};
use media::Codec;

/// One second of test signal at `hz`.
fn signal(hz: u32) -> Vec<i16> {
    let mut seed = 1u32;
    (0..hz as usize)
        .map(|i| {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let noise = ((seed >> 16) as i32 - 32768) as f64 / 32768.0 * 400.0;
            let t = i as f64 / hz as f64;
            (3000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin() + noise) as i16
        })
        .collect()
}

fn codecs(c: &mut Criterion) {
    let x16 = signal(16000);
    let mut g = c.benchmark_group("g722 20ms");
    let mut enc = G722Encoder::new();
    let mut code = [0u8; 160];
    let mut i = 0;
    g.bench_function("encode", |b| {
        b.iter(|| {
            i = (i + 320) % 16000;
            enc.encode(black_box(&x16[i..i + 320]), &mut code)
        })
    });
    let mut dec = G722Decoder::new();
    let mut out = [0i16; 320];
    g.bench_function("decode", |b| {
        b.iter(|| dec.decode(black_box(&code), &mut out))
    });
    g.finish();

    let mut g = c.benchmark_group("opus 20ms encode+decode");
    for (hz, complexity) in [(8000u32, 9), (16000, 9), (48000, 9), (8000, 5), (48000, 5)] {
        let x = signal(hz);
        let n = hz as usize / 50;
        let mut enc = OpusEncoder::new(hz).unwrap();
        enc.set_complexity(complexity);
        let mut dec = OpusDecoder::new(hz).unwrap();
        let mut pkt = [0u8; 1500];
        let mut out = vec![0i16; n];
        let mut i = 0;
        g.bench_function(format!("{} kHz c{complexity}", hz / 1000), |b| {
            b.iter(|| {
                i = (i + n) % hz as usize;
                let len = enc.encode(black_box(&x[i..i + n]), &mut pkt).unwrap();
                dec.decode(&pkt[..len], &mut out).unwrap()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("resample 20ms");
    for (from, to) in [
        (8000u32, 16000u32),
        (16000, 8000),
        (8000, 48000),
        (48000, 8000),
        (16000, 48000),
        (48000, 16000),
    ] {
        let x = signal(from);
        let n = from as usize / 50;
        let mut r = Resampler::new(from, to);
        let mut out = vec![0i16; to as usize / 50];
        let mut i = 0;
        g.bench_function(format!("{}->{} kHz", from / 1000, to / 1000), |b| {
            b.iter(|| {
                i = (i + n) % from as usize;
                r.process(black_box(&x[i..i + n]), &mut out)
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("transcode 20ms");
    for from in Codec::ALL {
        // 50 packets of `from`, transcoded round-robin.
        let mut enc = AudioEncoder::new(from);
        let x = signal(from.sample_rate());
        let packets: Vec<Vec<u8>> = x
            .chunks(from.samples_per_20ms())
            .map(|f| enc.encode(f).unwrap().to_vec())
            .collect();
        for to in Codec::ALL {
            let mut t = Transcoder::new(from, to);
            let mut i = 0;
            g.bench_function(format!("{}->{}", from.name(), to.name()), |b| {
                b.iter(|| {
                    i = (i + 1) % packets.len();
                    t.transcode(black_box(&packets[i])).unwrap().len()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, codecs);
criterion_main!(benches);
