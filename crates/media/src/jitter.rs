//! Jitter buffer for legs the engine terminates (mixing, transcoding,
//! recording). Sans-IO: `insert(now, ..)` on each packet, `pull(now, ..)` on
//! each 20 ms tick; no clock reads.
//!
//! Adaptive playout, in the spirit of WebRTC NetEQ but much smaller:
//!
//! * Each packet's *relative delay* `r = transit − base` (transit = arrival
//!   − RTP timestamp, base = minimum transit over the last ~10 s) goes into
//!   a histogram with exponential forgetting (~5 s memory).
//! * The target delay `T` is a quantile (default 0.97) of that histogram.
//! * On each pull the current delay `D = now − base − next_ts` is compared
//!   with `T`: a missing frame while `D < T` is *waited for* (a concealment
//!   frame is output without advancing: the delay grows by one frame); a
//!   buffer more than two frames above target, or more than one frame for
//!   0.5 s or on a quiet frame, *drops* a frame (the delay shrinks by one
//!   frame).
//! * A late packet arriving while its gap is still being concealed rewinds
//!   playout to it instead of being lost (the delay grows).
//! * Missing frames otherwise get G.711 packet-loss concealment: the last
//!   frame repeated with a fade (1.0 → 0 over 5 frames, ramped per sample),
//!   then silence.
//!
//! [`PlayoutMode::Fixed`] gives the classic fixed-delay buffer, for
//! comparison.

use std::time::{Duration, Instant};

use crate::{g711, Codec};

/// Frames the buffer can hold (1.28 s of 20 ms frames). Power of two.
const SLOTS: usize = 64;
/// Largest frame (20 ms at 8 kHz, one byte per sample).
const MAX_FRAME: usize = 160;
/// Histogram buckets of 2.5 ms: 0..400 ms.
const BUCKETS: usize = 160;
/// Forgetting factor per packet (~5 s memory at 50 packets/s).
const FORGET: f32 = 0.996;
/// Packets per base-transit epoch (two epochs kept: ~10 s).
const BASE_EPOCH: u32 = 250;
/// Consecutive missing frames after which playout jumps to the next
/// buffered frame (a long gap, DTX, or a source restart).
const RESYNC_AFTER: u32 = 10;
/// Consecutive packets far outside the playout window after which the
/// buffer restarts on the new timestamp base.
const RESET_AFTER_DISCARDS: u32 = 4;
/// Consecutive pulls more than one frame above target after which a
/// frame is dropped even if it is not quiet (0.5 s).
const OVER_RUN_DROP: u32 = 25;
/// PLC gains per consecutive concealed frame.
const PLC_GAIN: [f32; 6] = [1.0, 0.8, 0.55, 0.3, 0.1, 0.0];

/// How the playout delay is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlayoutMode {
    /// Follow the observed jitter (quantile of relative delay).
    Adaptive {
        /// Fraction of packets that should arrive in time, e.g. 0.97.
        quantile: f32,
    },
    /// Play every packet this long after the first packet's arrival.
    Fixed(Duration),
}

/// Jitter buffer configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    /// Payload codec (G.711: 160 bytes per 20 ms frame).
    pub codec: Codec,
    /// Playout policy.
    pub mode: PlayoutMode,
    /// Lower bound of the adaptive target.
    pub min_delay: Duration,
    /// Upper bound of the adaptive target.
    pub max_delay: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            codec: Codec::Pcmu,
            mode: PlayoutMode::Adaptive { quantile: 0.97 },
            min_delay: Duration::ZERO,
            max_delay: Duration::from_millis(400),
        }
    }
}

/// What a pull produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulled {
    /// A received frame.
    Audio {
        /// Its sequence number.
        seq: u16,
        /// How long it waited in the buffer.
        waited: Duration,
    },
    /// Packet-loss concealment (the frame is missing or late).
    Concealed,
    /// Nothing to play yet (or concealment faded out).
    Silence,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets inserted.
    pub inserted: u64,
    /// Packets that arrived after their playout time (late loss).
    pub late: u64,
    /// Duplicate packets.
    pub duplicates: u64,
    /// Packets too far ahead of playout to hold.
    pub overflow: u64,
    /// Frames played from packets.
    pub played: u64,
    /// Frames concealed.
    pub concealed: u64,
    /// Frames of silence (before start, after a faded concealment).
    pub silence: u64,
    /// Frames dropped to reduce delay.
    pub accelerated: u64,
    /// Frames inserted (concealment without advancing) to raise delay.
    pub expanded: u64,
    /// Late packets that arrived while their gap was being concealed, and
    /// were played after it (playout rewound to them).
    pub rewound: u64,
    /// Playout restarts after a timestamp jump (new source or restart).
    pub resets: u64,
}

