//! A deterministic network emulator for media tests and benchmarks:
//! latency, correlated jitter, delay spikes, delay steps, reordering,
//! duplication and Gilbert–Elliott burst loss, all from a seeded PRNG, so a
//! trace is the same on every run and machine.
//!
//! [`simulate`] plays a trace through a [`JitterBuffer`] and reports late
//! loss, concealment and added delay.

use std::time::{Duration, Instant};

use crate::jitter::{JitterBuffer, JitterConfig, Pulled};

/// SplitMix64: tiny, seedable, identical everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
}

/// Two-state burst-loss model: Good and Bad states with their own loss
/// probability; `p` = P(Good→Bad), `r` = P(Bad→Good) per packet.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GilbertElliott {
    /// P(Good → Bad).
    pub p: f64,
    /// P(Bad → Good).
    pub r: f64,
    /// Loss probability in Good.
    pub loss_good: f64,
    /// Loss probability in Bad.
    pub loss_bad: f64,
}

/// Network conditions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetemConfig {
    /// Constant one-way latency.
    pub latency: Duration,
    /// Mean of the exponential queueing delay added to each packet.
    pub jitter: Duration,
    /// Correlation of successive jitter values, 0..1.
    pub jitter_correlation: f64,
    /// Probability per packet that a delay spike starts.
    pub spike_prob: f64,
    /// Height of a spike (it then drains at one packet time per packet).
    pub spike: Duration,
    /// After this packet index, the latency grows by `step` (route change).
    pub step_at: Option<usize>,
    /// Latency change at `step_at`.
    pub step: Duration,
    /// Probability that a packet is held back by `reorder_delay`.
    pub reorder: f64,
    /// Extra delay of a reordered packet.
    pub reorder_delay: Duration,
    /// Probability that a packet is duplicated (the copy 1 ms later).
    pub duplicate: f64,
    /// Burst loss.
    pub loss: GilbertElliott,
    /// PRNG seed.
    pub seed: u64,
}

/// One packet delivered by the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Index of the packet in sending order (sequence number offset).
    pub index: usize,
    /// When it was sent, from the start of the stream.
    pub sent: Duration,
    /// When it arrives, from the start of the stream.
    pub arrival: Duration,
}

/// Runs `packets` packets sent every `ptime` through the network; returns
/// the deliveries in arrival order, and the number lost in the network.
pub fn emulate(cfg: &NetemConfig, packets: usize, ptime: Duration) -> (Vec<Arrival>, usize) {
    let mut rng = Rng::new(cfg.seed);
    let mut out = Vec::with_capacity(packets + packets / 10);
    let mut jit = 0.0f64;
    let mut spike = 0.0f64;
    let mut bad = false;
    let mut lost = 0;
    let pt = ptime.as_secs_f64();
    for i in 0..packets {
        let sent = ptime * i as u32;
        // Loss state machine.
        bad = if bad {
            !rng.chance(cfg.loss.r)
        } else {
            rng.chance(cfg.loss.p)
        };
        let lp = if bad {
            cfg.loss.loss_bad
        } else {
            cfg.loss.loss_good
        };
        // Delay components are drawn even for lost packets so that loss
        // settings do not change the delay sequence.
        let fresh = -cfg.jitter.as_secs_f64() * (1.0 - rng.f64()).ln();
        jit = cfg.jitter_correlation * jit + (1.0 - cfg.jitter_correlation) * fresh;
        if spike <= 0.0 && rng.chance(cfg.spike_prob) {
            spike = cfg.spike.as_secs_f64();
        }
        let reorder = rng.chance(cfg.reorder);
        let dup = rng.chance(cfg.duplicate);
        let is_lost = rng.chance(lp);
        let mut delay = cfg.latency.as_secs_f64() + jit + spike.max(0.0);
        if matches!(cfg.step_at, Some(k) if i >= k) {
            delay += cfg.step.as_secs_f64();
        }
        if reorder {
            delay += cfg.reorder_delay.as_secs_f64();
        }
        spike -= pt;
        if is_lost {
            lost += 1;
            continue;
        }
        let arrival = sent + Duration::from_secs_f64(delay);
        out.push(Arrival {
            index: i,
            sent,
            arrival,
        });
        if dup {
            out.push(Arrival {
                index: i,
                sent,
                arrival: arrival + Duration::from_millis(1),
            });
        }
    }
    out.sort_by_key(|a| (a.arrival, a.index));
    (out, lost)
}

/// Result of a trace through a jitter buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceReport {
    /// Packets sent.
    pub packets: usize,
    /// Packets lost in the network, % of sent.
    pub net_loss_pct: f64,
    /// Packets that arrived too late to play, % of sent.
    pub late_pct: f64,
    /// Frames concealed or silent after playout started, % of frames.
    pub concealed_pct: f64,
    /// Mean time a played packet waited in the buffer, ms.
    pub mean_delay_ms: f64,
    /// 95th percentile of that wait, ms.
    pub p95_delay_ms: f64,
    /// Frames dropped to cut delay.
    pub accelerated: u64,
    /// Frames added to raise delay.
    pub expanded: u64,
}

