//! Jitter buffer: cost of one packet inserted + one frame pulled, and the
//! adaptive-vs-fixed comparison on the standard deterministic traces
//! (printed first, in the same run).
//! `cargo bench -p media --bench jitter`

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use media::jitter::{JitterBuffer, JitterConfig, PlayoutMode};
use media::netem::{emulate, simulate, standard_traces};

fn traces() {
    const PACKETS: usize = 9000;
    println!(
        "{:<13} {:<12} {:>6} {:>6} {:>6} {:>8} {:>7}",
        "trace", "buffer", "net%", "late%", "conc%", "mean ms", "p95 ms"
    );
    for (name, net) in standard_traces() {
        let (trace, lost) = emulate(&net, PACKETS, Duration::from_millis(20));
        for (label, mode) in [
            ("adaptive", PlayoutMode::Adaptive { quantile: 0.97 }),
            ("fixed-60ms", PlayoutMode::Fixed(Duration::from_millis(60))),
            (
                "fixed-120ms",
                PlayoutMode::Fixed(Duration::from_millis(120)),
            ),
        ] {
            let r = simulate(
                &trace,
                lost,
                PACKETS,
                JitterConfig {
                    mode,
                    ..Default::default()
                },
            );
            println!(
                "{:<13} {:<12} {:>6.2} {:>6.2} {:>6.2} {:>8.1} {:>7.1}",
                name,
                label,
                r.net_loss_pct,
                r.late_pct,
                r.concealed_pct,
                r.mean_delay_ms,
                r.p95_delay_ms
            );
        }
    }
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
