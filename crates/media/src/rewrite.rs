//! The outgoing stream of one leg: keeps one SSRC and continuous sequence
//! numbers and timestamps while its source changes (music → agent →
//! another agent), as RFC 3550 §8.2/§5.1 receivers expect. Sans-IO: the
//! caller passes `now`.

use std::time::{Duration, Instant};

/// What produced a packet, as seen by the rewriter. A change of source
/// re-anchors the sequence/timestamp offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKey {
    /// A local player; the number distinguishes successive plays.
    Player(u64),
    /// Relayed packets from a remote SSRC.
    Relay(u32),
}

/// Maps a stream's timestamps into another clock rate by accumulating
/// scaled differences, so wrap-around stays continuous.
#[derive(Debug, Default, Clone)]
pub(crate) struct TsMap {
    last: Option<(u32, u32)>,
}

impl TsMap {
    pub(crate) fn map(&mut self, ts: u32, from_hz: u32, to_hz: u32) -> u32 {
        if from_hz == to_hz {
            return ts;
        }
        let out = match self.last {
            Some((i, o)) => {
                let d = ts.wrapping_sub(i) as i32 as i64;
                o.wrapping_add((d * to_hz as i64 / from_hz as i64) as i32 as u32)
            }
            None => ((ts as u64 * to_hz as u64 / from_hz as u64) & 0xffff_ffff) as u32,
        };
        self.last = Some((ts, out));
        out
    }
}

/// Rewritten header fields for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    /// Outgoing SSRC (constant for the stream).
    pub ssrc: u32,
    /// Outgoing sequence number.
    pub sequence: u16,
    /// Outgoing timestamp.
    pub timestamp: u32,
    /// True on the first packet after a source change: set the marker bit.
    pub marker: bool,
}

/// Continuous outgoing stream state.
#[derive(Debug, Clone)]
pub struct StreamRewriter {
    ssrc: u32,
    clock_rate: u32,
    source: Option<SourceKey>,
    seq_off: u16,
    ts_off: u32,
    /// Highest sequence number sent and the timestamp sent with it.
    last: Option<(u16, u32, Instant)>,
    /// Packets and payload octets sent, for RTCP sender reports.
    packets: u32,
    octets: u32,
}

impl StreamRewriter {
    /// A new stream with the given outgoing SSRC, initial sequence number
    /// and timestamp (random in production, per RFC 3550).
    pub fn new(ssrc: u32, first_seq: u16, first_ts: u32, clock_rate: u32) -> Self {
        StreamRewriter {
            ssrc,
            clock_rate,
            source: None,
            seq_off: first_seq,
            ts_off: first_ts,
            last: None,
            packets: 0,
            octets: 0,
        }
    }

    /// The outgoing SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The current source.
    pub fn source(&self) -> Option<SourceKey> {
        self.source
    }

    /// Changes the clock rate used to advance timestamps across gaps (when
    /// the leg's codec changes).
    pub fn set_clock_rate(&mut self, rate: u32) {
        self.clock_rate = rate.max(1);
    }

    /// Offset added to incoming timestamps of the current source.
    pub fn ts_offset(&self) -> u32 {
        self.ts_off
    }

    /// Packets and payload octets sent so far.
    pub fn counts(&self) -> (u32, u32) {
        (self.packets, self.octets)
    }

    /// Records that the stream's media runs until `out_ts` (e.g. the end of
    /// an RFC 4733 event, whose packets all carry its start timestamp), so
    /// the next source starts after it.
    pub fn extend_to(&mut self, out_ts: u32, now: Instant) {
        if let Some((s, t, _)) = self.last {
            if (out_ts.wrapping_sub(t) as i32) > 0 {
                self.last = Some((s, out_ts, now));
            }
        }
    }

