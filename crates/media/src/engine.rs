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
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_min: 20000,
            port_max: 29999,
            workers: 0,
            rtp_timeout: Duration::from_secs(30),
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

/// Fan-out of events to every subscriber.
#[derive(Debug, Default)]
pub(crate) struct EventHub {
    subs: Mutex<Vec<UnboundedSender<MediaEvent>>>,
}

impl EventHub {
    pub(crate) fn emit(&self, ev: MediaEvent) {
        let mut subs = self.subs.lock();
        subs.retain(|s| s.send(ev.clone()).is_ok());
    }
}

#[derive(Debug)]
struct Inner {
    cfg: MediaConfig,
    pool: PortPool,
    workers: Vec<UnboundedSender<WorkerMsg>>,
    /// Each live session's command channel and worker.
    sessions: Mutex<HashMap<SessionId, (UnboundedSender<SessionCmd>, usize)>>,
    /// With batching on: per worker, what waits for [`MediaEngine::flush`].
    pending: Mutex<Vec<Vec<Queued>>>,
    batching: std::sync::atomic::AtomicBool,
    next_id: AtomicU64,
    next_worker: AtomicUsize,
    events: Arc<EventHub>,
    recorder: std::sync::OnceLock<RecorderHandle>,
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
    /// Validates `cfg` and starts the worker threads. The workers stop when
    /// the last handle is dropped, closing every socket.
    pub fn start(cfg: MediaConfig) -> std::io::Result<MediaEngine> {
        let pool = PortPool::new(cfg.port_min, cfg.port_max)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        cfg.validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        // "One per core" also pins each worker to its core.
        let pin = cfg.workers == 0;
        let n = if cfg.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            cfg.workers
        };
        let events = Arc::new(EventHub::default());
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = unbounded_channel();
            relay::spawn_worker(i, pin, rx)?;
            workers.push(tx);
        }
        Ok(MediaEngine {
            inner: Arc::new(Inner {
                cfg,
                pool,
                workers,
                sessions: Mutex::new(HashMap::new()),
                pending: Mutex::new((0..n).map(|_| Vec::new()).collect()),
                batching: std::sync::atomic::AtomicBool::new(false),
                next_id: AtomicU64::new(1),
                next_worker: AtomicUsize::new(0),
                events,
                recorder: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &MediaConfig {
        &self.inner.cfg
    }

    /// Allocates two legs (A = caller, B = agent) on one worker, each with
    /// an even RTP port and the odd RTCP port above it.
    pub fn create_session(&self) -> Result<Session, MediaError> {
        let inner = &self.inner;
        let ip = inner.cfg.bind_ip;
        let a = inner.pool.bind_pair(ip)?;
        let b = inner.pool.bind_pair(ip)?; // on error `a` drops: ports return
                                           // The lease knows the port: no getsockname per leg.
        let a_addr = SocketAddr::new(ip, a.lease.port());
        let b_addr = SocketAddr::new(ip, b.lease.port());
        let id = SessionId(inner.next_id.fetch_add(1, Ordering::Relaxed));
        let stats = Arc::new(SessionStats::default());
        let (tx, rx) = unbounded_channel();
        let w = inner.next_worker.fetch_add(1, Ordering::Relaxed) % inner.workers.len();
        inner.sessions.lock().insert(id, (tx, w));
        let init = SessionInit {
            id,
            legs: [a, b],
            cmds: rx,
            stats: stats.clone(),
            events: inner.events.clone(),
            rtp_timeout: inner.cfg.rtp_timeout,
            pool: inner.pool.clone(),
            ip,
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
            a: a_addr,
            b: b_addr,
            stats,
        })
    }

    fn send(&self, s: SessionId, cmd: SessionCmd) {
        let target = self.inner.sessions.lock().get(&s).cloned();
        match target {
            Some((tx, w)) => self.deliver(tx, w, cmd),
            None => tracing::debug!(session = s.0, "media command for unknown session ignored"),
        }
    }

    fn deliver(&self, tx: UnboundedSender<SessionCmd>, w: usize, cmd: SessionCmd) {
        if self.batching() {
            self.inner.pending.lock()[w].push(Queued::Cmd(tx, cmd));
        } else {
            let _ = tx.send(cmd);
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

    /// Adds leg C (a supervisor) to a live session: binds an RTP/RTCP pair
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
        let c = inner.pool.bind_pair(inner.cfg.bind_ip)?;
        let addr = SocketAddr::new(inner.cfg.bind_ip, c.lease.port());
        self.deliver(tx, w, SessionCmd::AttachC(Box::new(c)));
        Ok(addr)
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

    /// Ends the session: its worker closes the four sockets, then the ports
    /// go back to the pool (asynchronously: [`MediaEngine::ports_in_use`]
    /// drops shortly after).
    pub fn release(&self, s: SessionId) {
        let target = self.inner.sessions.lock().remove(&s);
        if let Some((tx, w)) = target {
            self.deliver(tx, w, SessionCmd::Release);
        }
    }

    /// Subscribes to engine events. Each call returns a new receiver that
    /// gets every event emitted after the call.
    pub fn events(&self) -> UnboundedReceiver<MediaEvent> {
        let (tx, rx) = unbounded_channel();
        self.inner.events.subs.lock().push(tx);
        rx
    }

    /// UDP ports held (RTP and RTCP: four per session), including those of
    /// released sessions whose sockets are not closed yet.
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
