//! The caller's leg: admission of a carrier INVITE, early media while
//! queued, the 2xx when an agent answers, and the caller's BYE/CANCEL/ACK.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use router::CallKey;
use sip_core::dialog::Dialog;
use sip_core::sdp::{self, PayloadFormat, Sdp};
use sip_core::transaction::{new_branch, TxKey};
use sip_core::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder, Scheme};

use super::agent_leg::route_dest;
use super::finish::Party;
use super::{new_tag, Engine, Timer, ALLOW};
use crate::config::AnswerMode;
use crate::transport::Proto;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallState {
    /// Waiting in the queue (possibly with agents ringing).
    Queued,
    /// Talking to an agent.
    Bridged,
}

/// One caller and everything the engine holds for it.
pub struct Call {
    pub key: CallKey,
    pub state: CallState,
    pub call_id: String,
    pub caller: String,
    pub called: String,
    pub trunk: String,
    pub queue: String,
    pub answer_mode: AnswerMode,
    /// The caller's INVITE and its server transaction (until a final response).
    pub invite: Message,
    pub invite_tx: Option<TxKey>,
    /// Where the INVITE came from: in-dialog requests go back there over
    /// TCP/TLS, and when the caller's Contact names no IP.
    pub source: SocketAddr,
    /// The caller's signalling runs over TCP (requests to it reuse the connection).
    pub proto: Proto,
    /// The caller's dialog (we are the UAS; our To tag is its local tag).
    pub dialog: Dialog,
    /// Our SDP answer to the caller (re-sent unchanged on refresh).
    pub local_sdp: String,
    pub codec: PayloadFormat,
    pub telephone_event: Option<u8>,
    pub session: media::Session,
    /// The INVITE server transaction (kept to match its AckTimeout).
    pub invite_key: TxKey,
    /// Whether the ACK for our 2xx has come.
    pub acked: bool,
    /// Agent legs ringing for this call (their Call-IDs), and the one bridged.
    pub ringing: Vec<String>,
    pub bridged_leg: Option<String>,
    pub agent: Option<String>,
    pub agents_tried: Vec<String>,
    /// Keys the caller pressed (RFC 4733 or in-band), in order.
    pub dtmf: String,
    /// Blind transfers, `agent>number`, in order.
    pub transfers: Vec<String>,
    /// Priority from the route.
    pub priority: u8,
    /// The caller's RTP address; `None` until the ACK of a delayed offer.
    pub remote_media: Option<SocketAddr>,
    /// RFC 4028 timer negotiated on the INVITE (applied with our 2xx).
    pub negotiated_timer: Option<sip_core::dialog::session_timer::Negotiated>,
    pub session_timer: Option<sip_core::dialog::session_timer::SessionTimer>,
    /// Bumped on each (re)start so stale timer wake-ups are ignored.
    pub timer_epoch: u64,
    /// An announcement is playing instead of music.
    pub announcing: bool,
    /// Leaving the queue: the goodbye prompt plays, then the call ends.
    pub exiting: bool,
    pub arrived: Instant,
    pub answered: Option<Instant>,
    pub bridged: Option<Instant>,
    /// A supervisor on the call (or being called to it).
    pub monitor: Option<super::monitor::Monitor>,
    /// Where the call is recorded (from bridge to end), if it is.
    pub recording: Option<std::path::PathBuf>,
}

/// Our SDP for the caller, the codec, telephone-event type and the caller's
/// RTP address (unknown until the answer of a delayed offer).
type MediaPlan = (String, PayloadFormat, Option<u8>, Option<SocketAddr>);