    /// Records `packets` packets (`octets` of payload) of the current
    /// source that were rewritten in the kernel with this rewriter's
    /// offsets, the newest sent as `seq`/`ts` at `at`.
    pub fn absorb(&mut self, packets: u32, octets: u32, seq: u16, ts: u32, at: Instant) {
        if packets == 0 {
            return;
        }
        self.packets = self.packets.wrapping_add(packets);
        self.octets = self.octets.wrapping_add(octets);
        self.note_sent(seq, ts, at);
    }

    /// Keeps the highest sequence number sent (and its timestamp).
    fn note_sent(&mut self, seq: u16, ts: u32, at: Instant) {
        let newer = match self.last {
            None => true,
            Some((s, _, _)) => (seq.wrapping_sub(s) as i16) > 0,
        };
        if newer {
            self.last = Some((seq, ts, at));
        }
    }

    /// The offsets applied to the current source's sequence numbers and
    /// timestamps.
    pub(crate) fn offsets(&self) -> (u16, u32) {
        (self.seq_off, self.ts_off)
    }

    /// Maps one packet from `source` with incoming `seq`/`ts` to the outgoing
    /// stream. `payload_len` feeds the sender-report octet count.
    pub fn rewrite(
        &mut self,
        source: SourceKey,
        seq: u16,
        ts: u32,
        payload_len: usize,
        now: Instant,
    ) -> Rewritten {
        let mut marker = false;
        if self.source != Some(source) {
            match self.last {
                None => {
                    // First packet ever: seq_off/ts_off hold the initial values.
                    self.seq_off = self.seq_off.wrapping_sub(seq);
                    self.ts_off = self.ts_off.wrapping_sub(ts);
                }
                Some((last_seq, last_ts, at)) => {
                    let frame = self.clock_rate / 50;
                    let elapsed = now.saturating_duration_since(at);
                    let ticks = ticks(elapsed, self.clock_rate).max(frame as u64);
                    let next_ts = last_ts.wrapping_add(ticks as u32);
                    self.seq_off = last_seq.wrapping_add(1).wrapping_sub(seq);
                    self.ts_off = next_ts.wrapping_sub(ts);
                }
            }
            self.source = Some(source);
            marker = true;
        }
        let out_seq = seq.wrapping_add(self.seq_off);
        let out_ts = ts.wrapping_add(self.ts_off);
        self.note_sent(out_seq, out_ts, now);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        Rewritten {
            ssrc: self.ssrc,
            sequence: out_seq,
            timestamp: out_ts,
            marker,
        }
    }
}

