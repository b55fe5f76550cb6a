//! DTMF: RFC 4733 telephone-events (parse, generate, receive) and in-band
//! detection with the Goertzel algorithm for G.711 callers that send tones
//! in the audio. Sans-IO.

/// Why a telephone-event payload was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    /// Shorter than 4 bytes.
    #[error("telephone-event payload shorter than 4 bytes")]
    TooShort,
}

/// One RFC 4733 §2.3 event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0–9, 10 = `*`, 11 = `#`, 12–15 = A–D, 16 = flash).
    pub event: u8,
    /// End bit.
    pub end: bool,
    /// Volume, 0 to 63 (−dBm0).
    pub volume: u8,
    /// Duration so far, in RTP timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first event of a payload (redundant blocks are ignored).
    pub fn parse(b: &[u8]) -> Result<Self, DtmfError> {
        if b.len() < 4 {
            return Err(DtmfError::TooShort);
        }
        Ok(TelephoneEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4-byte payload.
    pub fn to_bytes(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (self.volume & 0x3f) | if self.end { 0x80 } else { 0 },
            d[0],
            d[1],
        ]
    }
}

/// The event code of a DTMF digit (`0-9 * # A-D`).
pub fn digit_to_event(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(c as u8 - b'A' + 12),
        'a'..='d' => Some(c as u8 - b'a' + 12),
        _ => None,
    }
}

/// The digit of an event code.
pub fn event_to_digit(e: u8) -> Option<char> {
    match e {
        0..=9 => Some((b'0' + e) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + e - 12) as char),
        _ => None,
    }
}

/// One RTP packet of a generated event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Marker bit (first packet of the event).
    pub marker: bool,
    /// RTP timestamp (the event's start, the same for every packet).
    pub timestamp: u32,
    /// Payload.
    pub payload: [u8; 4],
}

/// Packets for one digit per RFC 4733 §2.5: an update every `ptime_ticks`
/// while the tone lasts, then the end packet three times.
pub fn generate(
    event: u8,
    start_ts: u32,
    duration_ticks: u16,
    ptime_ticks: u16,
    volume: u8,
) -> Vec<EventPacket> {
    let step = ptime_ticks.max(1);
    let mut v = Vec::new();
    let mut d = step.min(duration_ticks.max(1));
    let mut first = true;
    while d < duration_ticks {
        v.push(EventPacket {
            marker: first,
            timestamp: start_ts,
            payload: TelephoneEvent {
                event,
                end: false,
                volume,
                duration: d,
            }
            .to_bytes(),
        });
        first = false;
        d = d.saturating_add(step);
    }
    let end = TelephoneEvent {
        event,
        end: true,
        volume,
        duration: duration_ticks,
    }
    .to_bytes();
    for i in 0..3 {
        v.push(EventPacket {
            marker: first && i == 0,
            timestamp: start_ts,
            payload: end,
        });
    }
    v
}

/// A detected digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfEvent {
    /// A key went down.
    Begin(char),
    /// The key was released after this many milliseconds.
    End(char, u32),
}

/// Receives telephone-event packets of one stream and reports each key
/// once, however many updates and retransmitted ends arrive.
#[derive(Debug, Default, Clone)]
pub struct EventReceiver {
    current: Option<(u32, u8)>,
    ended: Option<u32>,
    clock_rate: u32,
}

impl EventReceiver {
    /// A receiver for a stream with the given RTP clock rate (8000).
    pub fn new(clock_rate: u32) -> Self {
        EventReceiver {
            clock_rate,
            ..Default::default()
        }
    }

    /// Feeds one telephone-event packet (timestamp + payload). Returns up to
    /// two events (a begin and an end when the first packet seen is an end).
    pub fn on_packet(&mut self, timestamp: u32, payload: &[u8]) -> Vec<DtmfEvent> {
        let Ok(ev) = TelephoneEvent::parse(payload) else {
            return vec![];
        };
        let Some(digit) = event_to_digit(ev.event) else {
            return vec![];
        };
        let mut out = vec![];
        if self.current != Some((timestamp, ev.event)) {
            if self.ended == Some(timestamp) {
                return out; // late retransmission of a finished event
            }
            self.current = Some((timestamp, ev.event));
            out.push(DtmfEvent::Begin(digit));
        }
        if ev.end && self.ended != Some(timestamp) {
            self.ended = Some(timestamp);
            let ms = ev.duration as u32 * 1000 / self.clock_rate.max(1);
            out.push(DtmfEvent::End(digit, ms));
        }
        out
    }
}

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Goertzel block: 205 samples at 8 kHz (25.6 ms), the classic choice that
/// puts all eight frequencies near bin centres.
const BLOCK: usize = 205;

