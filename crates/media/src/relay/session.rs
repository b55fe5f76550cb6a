//! One session: two legs (caller A, agent B) and an optional supervisor leg
//! C, each an RTP and an RTCP socket, owned by one task.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::kfwd::{self, Counted, Entry, KfwdMap};
use super::stock::{Sockets, Stock};
use super::sys::{self, RecvBatch, BATCH};
use super::tap::Tap;
use super::{SessionCmd, SessionInit};
use crate::dtmf::{self, DtmfDetector, DtmfEvent, EventReceiver};
use crate::engine::{EventHub, MediaEvent};
use crate::recv_stats::RecvStats;
use crate::rewrite::{SourceKey, StreamRewriter, TsMap};
use crate::rtcp::{self, RtcpRewrite};
use crate::rtp::{self, RtpHeader, RtpHeaderMut, RtpPacket};
use crate::stats::{bump, set, SessionStats};
use crate::transcode::{AudioEncoder, Transcoder};
use crate::{g711, Codec, Leg, Prompt, SessionId, PROMPT_RATE};

/// Whether a short `recvmmsg` batch is trusted to mean "drained" (set
/// `SWITCHBOARD_MEDIA_RECVMMSG=0` to compare with one-datagram-per-call).
fn batching_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        cfg!(target_os = "linux")
            && std::env::var("SWITCHBOARD_MEDIA_RECVMMSG").map_or(true, |v| v != "0")
    })
}

/// Packets read from one socket before looking at the others.
const DRAIN_BUDGET: usize = 64;
/// Packet time of players.
const PTIME: Duration = Duration::from_millis(20);
/// A player this late skips ahead instead of bursting.
const MAX_PLAYER_LAG: Duration = Duration::from_millis(200);
/// How often the counters of streams forwarded in the kernel are folded
/// into the session's state (receive statistics, inactivity, the outgoing
/// stream's position).
const FOLD_EVERY: Duration = Duration::from_secs(1);

/// The sockets of A and B, and of C while a supervisor is attached.
struct Socks {
    ab: [Sockets; 2],
    c: Option<Sockets>,
}

impl Socks {
    fn get(&self, i: usize) -> Option<&Sockets> {
        match i {
            0 | 1 => Some(&self.ab[i]),
            _ => self.c.as_ref(),
        }
    }
}

/// The sockets polled, in order: A and B first, C's last (only while
/// attached).
const SLOTS: [(usize, Kind); 6] = [
    (0, Kind::Rtp),
    (1, Kind::Rtp),
    (0, Kind::Rtcp),
    (1, Kind::Rtcp),
    (2, Kind::Rtp),
    (2, Kind::Rtcp),
];

enum Ev {
    Cmd(Option<SessionCmd>),
    Readable(usize, Kind),
    Timer,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rtp,
    Rtcp,
}

struct Player {
    prompt: Arc<Prompt>,
    pos: usize,
    looped: bool,
    next: Instant,
    key: u64,
    seq: u16,
    ts: u32,
}

struct LegState {
    sdp_remote: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    remote_rtcp: Option<SocketAddr>,
    latched: bool,
    latched_rtcp: bool,
    rtcp_mux: bool,
    codec: Codec,
    last_rx: Instant,
    timed_out: bool,
    out: StreamRewriter,
    player: Option<Player>,
    /// Outgoing RFC 4733 packets (source key, packet), one per 20 ms.
    dtmf_out: VecDeque<(u64, dtmf::EventPacket)>,
    dtmf_next: Instant,
    dtmf_seq: u16,
    dtmf_key: u64,
    dtmf_cursor: u32,
    recv: RecvStats,
    in_ssrc: Option<u32>,
    /// Negotiated telephone-event payload type (RFC 4733), if any.
    te_pt: Option<u8>,
    te_rx: EventReceiver,
    /// In-band (Goertzel) DTMF detection on this leg's G.711 audio.
    inband: Option<Box<DtmfDetector>>,
    /// The payload type of the leg's codec (dynamic for Opus).
    pt: u8,
    /// Encoder of what we originate to a leg whose codec is not G.711
    /// (prompts, music, the mix), fed 8 kHz PCM.
    enc: Option<Box<AudioEncoder>>,
    /// Converter of this leg's audio to the other leg's codec, when the two
    /// differ and are not both G.711 (decode, resample, encode).
    xcode: Option<Box<Transcoder>>,
    /// This leg's RTP timestamps in the other leg's clock.
    ts_map: TsMap,
}

/// Maps one packet we send to `out`'s continuous stream and writes its RTP
/// header and `payload` into `buf`; returns the packet's length (`None`
/// when `buf` is too small). `marker` is the packet's own marker bit.
#[allow(clippy::too_many_arguments)]
fn stamp(
    out: &mut StreamRewriter,
    source: SourceKey,
    (seq, ts): (u16, u32),
    payload_type: u8,
    marker: bool,
    payload: &[u8],
    at: Instant,
    buf: &mut [u8],
) -> Option<usize> {
    let rw = out.rewrite(source, seq, ts, payload.len(), at);
    RtpHeader {
        marker: marker || rw.marker,
        payload_type,
        sequence: rw.sequence,
        timestamp: rw.timestamp,
        ssrc: rw.ssrc,
    }
    .write(payload, buf)
}

