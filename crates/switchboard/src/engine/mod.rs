//! Call control: a B2BUA that owns every call, registration and the router.
//!
//! The engine is a state machine in the sans-IO style of `sip-core`: the
//! I/O shell (`crate::server`) feeds it datagrams, media events, admin
//! commands and the current time, then drains [`Engine::poll_transmit`] and
//! sleeps until [`Engine::poll_timeout`]. It never reads the clock itself,
//! which is what lets its tests run whole calls on a simulated clock.
//!
//! One engine owns all signalling state, so there is no lock on the message
//! path; DESIGN.md's per-call actors behind a `DashMap` would add a channel
//! hop and a lock per message for no gain at the rates one core can parse.

mod agent_leg;
pub mod announce;
mod caller;
pub mod commands;
mod finish;
mod monitor;
pub mod overload;
pub mod reject;
mod reload;
mod session_timer;
#[cfg(test)]
mod tests;
mod transfer;
pub mod trunks;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use media::{MediaEngine, MediaEvent, Prompt};
use router::{CallKey, Router, RouterEvent};
use sip_core::dialog::DialogError;
use sip_core::transaction::{
    ClientAction, ServerAction, Timers, TransactionLayer, Transmit, TxEvent, TxKey,
};
use sip_core::{DigestServer, HeaderName, Message, Method, ResponseBuilder};

use crate::cdr::CdrWriter;
use crate::config::Config;
use crate::registrar::{Change, Registrar};
use crate::stats::Counters;
use crate::transport::Proto;

pub use agent_leg::AgentLeg;
pub use caller::Call;
pub use commands::Command;
pub use reload::ReloadReport;

/// Engine-owned timers; stale entries are skipped when they fire.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Re-send the queued caller's 183 (RFC 3261 §13.3.1.1).
    RefreshProvisional { call: CallKey },
    /// Registration expiry sweep.
    Registrations,
    /// Probe the outbound trunks with OPTIONS.
    ProbeTrunks,
    /// A caller leg's session timer (stale when `epoch` moved on).
    SessionExpiry { call: CallKey, epoch: u64 },
    /// A goodbye prompt did not report its end: hang up anyway.
    ExitAfterPrompt { call: CallKey },
    /// Forget an agent leg that never finished (no answer to our CANCEL).
    ForgetLeg { call_id: String },
}

/// Maps looked up on every message, keyed by peer-chosen values (Call-IDs)
/// or derived from them: foldhash with a random seed per map (as sip-core's
/// transaction layer), not SipHash.
type WireMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

pub struct Engine {
    cfg: Arc<Config>,
    /// `host:port` we write into Via and Contact.
    host: String,
    tx: TransactionLayer,
    router: Router,
    media: MediaEngine,
    registrar: Registrar,
    calls: WireMap<CallKey, Call>,
    /// Caller-leg Call-ID -> call.
    by_call_id: WireMap<String, CallKey>,
    /// Agent legs by their own Call-ID (kept until they end, even after their call).
    legs: WireMap<String, AgentLeg>,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    out: VecDeque<Transmit>,
    cdr: CdrWriter,
    pub counters: Counters,
    base: (Instant, SystemTime),
    music: HashMap<String, Arc<Prompt>>,
    default_music: Arc<Prompt>,
    next_key: CallKey,
    draining: bool,
    overload: overload::Overload,
    prompts: announce::Prompts,
    queue_log: CdrWriter,
    trunks: Vec<trunks::TrunkState>,
    /// Per-queue exit announcements (`[[queue]] exit_announcement`).
    exit_prompts: HashMap<String, Arc<Prompt>>,
    /// When the input being handled reached the process (a datagram's
    /// arrival, a timer's deadline), set by the I/O shell; the offer
    /// latency metric counts from it. `None` on a simulated clock.
    arrival: Option<Instant>,
}

/// Sweep steps per call of [`Engine::housekeep`] (one block of one free
/// set each, well under a microsecond).
const HOUSEKEEPING_STEPS: usize = 16;