/// Plays a trace through a jitter buffer pulled every 20 ms (at a 7 ms
/// phase against the sender), and measures it.
pub fn simulate(
    trace: &[Arrival],
    net_lost: usize,
    packets: usize,
    cfg: JitterConfig,
) -> TraceReport {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(cfg);
    let mut out = [0i16; 160];
    let payload = [0x80u8; 160];
    let ptime = Duration::from_millis(20);
    let end = trace.last().map_or(Duration::ZERO, |a| a.arrival) + Duration::from_millis(500);
    let mut next_pull = Duration::from_millis(7);
    let mut waits = Vec::with_capacity(packets);
    let (mut frames, mut bad_frames, mut started) = (0u64, 0u64, false);
    let mut i = 0;
    while next_pull <= end {
        while i < trace.len() && trace[i].arrival <= next_pull {
            let a = trace[i];
            jb.insert(
                t0 + a.arrival,
                a.index as u16,
                (a.index as u32).wrapping_mul(160),
                &payload,
            );
            i += 1;
        }
        let p = jb.pull(t0 + next_pull, &mut out);
        match p {
            Pulled::Audio { waited, .. } => {
                started = true;
                frames += 1;
                waits.push(waited.as_secs_f64() * 1000.0);
            }
            Pulled::Concealed | Pulled::Silence if started => {
                frames += 1;
                bad_frames += 1;
            }
            _ => {}
        }
        next_pull += ptime;
    }
    waits.sort_by(|a, b| a.total_cmp(b));
    let s = jb.stats();
    let mean = if waits.is_empty() {
        0.0
    } else {
        waits.iter().sum::<f64>() / waits.len() as f64
    };
    let p95 = waits
        .get(((waits.len() as f64 - 1.0) * 0.95) as usize)
        .copied()
        .unwrap_or(0.0);
    // Trailing frames after the stream ended are not concealment.
    let tail = (Duration::from_millis(500).as_millis() / 20) as u64;
    let bad_frames = bad_frames.saturating_sub(tail);
    let frames = frames.saturating_sub(tail).max(1);
    TraceReport {
        packets,
        net_loss_pct: 100.0 * net_lost as f64 / packets as f64,
        late_pct: 100.0 * s.late as f64 / packets as f64,
        concealed_pct: 100.0 * bad_frames as f64 / frames as f64,
        mean_delay_ms: mean,
        p95_delay_ms: p95,
        accelerated: s.accelerated,
        expanded: s.expanded,
    }
}

/// The standard traces (name, conditions), each 3 minutes of 20 ms packets.
pub fn standard_traces() -> Vec<(&'static str, NetemConfig)> {
    let ms = Duration::from_millis;
    vec![
        (
            "lan",
            NetemConfig {
                latency: ms(2),
                jitter: ms(1),
                seed: 1,
                ..Default::default()
            },
        ),
        (
            "wifi",
            NetemConfig {
                latency: ms(10),
                jitter: ms(12),
                jitter_correlation: 0.3,
                loss: GilbertElliott {
                    p: 0.01,
                    r: 0.3,
                    loss_good: 0.002,
                    loss_bad: 0.5,
                },
                seed: 2,
                ..Default::default()
            },
        ),
        (
            "spiky",
            NetemConfig {
                latency: ms(30),
                jitter: ms(3),
                spike_prob: 0.003,
                spike: ms(200),
                seed: 3,
                ..Default::default()
            },
        ),
        (
            "mobile",
            NetemConfig {
                latency: ms(60),
                jitter: ms(25),
                jitter_correlation: 0.6,
                reorder: 0.02,
                reorder_delay: ms(40),
                duplicate: 0.01,
                loss: GilbertElliott {
                    p: 0.02,
                    r: 0.25,
                    loss_good: 0.005,
                    loss_bad: 0.4,
                },
                seed: 4,
                ..Default::default()
            },
        ),
        (
            "route-change",
            NetemConfig {
                latency: ms(20),
                jitter: ms(5),
                step_at: Some(4500),
                step: ms(80),
                seed: 5,
                ..Default::default()
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_gilbert_elliott_bursty() {
        let cfg = NetemConfig {
            latency: Duration::from_millis(5),
            jitter: Duration::from_millis(10),
            loss: GilbertElliott {
                p: 0.02,
                r: 0.2,
                loss_good: 0.0,
                loss_bad: 1.0,
            },
            seed: 9,
            ..Default::default()
        };
        let (a, lost_a) = emulate(&cfg, 20000, Duration::from_millis(20));
        let (b, lost_b) = emulate(&cfg, 20000, Duration::from_millis(20));
        assert_eq!(a, b);
        assert_eq!(lost_a, lost_b);
        // Stationary bad-state share p/(p+r) = 9.1 %.
        let pct = lost_a as f64 / 200.0;
        assert!((7.5..10.5).contains(&pct), "{pct}");
        // Losses come in bursts: mean burst length 1/r = 5.
        let got: std::collections::HashSet<_> = a.iter().map(|x| x.index).collect();
        let mut bursts = 0;
        for i in 1..20000 {
            if !got.contains(&i) && got.contains(&(i - 1)) {
                bursts += 1;
            }
        }
        let mean_burst = lost_a as f64 / bursts as f64;
        assert!((4.0..6.0).contains(&mean_burst), "{mean_burst}");
        // Arrivals are sorted and never before sending + latency.
        assert!(a.windows(2).all(|w| w[0].arrival <= w[1].arrival));
        assert!(a
            .iter()
            .all(|x| x.arrival >= x.sent + Duration::from_millis(5)));
    }

    #[test]
    fn reorder_and_duplicate() {
        let cfg = NetemConfig {
            reorder: 0.1,
            reorder_delay: Duration::from_millis(50),
            duplicate: 0.05,
            seed: 3,
            ..Default::default()
        };
        let (a, lost) = emulate(&cfg, 1000, Duration::from_millis(20));
        assert_eq!(lost, 0);
        let dups = a.len() - 1000;
        assert!((30..80).contains(&dups), "{dups}");
        let reordered = a.windows(2).filter(|w| w[1].index < w[0].index).count();
        assert!(reordered > 50, "{reordered}");
    }
}