/// Encodes one 20 ms frame of 8 kHz PCM in `codec` into `out` (with the
/// leg's encoder `enc` for codecs other than G.711); returns the length.
fn encode_8k(
    codec: Codec,
    enc: &mut Option<Box<AudioEncoder>>,
    pcm: &[i16],
    out: &mut [u8],
) -> Option<usize> {
    match codec {
        Codec::Pcma | Codec::Pcmu => {
            let n = pcm.len().min(out.len());
            if codec == Codec::Pcma {
                g711::alaw_encode_slice(&pcm[..n], &mut out[..n]);
            } else {
                g711::ulaw_encode_slice(&pcm[..n], &mut out[..n]);
            }
            Some(n)
        }
        codec => {
            if enc.as_ref().is_none_or(|e| e.codec() != codec) {
                *enc = AudioEncoder::with_rate(codec, PROMPT_RATE)
                    .ok()
                    .map(Box::new);
            }
            let payload = enc.as_mut()?.encode(pcm).ok()?;
            let n = payload.len().min(out.len());
            out[..n].copy_from_slice(&payload[..n]);
            Some(n)
        }
    }
}

impl LegState {
    fn new(now: Instant) -> Self {
        LegState {
            sdp_remote: None,
            remote: None,
            remote_rtcp: None,
            latched: false,
            latched_rtcp: false,
            rtcp_mux: false,
            codec: Codec::Pcmu,
            last_rx: now,
            timed_out: false,
            out: StreamRewriter::new(rand::random(), rand::random(), rand::random(), 8000),
            player: None,
            dtmf_out: VecDeque::new(),
            dtmf_next: now,
            dtmf_seq: 0,
            dtmf_key: 0,
            dtmf_cursor: 0,
            recv: RecvStats::default(),
            in_ssrc: None,
            te_pt: None,
            te_rx: EventReceiver::new(8000),
            inband: None,
            pt: Codec::Pcmu.payload_type(),
            enc: None,
            xcode: None,
            ts_map: TsMap::default(),
        }
    }
}

struct State {
    id: SessionId,
    legs: [LegState; 3],
    bridged: bool,
    tap: Tap,
    stats: Arc<SessionStats>,
    events: Arc<EventHub>,
    timeout: Duration,
    start: Instant,
    play_gen: u64,
    /// In-kernel forwarding, when loaded.
    kf: Option<KfwdMap>,
    /// Per relaying leg (A, B): its stream, when handed over to the kernel.
    handed: [Option<Handed>; 2],
    next_fold: Instant,
}

impl Drop for State {
    /// A session task dropped without reaching the end of `run` (its
    /// worker's runtime shutting down) still takes its streams back, so
    /// the kernel never forwards for a port it no longer owns.
    fn drop(&mut self) {
        for i in 0..2 {
            if self.handed[i].take().is_some() {
                self.stats.fold_kernel(i, true);
            }
        }
    }
}

/// A stream forwarded in the kernel: what user space checks a packet that
/// still reaches it against (another SSRC or source means the stream
/// changed, and is taken back).
#[derive(Clone, Copy)]
struct Handed {
    ssrc: u32,
    peer: SocketAddr,
}

fn leg_of(i: usize) -> Leg {
    match i {
        0 => Leg::A,
        1 => Leg::B,
        _ => Leg::C,
    }
}

/// Mutable access to leg `i` and the leg it relays to (C: itself is not
/// relayed, so its "other" is A and is never written through).
fn pair(legs: &mut [LegState; 3], i: usize) -> (&mut LegState, &mut LegState) {
    let (x, y) = legs.split_at_mut(1);
    match i {
        0 => (&mut x[0], &mut y[0]),
        1 => (&mut y[0], &mut x[0]),
        _ => (&mut y[1], &mut x[0]),
    }
}

/// Copies a leg's receive statistics into its shared counters (`rate`: the
/// leg's RTP clock, for jitter in microseconds).
fn publish_recv(stats: &crate::stats::LegStats, recv: &RecvStats, rate: u64) {
    set(&stats.lost, recv.lost());
    set(&stats.out_of_order, recv.out_of_order());
    set(&stats.duplicates, recv.duplicates());
    set(
        &stats.jitter_us,
        recv.jitter() as u64 * 1_000_000 / rate.max(1),
    );
}

fn send(sock: &UdpSocket, buf: &[u8], to: SocketAddr, stats: &crate::stats::LegStats, rtp: bool) {
    match sock.try_send_to(buf, to) {
        Ok(_) => {
            if rtp {
                bump(&stats.tx_packets, 1);
                bump(&stats.tx_bytes, buf.len() as u64);
            }
        }
        Err(e) => {
            tracing::trace!(%to, error = %e, "RTP send failed");
            bump(&stats.send_errors, 1);
        }
    }
}

