//! The engine-facing handle: configuration, sessions, commands, events.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::pool::PortPool;
use crate::recorder::{RecorderHandle, RecorderStats};
use crate::relay::{self, Queued, SessionCmd, SessionInit, WorkerMsg};
use crate::{Codec, MediaError, Prompt, SessionStats};

/// Media engine configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Address the RTP sockets bind to (and that goes into SDP when it is
    /// not a wildcard).
    pub bind_ip: IpAddr,
    /// Lowest port of the RTP range (inclusive).
    pub port_min: u16,
    /// Highest port of the RTP range (inclusive).
    pub port_max: u16,
    /// Worker threads; 0 means one per core, each pinned to its core.
    pub workers: usize,
    /// A leg whose remote is set and that receives nothing for this long
    /// is reported with [`MediaEvent::RtpTimeout`].
    pub rtp_timeout: Duration,
    /// Hand established plain relay streams to the kernel (a tc/BPF program
    /// on the ingress of the interfaces holding `bind_ip`; Linux ≥ 6.6,
    /// CAP_BPF and CAP_NET_ADMIN). When it cannot be loaded, user space
    /// relays everything, as without it (logged once). The environment
    /// variable `SWITCHBOARD_MEDIA_KFWD=0` turns it off, to compare.
    pub kernel_forwarding: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_min: 20000,
            port_max: 29999,
            workers: 0,
            rtp_timeout: Duration::from_secs(30),
            kernel_forwarding: true,
        }
    }
}

impl MediaConfig {
    /// Checks the configuration, naming the field and the fix.
    pub fn validate(&self) -> Result<(), MediaError> {
        if self.port_min > self.port_max {
            return Err(MediaError::Config(format!(
                "port_min {} is above port_max {}",
                self.port_min, self.port_max
            )));
        }
        if self.rtp_timeout.is_zero() {
            return Err(MediaError::Config("rtp_timeout must be above zero".into()));
        }
        PortPool::new(self.port_min, self.port_max).map(|_| ())
    }
}

/// Identifies a session (a pair of legs) for the lifetime of the engine.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// One of the legs of a session.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Leg {
    /// Caller side.
    A,
    /// Agent side.
    B,
    /// A supervisor monitoring the call ([`MediaEngine::attach_monitor`]).
    C,
}

impl Leg {
    /// The leg A and B relay to (C relays to nobody: it is mixed).
    pub fn other(self) -> Leg {
        match self {
            Leg::A => Leg::B,
            Leg::B => Leg::A,
            Leg::C => Leg::C,
        }
    }
    pub(crate) fn index(self) -> usize {
        match self {
            Leg::A => 0,
            Leg::B => 1,
            Leg::C => 2,
        }
    }
}

/// How a supervisor on leg C takes part in the call between A and B.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MonitorMode {
    /// Hears caller and agent; heard by nobody. A and B keep their direct
    /// relay (no added delay).
    Listen,
    /// Hears both; only the agent hears the supervisor (coaching). The
    /// agent's audio becomes a mix; the caller keeps the direct relay.
    Whisper,
    /// A three-way conference: everyone hears everyone else.
    Barge,
}

/// Something call control must know about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// The leg has a remote and received no RTP/RTCP for `rtp_timeout`.
    /// Reported once; reported again only after media resumed and stopped.
    RtpTimeout {
        /// Session.
        session: SessionId,
        /// Leg.
        leg: Leg,
    },
    /// A prompt played without `looped` reached its end.
    PlayFinished {
        /// Session.
        session: SessionId,
        /// Leg.
        leg: Leg,
    },
    /// A DTMF key went down on a leg: from an RFC 4733 telephone-event
    /// (`inband: false`, needs [`MediaEngine::set_telephone_event`]) or
    /// detected in the audio (`inband: true`, needs
    /// [`MediaEngine::detect_inband_dtmf`]). Reported once per key press.
    Dtmf {
        /// Session.
        session: SessionId,
        /// Leg.
        leg: Leg,
        /// `0-9`, `*`, `#`, `A-D`.
        digit: char,
        /// Detected in the audio rather than signalled.
        inband: bool,
    },
    /// The leg latched to the real source of its media (symmetric RTP).
    Latched {
        /// Session.
        session: SessionId,
        /// Leg.
        leg: Leg,
        /// Where its RTP comes from (and now goes to).
        remote: SocketAddr,
    },
}