impl Engine {
    pub fn new(
        cfg: Arc<Config>,
        media: MediaEngine,
        cdr: CdrWriter,
        secret: &[u8],
        now: Instant,
        wall: SystemTime,
    ) -> Self {
        let timers = Timers {
            t1: cfg.raw.sip.t1,
            t2: cfg.raw.sip.t2,
            t4: cfg.raw.sip.t4,
        };
        let digest = DigestServer::new(&cfg.raw.auth.realm, secret)
            .with_nonce_ttl(cfg.raw.auth.nonce_ttl.as_secs());
        let music = load_wavs(&cfg.music, "music");
        let exit_prompts = load_wavs(&cfg.exit_announcements, "exit announcement");
        let mut engine = Engine {
            host: cfg.public_host(),
            tx: TransactionLayer::new(timers),
            router: Router::new(cfg.router_config(), now),
            registrar: Registrar::new(digest),
            media,
            calls: WireMap::default(),
            by_call_id: WireMap::default(),
            legs: WireMap::default(),
            timers: BinaryHeap::new(),
            out: VecDeque::new(),
            cdr,
            counters: Counters::default(),
            base: (now, wall),
            music,
            default_music: Arc::new(Prompt::default_music()),
            next_key: 1,
            draining: false,
            overload: overload::Overload::new(cfg.raw.overload.clone()),
            prompts: announce::Prompts::load(cfg.prompts.as_deref()),
            queue_log: CdrWriter::discard(),
            trunks: Vec::new(),
            exit_prompts,
            arrival: None,
            cfg,
        };
        engine.load_trunks(now);
        engine
    }

    /// Where queue events go as JSON lines (`[cdr] queue_log`).
    pub fn with_queue_log(mut self, w: CdrWriter) -> Self {
        self.queue_log = w;
        self
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.values()
    }

    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Stop taking new calls; live calls continue.
    pub fn drain(&mut self) {
        self.draining = true;
    }

    fn wall(&self, t: Instant) -> SystemTime {
        self.base.1 + t.saturating_duration_since(self.base.0)
    }

    fn unix(&self, now: Instant) -> u64 {
        self.wall(now)
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// Forgets an agent leg that never finished (no answer to our CANCEL
    /// or BYE) once its transactions must have ended (64*T1).
    fn forget_leg_later(&mut self, now: Instant, leg_id: &str) {
        let at = now + self.cfg.raw.sip.t1 * 64 + std::time::Duration::from_secs(1);
        self.arm(
            at,
            Timer::ForgetLeg {
                call_id: leg_id.to_string(),
            },
        );
    }

    fn arm(&mut self, at: Instant, t: Timer) {
        self.timers.push(Reverse((at, t)));
    }

    /// Queues a message sent outside any transaction (stateless answers, ACK for 2xx).
    fn send(&mut self, dest: SocketAddr, data: impl Into<Bytes>, proto: Proto) {
        self.out.push_back(Transmit {
            dest,
            data: data.into(),
            reliable: proto.reliable(),
        });
    }

    /// Our Contact, marking TCP so the peer keeps the dialog on TCP.
    fn contact(&self, proto: Proto) -> String {
        match proto {
            Proto::Udp => format!("<sip:switchboard@{}>", self.host),
            Proto::Tcp => format!("<sip:switchboard@{};transport=tcp>", self.host),
            Proto::Tls => format!("<sip:switchboard@{};transport=tls>", self.host),
        }
    }

    /// The Via header value for a request we originate on `proto`'s transport.
    fn via(&self, branch: &str, proto: Proto) -> String {
        let t = proto.via_name();
        format!("SIP/2.0/{t} {};branch={branch};rport", self.host)
    }

    /// Respond within a server transaction.
    fn respond(&mut self, key: &TxKey, data: Vec<u8>, now: Instant) {
        self.tx.respond(key, Bytes::from(data), now);
    }

    // ----- inputs ------------------------------------------------------

    /// A datagram from `source` arrived on a UDP listener.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, data: Bytes) {
        self.handle_message(now, source, data, Proto::Udp);
    }

