//! Our adaptive jitter buffer against a fixed-delay buffer and against the
//! `neteq` crate (0.9, "NetEQ-inspired adaptive jitter buffer") on the
//! standard deterministic traces. Prints the comparison table (the jitter
//! bench prints the same one: it includes this file); asserts behaviour
//! (adaptation, consistent counters), not timings.
//!
//! How `neteq` is driven, and measured like our buffers:
//!
//! * the same arrival trace (`netem::emulate`, 9,000 packets of 20 ms), the
//!   same G.711 µ-law payloads (`0x80` × 160, RTP timestamp = index × 160,
//!   sequence = index), decoded by our `g711::ulaw_decode` through neteq's
//!   public `AudioDecoder` trait at 8 kHz mono;
//! * `get_audio()` (10 ms) every 10 ms at a 7 ms phase against the sender
//!   (ours: `pull` every 20 ms at the same phase); packets are inserted
//!   just before the first pull at or after their arrival, as in
//!   `netem::simulate`;
//! * neteq reads `Instant::now()` itself (delay manager, packet age) and has
//!   no injectable clock, so on Linux this test runs it on a *virtual
//!   monotonic clock*: the test binary defines `clock_gettime`, which
//!   returns the trace time for `CLOCK_MONOTONIC` on the thread that drives
//!   neteq and passes everything else to the kernel. Every packet is thus
//!   seen arriving at exactly its trace arrival time, deterministically and
//!   without sleeping 3 minutes per trace;
//! * each payload carries a 4-byte packet index after its 160 G.711 bytes;
//!   neteq never looks at payload bytes (its buffer level counts
//!   `sample_rate × duration_ms`), our decoder strips the index and records
//!   which packet neteq decoded in which `get_audio` call;
//! * added delay = time from a packet's (first) arrival to the `get_audio`
//!   call that decoded it (ours: arrival to the `pull` that played it).
//!   When neteq time-stretches it decodes up to 60 ms ahead of output, so
//!   for it this is a lower bound; its own reported buffer level
//!   (`current_buffer_size_ms`, every 10 ms) is printed beside it;
//! * late % = packets that arrived but were never decoded, or were decoded
//!   after a newer packet had been (neteq 0.9 keeps no playout position:
//!   it plays a late packet out of order instead of discarding it);
//! * concealed % = 10 ms frames whose speech type is not `Normal`, from the
//!   first decoded packet on, less the 500 ms tail (ours: 20 ms frames).
//!   neteq does not conceal packets lost in the network: it plays the next
//!   packet it has, so its concealed % does not include network loss,
//!   while ours does.

use std::time::Duration;

use media::jitter::{JitterBuffer, JitterConfig, JitterStats, PlayoutMode, Pulled};
use media::netem::{emulate, simulate, standard_traces, Arrival, TraceReport};

/// 3 minutes of 20 ms packets.
pub const PACKETS: usize = 9000;
const PTIME: Duration = Duration::from_millis(20);

/// One line of the comparison table.
pub struct Row {
    /// Trace name.
    pub trace: &'static str,
    /// Buffer name.
    pub buffer: &'static str,
    /// Measurements.
    pub report: TraceReport,
    /// neteq only: its run's details.
    #[cfg(target_os = "linux")]
    pub neteq: Option<neteq_harness::NetEqRun>,
}

