//! Property tests of the sans-IO media parts: the jitter buffer survives
//! any packet sequence, and the mixer equals a naive reference.

use std::time::{Duration, Instant};

use media::jitter::{JitterBuffer, JitterConfig, PlayoutMode, Pulled};
use media::mixer::{Mixer, Role};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert {
        seq: u16,
        ts: u32,
        len: usize,
        dt_us: u32,
    },
    Pull {
        dt_us: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u16>(), any::<u32>(), 0usize..400, 0u32..50_000).prop_map(
            |(seq, ts, len, dt_us)| Op::Insert {
                seq,
                ts,
                len,
                dt_us
            }
        ),
        (0u32..50_000).prop_map(|dt_us| Op::Pull { dt_us }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Arbitrary timestamps, lengths and timing: no panic, counters
    /// consistent, output always a full frame.
    #[test]
    fn jitter_buffer_never_panics(ops in proptest::collection::vec(op(), 1..300), fixed in any::<bool>()) {
        let mode = if fixed { PlayoutMode::Fixed(Duration::from_millis(40)) } else { PlayoutMode::Adaptive { quantile: 0.95 } };
        let mut jb = JitterBuffer::new(JitterConfig { mode, ..Default::default() });
        let mut now = Instant::now();
        let payload = [0x42u8; 400];
        let mut out = [1i16; 160];
        let mut pulls = 0u64;
        for o in ops {
            match o {
                Op::Insert { seq, ts, len, dt_us } => {
                    now += Duration::from_micros(dt_us as u64);
                    jb.insert(now, seq, ts, &payload[..len]);
                }
                Op::Pull { dt_us } => {
                    now += Duration::from_micros(dt_us as u64);
                    let p = jb.pull(now, &mut out);
                    pulls += 1;
                    if p == Pulled::Silence {
                        prop_assert!(out.iter().all(|&x| x == 0));
                    }
                }
            }
        }
        let s = jb.stats();
        prop_assert_eq!(s.played + s.concealed + s.silence, pulls);
        prop_assert!(jb.target_delay() <= Duration::from_millis(400));
    }

    /// Every listener hears exactly clamp(Σ heard inputs) computed in i64.
    #[test]
    fn mixer_matches_reference(
        inputs in proptest::collection::vec(proptest::collection::vec(any::<i16>(), 37), 1..12),
        roles in proptest::collection::vec(0u8..3, 12),
        portable in any::<bool>(),
    ) {
        let n = inputs.len();
        let mut m = if portable { Mixer::new_portable(37) } else { Mixer::new(37) };
        let role = |i: usize| match roles[i] {
            0 => Role::Participant,
            1 => Role::Listen,
            _ => Role::Whisper { to: ((i + 1) % n) as u32 },
        };
        for (i, x) in inputs.iter().enumerate() {
            m.add_party(i as u32, role(i));
            m.set_input(i as u32, x);
        }
        m.mix();
        for l in 0..n {
            let mut want = vec![0i64; 37];
            for (s, x) in inputs.iter().enumerate() {
                let heard = s != l && match role(s) {
                    Role::Participant => true,
                    Role::Listen => false,
                    Role::Whisper { to } => to as usize == l,
                };
                if heard {
                    for (w, &v) in want.iter_mut().zip(x) {
                        *w += v as i64;
                    }
                }
            }
            let want: Vec<i16> = want.iter().map(|&v| v.clamp(-32768, 32767) as i16).collect();
            prop_assert_eq!(m.output(l as u32).unwrap(), &want[..], "listener {}", l);
        }
    }

    /// The same for any frame length (the AVX2 mixer works in blocks of
    /// 64 and 32 samples plus a generic tail), up to 20 parties (more than
    /// 16 talkers), parties without input this frame, and inputs scaled
    /// down per party so sums both fit in i16 and overflow it.
    #[test]
    fn mixer_matches_reference_any_frame(
        (frame, inputs) in (1usize..=200).prop_flat_map(|f| (
            Just(f),
            proptest::collection::vec(proptest::collection::vec(any::<i16>(), f), 1..=20),
        )),
        roles in proptest::collection::vec(0u8..4, 20),
        shifts in proptest::collection::vec(0u32..12, 20),
        silent in proptest::collection::vec(proptest::bool::weighted(0.15), 20),
        portable in any::<bool>(),
    ) {
        let n = inputs.len();
        let mut m = if portable { Mixer::new_portable(frame) } else { Mixer::new(frame) };
        let role = |i: usize| match roles[i] {
            0 | 1 => Role::Participant,
            2 => Role::Listen,
            _ => Role::Whisper { to: ((i + 1) % n) as u32 },
        };
        let inputs: Vec<Vec<i16>> = inputs
            .iter()
            .enumerate()
            .map(|(i, x)| x.iter().map(|&v| v >> shifts[i]).collect())
            .collect();
        // A frame with stale data first: parties without input next frame
        // must be silent, not replay it.
        for (i, x) in inputs.iter().enumerate() {
            m.add_party(i as u32, role(i));
            m.set_input(i as u32, x);
        }
        m.mix();
        for (i, x) in inputs.iter().enumerate() {
            if !silent[i] {
                m.set_input(i as u32, x);
            }
        }
        m.mix();
        for l in 0..n {
            let mut want = vec![0i64; frame];
            for (s, x) in inputs.iter().enumerate() {
                let heard = s != l && !silent[s] && match role(s) {
                    Role::Participant => true,
                    Role::Listen => false,
                    Role::Whisper { to } => to as usize == l,
                };
                if heard {
                    for (w, &v) in want.iter_mut().zip(x) {
                        *w += v as i64;
                    }
                }
            }
            let want: Vec<i16> = want.iter().map(|&v| v.clamp(-32768, 32767) as i16).collect();
            prop_assert_eq!(m.output(l as u32).unwrap(), &want[..], "listener {}", l);
        }
    }
}