pub(super) async fn run(init: SessionInit, stock: Arc<parking_lot::Mutex<Stock>>) {
    let SessionInit {
        id,
        ports,
        mut cmds,
        stats,
        events,
        rtp_timeout,
    } = init;
    let (a, b) = {
        let mut st = stock.lock();
        (st.take(ports[0]), st.take(ports[1]))
    };
    let (Some(a), Some(b)) = (a, b) else {
        // Not reachable: the engine claims only ports this stock published.
        tracing::error!(
            session = id.0,
            ?ports,
            "RTP ports not in the worker's stock"
        );
        return;
    };
    a.writable().await;
    b.writable().await;
    let mut socks = Socks {
        ab: [a, b],
        c: None,
    };
    let now = Instant::now();
    let kf = stats.kernel.lock().map.clone();
    let mut st = State {
        id,
        legs: [LegState::new(now), LegState::new(now), LegState::new(now)],
        bridged: false,
        tap: Tap::new(now, u64::MAX),
        stats,
        events,
        timeout: rtp_timeout,
        start: now,
        play_gen: 0,
        kf,
        handed: [None, None],
        next_fold: now,
    };
    let mut deadline = st.next_deadline(now);
    let sleep = tokio::time::sleep_until(deadline.into());
    tokio::pin!(sleep);
    let mut rot = 0usize;
    loop {
        // One hand-written poll over the command channel, the four sockets
        // and the timer: each socket keeps a single reader waker (no waiter
        // list, no per-iteration future construction).
        let ev = std::future::poll_fn(|cx| {
            if let Poll::Ready(c) = cmds.poll_recv(cx) {
                return Poll::Ready(Ev::Cmd(c));
            }
            // Rotate the starting socket so a flooded one cannot starve the others.
            rot = rot.wrapping_add(1);
            let n = if socks.c.is_some() { 6 } else { 4 };
            for k in 0..n {
                let (i, kind) = SLOTS[(rot + k) % n];
                let Some(sock) = socks.get(i) else { continue };
                let ready = match kind {
                    Kind::Rtp => sock.rtp.poll_recv_ready(cx),
                    Kind::Rtcp => sock.rtcp.poll_recv_ready(cx),
                };
                if ready.is_ready() {
                    return Poll::Ready(Ev::Readable(i, kind));
                }
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ev::Timer);
            }
            Poll::Pending
        })
        .await;
        let mut fired = false;
        if let Ev::Cmd(_) = ev {
            // Whatever the command changes, user space is back in charge
            // first; the next packet hands the stream over again if it can.
            st.take_back_all(Instant::now());
        }
        match ev {
            Ev::Cmd(None | Some(SessionCmd::Release)) => break,
            Ev::Cmd(Some(SessionCmd::AttachC(port))) => {
                let c = stock.lock().take(port);
                if let Some(c) = &c {
                    c.writable().await;
                }
                let now = Instant::now();
                st.legs[2] = LegState::new(now);
                st.tap.set_c(c.is_some(), now);
                if let Some(old) = std::mem::replace(&mut socks.c, c) {
                    stock.lock().put(old);
                }
            }
            Ev::Cmd(Some(SessionCmd::DetachC)) => {
                if let Some(c) = socks.c.take() {
                    stock.lock().put(c);
                }
                let now = Instant::now();
                st.legs[2] = LegState::new(now);
                st.tap.set_c(false, now);
            }
            Ev::Cmd(Some(c)) => st.on_cmd(c, Instant::now()),
            Ev::Readable(i, kind) => RecvBatch::with(|rb| st.drain(&socks, i, kind, rb)),
            Ev::Timer => fired = true,
        }
        let now = Instant::now();
        st.on_tick(&socks, now);
        // Only move the timer earlier, or re-arm it after it fired: media
        // arriving pushes the inactivity deadline later on every packet, and
        // re-arming a timer per packet costs more than an early wake-up.
        let d = st.next_deadline(now);
        if fired || d < deadline {
            deadline = d;
            sleep.as_mut().reset(d.into());
        }
    }
    st.take_back_all(Instant::now());
    tracing::debug!(session = id.0, "media session released");
    // The sockets go back to the worker's stock, bound and registered, for
    // the next call to reuse.
    let Socks { ab: [a, b], c } = socks;
    let mut stock = stock.lock();
    for s in [a, b].into_iter().chain(c) {
        stock.put(s);
    }
    // A leg C port claimed for this session after it ended: ready again.
    cmds.close();
    while let Ok(cmd) = cmds.try_recv() {
        if let SessionCmd::AttachC(port) = cmd {
            stock.unclaim(port);
        }
    }
}

impl State {
    fn emit(&self, ev: MediaEvent) {
        self.events.emit(ev);
    }

    fn next_deadline(&self, now: Instant) -> Instant {
        let mut d = now + Duration::from_secs(3600);
        if self.handed.iter().any(Option::is_some) {
            d = d.min(self.next_fold);
        }
        for l in &self.legs {
            if let Some(p) = &l.player {
                d = d.min(p.next);
            }
            if !l.dtmf_out.is_empty() {
                d = d.min(l.dtmf_next);
            }
            if l.sdp_remote.is_some() && !l.timed_out {
                d = d.min(l.last_rx + self.timeout);
            }
        }
        if self.tap.active() {
            d = d.min(self.tap.next);
        }
        d
    }