/// The buffers of ours compared, by name.
pub fn our_modes() -> [(&'static str, PlayoutMode); 4] {
    [
        ("adaptive", PlayoutMode::Adaptive { quantile: 0.97 }),
        // The low-delay end of our trade-off curve, for comparison with
        // neteq at its (higher) late loss.
        ("adaptive-q.8", PlayoutMode::Adaptive { quantile: 0.80 }),
        ("fixed-60ms", PlayoutMode::Fixed(Duration::from_millis(60))),
        (
            "fixed-120ms",
            PlayoutMode::Fixed(Duration::from_millis(120)),
        ),
    ]
}

fn ours(mode: PlayoutMode, trace: &[Arrival], lost: usize) -> TraceReport {
    simulate(
        trace,
        lost,
        PACKETS,
        JitterConfig {
            mode,
            ..Default::default()
        },
    )
}

/// Every buffer on every standard trace, in table order.
pub fn table() -> Vec<Row> {
    let mut rows = Vec::new();
    for (name, net) in standard_traces() {
        let (trace, lost) = emulate(&net, PACKETS, PTIME);
        for (label, mode) in our_modes() {
            rows.push(Row {
                trace: name,
                buffer: label,
                report: ours(mode, &trace, lost),
                #[cfg(target_os = "linux")]
                neteq: None,
            });
        }
        #[cfg(target_os = "linux")]
        {
            let n = neteq_harness::run(&trace, lost, PACKETS);
            rows.push(Row {
                trace: name,
                buffer: "neteq-0.9",
                report: n.report.clone(),
                neteq: Some(n),
            });
        }
    }
    rows
}

/// Prints the table.
pub fn print_table(rows: &[Row]) {
    println!(
        "{:<13} {:<12} {:>6} {:>6} {:>6} {:>8} {:>7} {:>6} {:>6}  \
         neteq: level mean/p95 ms, late = out-of-order + never played, dups replayed",
        "trace", "buffer", "net%", "late%", "conc%", "mean ms", "p95 ms", "accel", "expand"
    );
    for row in rows {
        let r = &row.report;
        #[cfg(target_os = "linux")]
        let detail = row
            .neteq
            .as_ref()
            .map(|n| {
                format!(
                    "{:.1} / {:.1}, {} + {}, {}",
                    n.level_mean_ms, n.level_p95_ms, n.out_of_order, n.never_decoded, n.replayed
                )
            })
            .unwrap_or_default();
        #[cfg(not(target_os = "linux"))]
        let detail = String::new();
        println!(
            "{:<13} {:<12} {:>6.2} {:>6.2} {:>6.2} {:>8.1} {:>7.1} {:>6} {:>6}  {}",
            row.trace,
            row.buffer,
            r.net_loss_pct,
            r.late_pct,
            r.concealed_pct,
            r.mean_delay_ms,
            r.p95_delay_ms,
            r.accelerated,
            r.expanded,
            detail
        );
    }
    println!(
        "(accel/expand: frames dropped/waited for ours; for neteq, samples removed by \
         accelerate / inserted by preemptive expand, in 20 ms frames)"
    );
}

/// Replays a trace through our buffer on the same schedule as
/// `netem::simulate`, returning its counters and the number of pulls.
fn our_counters(mode: PlayoutMode, trace: &[Arrival]) -> (JitterStats, u64) {
    let t0 = std::time::Instant::now();
    let mut jb = JitterBuffer::new(JitterConfig {
        mode,
        ..Default::default()
    });
    let payload = [0x80u8; 160];
    let mut out = [0i16; 160];
    let end = trace.last().map_or(Duration::ZERO, |a| a.arrival) + Duration::from_millis(500);
    let (mut next_pull, mut i, mut pulls) = (Duration::from_millis(7), 0, 0u64);
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
        let _: Pulled = jb.pull(t0 + next_pull, &mut out);
        pulls += 1;
        next_pull += PTIME;
    }
    (*jb.stats(), pulls)
}

/// Drives the `neteq` crate on a trace (see the file's doc).
#[cfg(target_os = "linux")]
pub mod neteq_harness {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use media::g711;
    use media::netem::{Arrival, TraceReport};
    use neteq::codec::AudioDecoder;
    use neteq::neteq::SpeechType;
    use neteq::{AudioPacket, NetEq, NetEqConfig, RtpHeader};

    /// A virtual `CLOCK_MONOTONIC` for the current thread only.
    mod vclock {
        use std::cell::Cell;
        use std::time::Duration;

        /// Virtual time = this many seconds + the trace time (far from 0,
        /// so `Instant` arithmetic never underflows).
        const BASE_SECS: i64 = 1_000_000;

        thread_local! {
            static NOW: Cell<Option<Duration>> = const { Cell::new(None) };
        }

        /// Sets the current thread's virtual time (None: the real clock).
        pub fn set(t: Option<Duration>) {
            NOW.with(|c| c.set(t));
        }