/// In-band DTMF detector (Goertzel) for 8 kHz linear audio. Feed it any
/// amount of audio; it reports each key press once.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    coeffs: [f32; 8],
    s1: [f32; 8],
    s2: [f32; 8],
    energy: f32,
    n: usize,
    /// Last block's decision and how many blocks in a row it held.
    last: Option<char>,
    run: u32,
    /// The key currently reported as down.
    down: Option<char>,
    down_blocks: u32,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl DtmfDetector {
    /// A detector for 8 kHz audio.
    pub fn new() -> Self {
        let mut coeffs = [0.0; 8];
        for (i, f) in ROWS.iter().chain(COLS.iter()).enumerate() {
            let k = (BLOCK as f32 * f / 8000.0).round();
            coeffs[i] = 2.0 * (2.0 * std::f32::consts::PI * k / BLOCK as f32).cos();
        }
        DtmfDetector {
            coeffs,
            s1: [0.0; 8],
            s2: [0.0; 8],
            energy: 0.0,
            n: 0,
            last: None,
            run: 0,
            down: None,
            down_blocks: 0,
        }
    }

    /// Feeds samples; returns the events completed by them.
    pub fn process(&mut self, samples: &[i16]) -> Vec<DtmfEvent> {
        let mut out = vec![];
        for &x in samples {
            let x = x as f32;
            self.energy += x * x;
            for i in 0..8 {
                let s = x + self.coeffs[i] * self.s1[i] - self.s2[i];
                self.s2[i] = self.s1[i];
                self.s1[i] = s;
            }
            self.n += 1;
            if self.n == BLOCK {
                let d = self.decide();
                self.s1 = [0.0; 8];
                self.s2 = [0.0; 8];
                self.energy = 0.0;
                self.n = 0;
                self.step(d, &mut out);
            }
        }
        out
    }

    fn decide(&self) -> Option<char> {
        let mut p = [0f32; 8];
        for (i, pi) in p.iter_mut().enumerate() {
            *pi = self.s1[i] * self.s1[i] + self.s2[i] * self.s2[i]
                - self.coeffs[i] * self.s1[i] * self.s2[i];
        }
        let (r, rp) = argmax(&p[..4]);
        let (c, cp) = argmax(&p[4..]);
        // Minimum level: each tone about −30 dBFS (amplitude ~1000).
        let min = (BLOCK as f32 * 1000.0 / 2.0).powi(2);
        if rp < min || cp < min {
            return None;
        }
        // Twist: the column (high) tone may be up to 8 dB above the row,
        // the row up to 4 dB above the column.
        if cp > rp * 6.3 || rp > cp * 2.5 {
            return None;
        }
        // Other tones of the same group well below the peak (~8 dB).
        for (i, &v) in p[..4].iter().enumerate() {
            if i != r && v * 6.3 > rp {
                return None;
            }
        }
        for (i, &v) in p[4..].iter().enumerate() {
            if i != c && v * 6.3 > cp {
                return None;
            }
        }
        // The two tones carry most of the block's energy (speech and music
        // spread theirs): for pure tones the ratio is 0.5.
        if (rp + cp) < 0.35 * BLOCK as f32 * self.energy {
            return None;
        }
        Some(KEYS[r][c])
    }

    fn step(&mut self, d: Option<char>, out: &mut Vec<DtmfEvent>) {
        if d == self.last {
            self.run += 1;
        } else {
            self.last = d;
            self.run = 1;
        }
        match (self.down, d) {
            (None, Some(k)) if self.run >= 2 => {
                self.down = Some(k);
                self.down_blocks = self.run;
                out.push(DtmfEvent::Begin(k));
            }
            (Some(k), Some(k2)) if k == k2 => self.down_blocks += 1,
            (Some(k), _) if self.run >= 2 || d.is_some() => {
                // Two blocks without the key (or another key) end it.
                let ms = self.down_blocks * BLOCK as u32 * 1000 / 8000;
                out.push(DtmfEvent::End(k, ms));
                self.down = None;
                if let Some(k2) = d {
                    if self.run >= 2 {
                        self.down = Some(k2);
                        self.down_blocks = self.run;
                        out.push(DtmfEvent::Begin(k2));
                    }
                }
            }
            _ => {}
        }
    }
}

fn argmax(v: &[f32]) -> (usize, f32) {
    let mut best = (0, v[0]);
    for (i, &x) in v.iter().enumerate().skip(1) {
        if x > best.1 {
            best = (i, x);
        }
    }
    best
}

/// Power of `x` at `freq` Hz for a signal sampled at `rate` Hz (one
/// Goertzel pass over the whole slice), normalised by the length squared:
/// a full-scale-`A` sine at `freq` gives about `A² / 4`. For measuring what
/// a leg hears (tests, diagnostics); the detector above works in blocks.
pub fn tone_power(x: &[i16], freq: f64, rate: f64) -> f64 {
    let c = 2.0 * (2.0 * std::f64::consts::PI * freq / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = f64::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len().max(1) as f64).powi(2)
}