    fn on_cmd(&mut self, cmd: SessionCmd, now: Instant) {
        match cmd {
            SessionCmd::SetRemote { leg, remote, codec } => {
                let l = &mut self.legs[leg.index()];
                l.sdp_remote = Some(remote);
                l.remote = Some(remote);
                l.remote_rtcp = Some(SocketAddr::new(remote.ip(), remote.port().wrapping_add(1)));
                l.latched = false;
                l.latched_rtcp = false;
                l.codec = codec;
                l.pt = codec.payload_type();
                l.out.set_clock_rate(codec.clock_rate());
                l.last_rx = now;
                l.timed_out = false;
                self.tap.set_codec(leg.index(), codec);
                // Converters in either direction are rebuilt for the new pair.
                for l in self.legs.iter_mut() {
                    l.xcode = None;
                    l.ts_map = TsMap::default();
                }
            }
            SessionCmd::Play {
                leg,
                prompt,
                looped,
            } => {
                self.play_gen += 1;
                self.legs[leg.index()].player = Some(Player {
                    prompt,
                    pos: 0,
                    looped,
                    next: now,
                    key: self.play_gen,
                    seq: 0,
                    ts: 0,
                });
            }
            SessionCmd::StopPlay { leg } => self.legs[leg.index()].player = None,
            SessionCmd::TelephoneEvent { leg, pt } => self.legs[leg.index()].te_pt = pt,
            SessionCmd::SendDtmf {
                leg,
                digit,
                duration,
            } => {
                let Some(event) = dtmf::digit_to_event(digit) else {
                    return;
                };
                self.play_gen += 1;
                let key = self.play_gen;
                let l = &mut self.legs[leg.index()];
                if l.te_pt.is_some() {
                    let ticks = (duration.as_millis() as u64 * l.codec.clock_rate() as u64 / 1000)
                        .clamp(160, 65535) as u16;
                    if l.dtmf_out.is_empty() {
                        // A new burst: one source for its digits, so their
                        // timestamps keep the spacing given here.
                        l.dtmf_next = now;
                        l.dtmf_key = key;
                        l.dtmf_cursor = 0;
                    }
                    let frame = (l.codec.clock_rate() / 50) as u16;
                    let pkts = dtmf::generate(event, l.dtmf_cursor, ticks, frame, 10);
                    // The next digit starts when this one's packets are sent.
                    let span = (pkts.len() as u32 * frame as u32).max(ticks as u32);
                    l.dtmf_cursor = l.dtmf_cursor.wrapping_add(span);
                    let k = l.dtmf_key;
                    l.dtmf_out.extend(pkts.into_iter().map(|p| (k, p)));
                } else {
                    // No telephone-event negotiated: play the tones in-band.
                    let mut pcm = dtmf::synthesize(digit, duration.as_millis() as u32, -8.0);
                    pcm.resize(pcm.len() + 400, 0);
                    l.player = Some(Player {
                        prompt: Arc::new(Prompt::from_pcm(&pcm, 8000)),
                        pos: 0,
                        looped: false,
                        next: now,
                        key,
                        seq: 0,
                        ts: 0,
                    });
                }
            }
            SessionCmd::InbandDtmf { leg, on } => {
                self.legs[leg.index()].inband = on.then(|| Box::new(DtmfDetector::new()));
            }
            SessionCmd::Bridge(on) => {
                self.bridged = on;
                if on {
                    self.legs[0].player = None;
                    self.legs[1].player = None;
                }
            }
            SessionCmd::PayloadType { leg, pt } => self.legs[leg.index()].pt = pt,
            SessionCmd::Monitor(mode) => self.tap.set_mode(mode, now),
            SessionCmd::Record(rec) => self.tap.set_recording(rec, now),
            // Handled by the session loop (they need the sockets).
            SessionCmd::AttachC(_) | SessionCmd::DetachC | SessionCmd::Release => {}
        }
    }

    fn on_tick(&mut self, socks: &Socks, now: Instant) {
        if self.handed.iter().any(Option::is_some) && now >= self.next_fold {
            self.next_fold = now + FOLD_EVERY;
            self.fold(0, now, false);
            self.fold(1, now, false);
        }
        if self.tap.tick(now) {
            self.send_mix(socks, now);
        }
        for i in 0..3 {
            if socks.get(i).is_none() {
                continue;
            }
            self.send_dtmf(socks, i, now);
            self.play(socks, i, now);
            let timeout = self.timeout;
            let silent = |l: &LegState| {
                l.sdp_remote.is_some() && !l.timed_out && now.duration_since(l.last_rx) >= timeout
            };
            if i < 2 && self.handed[i].is_some() && silent(&self.legs[i]) {
                // The kernel may have had its packets: look before judging.
                self.fold(i, now, false);
            }
            let l = &mut self.legs[i];
            if silent(l) {
                l.timed_out = true;
                self.emit(MediaEvent::RtpTimeout {
                    session: self.id,
                    leg: leg_of(i),
                });
            }
        }
    }