/// A created session: where each leg's RTP is (RTCP is on `port + 1`, or
/// muxed on the RTP port), and its counters.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session.
    pub id: SessionId,
    /// Leg A's local RTP address (put it in the caller's SDP).
    pub a: SocketAddr,
    /// Leg B's local RTP address (put it in the agent's SDP).
    pub b: SocketAddr,
    /// Live counters.
    pub stats: Arc<SessionStats>,
}

/// What the `media-events` thread receives.
#[derive(Debug)]
enum HubMsg {
    Event(MediaEvent),
    Subscribe(UnboundedSender<MediaEvent>),
}

/// Fan-out of events to every subscriber, from a thread of its own.
///
/// Workers never touch a subscriber's channel themselves: a send — and the
/// drop of the last sender, which wakes the receiver to say "closed" —
/// wakes the receiving task's runtime by writing that runtime's eventfd
/// *by number*, and a worker's private fd table does not hold that fd (or
/// holds one of its sockets under that number). So the subscribers' senders
/// live and die in the `media-events` thread only, which runs in the shared
/// table; workers (and `subscribe`) reach it over a std channel (a futex,
/// no fd), in emission order.
#[derive(Debug)]
pub(crate) struct EventHub {
    tx: std::sync::mpsc::Sender<HubMsg>,
}

impl EventHub {
    /// Starts the fan-out thread; it ends when the hub is dropped.
    fn start() -> std::io::Result<Arc<EventHub>> {
        let (tx, rx) = std::sync::mpsc::channel::<HubMsg>();
        std::thread::Builder::new()
            .name("media-events".into())
            .spawn(move || {
                let mut subs: Vec<UnboundedSender<MediaEvent>> = Vec::new();
                for msg in rx {
                    match msg {
                        HubMsg::Event(ev) => subs.retain(|s| s.send(ev.clone()).is_ok()),
                        HubMsg::Subscribe(s) => subs.push(s),
                    }
                }
            })?;
        Ok(Arc::new(EventHub { tx }))
    }

    fn subscribe(&self, s: UnboundedSender<MediaEvent>) {
        let _ = self.tx.send(HubMsg::Subscribe(s));
    }

    pub(crate) fn emit(&self, ev: MediaEvent) {
        let _ = self.tx.send(HubMsg::Event(ev));
    }
}

#[derive(Debug)]
struct Inner {
    cfg: MediaConfig,
    pool: PortPool,
    workers: Vec<UnboundedSender<WorkerMsg>>,
    /// The worker threads, joined when the last handle drops.
    threads: Vec<relay::Worker>,
    /// Each live session's command channel and worker.
    sessions: Mutex<HashMap<SessionId, (UnboundedSender<SessionCmd>, usize)>>,
    /// With batching on: per worker, what waits for [`MediaEngine::flush`].
    pending: Mutex<Vec<Vec<Queued>>>,
    batching: std::sync::atomic::AtomicBool,
    next_id: AtomicU64,
    next_worker: AtomicUsize,
    events: Arc<EventHub>,
    recorder: std::sync::OnceLock<RecorderHandle>,
    /// When a claim last waited for the workers to refill, in vain.
    refill_failed: Mutex<Option<std::time::Instant>>,
    /// In-kernel forwarding, when loaded. Dropped (detached) after the
    /// workers are joined.
    kfwd: Option<relay::kfwd::Kfwd>,
}

impl Inner {
    fn new(
        cfg: MediaConfig,
        pool: PortPool,
        workers: Vec<UnboundedSender<WorkerMsg>>,
        threads: Vec<relay::Worker>,
        events: Arc<EventHub>,
        kfwd: Option<relay::kfwd::Kfwd>,
    ) -> Inner {
        Inner {
            cfg,
            pool,
            pending: Mutex::new((0..workers.len()).map(|_| Vec::new()).collect()),
            workers,
            threads,
            sessions: Mutex::new(HashMap::new()),
            batching: std::sync::atomic::AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            next_worker: AtomicUsize::new(0),
            events,
            recorder: std::sync::OnceLock::new(),
            refill_failed: Mutex::new(None),
            kfwd,
        }
    }
}