fn ticks(d: Duration, rate: u32) -> u64 {
    (d.as_micros() as u64).saturating_mul(rate as u64) / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuous_across_sources() {
        let t0 = Instant::now();
        let mut rw = StreamRewriter::new(42, 1000, 5000, 8000);
        // Music: 3 packets.
        let mut outs = vec![];
        for i in 0..3u16 {
            let at = t0 + Duration::from_millis(20 * i as u64);
            outs.push((
                rw.rewrite(SourceKey::Player(1), i, i as u32 * 160, 160, at),
                at,
            ));
        }
        assert_eq!(outs[0].0.sequence, 1000);
        assert_eq!(outs[0].0.timestamp, 5000);
        assert!(outs[0].0.marker && !outs[1].0.marker);
        assert_eq!(outs[2].0.sequence, 1002);
        assert_eq!(outs[2].0.timestamp, 5320);
        // Agent joins 20 ms later with random seq/ts.
        let at = t0 + Duration::from_millis(60);
        let r = rw.rewrite(SourceKey::Relay(7), 40000, 123_456_789, 160, at);
        assert_eq!(r.ssrc, 42);
        assert_eq!(r.sequence, 1003);
        assert_eq!(r.timestamp, 5480);
        assert!(r.marker);
        let r = rw.rewrite(
            SourceKey::Relay(7),
            40001,
            123_456_789 + 160,
            160,
            at + Duration::from_millis(20),
        );
        assert_eq!((r.sequence, r.timestamp, r.marker), (1004, 5640, false));
        // Reordered older packet keeps its relative place, does not move "last".
        let r = rw.rewrite(SourceKey::Relay(7), 39999, 123_456_789 - 160, 160, at);
        assert_eq!((r.sequence, r.timestamp), (1002, 5320));
        // A gap of 1 s before another agent: timestamp advances by 1 s.
        let at2 = at + Duration::from_millis(1020);
        let r = rw.rewrite(SourceKey::Relay(9), 7, 7, 160, at2);
        assert_eq!(r.sequence, 1005);
        assert_eq!(r.timestamp, 5640 + 8000);
        assert_eq!(rw.counts(), (7, 7 * 160));
    }

    #[test]
    fn extend_to_pushes_the_next_source_past_an_event() {
        let t0 = Instant::now();
        let mut rw = StreamRewriter::new(1, 0, 1000, 8000);
        // Three packets of one telephone-event: same timestamp.
        for s in 0..3 {
            rw.rewrite(
                SourceKey::Player(1),
                s,
                0,
                4,
                t0 + Duration::from_millis(20 * s as u64),
            );
        }
        rw.extend_to(1000 + 800, t0 + Duration::from_millis(40));
        let r = rw.rewrite(
            SourceKey::Relay(9),
            77,
            5,
            160,
            t0 + Duration::from_millis(60),
        );
        assert_eq!((r.sequence, r.timestamp), (3, 1800 + 160));
        // Never moves backwards.
        rw.extend_to(10, t0);
        let r = rw.rewrite(
            SourceKey::Relay(9),
            78,
            165,
            160,
            t0 + Duration::from_millis(80),
        );
        assert_eq!(r.timestamp, 1800 + 320);
    }

    #[test]
    fn wraps() {
        let t0 = Instant::now();
        let mut rw = StreamRewriter::new(1, 65535, u32::MAX, 8000);
        let a = rw.rewrite(SourceKey::Relay(1), 10, 10, 0, t0);
        let b = rw.rewrite(SourceKey::Relay(1), 11, 170, 0, t0);
        assert_eq!((a.sequence, a.timestamp), (65535, u32::MAX));
        assert_eq!((b.sequence, b.timestamp), (0, 159));
        // Quick switch (<20 ms) still advances by at least one frame.
        let c = rw.rewrite(SourceKey::Player(3), 0, 0, 0, t0);
        assert_eq!((c.sequence, c.timestamp), (1, 319));
    }

    proptest::proptest! {
        /// Whatever the sources and their numbering, in-order packets leave
        /// with one SSRC, sequence numbers +1 each, and timestamps that
        /// never go backwards across a source change.
        #[test]
        fn one_continuous_stream(
            switches in proptest::collection::vec((proptest::prelude::any::<u32>(), proptest::prelude::any::<u16>(), proptest::prelude::any::<u32>(), 1usize..20, 0u64..2000), 1..12),
            init in proptest::prelude::any::<(u32, u16, u32)>(),
        ) {
            let t0 = Instant::now();
            let mut rw = StreamRewriter::new(init.0, init.1, init.2, 8000);
            let mut at = t0;
            let mut last: Option<Rewritten> = None;
            for (k, (ssrc, seq0, ts0, n, gap_ms)) in switches.into_iter().enumerate() {
                at += Duration::from_millis(gap_ms);
                let key = if k % 3 == 0 { SourceKey::Player(k as u64) } else { SourceKey::Relay(ssrc) };
                for i in 0..n {
                    let r = rw.rewrite(key, seq0.wrapping_add(i as u16), ts0.wrapping_add(160 * i as u32), 160, at);
                    proptest::prop_assert_eq!(r.ssrc, init.0);
                    if let Some(l) = last {
                        proptest::prop_assert_eq!(r.sequence, l.sequence.wrapping_add(1));
                        let dts = r.timestamp.wrapping_sub(l.timestamp) as i32;
                        proptest::prop_assert!(dts >= 160, "timestamp step {}", dts);
                        proptest::prop_assert_eq!(r.marker, i == 0);
                    }
                    last = Some(r);
                    at += Duration::from_millis(20);
                }
            }
        }
    }
}