        /// Restores the real clock when dropped (also on panic).
        pub struct Guard;
        impl Drop for Guard {
            fn drop(&mut self) {
                set(None);
            }
        }

        // Interposes libc's `clock_gettime` for this test binary: std's
        // `Instant::now()` calls it. Only `CLOCK_MONOTONIC` on a thread that
        // set a virtual time is answered here; everything else goes to the
        // kernel through the raw system call.
        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn clock_gettime(
            clk: libc::clockid_t,
            tp: *mut libc::timespec,
        ) -> libc::c_int {
            if clk == libc::CLOCK_MONOTONIC && !tp.is_null() {
                if let Ok(Some(t)) = NOW.try_with(|c| c.get()) {
                    // SAFETY: the caller passes a valid, writable timespec.
                    unsafe {
                        (*tp).tv_sec = (BASE_SECS + t.as_secs() as i64) as libc::time_t;
                        (*tp).tv_nsec = t.subsec_nanos() as libc::c_long;
                    }
                    return 0;
                }
            }
            // SAFETY: the system call takes the same arguments as the libc
            // function and writes only to `tp`.
            unsafe { libc::syscall(libc::SYS_clock_gettime, clk, tp) as libc::c_int }
        }
    }

    /// G.711 µ-law decoder for neteq; the payload ends with a 4-byte packet
    /// index (measurement only), which it records and strips.
    struct TaggedUlaw {
        decoded: Arc<Mutex<Vec<usize>>>,
    }

    impl AudioDecoder for TaggedUlaw {
        fn sample_rate(&self) -> u32 {
            8000
        }
        fn channels(&self) -> u8 {
            1
        }
        fn decode(&mut self, encoded: &[u8]) -> neteq::Result<Vec<f32>> {
            let (audio, tag) = encoded.split_at(encoded.len().saturating_sub(4));
            if let Ok(tag) = <[u8; 4]>::try_from(tag) {
                self.decoded
                    .lock()
                    .unwrap()
                    .push(u32::from_le_bytes(tag) as usize);
            }
            Ok(audio
                .iter()
                .map(|&b| g711::ulaw_decode(b) as f32 / 32768.0)
                .collect())
        }
    }

    /// neteq on one trace.
    #[derive(Debug, Clone)]
    pub struct NetEqRun {
        /// Measured like `netem::simulate` measures our buffers.
        pub report: TraceReport,
        /// Deliveries (duplicates included) inserted.
        pub inserted: usize,
        /// Distinct packets that arrived.
        pub arrived: usize,
        /// Distinct packets decoded in order (newer than all before).
        pub in_order: usize,
        /// Distinct packets decoded after a newer one (late, out of order).
        pub out_of_order: usize,
        /// Distinct packets that arrived and were never decoded.
        pub never_decoded: usize,
        /// Decodes of a packet already decoded (a duplicate played again).
        pub replayed: usize,
        /// `get_audio` calls.
        pub frames: u64,
        /// Frames with `SpeechType::Expand` (whole run).
        pub expand_frames: u64,
        /// neteq's own counter of concealment events.
        pub concealment_events: u64,
        /// Packets still in neteq's buffer at the end.
        pub left_in_buffer: usize,
        /// neteq's reported buffer level every 10 ms: mean, p95 (ms).
        pub level_mean_ms: f64,
        /// See `level_mean_ms`.
        pub level_p95_ms: f64,
    }

    fn p95(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(((v.len() as f64 - 1.0) * 0.95) as usize)
            .copied()
            .unwrap_or(0.0)
    }