impl Drop for Inner {
    /// Stops the workers (their channels close), waits for them to close
    /// their sockets, then closes the shared table's copies of their
    /// runtimes' fds.
    fn drop(&mut self) {
        self.sessions.get_mut().clear();
        self.pending.get_mut().clear();
        self.workers.clear();
        for t in self.threads.drain(..) {
            t.join();
        }
    }
}

/// Loads in-kernel forwarding when the configuration asks for it and the
/// host allows it; logs the outcome once.
fn load_kfwd(cfg: &MediaConfig, pool: &PortPool) -> Option<relay::kfwd::Kfwd> {
    let off = std::env::var_os("SWITCHBOARD_MEDIA_KFWD").is_some_and(|v| v == "0");
    if !cfg.kernel_forwarding || off {
        return None;
    }
    // One entry per RTP port (a stream is keyed by our port it arrives on).
    let entries = (pool.capacity() as u32).saturating_mul(2).max(64);
    match relay::kfwd::Kfwd::load(cfg.bind_ip, entries) {
        Ok(k) => {
            tracing::info!(ip = %cfg.bind_ip, "media: established relay streams are forwarded in the kernel (tc/BPF)");
            Some(k)
        }
        Err(e) => {
            tracing::info!(error = %e, "media: in-kernel forwarding unavailable, user space relays every packet");
            None
        }
    }
}

/// The media engine: a cheap, clonable handle to the worker threads.
///
/// Every command is asynchronous: it is queued to the session's worker and
/// returns at once. Commands for unknown (released) sessions are ignored.
#[derive(Debug, Clone)]
pub struct MediaEngine {
    inner: Arc<Inner>,
}

