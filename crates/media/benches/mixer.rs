//! N−1 mixer cost per 20 ms frame.
//! `cargo bench -p media --bench mixer`

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

fn inputs(parties: u32, frame: usize) -> Vec<Vec<i16>> {
    (0..parties)
        .map(|p| {
            (0..frame)
                .map(|n| ((n as i32 * 131 + p as i32 * 977) % 40000 - 20000) as i16)
                .collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for (name, parties, frame) in [
        ("3-party 8kHz", 3u32, 160usize),
        ("10-party 48kHz", 10, 960),
    ] {
        let ins = inputs(parties, frame);
        for (kname, m) in [
            ("detected", Mixer::new(frame)),
            ("portable", Mixer::new_portable(frame)),
        ] {
            let mut m = setup(m, parties);
            let label = format!("mix {name} ({kname}: {})", m.kernels());
            c.bench_function(&label, |b| {
                b.iter(|| {
                    // Inputs are marked fresh each frame; the copy is part of
                    // the cost a caller pays when it does not decode in place.
                    feed(&mut m, parties, &ins);
                    m.mix();
                    black_box(m.output(0));
                })
            });
        }
    }
    // Mix alone: inputs decoded in place (`input_mut`), no copy.
    for (name, parties, frame) in [
        ("3-party 8kHz", 3u32, 160usize),
        ("10-party 48kHz", 10, 960),
    ] {
        let ins = inputs(parties, frame);
        let mut m = setup(Mixer::new(frame), parties);
        feed(&mut m, parties, &ins);
        c.bench_function(&format!("mix only {name} ({})", m.kernels()), |b| {
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