    /// Sends the mixer's frame to every leg that hears the mix.
    fn send_mix(&mut self, socks: &Socks, now: Instant) {
        let mut pkt = [0u8; 12 + 1500];
        for i in 0..3 {
            let (Some(sock), true) = (socks.get(i), self.tap.mixes_to(i)) else {
                continue;
            };
            let l = &mut self.legs[i];
            let (Some(to), None, true) = (l.remote, &l.player, l.dtmf_out.is_empty()) else {
                continue;
            };
            let Some(pcm) = self.tap.output(i) else {
                continue;
            };
            let mut payload = [0u8; 1500];
            let Some(n) = encode_8k(l.codec, &mut l.enc, pcm, &mut payload) else {
                continue;
            };
            // One frame of the mix per tick, in the leg's own clock.
            let frames = self.tap.frames;
            let at = (frames as u16, frames.wrapping_mul(l.codec.ticks_per_20ms()));
            let source = SourceKey::Player(self.tap.key);
            if let Some(len) = stamp(
                &mut l.out,
                source,
                at,
                l.pt,
                false,
                &payload[..n],
                now,
                &mut pkt,
            ) {
                send(&sock.rtp, &pkt[..len], to, self.stats.leg(leg_of(i)), true);
            }
        }
    }

    fn send_dtmf(&mut self, socks: &Socks, i: usize, now: Instant) {
        let stats = self.stats.leg(leg_of(i));
        let l = &mut self.legs[i];
        let Some(pt) = l.te_pt else {
            l.dtmf_out.clear();
            return;
        };
        let mut pkt = [0u8; 16];
        while l.dtmf_next <= now {
            let Some((key, ev)) = l.dtmf_out.pop_front() else {
                break;
            };
            let rw = l.out.rewrite(
                SourceKey::Player(key),
                l.dtmf_seq,
                ev.timestamp,
                4,
                l.dtmf_next,
            );
            l.dtmf_seq = l.dtmf_seq.wrapping_add(1);
            l.dtmf_next += PTIME;
            let h = RtpHeader {
                marker: ev.marker || rw.marker,
                payload_type: pt,
                sequence: rw.sequence,
                timestamp: rw.timestamp,
                ssrc: rw.ssrc,
            };
            if let (Some(n), Some(to), Some(sock)) =
                (h.write(&ev.payload, &mut pkt), l.remote, socks.get(i))
            {
                send(&sock.rtp, &pkt[..n], to, stats, true);
            }
            if let Ok(te) = dtmf::TelephoneEvent::parse(&ev.payload) {
                if te.end {
                    // Media after the event starts after its duration.
                    l.out
                        .extend_to(rw.timestamp.wrapping_add(te.duration as u32), now);
                }
            }
        }
    }

    fn play(&mut self, socks: &Socks, i: usize, now: Instant) {
        let mut finished = false;
        let stats = self.stats.leg(leg_of(i));
        let l = &mut self.legs[i];
        let dtmf_busy = !l.dtmf_out.is_empty();
        let Some(p) = l.player.as_mut() else { return };
        if now.saturating_duration_since(p.next) > MAX_PLAYER_LAG {
            p.next = now;
        }
        // Prompts are 8 kHz; each leg's encoder takes them to its codec.
        const FRAME: usize = (PROMPT_RATE / 50) as usize;
        let ticks = l.codec.ticks_per_20ms();
        let mut pkt = [0u8; 12 + 1500];
        while p.next <= now {
            let samples = p.prompt.samples();
            let mut pcm = [0i16; FRAME];
            for out in pcm.iter_mut() {
                if p.pos >= samples.len() && p.looped && !samples.is_empty() {
                    p.pos = 0;
                }
                *out = samples.get(p.pos).copied().unwrap_or(0);
                p.pos += 1;
            }
            let mut payload = [0u8; 1500];
            let n = encode_8k(l.codec, &mut l.enc, &pcm, &mut payload).unwrap_or(0);
            let source = SourceKey::Player(p.key);
            let len = stamp(
                &mut l.out,
                source,
                (p.seq, p.ts),
                l.pt,
                false,
                &payload[..n],
                p.next,
                &mut pkt,
            );
            // Music pauses (keeps time) while telephone-events go out.
            if let (false, true, Some(n), Some(to), Some(sock)) =
                (dtmf_busy, n > 0, len, l.remote, socks.get(i))
            {
                send(&sock.rtp, &pkt[..n], to, stats, true);
                bump(&stats.played, 1);
            }
            p.seq = p.seq.wrapping_add(1);
            p.ts = p.ts.wrapping_add(ticks);
            p.next += PTIME;
            if !p.looped && p.pos >= samples.len() {
                finished = true;
                break;
            }
        }
        if finished {
            l.player = None;
            self.emit(MediaEvent::PlayFinished {
                session: self.id,
                leg: leg_of(i),
            });
        }
    }