impl MediaEngine {
    /// Validates `cfg` and starts the worker threads, returning once each
    /// has bound its first stock of RTP/RTCP pairs (at most
    /// [`MediaEngine::STOCK_LOW`] each, bounded by its share of the range;
    /// waits at most 10 s). The workers stop when the last handle is
    /// dropped, closing every socket.
    pub fn start(cfg: MediaConfig) -> std::io::Result<MediaEngine> {
        cfg.validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        // "One per core" also pins each worker to its core.
        let pin = cfg.workers == 0;
        let n = if cfg.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            cfg.workers
        };
        let pool = PortPool::with_workers(cfg.port_min, cfg.port_max, n)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let events = EventHub::start()?;
        let kfwd = load_kfwd(&cfg, &pool);
        let kfwd_map = kfwd.as_ref().map(relay::kfwd::Kfwd::handle);
        let mut workers = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        let (started_tx, started) = std::sync::mpsc::channel();
        for i in 0..n {
            let (tx, rx) = unbounded_channel();
            let t = relay::spawn_worker(
                i,
                pin,
                cfg.bind_ip,
                pool.clone(),
                rx,
                started_tx.clone(),
                kfwd_map.clone(),
            );
            workers.push(tx);
            match t {
                Ok(t) => threads.push(t),
                Err(e) => {
                    // Stop the workers already started (and join them).
                    drop(Inner::new(cfg, pool, workers, threads, events, kfwd));
                    return Err(e);
                }
            }
        }
        let inner = Inner::new(cfg, pool, workers, threads, events, kfwd);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        for _ in 0..n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match started.recv_timeout(left) {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "media workers did not bind their RTP ports within 10 s",
                    ))
                }
            }
        }
        Ok(MediaEngine {
            inner: Arc::new(inner),
        })
    }

    /// Whether established relay streams are forwarded in the kernel.
    pub fn kernel_forwarding(&self) -> bool {
        self.inner.kfwd.is_some()
    }

    /// Idle RTP/RTCP pairs each worker binds ahead, at most (fewer when its
    /// share of the port range is smaller).
    pub const STOCK_LOW: usize = relay::LOW;
    /// Idle pairs a worker keeps bound at most; pairs released beyond are
    /// closed and their ports freed.
    pub const STOCK_HIGH: usize = relay::HIGH;

    /// The configuration in force.
    pub fn config(&self) -> &MediaConfig {
        &self.inner.cfg
    }
    /// Allocates two legs (A = caller, B = agent) on one worker, each with
    /// an even RTP port and the odd RTCP port above it: two idle pairs of
    /// the next worker (round robin) that has them ready. No syscall here:
    /// the worker already holds the sockets bound. `PortsExhausted` when the
    /// range is used up. (A burst that empties every worker's stock while
    /// free ports remain waits, at most [`MediaEngine::REFILL_WAIT`], for
    /// the workers to bind more.)
    pub fn create_session(&self) -> Result<Session, MediaError> {
        let inner = &self.inner;
        let ip = inner.cfg.bind_ip;
        let n = inner.workers.len();
        let first = inner.next_worker.fetch_add(1, Ordering::Relaxed);
        let claim = || {
            (0..n)
                .map(|k| (first + k) % n)
                .find_map(|w| Some((w, inner.pool.claim::<2>(w)?)))
        };
        let (w, ports) = self
            .claim_or_refill(claim, None)
            .ok_or(MediaError::PortsExhausted)?;
        let id = SessionId(inner.next_id.fetch_add(1, Ordering::Relaxed));
        let stats = Arc::new(SessionStats::default());
        stats.kernel.lock().map = inner.kfwd.as_ref().map(relay::kfwd::Kfwd::handle);
        let (tx, rx) = unbounded_channel();
        inner.sessions.lock().insert(id, (tx, w));
        let init = SessionInit {
            id,
            ports,
            cmds: rx,
            stats: stats.clone(),
            events: inner.events.clone(),
            rtp_timeout: inner.cfg.rtp_timeout,
        };
        if self.batching() {
            inner.pending.lock()[w].push(Queued::Start(Box::new(init)));
        } else if inner.workers[w]
            .send(vec![Queued::Start(Box::new(init))])
            .is_err()
        {
            inner.sessions.lock().remove(&id);
            return Err(MediaError::Stopped);
        }
        Ok(Session {
            id,
            a: SocketAddr::new(ip, ports[0]),
            b: SocketAddr::new(ip, ports[1]),
            stats,
        })
    }

    /// Longest a claim waits for workers to refill their stocks.
    pub const REFILL_WAIT: Duration = Duration::from_millis(100);

    /// `claim()`, or, when the ready queues are empty but the free list is
    /// not (a burst outran the stocks), wakes the workers (`only` one, or
    /// all) so that they bind more, and retries for up to
    /// [`MediaEngine::REFILL_WAIT`]. This blocks the caller, which is why
    /// the stocks are sized so that it does not happen in normal operation.
    fn claim_or_refill<T>(&self, claim: impl Fn() -> Option<T>, only: Option<usize>) -> Option<T> {
        if let Some(t) = claim() {
            return Some(t);
        }
        let inner = &self.inner;
        if inner.pool.free_pairs() == 0 {
            return None;
        }
        // The workers could not refill a moment ago (the free ports are
        // held by another process, or binding fails): fail fast for 1 s.
        if let Some(t) = *inner.refill_failed.lock() {
            if t.elapsed() < Duration::from_secs(1) {
                return None;
            }
        }
        tracing::debug!("RTP stocks empty with ports free: waiting for the media workers");
        let deadline = std::time::Instant::now() + Self::REFILL_WAIT;
        let mut delay = Duration::from_micros(50);
        loop {
            // An empty message: the worker refills after every message.
            for (w, tx) in inner.workers.iter().enumerate() {
                if only.is_none_or(|o| o == w) {
                    let _ = tx.send(Vec::new());
                }
            }
            std::thread::sleep(delay);
            if let Some(t) = claim() {
                return Some(t);
            }
            if std::time::Instant::now() >= deadline || inner.pool.free_pairs() == 0 {
                let t = claim();
                if t.is_none() {
                    *inner.refill_failed.lock() = Some(std::time::Instant::now());
                }
                return t;
            }
            delay = (delay * 2).min(Duration::from_millis(5));
        }
    }

    fn send(&self, s: SessionId, cmd: SessionCmd) {
        let target = self.inner.sessions.lock().get(&s).cloned();
        match target {
            Some((tx, w)) => {
                let _ = self.deliver(tx, w, cmd);
            }
            None => tracing::debug!(session = s.0, "media command for unknown session ignored"),
        }
    }

    /// Queues or sends `cmd`; gives it back if the session is gone.
    fn deliver(
        &self,
        tx: UnboundedSender<SessionCmd>,
        w: usize,
        cmd: SessionCmd,
    ) -> Result<(), SessionCmd> {
        if self.batching() {
            self.inner.pending.lock()[w].push(Queued::Cmd(tx, cmd));
            Ok(())
        } else {
            tx.send(cmd).map_err(|e| e.0)
        }
    }

    fn batching(&self) -> bool {
        self.inner.batching.load(Ordering::Relaxed)
    }

    /// Batching on: session starts and commands wait, in order, until
    /// [`MediaEngine::flush`], which wakes each worker once for all of
    /// them (instead of once per command: an eventfd write and a context
    /// switch each). Call control turns it on and flushes after each turn;
    /// off (the default), every call takes effect at once.
    pub fn set_batching(&self, on: bool) {
        self.inner.batching.store(on, Ordering::Relaxed);
        if !on {
            self.flush();
        }
    }

    /// Hands what batching gathered to the workers.
    pub fn flush(&self) {
        let batches: Vec<(usize, Vec<Queued>)> = {
            let mut pending = self.inner.pending.lock();
            pending
                .iter_mut()
                .enumerate()
                .filter(|(_, q)| !q.is_empty())
                .map(|(w, q)| (w, std::mem::take(q)))
                .collect()
        };
        for (w, items) in batches {
            let _ = self.inner.workers[w].send(items);
        }
    }

    /// Sets where a leg sends (from SDP) and its codec. Until the first
    /// packet arrives the leg sends there; then it latches to the packet's
    /// source (symmetric RTP, for callers behind NAT). Starts the leg's
    /// inactivity timer. Calling it again (re-INVITE) re-arms latching.
    pub fn set_remote(&self, s: SessionId, leg: Leg, remote: SocketAddr, codec: Codec) {
        self.send(s, SessionCmd::SetRemote { leg, remote, codec });
    }

    /// Sets the RTP payload type the leg uses for its codec when it is not
    /// the codec's static one (Opus is dynamic: whatever the SDP said).
    /// Call after [`MediaEngine::set_remote`], which resets it.
    pub fn set_payload_type(&self, s: SessionId, leg: Leg, pt: u8) {
        self.send(s, SessionCmd::PayloadType { leg, pt });
    }

    /// Plays `prompt` to `leg` in the leg's codec, one packet every 20 ms,
    /// replacing what was playing. While a leg plays, packets relayed to it
    /// are dropped (an announcement over a bridge).
    pub fn play(&self, s: SessionId, leg: Leg, prompt: Arc<Prompt>, looped: bool) {
        self.send(
            s,
            SessionCmd::Play {
                leg,
                prompt,
                looped,
            },
        );
    }

    /// Sets the RFC 4733 telephone-event payload type the leg negotiated
    /// (`a=rtpmap:101 telephone-event/8000`), or `None`. Its events are
    /// reported as [`MediaEvent::Dtmf`], and relayed with the other leg's
    /// payload type (dropped if the other leg has none).
    pub fn set_telephone_event(&self, s: SessionId, leg: Leg, pt: Option<u8>) {
        self.send(s, SessionCmd::TelephoneEvent { leg, pt });
    }

    /// Sends a DTMF digit to the leg: as RFC 4733 telephone-events (an
    /// update every 20 ms, then three end packets) when the leg negotiated
    /// them ([`MediaEngine::set_telephone_event`]), otherwise as in-band
    /// tones through the leg's player (replacing what it played). Music
    /// pauses and relayed audio to the leg is held back while events go
    /// out. Digits queue in order.
    pub fn send_dtmf(&self, s: SessionId, leg: Leg, digit: char, duration: Duration) {
        self.send(
            s,
            SessionCmd::SendDtmf {
                leg,
                digit,
                duration,
            },
        );
    }

    /// Turns Goertzel DTMF detection on the leg's G.711 audio on or off
    /// (for callers that send tones in-band; costs about 1 µs per packet).
    pub fn detect_inband_dtmf(&self, s: SessionId, leg: Leg, on: bool) {
        self.send(s, SessionCmd::InbandDtmf { leg, on });
    }

    /// Stops the leg's player, if any.
    pub fn stop_play(&self, s: SessionId, leg: Leg) {
        self.send(s, SessionCmd::StopPlay { leg });
    }

    /// Relays media A↔B, stopping both players. Each receiver keeps seeing
    /// one SSRC with continuous sequence numbers and timestamps; RTCP is
    /// relayed with SSRCs and sender-report timestamps rewritten to match.
    /// µ-law ↔ A-law legs are transcoded.
    pub fn bridge(&self, s: SessionId) {
        self.send(s, SessionCmd::Bridge(true));
    }

    /// Stops relaying; the legs are isolated again (each can be played to).
    pub fn unbridge(&self, s: SessionId) {
        self.send(s, SessionCmd::Bridge(false));
    }

    /// Adds leg C (a supervisor) to a live session: claims an idle RTP/RTCP
    /// pair of the session's worker (`PortsExhausted` if it has none ready)
    /// and returns its local RTP address for the supervisor's SDP. Follow
    /// with [`MediaEngine::set_remote`] (leg C) once the supervisor answers,
    /// and [`MediaEngine::monitor`] to start mixing.
    pub fn attach_monitor(&self, s: SessionId) -> Result<SocketAddr, MediaError> {
        let inner = &self.inner;
        let (tx, w) = inner
            .sessions
            .lock()
            .get(&s)
            .cloned()
            .ok_or(MediaError::Stopped)?;
        let [port] = self
            .claim_or_refill(|| inner.pool.claim::<1>(w), Some(w))
            .ok_or(MediaError::PortsExhausted)?;
        if let Err(SessionCmd::AttachC(port)) = self.deliver(tx, w, SessionCmd::AttachC(port)) {
            inner.pool.unclaim(w, port); // the session just ended
            return Err(MediaError::Stopped);
        }
        Ok(SocketAddr::new(inner.cfg.bind_ip, port))
    }

    /// Removes leg C: mixing stops, A and B go back to the direct relay,
    /// C's ports return to the pool.
    pub fn detach_monitor(&self, s: SessionId) {
        self.send(s, SessionCmd::DetachC);
    }

    /// Sets how leg C takes part (`None`: C hears nothing, nobody hears C).
    /// Decoding, mixing and re-encoding run only while a mode is set (or a
    /// recording runs); each leg's audio then goes through its own
    /// adaptive jitter buffer.
    pub fn monitor(&self, s: SessionId, mode: Option<MonitorMode>) {
        self.send(s, SessionCmd::Monitor(mode));
    }

    /// Records the call to `path` as a stereo 16-bit 8 kHz WAV: caller (A)
    /// on the left channel, agent (B) on the right, each through its jitter
    /// buffer, one frame every 20 ms. The file is finished (header sizes
    /// written) when the recording stops or the session is released.
    /// Writing happens on one recorder thread; if the disk falls behind,
    /// frames are dropped and counted ([`MediaEngine::recorder_stats`]),
    /// never the call.
    pub fn record(&self, s: SessionId, path: std::path::PathBuf) {
        let Ok(handle) = self.recorder() else {
            tracing::warn!("recorder thread could not start");
            return;
        };
        self.send(s, SessionCmd::Record(Some((handle, path))));
    }

    /// Stops recording the session (the file is finished).
    pub fn stop_recording(&self, s: SessionId) {
        self.send(s, SessionCmd::Record(None));
    }

    /// Counters of the recorder thread (zero until the first recording).
    pub fn recorder_stats(&self) -> Option<Arc<RecorderStats>> {
        self.inner.recorder.get().map(|h| h.stats.clone())
    }

    fn recorder(&self) -> std::io::Result<RecorderHandle> {
        if let Some(h) = self.inner.recorder.get() {
            return Ok(h.clone());
        }
        let h = RecorderHandle::start()?;
        Ok(self.inner.recorder.get_or_init(|| h).clone())
    }

    /// Ends the session: its worker puts the sockets back in its stock of
    /// idle pairs (or closes them beyond its high watermark), asynchronously:
    /// [`MediaEngine::ports_in_use`] drops shortly after.
    pub fn release(&self, s: SessionId) {
        let target = self.inner.sessions.lock().remove(&s);
        if let Some((tx, w)) = target {
            let _ = self.deliver(tx, w, SessionCmd::Release);
        }
    }

    /// Subscribes to engine events. Each call returns a new receiver that
    /// gets every event emitted after the call.
    pub fn events(&self) -> UnboundedReceiver<MediaEvent> {
        let (tx, rx) = unbounded_channel();
        self.inner.events.subscribe(tx);
        rx
    }

    /// UDP ports in use (RTP and RTCP: four per session), including those
    /// of released sessions whose worker has not taken them back yet. Idle
    /// pairs in the workers' stocks are not in use.
    pub fn ports_in_use(&self) -> usize {
        self.inner.pool.pairs_in_use() * 2
    }

    /// Sessions created and not released.
    pub fn sessions(&self) -> usize {
        self.inner.sessions.lock().len()
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.inner.workers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn engine(port_min: u16, port_max: u16, workers: usize) -> MediaEngine {
        MediaEngine::start(MediaConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_min,
            port_max,
            workers,
            rtp_timeout: Duration::from_secs(30),
            kernel_forwarding: true,
        })
        .unwrap()
    }

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let t = Instant::now();
        while !f() {
            assert!(t.elapsed() < Duration::from_secs(5), "timed out: {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn ready_queues_account_for_every_pair() {
        // 20 pairs, 2 workers: each has its share (10) ready at start.
        let e = engine(32100, 32139, 2);
        let pool = e.inner.pool.clone();
        assert_eq!((pool.ready(0), pool.ready(1)), (10, 10));
        assert_eq!((e.ports_in_use(), pool.free_pairs()), (0, 0));
        // Sessions alternate between workers, two pairs each.
        let s1 = e.create_session().unwrap();
        let s2 = e.create_session().unwrap();
        assert_eq!((pool.ready(0), pool.ready(1)), (8, 8));
        assert_eq!(e.ports_in_use(), 8);
        assert_eq!(s1.a.port() % 2, 0);
        assert_ne!(s1.a, s1.b);
        // Leg C comes from the session's worker.
        let c = e.attach_monitor(s1.id).unwrap();
        assert_ne!(c, s1.a);
        assert_eq!(pool.ready(0) + pool.ready(1), 15);
        assert_eq!(e.ports_in_use(), 10);
        // Released pairs go back to their worker's stock, ready again.
        e.release(s1.id);
        e.release(s2.id);
        wait_until("stock refilled", || {
            (pool.ready(0), pool.ready(1)) == (10, 10) && e.ports_in_use() == 0
        });
        // A monitor for a released session claims nothing.
        assert!(matches!(e.attach_monitor(s1.id), Err(MediaError::Stopped)));
        assert_eq!(pool.ready(0) + pool.ready(1), 20);
    }

    #[test]
    fn exhausted_when_no_worker_has_two_pairs_ready() {
        // 5 pairs on one worker: two sessions, then one pair left.
        let e = engine(32200, 32209, 1);
        let s1 = e.create_session().unwrap();
        let s2 = e.create_session().unwrap();
        assert!(matches!(
            e.create_session(),
            Err(MediaError::PortsExhausted)
        ));
        // The last pair still serves a supervisor, then nothing is left.
        e.attach_monitor(s1.id).unwrap();
        assert!(matches!(
            e.attach_monitor(s2.id),
            Err(MediaError::PortsExhausted)
        ));
        assert_eq!(e.ports_in_use(), 10);
        e.release(s1.id);
        wait_until("usable again", || e.inner.pool.ready(0) == 3);
        e.create_session().unwrap();
    }

    #[test]
    fn a_burst_beyond_the_stocks_waits_for_the_workers() {
        // 600 pairs, 2 workers: 128 ready each; 200 sessions need 400.
        let e = engine(33000, 34199, 2);
        assert_eq!(e.inner.pool.idle_pairs(), 2 * MediaEngine::STOCK_LOW);
        let live: Vec<_> = (0..200).map(|_| e.create_session().unwrap()).collect();
        // (Exact once the workers are done refilling.)
        wait_until("800 in use", || e.ports_in_use() == 800);
        for s in live {
            e.release(s.id);
        }
        wait_until("all back", || e.ports_in_use() == 0);
        // Released pairs stay bound (up to the high watermark, the share
        // of 300 here).
        let idle = e.inner.pool.idle_pairs();
        assert!((400..=600).contains(&idle), "{idle} idle");
    }

    #[test]
    fn shutdown_closes_the_stock_and_frees_every_port() {
        let e = engine(32300, 32339, 2);
        let pool = e.inner.pool.clone();
        let s = e.create_session().unwrap();
        let _ = e.create_session().unwrap(); // claimed, never released
        e.set_batching(true);
        let _ = e.create_session().unwrap(); // claimed, never flushed
        let addr = s.a;
        drop(e); // joins the workers
        assert_eq!(pool.free_pairs(), pool.capacity());
        assert_eq!((pool.idle_pairs(), pool.pairs_in_use()), (0, 0));
        std::net::UdpSocket::bind(addr).expect("closed");
    }
}