    /// Plays `trace` through neteq (default config, 8 kHz mono).
    pub fn run(trace: &[Arrival], net_lost: usize, packets: usize) -> NetEqRun {
        let _guard = vclock::Guard;
        // The interposed clock must be the one `Instant::now()` reads, or
        // neteq would see every packet arrive at once: check, don't assume.
        vclock::set(Some(Duration::ZERO));
        let a = Instant::now();
        vclock::set(Some(Duration::from_millis(1234)));
        assert_eq!(
            Instant::now() - a,
            Duration::from_millis(1234),
            "virtual clock not in effect"
        );
        vclock::set(Some(Duration::ZERO));
        let mut neteq = NetEq::new(NetEqConfig {
            sample_rate: 8000,
            channels: 1,
            ..Default::default()
        })
        .expect("neteq config");
        let decoded = Arc::new(Mutex::new(Vec::new()));
        neteq.register_decoder(
            0,
            Box::new(TaggedUlaw {
                decoded: decoded.clone(),
            }),
        );
        let frame = Duration::from_millis(10);
        let end = trace.last().map_or(Duration::ZERO, |a| a.arrival) + Duration::from_millis(500);
        let mut first_arrival: HashMap<usize, Duration> = HashMap::new();
        let mut is_decoded = vec![false; packets];
        let mut newest: Option<usize> = None;
        let (mut in_order, mut out_of_order, mut replayed) = (0, 0, 0);
        let mut waits = Vec::with_capacity(packets);
        let mut levels = Vec::with_capacity(2 * packets + 100);
        let (mut frames, mut bad, mut started) = (0u64, 0u64, false);
        let (mut all_frames, mut expand_frames) = (0u64, 0u64);
        let mut next_pull = Duration::from_millis(7);
        let mut i = 0;
        while next_pull <= end {
            while i < trace.len() && trace[i].arrival <= next_pull {
                let a = trace[i];
                vclock::set(Some(a.arrival));
                first_arrival.entry(a.index).or_insert(a.arrival);
                let mut payload = vec![0x80u8; 160];
                payload.extend_from_slice(&(a.index as u32).to_le_bytes());
                neteq
                    .insert_packet(AudioPacket {
                        header: RtpHeader::new(
                            a.index as u16,
                            (a.index as u32).wrapping_mul(160),
                            0x5eed,
                            0,
                            false,
                        ),
                        payload,
                        arrival_time: Instant::now(),
                        sample_rate: 8000,
                        channels: 1,
                        duration_ms: 20,
                    })
                    .expect("neteq insert");
                i += 1;
            }
            vclock::set(Some(next_pull));
            let out = neteq.get_audio().expect("neteq get_audio");
            for idx in decoded.lock().unwrap().drain(..) {
                if is_decoded[idx] {
                    replayed += 1;
                    continue;
                }
                is_decoded[idx] = true;
                started = true;
                if newest.is_some_and(|n| idx < n) {
                    out_of_order += 1;
                } else {
                    in_order += 1;
                    newest = Some(idx);
                    let waited = next_pull.saturating_sub(first_arrival[&idx]);
                    waits.push(waited.as_secs_f64() * 1000.0);
                }
            }
            all_frames += 1;
            if out.speech_type == SpeechType::Expand {
                expand_frames += 1;
            }
            if started {
                frames += 1;
                if out.speech_type != SpeechType::Normal {
                    bad += 1;
                }
            }
            levels.push(neteq.current_buffer_size_ms() as f64);
            next_pull += frame;
        }
        let stats = neteq.get_statistics();
        let arrived = first_arrival.len();
        let decoded_distinct = is_decoded.iter().filter(|&&d| d).count();
        let never_decoded = arrived - decoded_distinct;
        let mean = if waits.is_empty() {
            0.0
        } else {
            waits.iter().sum::<f64>() / waits.len() as f64
        };
        let level_mean_ms = levels.iter().sum::<f64>() / levels.len().max(1) as f64;
        // Trailing frames after the stream ended are not concealment.
        let tail = (Duration::from_millis(500).as_millis() / frame.as_millis()) as u64;
        let bad_frames = bad.saturating_sub(tail);
        let counted = frames.saturating_sub(tail).max(1);
        NetEqRun {
            report: TraceReport {
                packets,
                net_loss_pct: 100.0 * net_lost as f64 / packets as f64,
                late_pct: 100.0 * (out_of_order + never_decoded) as f64 / packets as f64,
                concealed_pct: 100.0 * bad_frames as f64 / counted as f64,
                mean_delay_ms: mean,
                p95_delay_ms: p95(&mut waits),
                accelerated: stats.lifetime.removed_samples_for_acceleration / 160,
                expanded: stats.lifetime.inserted_samples_for_deceleration / 160,
            },
            inserted: trace.len(),
            arrived,
            in_order,
            out_of_order,
            never_decoded,
            replayed,
            frames: all_frames,
            expand_frames,
            concealment_events: stats.lifetime.concealment_events,
            left_in_buffer: stats.packets_awaiting_decode,
            level_mean_ms,
            level_p95_ms: p95(&mut levels),
        }
    }
}