    fn drain(&mut self, socks: &Socks, i: usize, kind: Kind, rb: &mut RecvBatch) {
        let Some(sock) = socks.get(i) else { return };
        let sock = match kind {
            Kind::Rtp => &sock.rtp,
            Kind::Rtcp => &sock.rtcp,
        };
        let batched = batching_enabled();
        for _ in 0..DRAIN_BUDGET / BATCH {
            let mut got = 0;
            // A short batch means the socket is drained: report WouldBlock so
            // tokio clears readiness without another (EAGAIN) syscall. Any
            // error also clears it; new datagrams raise a new edge.
            let r = sock.try_io(tokio::io::Interest::READABLE, || {
                got = rb.recv(sock)?;
                if batched && got < BATCH {
                    Err(std::io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(())
                }
            });
            let now = Instant::now();
            for k in 0..got {
                let (pkt, from) = rb.get(k);
                let Some(from) = from else { continue };
                if kind == Kind::Rtcp || rtp::is_rtcp(pkt) {
                    self.on_rtcp(socks, i, kind == Kind::Rtp, pkt, from, now);
                } else {
                    self.on_rtp(socks, i, pkt, from, now);
                }
            }
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::trace!(error = %e, "RTP receive error");
                    return;
                }
            }
        }
    }

    fn on_rtp(&mut self, socks: &Socks, i: usize, pkt: &mut [u8], from: SocketAddr, now: Instant) {
        let (ssrc, seq, ts, pt, hl, pend, marker) = match RtpPacket::parse(pkt) {
            Ok(p) => (
                p.ssrc(),
                p.sequence(),
                p.timestamp(),
                p.payload_type(),
                p.header_len(),
                p.header_len() + p.payload().len(),
                p.marker(),
            ),
            Err(_) => {
                bump(&self.stats.leg(leg_of(i)).malformed, 1);
                return;
            }
        };
        if let Some(h) = self.handed.get(i).copied().flatten() {
            // The kernel left this one to us (another payload type, an
            // RFC 4733 event, or queued before the hand-over): bring the
            // state up to date first; a new SSRC or source is a new stream.
            let changed = h.ssrc != ssrc || h.peer != from;
            self.fold(i, now, changed);
        }
        let stats = self.stats.leg(leg_of(i));
        let id = self.id;
        let (l, t) = pair(&mut self.legs, i);
        bump(&stats.rx_packets, 1);
        bump(&stats.rx_bytes, pkt.len() as u64);
        l.last_rx = now;
        l.timed_out = false;
        if !l.latched {
            l.latched = true;
            if l.remote != Some(from) {
                l.remote = Some(from);
                if !l.latched_rtcp && !l.rtcp_mux {
                    l.remote_rtcp = Some(SocketAddr::new(from.ip(), from.port().wrapping_add(1)));
                }
                self.events.emit(MediaEvent::Latched {
                    session: id,
                    leg: leg_of(i),
                    remote: from,
                });
            }
        }
        let rate = l.codec.clock_rate() as u64;
        let arrival = (now.duration_since(self.start).as_micros() as u64 * rate / 1_000_000) as u32;
        let is_te = l.te_pt == Some(pt);
        if is_te {
            l.recv.on_packet_untimed(ssrc, seq);
        } else {
            l.recv.on_packet(ssrc, seq, ts, arrival);
        }
        l.in_ssrc = Some(ssrc);
        publish_recv(stats, &l.recv, rate);

        let leg = leg_of(i);
        if is_te {
            for ev in l.te_rx.on_packet(ts, &pkt[hl..pend]) {
                if let DtmfEvent::Begin(digit) = ev {
                    self.events.emit(MediaEvent::Dtmf {
                        session: id,
                        leg,
                        digit,
                        inband: false,
                    });
                }
            }
        } else if let Some(det) = l.inband.as_mut() {
            if pt == l.pt && l.codec.is_g711() {
                let mut pcm = [0i16; sys::BUF];
                let payload = &pkt[hl..pend];
                let pcm = &mut pcm[..payload.len()];
                match l.codec {
                    Codec::Pcma => g711::alaw_decode_slice(payload, pcm),
                    _ => g711::ulaw_decode_slice(payload, pcm),
                }
                for ev in det.process(pcm) {
                    if let DtmfEvent::Begin(digit) = ev {
                        self.events.emit(MediaEvent::Dtmf {
                            session: id,
                            leg,
                            digit,
                            inband: true,
                        });
                    }
                }
            }
        }

        if !is_te && pt == l.pt && self.tap.active() {
            self.tap.insert(i, now, seq, ts, &pkt[hl..pend]);
        }
        // C is never relayed; a leg that hears the mix gets no relay.
        if i == 2 || self.tap.mixes_to(1 - i) {
            return;
        }
        if !self.bridged || t.player.is_some() || !t.dtmf_out.is_empty() {
            return;
        }
        let Some(to) = t.remote else { return };
        // Telephone-events go out with the other leg's payload type, or not
        // at all if it did not negotiate them.
        let te_out = match (is_te, t.te_pt) {
            (false, _) => None,
            (true, Some(p)) => Some(p),
            (true, None) => return,
        };
        let audio = !is_te && pt == l.pt;
        if audio && l.codec != t.codec && !(l.codec.is_g711() && t.codec.is_g711()) {
            // Different codecs (G.722, Opus): decode, resample, encode into
            // a new packet, with the timestamp in the receiver's clock.
            let xc = l
                .xcode
                .get_or_insert_with(|| Box::new(Transcoder::new(l.codec, t.codec)));
            let Ok(out) = xc.transcode(&pkt[hl..pend]) else {
                bump(&stats.malformed, 1);
                return;
            };
            let ts = l.ts_map.map(ts, l.codec.clock_rate(), t.codec.clock_rate());
            let mut buf = [0u8; 12 + 1500];
            let source = SourceKey::Relay(ssrc);
            if let Some(n) = stamp(
                &mut t.out,
                source,
                (seq, ts),
                t.pt,
                marker,
                out,
                now,
                &mut buf,
            ) {
                send(
                    &socks.ab[1 - i].rtp,
                    &buf[..n],
                    to,
                    self.stats.leg(leg_of(1 - i)),
                    true,
                );
                bump(self.stats.relayed_from(leg_of(i)), 1);
            }
            return;
        }
        let rw = t
            .out
            .rewrite(SourceKey::Relay(ssrc), seq, ts, pend - hl, now);
        // µ-law <-> A-law legs: transcode in place (same size). The same
        // codec keeps its payload but takes the receiver's payload type
        // (dynamic types may differ per leg).
        let mut new_pt = te_out.unwrap_or(if audio { t.pt } else { pt });
        if audio && l.codec != t.codec {
            if let Some(f) = l.codec.g711_table(t.codec) {
                for b in &mut pkt[hl..pend] {
                    *b = f(*b);
                }
                new_pt = t.pt;
            }
        }
        let mut h = RtpHeaderMut::new(pkt).expect("parsed packet has a header");
        h.set_ssrc(rw.ssrc);
        h.set_sequence(rw.sequence);
        h.set_timestamp(rw.timestamp);
        h.set_marker(marker || rw.marker);
        h.set_payload_type(new_pt);
        let tstats = self.stats.leg(leg_of(1 - i));
        send(&socks.ab[1 - i].rtp, pkt, to, tstats, true);
        bump(self.stats.relayed_from(leg_of(i)), 1);
        // A plain relayed audio stream nobody else listens to goes to the
        // kernel from its next packet on, with the offsets used here.
        // The destination must be latched (a remote from SDP may still
        // change with the other leg's first packet; a command that moves it
        // takes the stream back first).
        if audio && t.latched && l.codec == t.codec && l.inband.is_none() && !self.tap.active() {
            if let (Some(kf), None) = (&self.kf, self.handed[i]) {
                let (seq_off, ts_off) = t.out.offsets();
                let stream = Stream {
                    peer: from,
                    to,
                    pt_in: pt,
                    pt_out: new_pt,
                    ssrc_in: ssrc,
                    ssrc_out: rw.ssrc,
                    seq_off,
                    ts_off,
                    clock_rate: l.codec.clock_rate(),
                    jitter16: l.recv.jitter16(),
                };
                self.handed[i] = hand_over(
                    kf,
                    &socks.ab[i].rtp,
                    &socks.ab[1 - i].rtp,
                    &stream,
                    &self.stats,
                    i,
                );
                if self.handed[i].is_some() {
                    // Nothing to fold for a while.
                    self.next_fold = self.next_fold.max(now + FOLD_EVERY);
                }
            }
        }
    }

    /// Folds what the kernel forwarded of leg `i`'s stream into the
    /// session's state; with `take_back`, ends the hand-over.
    fn fold(&mut self, i: usize, now: Instant, take_back: bool) {
        if self.handed.get(i).is_none_or(Option::is_none) {
            return;
        }
        if take_back {
            self.handed[i] = None;
        }
        let Some((e, p, b)) = self.stats.fold_kernel(i, take_back) else {
            return;
        };
        if p == 0 {
            return;
        }
        let stats = self.stats.leg(leg_of(i));
        let (l, t) = pair(&mut self.legs, i);
        let age = Duration::from_nanos(kfwd::monotonic_ns().saturating_sub(e.last_ns));
        if let Some(at) = now.checked_sub(age) {
            if at > l.last_rx {
                l.last_rx = at;
                l.timed_out = false;
            }
        }
        l.recv.absorb(
            p,
            e.last_seq as u16,
            (e.have_prev != 0).then_some(e.jitter16),
        );
        publish_recv(stats, &l.recv, l.codec.clock_rate() as u64);
        let seq = (e.last_seq as u16).wrapping_add(e.seq_delta as u16);
        let ts = e.last_ts.wrapping_add(e.ts_delta);
        t.out.absorb(
            p as u32,
            b.saturating_sub(12 * p) as u32,
            seq,
            ts,
            l.last_rx,
        );
    }

    /// Takes both streams back from the kernel (before a command changes
    /// the session, and when it ends).
    fn take_back_all(&mut self, now: Instant) {
        self.fold(0, now, true);
        self.fold(1, now, true);
    }

    fn on_rtcp(
        &mut self,
        socks: &Socks,
        i: usize,
        muxed: bool,
        pkt: &mut [u8],
        from: SocketAddr,
        now: Instant,
    ) {
        let stats = self.stats.leg(leg_of(i));
        if rtcp::parse(pkt).is_err() {
            bump(&stats.malformed, 1);
            return;
        }
        bump(&stats.rx_rtcp, 1);
        let l = &mut self.legs[i];
        l.last_rx = now;
        l.timed_out = false;
        if muxed {
            l.rtcp_mux = true;
        } else if !l.latched_rtcp {
            l.latched_rtcp = true;
            l.remote_rtcp = Some(from);
        }
        // C's reports stay here; a leg hearing the mix gets our stream, not
        // the other leg's, so the other leg's reports do not apply to it.
        if !self.bridged || i == 2 || self.tap.mixes_to(1 - i) {
            return;
        }
        // A sender report from leg i is rewritten with the counts of what
        // we send the other leg: leg i's stream, which the kernel may be
        // forwarding.
        self.fold(i, now, false);
        let (l, t) = pair(&mut self.legs, i);
        let mut map = Mapper {
            to_receiver_ssrc: t.out.ssrc(),
            reporter_rx_ssrc: l.out.ssrc(),
            origin_ssrc: t.in_ssrc,
            out: &t.out,
        };
        if rtcp::rewrite(pkt, &mut map).is_err() {
            return;
        }
        let (sock, to) = if t.rtcp_mux {
            (&socks.ab[1 - i].rtp, t.remote)
        } else {
            (&socks.ab[1 - i].rtcp, t.remote_rtcp)
        };
        if let Some(to) = to {
            send(sock, pkt, to, self.stats.leg(leg_of(1 - i)), false);
        }
    }
}