impl Engine {
    /// A new INVITE from a carrier (RFC 3261 §8.2 checks, then ours).
    pub(super) fn new_call(
        &mut self,
        now: Instant,
        source: SocketAddr,
        key: TxKey,
        msg: Message,
        proto: Proto,
    ) {
        let tag = new_tag();
        let reject = |engine: &mut Engine, status: u16, extra: Option<(&str, String)>| {
            engine.counters.rejected(status);
            let mut r = ResponseBuilder::new(&msg, status).to_tag(&tag);
            if let Some((name, value)) = extra {
                r = r.header(name, value);
            }
            let resp = r.build();
            engine.respond(&key, resp, now);
        };
        if self.draining {
            return reject(self, 503, Some(("Retry-After", "30".into())));
        }
        match self.admit(now, source, super::overload::Kind::Invite) {
            None => {}
            Some(Some(_)) => {
                let retry = self.overload.retry_after().to_string();
                return reject(self, 503, Some(("Retry-After", retry)));
            }
            Some(None) => return,
        }
        if let Some(why) = self.overload.gate(
            self.calls.len(),
            self.tx.len(),
            (self.media.sessions(), self.media.workers()),
        ) {
            self.counters.overload(why);
            tracing::warn!(reason = why, "overload: new call refused");
            let retry = self.overload.retry_after().to_string();
            return reject(self, 503, Some(("Retry-After", retry)));
        }
        let Some(trunk) = self.cfg.trunk_for(source.ip()).map(str::to_string) else {
            tracing::info!(%source, "INVITE from a source no trunk allows");
            return reject(self, 403, None);
        };
        if msg.max_forwards() == Some(0) {
            return reject(self, 483, None);
        }
        let Some(uri) = msg.request_uri() else {
            return reject(self, 416, None);
        };
        if !matches!(uri.scheme, Scheme::Sip | Scheme::Sips | Scheme::Tel) {
            return reject(self, 416, None);
        }
        let called = uri
            .user_decoded()
            .map(|u| u.into_owned())
            .unwrap_or_default();
        let Some(route) = self.cfg.route(&called).cloned() else {
            tracing::info!(called = %called, "no route");
            return reject(self, 404, None);
        };
        let queue = route.queue.get_ref().clone();
        // We answer with SDP: a caller that accepts no such body gets 406.
        let accepts: Vec<&str> = msg.list(HeaderName::Accept).collect();
        let sdp_ok = |a: &&str| {
            let t = a.split(';').next().unwrap_or("").trim();
            t.eq_ignore_ascii_case("application/sdp")
                || t.eq_ignore_ascii_case("application/*")
                || t == "*/*"
        };
        if !accepts.is_empty() && !accepts.iter().any(sdp_ok) {
            return reject(self, 406, Some(("Accept", "application/sdp".into())));
        }
        let body = msg.body();
        // No offer (RFC 3261 §13.2.1 delayed offer): our offer goes in the
        // 2xx, the caller's answer comes in the ACK, and queueing starts then.
        let offerless = body.is_empty();
        match msg.content_type() {
            _ if offerless => {}
            Some(ct)
                if ct
                    .split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp")) => {}
            _ => return reject(self, 415, Some(("Accept", "application/sdp".into()))),
        }
        let negotiated_timer = match self.negotiate_timer(&msg) {
            Ok(n) => n,
            Err(e) => return reject(self, e.status(), Some(("Min-SE", e.min_se.to_string()))),
        };
        let offer = match offerless {
            true => None,
            false => match Sdp::parse(&body) {
                Ok(o) => Some(o),
                Err(e) => return reject(self, e.status(), None),
            },
        };
        let session = match self.media.create_session() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("no media ports: {e}");
                return reject(self, 503, Some(("Retry-After", "5".into())));
            }
        };
        let call_key = self.next_key;
        let answered = match &offer {
            Some(offer) => self.answer_offer(offer, session.a.port(), call_key),
            None => Ok(self.our_offer(session.a.port(), call_key)),
        };
        let (local_sdp, codec, telephone_event, remote) = match answered {
            Ok(a) => a,
            Err(status) => {
                self.media.release(session.id);
                return reject(self, status, None);
            }
        };
        if media_codec(&codec).is_none() {
            self.media.release(session.id);
            return reject(self, 488, None);
        }
        let queue_cfg = self.cfg.queue(&queue);
        let answer_mode = match offerless {
            true => AnswerMode::Immediate,
            false => queue_cfg.map(|q| q.answer).unwrap_or(AnswerMode::Early),
        };
        let caller = msg
            .from()
            .uri()
            .and_then(|u| u.user_decoded().map(|u| u.into_owned()))
            .unwrap_or_default();
        self.next_key += 1;

        // RFC 2543 callers (RFC 4475 §3.4.1) may send no From tag or
        // Contact: a null remote tag, and the From URI as the target.
        let dialog = Dialog::uas_compat(&msg, &tag, msg.from().uri_text);
        let call = Call {
            key: call_key,
            state: CallState::Queued,
            call_id: msg.call_id().to_string(),
            caller,
            called,
            trunk,
            queue,
            answer_mode,
            invite_tx: Some(key.clone()),
            source,
            proto,
            dialog,
            local_sdp,
            codec,
            telephone_event,
            session,
            invite_key: key.clone(),
            acked: false,
            ringing: Vec::new(),
            bridged_leg: None,
            agent: None,
            agents_tried: Vec::new(),
            dtmf: String::new(),
            transfers: Vec::new(),
            priority: route.priority,
            remote_media: remote,
            negotiated_timer,
            session_timer: None,
            timer_epoch: 0,
            announcing: false,
            exiting: false,
            arrived: now,
            answered: None,
            bridged: None,
            monitor: None,
            recording: None,
            invite: msg,
        };
        tracing::info!(call_id = %call.call_id, queue = %call.queue, caller = %call.caller, "call queued");
        self.counters.calls_offered += 1;
        self.by_call_id.insert(call.call_id.clone(), call_key);
        self.calls.insert(call_key, call);
        if !offerless {
            if let Err(status) = self.start_queueing(now, call_key) {
                // Refused before anything was answered: undo the call.
                if let Some(c) = self.calls.remove(&call_key) {
                    self.by_call_id.remove(&c.call_id);
                    self.media.release(c.session.id);
                    self.counters.rejected(status);
                    let resp = ResponseBuilder::new(&c.invite, status)
                        .to_tag(&c.dialog.id.local_tag)
                        .build();
                    self.respond(&key, resp, now);
                }
                return;
            }
        }
        self.send_provisional(now, call_key, 100);
        match answer_mode {
            AnswerMode::Early => {
                self.send_provisional(now, call_key, 183);
                let at = now + self.cfg.raw.sip.provisional_refresh;
                self.arm(at, Timer::RefreshProvisional { call: call_key });
            }
            AnswerMode::Immediate => self.answer_caller(now, call_key),
        }
    }

    /// Our SDP answer to a caller's offer: among the codecs we support, the
    /// caller's order of preference wins (RFC 3264 §6.1), so a carrier keeps
    /// its own codec end to end.
    fn answer_offer(&self, offer: &Sdp, port: u16, key: CallKey) -> Result<MediaPlan, u16> {
        let offered: Vec<String> = offer
            .media
            .iter()
            .find(|m| m.kind.eq_ignore_ascii_case("audio"))
            .map(|m| m.payload_formats().into_iter().map(|f| f.name).collect())
            .unwrap_or_default();
        let mut codecs: Vec<&str> = self
            .cfg
            .raw
            .media
            .codecs
            .iter()
            .map(String::as_str)
            .collect();
        codecs.sort_by_key(|c| {
            offered
                .iter()
                .position(|o| o.eq_ignore_ascii_case(c))
                .unwrap_or(usize::MAX)
        });
        sdp::answer_audio(offer, self.cfg.raw.media.ip, port, &codecs, key)
            .map(|(sdp, codec, te, remote)| (sdp, codec, te, Some(remote)))
            .map_err(|e| e.status())
    }

    /// Our offer for a caller that sent none (delayed offer): every codec
    /// we support plus telephone-event; the answer comes in the ACK.
    fn our_offer(&self, port: u16, key: CallKey) -> MediaPlan {
        let formats: Vec<PayloadFormat> = self
            .cfg
            .raw
            .media
            .codecs
            .iter()
            .map(|c| offered_format(c))
            .collect();
        let sdp = sdp::offer_audio(self.cfg.raw.media.ip, port, &formats, Some(101), key, 1);
        (sdp, formats[0].clone(), Some(101), None)
    }

    /// The caller's media is known: point leg A at it, listen for its keys,
    /// queue it and play the queue's music. `Err(status)` when the router
    /// refuses it (486 queue full, 480 no agents).
    fn start_queueing(&mut self, now: Instant, call: CallKey) -> Result<(), u16> {
        let Some(c) = self.calls.get(&call) else {
            return Ok(());
        };
        let codec = media_codec(&c.codec).ok_or(488u16)?;
        let (session, remote, te, pt) =
            (c.session.id, c.remote_media, c.telephone_event, c.codec.pt);
        let (queue, priority, caller) = (c.queue.clone(), c.priority, c.caller.clone());
        if let Err(e) = self.router.enqueue(call, &queue, priority, &caller, now) {
            tracing::info!(queue = %queue, "enqueue refused: {e:?}");
            return Err(match e {
                router::RouterError::QueueFull => 486,
                _ => 480,
            });
        }
        if let Some(remote) = remote {
            self.media.set_remote(session, media::Leg::A, remote, codec);
            self.media.set_payload_type(session, media::Leg::A, pt);
        }
        // Keys: RFC 4733 events when the caller offered them, else tones in the audio.
        self.media.set_telephone_event(session, media::Leg::A, te);
        self.media
            .detect_inband_dtmf(session, media::Leg::A, te.is_none());
        let prompt = self
            .music
            .get(&queue)
            .cloned()
            .unwrap_or_else(|| Arc::clone(&self.default_music));
        self.media.play(session, media::Leg::A, prompt, true);
        Ok(())
    }

    /// The ACK of a delayed offer carries the caller's answer.
    fn delayed_answer(&mut self, now: Instant, call: CallKey, msg: &Message) {
        let answer = Sdp::parse(&msg.body()).ok();
        let audio = answer
            .as_ref()
            .and_then(sdp::remote_audio)
            .filter(|(_, f)| media_codec(f).is_some());
        let te = answer.as_ref().and_then(sdp::answer_telephone_event);
        let Some((remote, format)) = audio else {
            tracing::info!(call, "ACK carried no usable SDP answer: ending the call");
            return self.hang_up(now, call, Party::Engine, "failed");
        };
        if let Some(c) = self.calls.get_mut(&call) {
            c.codec = format;
            c.telephone_event = te;
            c.remote_media = Some(remote);
        }
        if self.start_queueing(now, call).is_err() {
            self.hang_up(now, call, Party::Engine, "failed");
        }
    }

    fn send_provisional(&mut self, now: Instant, call: CallKey, status: u16) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(key) = c.invite_tx.clone() else {
            return;
        };
        let mut r = ResponseBuilder::new(&c.invite, status);
        if status > 100 {
            r = r
                .to_tag(&c.dialog.id.local_tag)
                .header("Contact", self.contact(c.proto));
        }
        let resp = if status == 183 {
            r.body("application/sdp", c.local_sdp.as_bytes()).build()
        } else {
            r.build()
        };
        self.respond(&key, resp, now);
    }

    pub(super) fn refresh_provisional(&mut self, now: Instant, call: CallKey) {
        if self.calls.get(&call).is_some_and(|c| c.invite_tx.is_some()) {
            self.send_provisional(now, call, 183);
            let at = now + self.cfg.raw.sip.provisional_refresh;
            self.arm(at, Timer::RefreshProvisional { call });
        }
    }

    /// Sends the caller's 2xx (an agent answered, or immediate answer mode).
    pub(super) fn answer_caller(&mut self, now: Instant, call: CallKey) {
        let contact = self.contact(self.calls.get(&call).map_or(Proto::Udp, |c| c.proto));
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(key) = c.invite_tx.take() else {
            return;
        };
        let mut r = ResponseBuilder::new(&c.invite, 200)
            .to_tag(&c.dialog.id.local_tag)
            .header("Contact", contact)
            .header("Allow", ALLOW);
        let timer = c.negotiated_timer;
        if let Some(n) = &timer {
            r = super::session_timer::headers(r, n);
        }
        let resp = bytes::Bytes::from(r.body("application/sdp", c.local_sdp.as_bytes()).build());
        c.answered = Some(now);
        // The INVITE is answered: the dialog is confirmed and takes re-INVITEs.
        c.dialog
            .response_sent(Method::Invite, c.invite.cseq().seq, 200);
        // The transaction layer re-sends the 2xx until the ACK (or reports AckTimeout).
        self.tx.respond(&key, resp, now);
        if let Some(n) = timer {
            self.start_session_timer(now, call, n);
        }
    }

    pub(super) fn on_ack(&mut self, now: Instant, msg: &Message) {
        if let Some(&call) = self.by_call_id.get(msg.call_id()) {
            let Some(c) = self.calls.get_mut(&call) else {
                return;
            };
            if c.dialog.on_request(msg).is_err() {
                // Another dialog's ACK (wrong tags): never answered.
                self.counters.no_dialog += 1;
                return;
            }
            let first = !c.acked;
            c.acked = true;
            if first && c.remote_media.is_none() {
                self.delayed_answer(now, call, msg);
            }
            return;
        }
        // ACK for an agent's 2xx retransmission arrives here only if misrouted.
        self.counters.stray_responses += 1;
    }

    /// CANCEL from the caller (RFC 3261 §9.2): 200 to the CANCEL, 487 to
    /// the INVITE if it is still pending, and the call ends as abandoned.
    pub(super) fn on_cancel(&mut self, now: Instant, invite: TxKey, cancel: TxKey, msg: &Message) {
        let ok = ResponseBuilder::new(msg, 200).to_tag(&new_tag()).build();
        self.respond(&cancel, ok, now);
        let Some(&call) = self.by_call_id.get(msg.call_id()) else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.invite_tx.as_ref() != Some(&invite) {
            return; // already answered: the caller must BYE
        }
        c.invite_tx = None;
        let resp = ResponseBuilder::new(&c.invite, 487)
            .to_tag(&c.dialog.id.local_tag)
            .build();
        self.respond(&invite, resp, now);
        self.end_call(now, call, Party::Caller, "abandoned", Some(487));
    }

    /// A new request in the caller's dialog (BYE, refresh) with a new
    /// branch: the builder (add headers and the body), the branch, where it
    /// goes and on which transport.
    pub(super) fn caller_request(
        &mut self,
        call: CallKey,
        method: &str,
    ) -> Option<(RequestBuilder, String, SocketAddr, Proto)> {
        let proto = self.calls.get(&call)?.proto;
        let branch = new_branch();
        let via = self.via(&branch, proto);
        let c = self.calls.get_mut(&call)?;
        let r = c.dialog.request(method, &via);
        let dest = route_dest(&c.dialog, proto, c.source);
        Some((r, branch, dest, proto))
    }

    pub(super) fn caller_in_dialog(
        &mut self,
        now: Instant,
        call: CallKey,
        key: TxKey,
        msg: Message,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        // RFC 3261 §12.2.2: the dialog checks tags and CSeq order, and
        // takes a new target from a target refresh.
        if let Err(e) = c.dialog.on_request(&msg) {
            return self.refuse_in_dialog(now, &key, &msg, e);
        }
        match msg.method() {
            Some(Method::Bye) => {
                let resp = ResponseBuilder::new(&msg, 200).build();
                self.respond(&key, resp, now);
                self.hang_up(now, call, Party::Caller, "completed");
            }
            Some(Method::Invite) | Some(Method::Update) => {
                // Session refresh or hold: we keep anchoring media, answer
                // with our unchanged SDP (RFC 3264 §8: same version allowed)
                // and renew the session timer it negotiates.
                let status = self.answer_caller_refresh(now, call, &key, &msg);
                if let Some(c) = self.calls.get_mut(&call) {
                    let method = msg.method().unwrap_or(Method::Other);
                    c.dialog.response_sent(method, msg.cseq().seq, status);
                }
            }
            // A carrier may not transfer our caller elsewhere.
            Some(Method::Refer) => {
                let resp = ResponseBuilder::new(&msg, 403).build();
                self.respond(&key, resp, now);
            }
            _ => {
                let resp = ResponseBuilder::new(&msg, 200).build();
                self.respond(&key, resp, now);
            }
        }
    }
}

/// The codec media workers run for an SDP format.
pub(super) fn media_codec(f: &PayloadFormat) -> Option<media::Codec> {
    media::Codec::from_rtpmap(&f.name, f.clock)
}

/// The payload format we offer for a configured codec name (`[media]
/// codecs`): static types for G.711 and G.722, 111 for Opus (RFC 7587:
/// `opus/48000/2`, we send mono with in-band FEC).
pub(super) fn offered_format(name: &str) -> PayloadFormat {
    match name.to_ascii_uppercase().as_str() {
        "PCMA" => PayloadFormat::pcma(),
        "G722" => PayloadFormat::new(9, "G722", 8000),
        "OPUS" => PayloadFormat {
            channels: 2,
            fmtp: Some("minptime=20;useinbandfec=1".into()),
            ..PayloadFormat::new(media::Codec::Opus.payload_type(), "opus", 48000)
        },
        _ => PayloadFormat::pcmu(),
    }
}