#[derive(Clone, Copy)]
struct Slot {
    ts: i64,
    seq: u16,
    arrival: i64,
    len: u16,
    data: [u8; MAX_FRAME],
}

const EMPTY: i64 = i64::MIN;

/// An adaptive (or fixed-delay) jitter buffer for 20 ms G.711 frames.
pub struct JitterBuffer {
    cfg: JitterConfig,
    frame: i64,
    rate: i64,
    epoch: Option<Instant>,
    slots: Box<[Slot; SLOTS]>,
    // Timestamp unwrapping.
    last_ts: u32,
    last_ext: i64,
    have_ts: bool,
    // Playout.
    next_ts: Option<i64>,
    start_at: Option<i64>,
    missing_run: u32,
    over_run: u32,
    discard_run: u32,
    plc_count: usize,
    last_frame: [i16; MAX_FRAME],
    // Delay estimation.
    base_cur: i64,
    base_prev: i64,
    base_count: u32,
    hist: [f32; BUCKETS],
    hist_w: f32,
    hist_sum: f32,
    hist_top: usize,
    target: i64,
    pulls: u32,
    stats: JitterStats,
}

impl std::fmt::Debug for JitterBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitterBuffer")
            .field("cfg", &self.cfg)
            .field("target_ticks", &self.target)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(cfg: JitterConfig) -> Self {
        let rate = cfg.codec.clock_rate() as i64;
        JitterBuffer {
            cfg,
            frame: rate / 50,
            rate,
            epoch: None,
            slots: Box::new(
                [Slot {
                    ts: EMPTY,
                    seq: 0,
                    arrival: 0,
                    len: 0,
                    data: [0; MAX_FRAME],
                }; SLOTS],
            ),
            last_ts: 0,
            last_ext: 0,
            have_ts: false,
            next_ts: None,
            start_at: None,
            missing_run: 0,
            over_run: 0,
            discard_run: 0,
            plc_count: PLC_GAIN.len(),
            last_frame: [0; MAX_FRAME],
            base_cur: i64::MAX,
            base_prev: i64::MAX,
            base_count: 0,
            hist: [0.0; BUCKETS],
            hist_w: 1.0,
            hist_sum: 0.0,
            hist_top: 0,
            target: 0,
            pulls: 0,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &JitterStats {
        &self.stats
    }

    /// Current target delay.
    pub fn target_delay(&self) -> Duration {
        Duration::from_micros((self.target.max(0) * 1_000_000 / self.rate) as u64)
    }

    fn ticks(&mut self, now: Instant) -> i64 {
        let e = *self.epoch.get_or_insert(now);
        (now.saturating_duration_since(e).as_nanos() as i64).saturating_mul(self.rate)
            / 1_000_000_000
    }

    fn unwrap_ts(&mut self, ts: u32) -> i64 {
        if !self.have_ts {
            self.have_ts = true;
            self.last_ts = ts;
            self.last_ext = ts as i64;
            return self.last_ext;
        }
        let d = ts.wrapping_sub(self.last_ts) as i32 as i64;
        let ext = self.last_ext + d;
        if d > 0 {
            self.last_ts = ts;
            self.last_ext = ext;
        }
        ext
    }

    fn base(&self) -> i64 {
        self.base_cur.min(self.base_prev)
    }

    /// Inserts one packet's payload (one 20 ms frame of G.711).
    pub fn insert(&mut self, now: Instant, seq: u16, ts: u32, payload: &[u8]) {
        let arrival = self.ticks(now);
        if self.discard_run >= RESET_AFTER_DISCARDS {
            // A run of packets all far outside the playout window: the
            // sender restarted or the source changed (new timestamp base).
            // Start over from this packet; keep the jitter history.
            self.stats.resets += 1;
            self.restart_playout();
        }
        let ext = self.unwrap_ts(ts);
        self.stats.inserted += 1;

        // Delay statistics (also for late packets: they are the evidence).
        let transit = arrival - ext;
        if self.base_count >= BASE_EPOCH {
            self.base_prev = self.base_cur;
            self.base_cur = i64::MAX;
            self.base_count = 0;
        }
        self.base_count += 1;
        self.base_cur = self.base_cur.min(transit);
        let r = (transit - self.base()).max(0);
        let bucket = ((r * 400 / self.rate) as usize).min(BUCKETS - 1); // 2.5 ms
        self.hist_w *= 1.0 / FORGET;
        self.hist[bucket] += self.hist_w;
        self.hist_sum += self.hist_w;
        self.hist_top = self.hist_top.max(bucket);
        if self.hist_w > 1e12 {
            let k = 1.0 / self.hist_w;
            self.hist.iter_mut().for_each(|h| *h *= k);
            self.hist_sum *= k;
            self.hist_w = 1.0;
            // Forget buckets that no longer matter, so the scan stays short.
            for h in self.hist.iter_mut() {
                if *h < 1e-7 * self.hist_sum {
                    *h = 0.0;
                }
            }
            self.hist_top = self.hist.iter().rposition(|&h| h > 0.0).unwrap_or(0);
        }

        if let Some(next) = self.next_ts {
            let adaptive = matches!(self.cfg.mode, PlayoutMode::Adaptive { .. });
            if ext < next
                && adaptive
                && self.missing_run > 0
                && ext >= next - self.missing_run as i64 * self.frame
            {
                // Late, but we are still concealing its gap: rewind playout
                // to it rather than lose it (the delay grows by the
                // rewound frames; acceleration recovers it later).
                self.stats.rewound += 1;
                self.next_ts = Some(ext);
                self.missing_run = 0;
            } else if ext < next {
                self.stats.late += 1;
                // Only packets far behind playout suggest a new timestamp
                // base; merely late ones are ordinary late loss.
                if ext < next - self.frame * SLOTS as i64 {
                    self.discard_run += 1;
                }
                return;
            }
            if ext >= next + self.frame * SLOTS as i64 {
                self.stats.overflow += 1;
                self.discard_run += 1;
                return;
            }
        }
        self.discard_run = 0;
        let slot = &mut self.slots[(ext.div_euclid(self.frame) as usize) & (SLOTS - 1)];
        if slot.ts == ext {
            self.stats.duplicates += 1;
            return;
        }
        let len = payload.len().min(MAX_FRAME);
        slot.ts = ext;
        slot.seq = seq;
        slot.arrival = arrival;
        slot.len = len as u16;
        slot.data[..len].copy_from_slice(&payload[..len]);
        if self.start_at.is_none() {
            self.start_at = Some(match self.cfg.mode {
                PlayoutMode::Fixed(d) => arrival + (d.as_micros() as i64 * self.rate / 1_000_000),
                PlayoutMode::Adaptive { .. } => arrival,
            });
        }
    }

    /// Forgets buffered frames, playout position and timestamp base.
    fn restart_playout(&mut self) {
        for sl in self.slots.iter_mut() {
            sl.ts = EMPTY;
        }
        self.have_ts = false;
        self.next_ts = None;
        self.start_at = None;
        self.missing_run = 0;
        self.over_run = 0;
        self.discard_run = 0;
        self.base_cur = i64::MAX;
        self.base_prev = i64::MAX;
        self.base_count = 0;
    }

    fn update_target(&mut self) {
        let PlayoutMode::Adaptive { quantile } = self.cfg.mode else {
            return;
        };
        // Scan from the highest bucket ever used down: the tail (1 − q) is
        // found after a few buckets, not after walking the whole histogram.
        let tail = self.hist_sum * (1.0 - quantile);
        let mut acc = 0.0;
        let mut pos = 0.0f32;
        for b in (0..=self.hist_top).rev() {
            let h = self.hist[b];
            if h > 0.0 && acc + h >= tail {
                pos = (b + 1) as f32 - (tail - acc) / h;
                break;
            }
            acc += h;
        }
        // Bucket position (2.5 ms each) to ticks.
        let t = (pos * self.rate as f32 / 400.0) as i64;
        let lo = self.cfg.min_delay.as_micros() as i64 * self.rate / 1_000_000;
        let hi = self.cfg.max_delay.as_micros() as i64 * self.rate / 1_000_000;
        self.target = t.clamp(lo, hi.max(lo));
    }

    fn earliest(&self, from: i64) -> Option<i64> {
        self.slots
            .iter()
            .filter(|s| s.ts != EMPTY && s.ts >= from)
            .map(|s| s.ts)
            .min()
    }

    /// Index of the slot holding `ts`, if present (it stays until played).
    fn take(&self, ts: i64) -> Option<usize> {
        let i = (ts.div_euclid(self.frame) as usize) & (SLOTS - 1);
        (self.slots[i].ts == ts).then_some(i)
    }

    fn has(&self, ts: i64) -> bool {
        self.slots[(ts.div_euclid(self.frame) as usize) & (SLOTS - 1)].ts == ts
    }

    fn decode(&self, s: &Slot, out: &mut [i16]) {
        let n = (s.len as usize).min(out.len()).min(MAX_FRAME);
        match self.cfg.codec {
            Codec::Pcma => g711::alaw_decode_slice(&s.data[..n], &mut out[..n]),
            _ => g711::ulaw_decode_slice(&s.data[..n], &mut out[..n]),
        }
        out[n..].iter_mut().for_each(|x| *x = 0);
    }

    fn conceal(&mut self, out: &mut [i16]) -> Pulled {
        if self.plc_count + 1 >= PLC_GAIN.len() {
            out.iter_mut().for_each(|x| *x = 0);
            self.stats.silence += 1;
            return Pulled::Silence;
        }
        let g0 = PLC_GAIN[self.plc_count];
        let g1 = PLC_GAIN[self.plc_count + 1];
        let n = out.len().min(MAX_FRAME) as f32;
        for (i, (o, &s)) in out.iter_mut().zip(self.last_frame.iter()).enumerate() {
            let g = g0 + (g1 - g0) * (i as f32 / n);
            *o = (s as f32 * g) as i16;
        }
        self.plc_count += 1;
        self.stats.concealed += 1;
        Pulled::Concealed
    }

    fn play(&mut self, i: usize, now_ticks: i64, out: &mut [i16]) -> Pulled {
        let s = &self.slots[i];
        self.decode(s, out);
        let (seq, arrival) = (s.seq, s.arrival);
        self.slots[i].ts = EMPTY;
        let n = out.len().min(MAX_FRAME);
        self.last_frame[..n].copy_from_slice(&out[..n]);
        self.plc_count = 0;
        self.missing_run = 0;
        self.stats.played += 1;
        Pulled::Audio {
            seq,
            waited: Duration::from_micros(
                ((now_ticks - arrival).max(0) * 1_000_000 / self.rate) as u64,
            ),
        }
    }

    /// Produces the next 20 ms frame into `out` (160 samples for G.711).
    pub fn pull(&mut self, now: Instant, out: &mut [i16]) -> Pulled {
        let now_ticks = self.ticks(now);
        self.pulls = self.pulls.wrapping_add(1);
        if self.pulls % 4 == 1 {
            self.update_target();
        }
        let adaptive = matches!(self.cfg.mode, PlayoutMode::Adaptive { .. });
        let next = match self.next_ts {
            Some(n) => n,
            None => {
                // Not started: wait until the first frame has waited long enough.
                let ready = match (self.start_at, self.earliest(i64::MIN)) {
                    (Some(at), Some(first)) => {
                        if adaptive {
                            now_ticks - self.base() - first >= self.target
                        } else {
                            now_ticks >= at
                        }
                    }
                    _ => false,
                };
                if !ready {
                    out.iter_mut().for_each(|x| *x = 0);
                    self.stats.silence += 1;
                    return Pulled::Silence;
                }
                let first = self.earliest(i64::MIN).unwrap_or(0);
                self.next_ts = Some(first);
                first
            }
        };
        let delay = now_ticks - self.base() - next;
        let f = self.frame;
        if let Some(s) = self.take(next) {
            self.next_ts = Some(next + f);
            if adaptive && self.has(next + f) {
                let over = delay - self.target;
                if over > f {
                    self.over_run += 1;
                } else {
                    self.over_run = 0;
                }
                let slot = &self.slots[s];
                let quiet = || {
                    slot.data[..slot.len as usize]
                        .iter()
                        .all(|&b| quiet_g711(self.cfg.codec, b))
                };
                if over > 2 * f || (over > f && (self.over_run >= OVER_RUN_DROP || quiet())) {
                    self.over_run = 0;
                    // Drop this frame to shrink the delay by one frame.
                    self.slots[s].ts = EMPTY;
                    self.stats.accelerated += 1;
                    let s2 = self.take(next + f).expect("checked");
                    self.next_ts = Some(next + 2 * f);
                    return self.play(s2, now_ticks, out);
                }
            }
            return self.play(s, now_ticks, out);
        }
        // Missing frame.
        self.missing_run += 1;
        if adaptive && delay < self.target && self.missing_run <= RESYNC_AFTER {
            // It may still come: wait a frame (raises the delay).
            self.stats.expanded += 1;
            return self.conceal(out);
        }
        if self.missing_run > RESYNC_AFTER {
            if let Some(e) = self.earliest(next) {
                // Long gap: continue from the next frame we have.
                self.next_ts = Some(e);
                if let Some(s) = self.take(e) {
                    self.next_ts = Some(e + f);
                    return self.play(s, now_ticks, out);
                }
            }
        }
        self.next_ts = Some(next + f);
        self.conceal(out)
    }
}

/// True when a G.711 byte encodes a sample below about −45 dBFS.
fn quiet_g711(codec: Codec, b: u8) -> bool {
    match codec {
        Codec::Pcma => g711::alaw_decode(b).unsigned_abs() < 200,
        _ => g711::ulaw_decode(b).unsigned_abs() < 200,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: u8) -> [u8; 160] {
        [v; 160]
    }

    #[test]
    fn in_order_stream_plays_every_frame() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut out = [0i16; 160];
        let mut played = 0;
        for i in 0..100u32 {
            let t = t0 + Duration::from_millis(20 * i as u64);
            jb.insert(t, i as u16, i * 160, &frame(0x80));
            if let Pulled::Audio { seq, .. } = jb.pull(t + Duration::from_millis(5), &mut out) {
                assert_eq!(seq as u32, played);
                played += 1;
            }
        }
        assert!(played >= 99, "{played}");
        assert_eq!(out[0], g711::ulaw_decode(0x80));
        assert_eq!(jb.stats().late, 0);
        assert!(jb.target_delay() <= Duration::from_millis(5));
    }

    #[test]
    fn reorders_and_conceals() {
        let t0 = Instant::now();
        let cfg = JitterConfig {
            mode: PlayoutMode::Fixed(Duration::from_millis(40)),
            ..Default::default()
        };
        let mut jb = JitterBuffer::new(cfg);
        let ms = |m: u64| t0 + Duration::from_millis(m);
        // Packets 0, 2, 1 (swapped), 3 missing, 4.
        jb.insert(ms(0), 0, 0, &frame(0x90));
        jb.insert(ms(20), 2, 320, &frame(0x92));
        jb.insert(ms(22), 1, 160, &frame(0x91));
        jb.insert(ms(80), 4, 640, &frame(0x94));
        let mut out = [0i16; 160];
        let mut kinds = vec![];
        for k in 0..6 {
            kinds.push(jb.pull(ms(41 + 20 * k), &mut out));
        }
        let seqs: Vec<_> = kinds
            .iter()
            .map(|p| match p {
                Pulled::Audio { seq, .. } => *seq as i32,
                Pulled::Concealed => -1,
                Pulled::Silence => -2,
            })
            .collect();
        assert_eq!(seqs, vec![0, 1, 2, -1, 4, -1]);
        // Concealment repeats the last frame, faded.
        jb.insert(ms(200), 3, 480, &frame(0x93)); // far too late
        assert_eq!(jb.stats().late, 1);
    }

    #[test]
    fn plc_fades_to_silence() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig {
            mode: PlayoutMode::Fixed(Duration::ZERO),
            ..Default::default()
        });
        jb.insert(t0, 0, 0, &frame(0x80)); // loud
        let mut out = [0i16; 160];
        assert!(matches!(jb.pull(t0, &mut out), Pulled::Audio { .. }));
        let loud = out[0];
        let mut peaks = vec![];
        for k in 1..8 {
            let p = jb.pull(t0 + Duration::from_millis(20 * k), &mut out);
            peaks.push((p, out.iter().map(|x| x.unsigned_abs()).max().unwrap()));
        }
        assert_eq!(peaks[0], (Pulled::Concealed, loud as u16));
        assert!(peaks.windows(2).all(|w| w[1].1 <= w[0].1), "{peaks:?}");
        assert_eq!(peaks[6], (Pulled::Silence, 0));
    }

    #[test]
    fn adapts_to_jitter_and_back() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut out = [0i16; 160];
        // 60 ms of alternating jitter: target rises to ~60 ms.
        let mut pull_at = 0u64;
        for i in 0..500u64 {
            let arr = 20 * i + if i % 3 == 0 { 60 } else { 0 };
            while pull_at <= arr {
                jb.pull(t0 + Duration::from_millis(pull_at + 1), &mut out);
                pull_at += 20;
            }
            jb.insert(
                t0 + Duration::from_millis(arr),
                i as u16,
                i as u32 * 160,
                &frame(0x80),
            );
        }
        let t = jb.target_delay();
        assert!(
            t >= Duration::from_millis(55) && t <= Duration::from_millis(70),
            "{t:?}"
        );
        let late_before = jb.stats().late;
        // Then a clean network: the target decays.
        for i in 500..1500u64 {
            let arr = 20 * i;
            while pull_at <= arr {
                jb.pull(t0 + Duration::from_millis(pull_at + 1), &mut out);
                pull_at += 20;
            }
            jb.insert(
                t0 + Duration::from_millis(arr),
                i as u16,
                i as u32 * 160,
                &frame(0x80),
            );
        }
        assert!(
            jb.target_delay() <= Duration::from_millis(5),
            "{:?}",
            jb.target_delay()
        );
        assert!(jb.stats().accelerated > 0);
        assert!(late_before < 30, "late {late_before}");
    }

    #[test]
    fn timestamp_wrap() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig {
            mode: PlayoutMode::Fixed(Duration::from_millis(20)),
            ..Default::default()
        });
        let mut out = [0i16; 160];
        let base = u32::MAX - 160 * 3;
        let mut played = 0;
        for i in 0..10u32 {
            let t = t0 + Duration::from_millis(20 * i as u64);
            jb.insert(t, i as u16, base.wrapping_add(i * 160), &frame(0x80));
            if matches!(
                jb.pull(t + Duration::from_millis(21), &mut out),
                Pulled::Audio { .. }
            ) {
                played += 1;
            }
        }
        assert_eq!(played, 10);
    }

    #[test]
    fn follows_a_timestamp_jump() {
        // A transfer or sender restart: timestamps jump forward, later
        // backward. Playout resumes on the new base within a few frames.
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut out = [0i16; 160];
        let mut ts_base = 1000u32;
        let mut audio_after_jump = [0usize; 2];
        for i in 0..300u64 {
            if i == 100 {
                ts_base = ts_base.wrapping_add(3_000_000);
            }
            if i == 200 {
                ts_base = ts_base.wrapping_sub(9_000_000);
            }
            let t = t0 + Duration::from_millis(20 * i);
            jb.insert(
                t,
                i as u16,
                ts_base.wrapping_add(160 * i as u32),
                &frame(0x80),
            );
            let p = jb.pull(t + Duration::from_millis(5), &mut out);
            if matches!(p, Pulled::Audio { .. }) {
                if (110..200).contains(&i) {
                    audio_after_jump[0] += 1;
                }
                if i >= 210 {
                    audio_after_jump[1] += 1;
                }
            }
        }
        assert_eq!(jb.stats().resets, 2);
        assert_eq!(audio_after_jump, [90, 90]);
    }
}
