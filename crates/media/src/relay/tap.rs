//! The terminated side of a session: supervisor monitoring (listen,
//! whisper, barge) and recording.
//!
//! While nothing needs the decoded audio, a session is a pure packet relay.
//! Once a monitor mode or a recording is set, every leg's G.711 audio also
//! goes through its own adaptive jitter buffer; every 20 ms one frame is
//! pulled from each, mixed N−1 with the supervisor's role, and handed to
//! the recorder. The legs whose audio must include someone they would not
//! hear over the relay (the agent during a whisper, everyone during a
//! barge) then get the mixer's output instead of relayed packets; the
//! others keep the relay and its lower delay.

use std::time::{Duration, Instant};

use crate::engine::MonitorMode;
use crate::jitter::{JitterBuffer, JitterConfig};
use crate::mixer::{Mixer, Role};
use crate::recorder::{RecMsg, RecorderHandle, FRAME};
use crate::rewrite::TsMap;
use crate::transcode::AudioDecoder;
use crate::{g711, Codec};

/// Frame period.
const PTIME: Duration = Duration::from_millis(20);
/// A tick this late skips ahead instead of mixing a burst.
const MAX_LAG: Duration = Duration::from_millis(200);

/// The mixer's party ids are the leg indices.
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

/// Unique id of a recording across the engine (the writer's key).
fn next_recording_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The mixer, with caller and agent as participants (C joins by mode).
fn new_mixer() -> Box<Mixer> {
    let mut m = Mixer::new(FRAME);
    m.add_party(A as u32, Role::Participant);
    m.add_party(B as u32, Role::Participant);
    Box::new(m)
}

struct Recording {
    h: RecorderHandle,
    id: u64,
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.h.control(RecMsg::Close { id: self.id });
    }
}

pub(super) struct Tap {
    jb: [Option<Box<JitterBuffer>>; 3],
    /// For legs whose codec is not G.711: decoded to 8 kHz on arrival and
    /// buffered as µ-law (the mix and the recording are 8 kHz anyway).
    dec: [Option<Box<AudioDecoder>>; 3],
    codecs: [Option<Codec>; 3],
    /// Made on first use: most calls are never monitored or recorded.
    mixer: Option<Box<Mixer>>,
    mode: Option<MonitorMode>,
    has_c: bool,
    rec: Option<Recording>,
    /// Next frame time while active.
    pub next: Instant,
    /// Source key of the mixed streams (for the legs' rewriters).
    pub key: u64,
    /// Frames mixed so far: the mixed streams' sequence number and, times
    /// a leg's ticks per 20 ms, its timestamp.
    pub frames: u32,
    /// Each leg's timestamps in the 8 kHz clock of the buffers.
    ts_8k: [TsMap; 3],
}

impl Tap {
    pub(super) fn new(now: Instant, key: u64) -> Tap {
        Tap {
            jb: [None, None, None],
            dec: [None, None, None],
            codecs: [None; 3],
            mixer: None,
            mode: None,
            has_c: false,
            rec: None,
            next: now,
            key,
            frames: 0,
            ts_8k: Default::default(),
        }
    }

    fn mixer(&mut self) -> &mut Mixer {
        self.mixer.get_or_insert_with(new_mixer)
    }

    /// Decoding runs (a monitor mode with a supervisor, or a recording).
    pub(super) fn active(&self) -> bool {
        self.mixing() || self.rec.is_some()
    }

    fn mixing(&self) -> bool {
        self.has_c && self.mode.is_some()
    }

    /// Whether leg `i` hears the mixer's output rather than the relay.
    pub(super) fn mixes_to(&self, i: usize) -> bool {
        match (self.has_c, self.mode) {
            (false, _) | (_, None) => false,
            (true, Some(m)) => match i {
                C => true,
                B => matches!(m, MonitorMode::Whisper | MonitorMode::Barge),
                _ => m == MonitorMode::Barge,
            },
        }
    }

    /// The leg's negotiated codec.
    pub(super) fn set_codec(&mut self, i: usize, codec: Codec) {
        if self.codecs[i] != Some(codec) {
            self.codecs[i] = Some(codec);
            self.jb[i] = None;
        }
        if self.active() {
            self.ensure_buffers();
        }
    }