#[test]
fn adaptive_vs_fixed_vs_neteq_on_standard_traces() {
    let rows = table();
    print_table(&rows);
    for row in &rows {
        let r = &row.report;
        // Percentages are percentages, on every trace and buffer.
        for v in [r.net_loss_pct, r.late_pct, r.concealed_pct] {
            assert!(
                (0.0..=100.0).contains(&v),
                "{} {}: {r:?}",
                row.trace,
                row.buffer
            );
        }
        assert!(
            r.late_pct + r.net_loss_pct <= 100.0 + 1e-9,
            "{} {}: {r:?}",
            row.trace,
            row.buffer
        );
        assert!(r.mean_delay_ms >= 0.0 && r.p95_delay_ms >= 0.0);
        if row.buffer == "adaptive" {
            // Behaviour: the adaptive buffer keeps late loss low on every
            // trace without holding audio longer than the worst conditions
            // need (simulated time: deterministic).
            assert!(r.late_pct < 4.0, "{}: {r:?}", row.trace);
            assert!(r.p95_delay_ms < 250.0, "{}: {r:?}", row.trace);
        }
    }
    // On a clean LAN the adaptive buffer adds almost no delay.
    let lan = &rows[0].report;
    assert!(rows[0].buffer == "adaptive" && rows[0].trace == "lan");
    assert!(lan.mean_delay_ms < 15.0 && lan.late_pct < 1.0, "{lan:?}");
}

/// Every buffer's counters add up on every trace.
#[test]
fn counters_are_consistent_on_every_trace() {
    for (name, net) in standard_traces() {
        let (trace, lost) = emulate(&net, PACKETS, PTIME);
        let mut seen = std::collections::HashSet::new();
        let distinct = trace.iter().filter(|a| seen.insert(a.index)).count();
        // Every packet sent is either lost in the network or arrives.
        assert_eq!(distinct + lost, PACKETS, "{name}");
        for (label, mode) in our_modes() {
            let (s, pulls) = our_counters(mode, &trace);
            let ctx = format!("{name} {label}: {s:?}");
            assert_eq!(s.inserted, trace.len() as u64, "{ctx}");
            // Each pull yields exactly one of audio, concealment, silence.
            assert_eq!(s.played + s.concealed + s.silence, pulls, "{ctx}");
            // Each inserted packet is played, dropped to cut delay, late,
            // a duplicate or an overflow, or still buffered (never more).
            let accounted = s.played + s.accelerated + s.late + s.duplicates + s.overflow;
            assert!(accounted <= s.inserted, "{ctx}");
            assert!(s.inserted - accounted <= 64, "{ctx}");
            assert!(s.played <= distinct as u64, "{ctx}");
            assert!(s.expanded <= s.concealed + s.silence, "{ctx}");
        }
        #[cfg(target_os = "linux")]
        {
            let n = neteq_harness::run(&trace, lost, PACKETS);
            let ctx = format!("{name} neteq: {n:?}");
            assert_eq!(n.inserted, trace.len(), "{ctx}");
            assert_eq!(n.arrived, distinct, "{ctx}");
            // Every distinct arrival is decoded in order, out of order, or
            // not at all.
            assert_eq!(
                n.in_order + n.out_of_order + n.never_decoded,
                n.arrived,
                "{ctx}"
            );
            assert!(n.replayed <= n.inserted - n.arrived, "{ctx}");
            // neteq counts a concealment event per Expand operation; each
            // gives an Expand frame.
            assert!(n.concealment_events <= n.expand_frames, "{ctx}");
            assert!(n.expand_frames <= n.frames, "{ctx}");
            assert!(n.left_in_buffer <= n.never_decoded, "{ctx}");
        }
    }
}