/// RTCP from leg L relayed to leg T: L's SSRCs become the SSRC T sees from
/// us; reports about the stream L receives from us are made to refer to the
/// SSRC T sent.
struct Mapper<'a> {
    to_receiver_ssrc: u32,
    reporter_rx_ssrc: u32,
    origin_ssrc: Option<u32>,
    out: &'a StreamRewriter,
}

impl RtcpRewrite for Mapper<'_> {
    fn sender(&mut self, _ssrc: u32) -> u32 {
        self.to_receiver_ssrc
    }
    fn source(&mut self, ssrc: u32) -> u32 {
        match self.origin_ssrc {
            Some(o) if ssrc == self.reporter_rx_ssrc => o,
            _ => ssrc,
        }
    }
    fn sender_info(&mut self, ssrc: u32, rtp_ts: &mut u32, packets: &mut u32, octets: &mut u32) {
        if self.out.source() == Some(SourceKey::Relay(ssrc)) {
            *rtp_ts = rtp_ts.wrapping_add(self.out.ts_offset());
        }
        let (p, o) = self.out.counts();
        *packets = p;
        *octets = o;
    }
}

/// A relayed stream as user space just forwarded it.
struct Stream {
    peer: SocketAddr,
    to: SocketAddr,
    pt_in: u8,
    pt_out: u8,
    ssrc_in: u32,
    ssrc_out: u32,
    seq_off: u16,
    ts_off: u32,
    /// The incoming stream's clock rate and jitter so far (× 16, ticks).
    clock_rate: u32,
    jitter16: u32,
}

