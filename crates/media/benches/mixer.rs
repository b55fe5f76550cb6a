//! N−1 mixer cost per 20 ms frame.
//! `cargo bench -p media --bench mixer`
//!
//! For a stable instruction count on a noisy machine, `MIXER_CALLGRIND=<case>`
//! (e.g. `10-party 48kHz loud`) skips criterion and runs 1,000 in-place
//! mixes of that case (AVX2/detected kernels; `MIXER_PORTABLE=1` for the
//! portable ones), to run under
//! `valgrind --tool=callgrind --toggle-collect='*Mixer*mix*'`: the
//! collected instructions divided by 1,000 are the cost of one frame.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use media::mixer::{Mixer, Role};

fn setup(mut m: Mixer, parties: u32) -> Mixer {
    for id in 0..parties {
        m.add_party(id, Role::Participant);
    }
    m
}

fn feed(m: &mut Mixer, parties: u32, inputs: &[Vec<i16>]) {
    for id in 0..parties {
        m.set_input(id, &inputs[id as usize]);
    }
}

/// `amp` = peak per party: 20000 (loud: the 10-party sum overflows i16 and
/// every listener takes the exact i32 path) or 2000 (speech level, about
/// −24 dBFS: the sum fits and listeners take the saturating-i16 path).
fn inputs(parties: u32, frame: usize, amp: i32) -> Vec<Vec<i16>> {
    (0..parties)
        .map(|p| {
            (0..frame)
                .map(|n| ((n as i32 * 131 + p as i32 * 977) % (2 * amp) - amp) as i16)
                .collect()
        })
        .collect()
}

const CASES: [(&str, u32, usize, i32); 4] = [
    ("3-party 8kHz loud", 3, 160, 20000),
    ("10-party 48kHz loud", 10, 960, 20000),
    ("3-party 8kHz speech", 3, 160, 2000),
    ("10-party 48kHz speech", 10, 960, 2000),
];

/// The `MIXER_CALLGRIND` mode (see the top of this file).
fn callgrind(case: &str) {
    let Some(&(_, parties, frame, amp)) = CASES.iter().find(|c| c.0 == case) else {
        panic!("MIXER_CALLGRIND: no case {case:?}");
    };
    let ins = inputs(parties, frame, amp);
    let m = if std::env::var_os("MIXER_PORTABLE").is_some() {
        Mixer::new_portable(frame)
    } else {
        Mixer::new(frame)
    };
    let mut m = setup(m, parties);
    feed(&mut m, parties, &ins);
    for _ in 0..1000 {
        for id in 0..parties {
            black_box(m.input_mut(id));
        }
        m.mix();
        black_box(m.output(0));
    }
    eprintln!("{case} ({}): 1000 mixes", m.kernels());
}

fn bench(c: &mut Criterion) {
    if let Ok(case) = std::env::var("MIXER_CALLGRIND") {
        callgrind(&case);
        return;
    }
    let cases = CASES;
    // With the input copy (`set_input`), detected kernels vs portable.
    for (name, parties, frame, amp) in cases {
        let ins = inputs(parties, frame, amp);
        for m in [Mixer::new(frame), Mixer::new_portable(frame)] {
            let mut m = setup(m, parties);
            let label = format!("mix+copy {name} ({})", m.kernels());
            c.bench_function(&label, |b| {
                b.iter(|| {
                    feed(&mut m, parties, &ins);
                    m.mix();
                    black_box(m.output(0));
                })
            });
        }
    }
    // Mix alone: inputs decoded in place (`input_mut`), no copy.
    for (name, parties, frame, amp) in cases {
        let ins = inputs(parties, frame, amp);
        let mut m = setup(Mixer::new(frame), parties);
        feed(&mut m, parties, &ins);
        c.bench_function(&format!("mix {name} ({})", m.kernels()), |b| {
            b.iter(|| {
                for id in 0..parties {
                    black_box(m.input_mut(id));
                }
                m.mix();
                black_box(m.output(0));
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