    fn ensure_buffers(&mut self) {
        for i in 0..3 {
            if let (None, Some(codec)) = (&self.jb[i], self.codecs[i]) {
                self.ts_8k[i] = TsMap::default();
                let buffered = if codec.is_g711() {
                    self.dec[i] = None;
                    codec
                } else {
                    self.dec[i] = AudioDecoder::with_rate(codec, 8000).ok().map(Box::new);
                    Codec::Pcmu
                };
                self.jb[i] = Some(Box::new(JitterBuffer::new(JitterConfig {
                    codec: buffered,
                    ..JitterConfig::default()
                })));
            }
        }
    }

    fn became_active(&mut self, was: bool, now: Instant) {
        if !was && self.active() {
            self.next = now;
            self.ensure_buffers();
        }
        if !self.active() {
            // Idle again: drop the buffers so a later start begins clean.
            self.jb = [None, None, None];
            self.dec = [None, None, None];
        }
    }

    pub(super) fn set_c(&mut self, present: bool, now: Instant) {
        let was = self.active();
        self.has_c = present;
        if !present {
            self.codecs[C] = None;
            self.jb[C] = None;
            self.dec[C] = None;
            self.mode = None;
        }
        self.apply_role();
        self.became_active(was, now);
    }

    pub(super) fn set_mode(&mut self, mode: Option<MonitorMode>, now: Instant) {
        let was = self.active();
        self.mode = mode;
        self.apply_role();
        self.became_active(was, now);
    }

    fn apply_role(&mut self) {
        let role = match self.mode {
            _ if !self.has_c => None,
            None => None,
            Some(MonitorMode::Listen) => Some(Role::Listen),
            Some(MonitorMode::Whisper) => Some(Role::Whisper { to: B as u32 }),
            Some(MonitorMode::Barge) => Some(Role::Participant),
        };
        match role {
            Some(r) => self.mixer().add_party(C as u32, r),
            None => {
                if let Some(m) = self.mixer.as_mut() {
                    m.remove_party(C as u32);
                }
            }
        }
    }

    pub(super) fn set_recording(
        &mut self,
        rec: Option<(RecorderHandle, std::path::PathBuf)>,
        now: Instant,
    ) {
        let was = self.active();
        self.rec = rec.map(|(h, path)| {
            let id = next_recording_id();
            h.control(RecMsg::Open { id, path });
            Recording { h, id }
        });
        self.became_active(was, now);
    }

    /// One received audio payload of leg `i`.
    pub(super) fn insert(&mut self, i: usize, now: Instant, seq: u16, ts: u32, payload: &[u8]) {
        let Some(jb) = self.jb[i].as_mut() else {
            return;
        };
        match (self.dec[i].as_mut(), self.codecs[i]) {
            (Some(dec), Some(codec)) => {
                let Ok(pcm) = dec.decode(payload) else { return };
                let mut ulaw = [0u8; FRAME];
                let n = pcm.len().min(FRAME);
                g711::ulaw_encode_slice(&pcm[..n], &mut ulaw[..n]);
                let ts = self.ts_8k[i].map(ts, codec.clock_rate(), 8000);
                jb.insert(now, seq, ts, &ulaw[..n]);
            }
            _ => jb.insert(now, seq, ts, payload),
        }
    }

    /// Runs one 20 ms frame when it is due; returns true when outputs are
    /// ready (read them with [`Tap::output`]).
    pub(super) fn tick(&mut self, now: Instant) -> bool {
        if !self.active() || self.next > now {
            return false;
        }
        if now.saturating_duration_since(self.next) > MAX_LAG {
            self.next = now;
        }
        self.next += PTIME;
        let mixing = self.mixing();
        let mut rec = [0i16; 2 * FRAME];
        let mixer = self.mixer.get_or_insert_with(new_mixer);
        for i in [A, B, C] {
            let Some(jb) = self.jb[i].as_mut() else {
                continue;
            };
            if i == C && !mixing {
                continue;
            }
            let Some(frame) = mixer.input_mut(i as u32) else {
                continue;
            };
            jb.pull(now, frame);
            if i != C {
                for (k, &s) in frame.iter().enumerate() {
                    rec[2 * k + i] = s;
                }
            }
        }
        if let Some(r) = &self.rec {
            r.h.frame(r.id, rec);
        }
        if !mixing {
            return false;
        }
        mixer.mix();
        self.frames = self.frames.wrapping_add(1);
        true
    }