/// Hands leg `i`'s stream, arriving on `ours`, over to the kernel, to be
/// forwarded from `out` to the stream's destination (IPv4 only); `None`
/// when it cannot be (no route, the map is full).
fn hand_over(
    kf: &KfwdMap,
    ours: &UdpSocket,
    out: &UdpSocket,
    s: &Stream,
    stats: &SessionStats,
    i: usize,
) -> Option<Handed> {
    let (SocketAddr::V4(peer), SocketAddr::V4(dst)) = (s.peer, s.to) else {
        return None;
    };
    let route = kf.route(*dst.ip())?;
    let (Ok(SocketAddr::V4(local)), Ok(SocketAddr::V4(mut src))) =
        (ours.local_addr(), out.local_addr())
    else {
        return None;
    };
    if src.ip().is_unspecified() {
        // What the stack would pick as our source towards `dst`.
        src.set_ip(route.src.unwrap_or(*dst.ip()));
    }
    let e = Entry::new(
        *local.ip(),
        peer,
        src,
        dst,
        s.pt_in,
        s.pt_out,
        s.ssrc_in,
        s.ssrc_out,
        s.seq_off,
        s.ts_off,
        route.ifindex,
        s.clock_rate,
        s.jitter16,
    );
    let mut k = stats.kernel.lock();
    if let Err(e) = kf.install(local.port(), &e) {
        tracing::debug!(error = %e, "RTP stream not handed to the kernel");
        return None;
    }
    k.live[i] = Some(Counted {
        port: local.port(),
        packets: 0,
        bytes: 0,
    });
    Some(Handed {
        ssrc: s.ssrc_in,
        peer: s.peer,
    })
}