    /// One message from `source` on `proto`; answers to messages on a
    /// stream transport (TCP, TLS) go back on the same connection.
    pub fn handle_message(&mut self, now: Instant, source: SocketAddr, data: Bytes, proto: Proto) {
        self.counters.received += 1;
        if self.overload.is_banned(source.ip(), now) {
            self.counters.banned_drops += 1;
            return;
        }
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            return; // CRLF keep-alive (RFC 5626 §3.5.1); TCP/TLS pongs in the transport
        }
        if crate::stun::is_stun(&data) {
            // STUN keep-alive of an outbound flow over UDP (RFC 5626 §4.4.2).
            self.counters.stun_keepalives += 1;
            if let Some(resp) = crate::stun::binding_response(&data, source) {
                self.send(source, resp, proto);
            }
            return;
        }
        match Message::parse(data.clone()) {
            Ok(msg) => {
                let span = self.message_span(&msg);
                let _enter = span.enter();
                if msg.is_request() {
                    self.handle_request(now, source, msg, proto)
                } else {
                    self.handle_response(now, msg)
                }
            }
            Err(e) => {
                self.counters.parse_errors += 1;
                tracing::debug!(%source, "unparseable message: {e}");
                let status = e.status();
                if let Some(resp) = reject::error_response(&data, status, &e.to_string()) {
                    self.send(source, resp, proto);
                }
            }
        }
        self.after_input(now);
    }

    /// Hands the media commands of this turn to the media workers (the
    /// shell turns media batching on and calls this before sending).
    pub fn flush_media(&self) {
        self.media.flush();
    }

    /// When the next input reached the process (real time, for metrics
    /// only: no decision reads it).
    pub fn mark_arrival(&mut self, at: Instant) {
        self.arrival = Some(at);
    }

    /// How long the last datagram waited between the socket and the engine
    /// (the shell measures it; it drives the overload gate).
    pub fn note_queue_delay(&mut self, d: std::time::Duration) {
        self.overload.note_queue_delay(d);
    }

    /// Admission of a new INVITE/REGISTER from `source`: `Some(response)`
    /// to refuse it with (503 + Retry-After), `Some(None)` to drop it.
    fn admit(
        &mut self,
        now: Instant,
        source: SocketAddr,
        kind: overload::Kind,
    ) -> Option<Option<u16>> {
        let rate = match kind {
            overload::Kind::Invite => self.cfg.invite_rate_for(source.ip()),
            overload::Kind::Register => None,
        };
        match self.overload.admit(source.ip(), kind, rate, now) {
            overload::Verdict::Allow => None,
            overload::Verdict::Limited => {
                self.counters.rate_limited += 1;
                Some(Some(503))
            }
            overload::Verdict::Banned => {
                self.counters.banned_drops += 1;
                Some(None)
            }
        }
    }

    /// The earliest time [`Engine::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.tx.poll_timeout(),
            self.router.poll_timeout(),
            self.timers.peek().map(|Reverse((t, _))| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the router has housekeeping for idle time (stale entries in
    /// its free sets; see [`router::Router::housekeep`]).
    pub fn housekeeping_pending(&self) -> bool {
        self.router.housekeeping_pending()
    }

    /// A bounded slice of the router's housekeeping, for when no input is
    /// waiting: a few microseconds, so that an input arriving meanwhile
    /// waits at most that long.
    pub fn housekeep(&mut self) {
        self.router.housekeep(HOUSEKEEPING_STEPS);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        self.router.handle_timeout(now);
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, timer))) = self.timers.pop() else {
                break;
            };
            self.fire(now, timer);
        }
        self.after_input(now);
    }

    pub fn handle_media_event(&mut self, now: Instant, ev: MediaEvent) {
        if let MediaEvent::PlayFinished {
            session,
            leg: media::Leg::A,
        } = ev
        {
            self.play_finished(now, session);
        }
        if let MediaEvent::Dtmf {
            session,
            leg,
            digit,
            ..
        } = ev
        {
            match leg {
                media::Leg::A => self.caller_key(now, session, digit),
                media::Leg::C => self.monitor_key(now, session, digit),
                media::Leg::B => {}
            }
        }
        if let MediaEvent::RtpTimeout {
            session,
            leg: media::Leg::C,
        } = ev
        {
            // A silent supervisor phone ends its own leg, never the call.
            let leg = self
                .calls
                .values()
                .find(|c| c.session.id == session)
                .and_then(|c| c.monitor.as_ref())
                .map(|m| m.leg.clone());
            if let Some(leg) = leg {
                tracing::info!("no RTP from the supervisor: leaving the call");
                self.leave_monitor(now, &leg);
            }
        } else if let MediaEvent::RtpTimeout { session, leg } = ev {
            let key = self
                .calls
                .iter()
                .find(|(_, c)| c.session.id == session)
                .map(|(k, _)| *k);
            if let Some(key) = key {
                tracing::info!(call = key, ?leg, "no RTP: ending call");
                self.counters.rtp_timeouts += 1;
                self.hang_up(now, key, finish::Party::Engine, "rtp-timeout");
            }
        }
        self.after_input(now);
    }

    /// Outgoing datagrams, in order.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.tx.poll_transmit().or_else(|| self.out.pop_front());
        if let Some(t) = &t {
            self.counters.sip.outgoing(&t.data);
        }
        t
    }

    /// Drains what the transaction layer and the router produced.
    pub(crate) fn after_input(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(ev) = self.tx.poll_event() {
                progressed = true;
                self.on_tx_event(now, ev);
            }
            while let Some(ev) = self.router.poll_event() {
                progressed = true;
                self.on_router_event(now, ev);
            }
            if !progressed {
                break;
            }
        }
    }

    fn fire(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::RefreshProvisional { call } => self.refresh_provisional(now, call),
            Timer::Registrations => {
                for agent in self.registrar.expire(now) {
                    tracing::info!(agent = %agent, "registration expired");
                    let _ = self.router.agent_logout(&agent, now);
                }
                self.arm_registration_sweep();
            }
            Timer::ProbeTrunks => self.probe_trunks(now),
            Timer::SessionExpiry { call, epoch } => self.session_timer_fired(now, call, epoch),
            Timer::ExitAfterPrompt { call } => {
                self.hang_up(now, call, finish::Party::Engine, "timeout")
            }
            Timer::ForgetLeg { call_id } => {
                self.legs.remove(&call_id);
            }
        }
    }

    fn arm_registration_sweep(&mut self) {
        if let Some(at) = self.registrar.next_expiry() {
            self.arm(at, Timer::Registrations);
        }
    }

    // ----- requests ----------------------------------------------------

    fn handle_request(&mut self, now: Instant, source: SocketAddr, msg: Message, proto: Proto) {
        self.counters.sip.incoming(&msg);
        self.counters.requests += 1;
        match self.tx.on_request(&msg, source, proto.reliable(), now) {
            ServerAction::New(key) => self.new_request(now, source, key, msg, proto),
            ServerAction::AckForDialog => self.on_ack(now, &msg),
            ServerAction::Cancel { invite, cancel } => self.on_cancel(now, invite, cancel, &msg),
            ServerAction::Retransmit | ServerAction::Absorbed => self.counters.retransmissions += 1,
            _ => {} // future actions of the (non-exhaustive) transaction layer
        }
    }

    fn new_request(
        &mut self,
        now: Instant,
        source: SocketAddr,
        key: TxKey,
        msg: Message,
        proto: Proto,
    ) {
        let method = msg.method().unwrap_or(Method::Other);
        let tag = new_tag();
        // RFC 3261 §8.2.2.1: a Request-URI scheme we do not handle gets 416.
        if !matches!(method, Method::Ack | Method::Cancel) && msg.request_uri().is_none() {
            let resp = ResponseBuilder::new(&msg, 416).to_tag(&tag).build();
            return self.respond(&key, resp, now);
        }
        // RFC 3261 §8.2.2.3: extensions we do not support (ACK and CANCEL
        // are exempt). We support session timers only.
        if !matches!(method, Method::Ack | Method::Cancel) {
            let unsupported: Vec<&str> = msg
                .list(HeaderName::Require)
                .chain(msg.list(HeaderName::ProxyRequire))
                .filter(|o| !o.eq_ignore_ascii_case("timer"))
                .collect();
            if !unsupported.is_empty() {
                let resp = ResponseBuilder::new(&msg, 420)
                    .to_tag(&tag)
                    .header("Unsupported", unsupported.join(", "))
                    .build();
                return self.respond(&key, resp, now);
            }
        }
        match method {
            Method::Register => {
                if let Some(verdict) = self.admit(now, source, overload::Kind::Register) {
                    if verdict.is_some() {
                        let resp = ResponseBuilder::new(&msg, 503)
                            .to_tag(&tag)
                            .header("Retry-After", self.overload.retry_after())
                            .build();
                        self.respond(&key, resp, now);
                    }
                    return;
                }
                let unix = self.unix(now);
                let (resp, change) =
                    self.registrar
                        .register(&self.cfg, &msg, (source, proto), now, unix, &tag);
                self.respond(&key, resp, now);
                match change {
                    Change::Login(agent) => {
                        tracing::info!(agent = %agent, "agent registered");
                        let _ = self.router.agent_login(&agent, now);
                        self.arm_registration_sweep();
                    }
                    Change::Logout(agent) => {
                        tracing::info!(agent = %agent, "agent unregistered");
                        let _ = self.router.agent_logout(&agent, now);
                    }
                    Change::None => self.arm_registration_sweep(),
                }
            }
            Method::Options => {
                let resp = ResponseBuilder::new(&msg, 200)
                    .to_tag(&tag)
                    .header("Allow", ALLOW)
                    .header("Accept", "application/sdp")
                    .header("Supported", "")
                    .header("Server", &self.cfg.raw.sip.user_agent)
                    .build();
                self.respond(&key, resp, now);
            }
            Method::Invite if msg.to().tag().is_none() => {
                self.new_call(now, source, key, msg, proto)
            }
            Method::Invite | Method::Bye | Method::Info | Method::Update | Method::Notify => {
                self.in_dialog(now, key, msg)
            }
            // A CANCEL matching no INVITE transaction (RFC 3261 §9.2).
            Method::Cancel => {
                let resp = ResponseBuilder::new(&msg, 481).to_tag(&tag).build();
                self.respond(&key, resp, now);
            }
            Method::Ack => {} // never answered
            Method::Refer if msg.to().tag().is_some() => self.in_dialog(now, key, msg),
            Method::Prack
            | Method::Subscribe
            | Method::Refer
            | Method::Message
            | Method::Publish => {
                let resp = ResponseBuilder::new(&msg, 405)
                    .to_tag(&tag)
                    .header("Allow", ALLOW)
                    .build();
                self.respond(&key, resp, now);
            }
            Method::Other => {
                let resp = ResponseBuilder::new(&msg, 501)
                    .to_tag(&tag)
                    .header("Allow", ALLOW)
                    .build();
                self.respond(&key, resp, now);
            }
        }
    }

    /// Requests inside an existing dialog, on either leg.
    fn in_dialog(&mut self, now: Instant, key: TxKey, msg: Message) {
        let call_id = msg.call_id();
        if let Some(&call) = self.by_call_id.get(call_id) {
            return self.caller_in_dialog(now, call, key, msg);
        }
        if self.legs.contains_key(call_id) {
            return self.agent_in_dialog(now, key, msg);
        }
        self.counters.no_dialog += 1;
        let resp = ResponseBuilder::new(&msg, 481).to_tag(&new_tag()).build();
        self.respond(&key, resp, now);
    }

    /// Answers an in-dialog request its dialog refused (RFC 3261 §12.2.2,
    /// §14.2): 481 for no such dialog, 500 for a CSeq lower than the last,
    /// 491 for glare, 500 with Retry-After 0-10 s while the previous
    /// INVITE is unanswered. ACK is never answered.
    fn refuse_in_dialog(&mut self, now: Instant, key: &TxKey, msg: &Message, e: DialogError) {
        if msg.method() == Some(Method::Ack) {
            return;
        }
        if e == DialogError::UnknownDialog {
            self.counters.no_dialog += 1;
        }
        tracing::debug!(status = e.status(), "in-dialog request refused: {e}");
        let mut r = ResponseBuilder::new(msg, e.status());
        if e == DialogError::InviteInProgress {
            r = r.header("Retry-After", rand::random::<u32>() % 11);
        }
        let resp = r.build();
        self.respond(key, resp, now);
    }

    // ----- responses ---------------------------------------------------

    fn handle_response(&mut self, now: Instant, msg: Message) {
        self.counters.sip.incoming(&msg);
        self.counters.responses += 1;
        match self.tx.on_response(&msg, now) {
            Some((_key, ClientAction::Deliver)) => {
                if let Some(&call) = self.by_call_id.get(msg.call_id()) {
                    self.caller_leg_response(now, call, &msg);
                } else if !self.probe_response(&msg) {
                    self.agent_response(now, msg)
                }
            }
            Some((_key, ClientAction::Retransmitted2xx)) => {
                if let Some(&call) = self.by_call_id.get(msg.call_id()) {
                    self.caller_leg_response(now, call, &msg);
                } else {
                    self.reack(now, &msg)
                }
            }
            Some((_, _)) => self.counters.retransmissions += 1,
            None => {
                // A 2xx to INVITE after its transaction ended: the agent did
                // not get our ACK (RFC 3261 §13.2.2.4), so send it again.
                if msg.cseq().method == Method::Invite
                    && msg.status().is_some_and(|s| (200..300).contains(&s))
                {
                    self.reack(now, &msg);
                } else {
                    self.counters.stray_responses += 1;
                }
            }
        }
    }

    fn on_tx_event(&mut self, now: Instant, ev: TxEvent) {
        match ev {
            TxEvent::Timeout(key) | TxEvent::TransportError(key) => self.client_timeout(now, &key),
            TxEvent::AckTimeout(key) => {
                let call = self
                    .calls
                    .values()
                    .find(|c| c.invite_key == key)
                    .map(|c| c.key);
                if let Some(call) = call {
                    tracing::warn!(call, "no ACK for our 2xx: ending the call");
                    self.hang_up(now, call, finish::Party::Engine, "failed");
                }
            }
            // Timer C: our ring timeout (shorter) already cancels; Terminated: nothing held.
            _ => {}
        }
    }

    /// Timer B/F or a transport error on one of our client transactions.
    fn client_timeout(&mut self, now: Instant, key: &TxKey) {
        if !self.probe_timeout(key) {
            self.agent_tx_timeout(now, key);
        }
    }

    /// The span every log line about one call is written in: its caller
    /// Call-ID and queue (RFC 3261 Call-ID of the caller's leg, also for
    /// messages on the agent's leg).
    fn call_span(&self, call: CallKey) -> tracing::Span {
        match self.calls.get(&call) {
            Some(c) => tracing::info_span!("call", call_id = %c.call_id, queue = %c.queue),
            None => tracing::Span::none(),
        }
    }

    fn message_span(&self, msg: &Message) -> tracing::Span {
        let id = msg.call_id();
        let call = self
            .by_call_id
            .get(id)
            .copied()
            .or_else(|| self.legs.get(id).map(|l| l.call));
        match call {
            Some(call) => self.call_span(call),
            None => tracing::info_span!("sip", call_id = %id),
        }
    }

    fn on_router_event(&mut self, now: Instant, ev: RouterEvent) {
        let call = match &ev {
            RouterEvent::Offer { call, .. }
            | RouterEvent::RingTimeout { call, .. }
            | RouterEvent::CancelRing { call, .. }
            | RouterEvent::Exit { call, .. }
            | RouterEvent::Announce { call, .. }
            | RouterEvent::Moved { call, .. } => Some(*call),
            _ => None,
        };
        let span = call
            .map(|c| self.call_span(c))
            .unwrap_or_else(tracing::Span::none);
        let _enter = span.enter();
        match ev {
            RouterEvent::Offer { call, agent, queue } => self.ring_agent(now, call, &agent, &queue),
            RouterEvent::RingTimeout { call, agent } | RouterEvent::CancelRing { call, agent } => {
                self.cancel_agent(now, call, &agent)
            }
            RouterEvent::Exit { call, reason, .. } => {
                tracing::info!(call, ?reason, "caller leaves the queue");
                self.exit_queue(now, call);
            }
            RouterEvent::Announce {
                call,
                position,
                ewt,
            } => self.announce(call, position, ewt),
            RouterEvent::Moved { call, from, to } => self.moved(call, &from, &to),
            RouterEvent::Log(ev) => self.queue_log(now, &ev),
        }
    }
}

pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, UPDATE";

/// Per-queue WAV files (hold music, exit announcements), decoded once; a
/// file that fails to load is logged and the built-in sound plays instead.
fn load_wavs(
    files: &std::collections::BTreeMap<String, std::path::PathBuf>,
    what: &str,
) -> HashMap<String, Arc<Prompt>> {
    let mut out = HashMap::new();
    for (queue, path) in files {
        match Prompt::from_wav(path) {
            Ok(p) => {
                out.insert(queue.clone(), Arc::new(p));
            }
            Err(e) => {
                tracing::warn!(queue = %queue, file = %path.display(), "{what} not loaded: {e}")
            }
        }
    }
    out
}

/// A random tag or Call-ID part (RFC 3261 §19.3: at least 32 bits of randomness).
pub fn new_tag() -> String {
    format!("{:016x}", rand::random::<u64>())
}