/// Synthesises a DTMF digit (both tones at `level_dbfs` each) at 8 kHz.
pub fn synthesize(digit: char, ms: u32, level_dbfs: f32) -> Vec<i16> {
    let Some(e) = digit_to_event(digit) else {
        return vec![];
    };
    let (r, c) = match e {
        1..=9 => ((e - 1) / 3, (e - 1) % 3),
        0 => (3, 1),
        10 => (3, 0),
        11 => (3, 2),
        _ => (e - 12, 3),
    };
    let amp = 32767.0 * 10f32.powf(level_dbfs / 20.0);
    let (fr, fc) = (ROWS[r as usize], COLS[c as usize]);
    (0..ms * 8)
        .map(|i| {
            let t = i as f32 / 8000.0;
            (amp * ((2.0 * std::f32::consts::PI * fr * t).sin()
                + (2.0 * std::f32::consts::PI * fc * t).sin())) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711;

    #[test]
    fn payload_roundtrip_and_digits() {
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1600,
        };
        assert_eq!(e.to_bytes(), [11, 0x8a, 0x06, 0x40]);
        assert_eq!(TelephoneEvent::parse(&e.to_bytes()).unwrap(), e);
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), Err(DtmfError::TooShort));
        for c in "0123456789*#ABCD".chars() {
            assert_eq!(event_to_digit(digit_to_event(c).unwrap()), Some(c));
        }
        assert_eq!(digit_to_event('x'), None);
        assert_eq!(event_to_digit(16), None);
    }

    #[test]
    fn generate_then_receive_once() {
        let pkts = generate(5, 1000, 800, 160, 10);
        // 160, 320, 480, 640 updates, then 3 ends at 800.
        assert_eq!(pkts.len(), 7);
        assert!(pkts[0].marker && !pkts[1].marker);
        assert!(pkts.iter().all(|p| p.timestamp == 1000));
        let mut rx = EventReceiver::new(8000);
        let mut evs = vec![];
        for p in &pkts {
            evs.extend(rx.on_packet(p.timestamp, &p.payload));
        }
        // Retransmitted end again, late: ignored.
        evs.extend(rx.on_packet(1000, &pkts[6].payload));
        assert_eq!(evs, vec![DtmfEvent::Begin('5'), DtmfEvent::End('5', 100)]);
        // Same digit again later (new timestamp) is a new press.
        let again = generate(5, 5000, 320, 160, 10);
        let evs: Vec<_> = again
            .iter()
            .flat_map(|p| rx.on_packet(p.timestamp, &p.payload))
            .collect();
        assert_eq!(evs, vec![DtmfEvent::Begin('5'), DtmfEvent::End('5', 40)]);
        // Only an end packet seen (updates lost): begin + end.
        let mut rx = EventReceiver::new(8000);
        let evs = rx.on_packet(7, &pkts[6].payload);
        assert_eq!(evs, vec![DtmfEvent::Begin('5'), DtmfEvent::End('5', 100)]);
        assert!(rx.on_packet(7, &[1]).is_empty());
    }

    fn through_ulaw(x: &[i16]) -> Vec<i16> {
        x.iter()
            .map(|&s| g711::ulaw_decode(g711::ulaw_encode(s)))
            .collect()
    }

    fn detect_all(audio: &[i16]) -> String {
        let mut d = DtmfDetector::new();
        let mut s = String::new();
        // Feed in 20 ms frames, as the relay would.
        for chunk in audio.chunks(160) {
            for e in d.process(chunk) {
                if let DtmfEvent::Begin(k) = e {
                    s.push(k);
                }
            }
        }
        s
    }

    #[test]
    fn detects_every_key_through_g711() {
        let keys = "123A456B789C*0#D";
        let mut audio = vec![];
        for k in keys.chars() {
            audio.extend(synthesize(k, 70, -12.0));
            audio.extend(vec![0i16; 8 * 60]);
        }
        assert_eq!(detect_all(&through_ulaw(&audio)), keys);
    }

    #[test]
    fn repeated_key_and_durations() {
        let mut audio = vec![];
        for _ in 0..3 {
            audio.extend(synthesize('7', 100, -10.0));
            audio.extend(vec![0i16; 8 * 60]);
        }
        let mut d = DtmfDetector::new();
        let evs = d.process(&audio);
        let ends: Vec<_> = evs
            .iter()
            .filter_map(|e| {
                if let DtmfEvent::End(k, ms) = e {
                    Some((*k, *ms))
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(ends.len(), 3);
        for (k, ms) in ends {
            assert_eq!(k, '7');
            assert!((75..=130).contains(&ms), "{ms}");
        }
    }

    #[test]
    fn no_false_keys_on_music_noise_or_single_tones() {
        let music = crate::Prompt::default_music();
        assert_eq!(detect_all(music.samples()), "");
        let mut rng = crate::netem::Rng::new(7);
        let noise: Vec<i16> = (0..8000 * 5)
            .map(|_| ((rng.f64() - 0.5) * 20000.0) as i16)
            .collect();
        assert_eq!(detect_all(&noise), "");
        let dial = crate::Prompt::tone(697.0, std::time::Duration::from_secs(2), -6.0);
        assert_eq!(detect_all(dial.samples()), "");
        let quiet: Vec<i16> = synthesize('5', 200, -45.0);
        assert_eq!(detect_all(&quiet), "");
    }
}