    /// What leg `i` should hear this frame (after [`Tap::tick`]).
    pub(super) fn output(&self, i: usize) -> Option<&[i16]> {
        self.mixer.as_ref()?.output(i as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711;

    fn tone(freq: f64, n: usize, phase: usize) -> Vec<i16> {
        (0..n)
            .map(|k| {
                let t = (k + phase) as f64 / 8000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            })
            .collect()
    }

    /// Feeds A a 500 Hz tone, B 1 kHz and C 1.5 kHz for a second and returns
    /// what each leg hears from the mixer (concatenated).
    fn run(mode: MonitorMode) -> [Vec<i16>; 3] {
        let t0 = Instant::now();
        let mut tap = Tap::new(t0, 1);
        for i in 0..3 {
            tap.set_codec(i, Codec::Pcmu);
        }
        tap.set_c(true, t0);
        tap.set_mode(Some(mode), t0);
        let freqs = [500.0, 1000.0, 1500.0];
        let mut heard: [Vec<i16>; 3] = Default::default();
        for f in 0..50usize {
            let now = t0 + PTIME * f as u32;
            for (i, &fr) in freqs.iter().enumerate() {
                let pcm = tone(fr, FRAME, f * FRAME);
                let mut payload = [0u8; FRAME];
                for (d, s) in payload.iter_mut().zip(&pcm) {
                    *d = g711::ulaw_encode(*s);
                }
                tap.insert(i, now, f as u16, (f * FRAME) as u32, &payload);
            }
            if tap.tick(now + Duration::from_millis(1)) {
                for (i, h) in heard.iter_mut().enumerate() {
                    if tap.mixes_to(i) {
                        h.extend_from_slice(tap.output(i).unwrap());
                    }
                }
            }
        }
        heard
    }

    fn hears(x: &[i16], f: f64) -> bool {
        crate::dtmf::tone_power(x, f, 8000.0) > 1e5
    }

    #[test]
    fn listen_only_the_supervisor_gets_a_mix() {
        let [a, b, c] = run(MonitorMode::Listen);
        assert!(
            a.is_empty() && b.is_empty(),
            "caller and agent stay on the relay"
        );
        assert!(
            hears(&c, 500.0) && hears(&c, 1000.0),
            "supervisor hears both"
        );
        assert!(!hears(&c, 1500.0), "not itself");
    }

    #[test]
    fn whisper_reaches_the_agent_only() {
        let [a, b, c] = run(MonitorMode::Whisper);
        assert!(
            a.is_empty(),
            "caller stays on the relay: never hears the whisper"
        );
        assert!(hears(&b, 500.0) && hears(&b, 1500.0) && !hears(&b, 1000.0));
        assert!(hears(&c, 500.0) && hears(&c, 1000.0) && !hears(&c, 1500.0));
    }

    #[test]
    fn barge_is_a_three_way_call() {
        let [a, b, c] = run(MonitorMode::Barge);
        assert!(hears(&a, 1000.0) && hears(&a, 1500.0) && !hears(&a, 500.0));
        assert!(hears(&b, 500.0) && hears(&b, 1500.0) && !hears(&b, 1000.0));
        assert!(hears(&c, 500.0) && hears(&c, 1000.0) && !hears(&c, 1500.0));
    }

    #[test]
    fn idle_without_supervisor_or_recording() {
        let t0 = Instant::now();
        let mut tap = Tap::new(t0, 1);
        tap.set_codec(0, Codec::Pcmu);
        tap.set_mode(Some(MonitorMode::Barge), t0);
        assert!(!tap.active(), "a mode without leg C does nothing");
        assert!(!tap.mixes_to(0) && !tap.mixes_to(1));
        tap.set_c(true, t0);
        assert!(tap.active() && tap.mixes_to(0));
        tap.set_c(false, t0);
        assert!(!tap.active() && !tap.mixes_to(0) && !tap.mixes_to(1));
        assert!(
            tap.jb.iter().all(Option::is_none),
            "buffers freed when idle"
        );
    }
}
