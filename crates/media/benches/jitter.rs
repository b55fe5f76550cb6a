//! Jitter buffer: cost of one packet inserted + one frame pulled, and the
//! comparison of our adaptive buffer, fixed-delay buffers and the `neteq`
//! crate on the standard deterministic traces (printed first, in the same
//! run; the table and its harness are those of `tests/jitter-traces.rs`).
//! `cargo bench -p media --bench jitter`

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use media::jitter::{JitterBuffer, JitterConfig, PlayoutMode};

// The test's harness (table, neteq driver with its virtual clock); its
// #[test] functions are not compiled here.
#[allow(dead_code)]
#[path = "../tests/jitter-traces.rs"]
mod jitter_traces;

fn traces() {
    jitter_traces::print_table(&jitter_traces::table());
}

fn bench(c: &mut Criterion) {
    traces();
    for (label, mode) in [
        ("adaptive", PlayoutMode::Adaptive { quantile: 0.97 }),
        ("fixed", PlayoutMode::Fixed(Duration::from_millis(60))),
    ] {
        let mut jb = JitterBuffer::new(JitterConfig {
            mode,
            ..Default::default()
        });
        let t0 = Instant::now();
        let payload = [0x55u8; 160];
        let mut out = [0i16; 160];
        let mut i: u64 = 0;
        c.bench_function(&format!("jitter insert+pull ({label})"), |b| {
            b.iter(|| {
                let t = t0 + Duration::from_millis(20 * i);
                // Mild deterministic jitter so the estimator works.
                let j = Duration::from_micros((i * 7919) % 15000);
                jb.insert(
                    t + j,
                    i as u16,
                    (i as u32).wrapping_mul(160),
                    black_box(&payload),
                );
                black_box(jb.pull(t + Duration::from_millis(30), &mut out));
                i += 1;
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
