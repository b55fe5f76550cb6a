//! The agent's leg (we are the UAC): INVITE with our SDP offer, CANCEL on
//! ring timeout, ACK for 2xx, BYE, and what each agent response means for
//! the router.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;
use router::{CallKey, RingFailure};
use sip_core::dialog::{cancel_for, Dialog, DialogError, DialogId};
use sip_core::sdp::{self, PayloadFormat, Sdp};
use sip_core::transaction::{new_branch, TxKey};
use sip_core::{Message, Method, RequestBuilder, ResponseBuilder, Uri};

use super::caller::{media_codec, CallState};
use super::finish::Party;
use super::{new_tag, Engine};
use crate::transport::Proto;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LegState {
    Calling,
    Ringing,
    Confirmed,
    Cancelling,
    /// 2xx arrived for a leg we no longer want: ACK + BYE sent.
    Ending,
}

pub struct AgentLeg {
    pub call: CallKey,
    pub agent: String,
    pub state: LegState,
    /// Our INVITE (its CANCEL copies it; the dialog is made from it).
    pub invite: Message,
    pub invite_tx: TxKey,
    /// Where the INVITE went (the binding or its flow): in-dialog requests
    /// go back there over TCP/TLS, and when the Contact names no IP.
    pub dest: SocketAddr,
    /// The leg's dialog (we are the UAC), from the first provisional with a
    /// To tag or from the 2xx.
    pub dialog: Option<Dialog>,
    pub ack: Option<Bytes>,
    /// The agent registered over TCP.
    pub proto: Proto,
    /// The agent registered an RFC 5626 flow: every request of the leg
    /// goes to `dest` (the flow), whatever its Contact or route set say.
    pub flow: bool,
    /// Set when this leg goes out through a trunk (overflow to a number).
    pub trunk: Option<TrunkAttempt>,
    /// What the leg is for.
    pub role: LegRole,
}

/// Why we called someone for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegRole {
    /// To take the call (an agent, or a number through a trunk): media leg B.
    Agent,
    /// A supervisor monitoring it: media leg C, on its own RTP port.
    Monitor { port: u16 },
}

/// Which trunk an outgoing leg uses, so a failure can try the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkAttempt {
    /// Position in the engine's outbound trunk list.
    pub position: usize,
    pub number: String,
}

/// Where a new outgoing leg goes.
pub struct LegTarget {
    pub uri: String,
    pub to: String,
    pub dest: SocketAddr,
    pub proto: Proto,
    /// Agent id, or `trunk:<name>`.
    pub label: String,
    pub trunk: Option<TrunkAttempt>,
    pub role: LegRole,
    /// An RFC 5626 flow (see [`AgentLeg::flow`]).
    pub flow: bool,
}

impl LegTarget {
    /// A registered phone (an agent's, or a supervisor's), reached where
    /// the registrar says: its flow, its connection or its Contact.
    pub fn registered(binding: &crate::registrar::Binding, label: &str, role: LegRole) -> Self {
        LegTarget {
            uri: binding.contact.clone(),
            to: format!("<{}>", binding.contact),
            dest: binding.target,
            proto: binding.proto,
            label: label.to_string(),
            trunk: None,
            role,
            flow: binding.outbound.is_some(),
        }
    }
}

impl Engine {
    /// The router offers `call` to `agent`: send the agent an INVITE.
    pub(super) fn ring_agent(&mut self, now: Instant, call: CallKey, agent: &str, _queue: &str) {
        let Some(binding) = self.registrar.binding(agent).cloned() else {
            self.router
                .ring_failed(call, agent, RingFailure::Unreachable, now);
            return;
        };
        let target = LegTarget::registered(&binding, agent, LegRole::Agent);
        if self.send_leg_invite(now, call, target).is_none() {
            self.router
                .ring_failed(call, agent, RingFailure::Unreachable, now);
            return;
        }
        if let Some(c) = self.calls.get(&call) {
            crate::metrics::agent_rung(
                c.agents_tried.len() == 1,
                now.saturating_duration_since(c.arrived),
            );
            if let Some(at) = self.arrival {
                // The input that freed an agent (or brought the call) to
                // the INVITE handed to the transaction layer, in real time.
                let trigger = if c.arrived < now {
                    "agent_free"
                } else {
                    "call_arrival"
                };
                crate::metrics::offer_latency(
                    trigger,
                    Instant::now().saturating_duration_since(at),
                );
            }
            tracing::info!(call_id = %c.call_id, agent = %agent, "ringing agent");
        }
    }

    /// Sends the INVITE of a new outgoing leg for `call` (to an agent or
    /// out through a trunk) with our offer in the caller's codec; returns
    /// the leg's Call-ID.
    pub(super) fn send_leg_invite(
        &mut self,
        now: Instant,
        call: CallKey,
        t: LegTarget,
    ) -> Option<String> {
        let branch = new_branch();
        let via = self.via(&branch, t.proto);
        let contact = self.contact(t.proto);
        let c = self.calls.get_mut(&call)?;
        let call_id = format!("{}-{}", new_tag(), new_tag());
        let local_tag = new_tag();
        let host = &self.host;
        let display = c.invite.from().display.unwrap_or("");
        let from = format!("{display} <sip:{}@{host}>", sip_user(&c.caller))
            .trim_start()
            .to_string();
        let offer = leg_offer(&self.cfg, c, t.role, 1);
        let subject = match t.role {
            LegRole::Agent => format!("queue {}", c.queue),
            LegRole::Monitor { .. } => format!("monitor {} ({})", c.caller, c.queue),
        };
        let invite = RequestBuilder::new("INVITE", &t.uri)
            .header("Via", via)
            .header("Max-Forwards", 70)
            .header("From", format!("{from};tag={local_tag}"))
            .header("To", &t.to)
            .header("Call-ID", &call_id)
            .header("CSeq", "1 INVITE")
            .header("Contact", contact)
            .header("Allow", super::ALLOW)
            .header("Subject", subject)
            .header("X-Switchboard-Queue", &c.queue)
            .header("User-Agent", &self.cfg.raw.sip.user_agent)
            .build(Some(("application/sdp", offer.as_bytes())));
        let invite = match Message::parse(Bytes::from(invite)) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(call_id = %c.call_id, "our INVITE does not parse: {e}");
                return None;
            }
        };
        let key = self.tx.send_request(
            invite.as_bytes().clone(),
            Method::Invite,
            &branch,
            t.dest,
            t.proto.reliable(),
            now,
        );
        if t.role == LegRole::Agent {
            c.ringing.push(call_id.clone());
            c.agents_tried.push(t.label.clone());
        }
        self.legs.insert(
            call_id.clone(),
            AgentLeg {
                call,
                agent: t.label,
                state: LegState::Calling,
                invite,
                invite_tx: key,
                dest: t.dest,
                dialog: None,
                ack: None,
                proto: t.proto,
                flow: t.flow,
                trunk: t.trunk,
                role: t.role,
            },
        );
        Some(call_id)
    }

    /// Stop ringing `agent` for `call` (ring timeout, or another agent won).
    pub(super) fn cancel_agent(&mut self, now: Instant, call: CallKey, agent: &str) {
        let leg_id = self.calls.get(&call).and_then(|c| {
            c.ringing
                .iter()
                .find(|id| self.legs.get(*id).is_some_and(|l| l.agent == agent))
                .cloned()
        });
        if let Some(id) = leg_id {
            if let Some(c) = self.calls.get_mut(&call) {
                c.ringing.retain(|r| r != &id);
            }
            self.cancel_leg(now, &id);
        }
    }

    /// CANCEL an unanswered leg (RFC 3261 §9.1): same Request-URI, Call-ID,
    /// From, To, CSeq number and top Via as the INVITE.
    pub(super) fn cancel_leg(&mut self, now: Instant, leg_id: &str) {
        let Some(leg) = self.legs.get_mut(leg_id) else {
            return;
        };
        if !matches!(leg.state, LegState::Calling | LegState::Ringing) {
            return;
        }
        leg.state = LegState::Cancelling;
        let cancel = Bytes::from(cancel_for(&leg.invite));
        let branch = leg
            .invite
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .unwrap_or_default()
            .to_string();
        let (dest, reliable) = (leg.dest, leg.proto.reliable());
        self.tx
            .send_request(cancel, Method::Cancel, &branch, dest, reliable, now);
        // If the agent never answers the CANCEL, Timer B ends the INVITE
        // transaction; forget the leg after that at the latest.
        self.forget_leg_later(now, leg_id);
    }

    /// A response (first of its kind) on an agent leg.
    pub(super) fn agent_response(&mut self, now: Instant, msg: Message) {
        let leg_id = msg.call_id().to_string();
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            self.counters.stray_responses += 1;
            return;
        };
        let status = msg.status().unwrap_or(0);
        let method = msg.cseq().method;
        if method != Method::Invite {
            if let Some(d) = leg.dialog.as_mut().filter(|d| is_ours(d, &msg)) {
                d.on_response(&msg);
            }
            if method == Method::Bye && leg.state == LegState::Ending {
                self.legs.remove(&leg_id);
            }
            return; // responses to our CANCEL/BYE/NOTIFY need nothing more
        }
        match status {
            100 => {}
            101..=199 => {
                if leg.state == LegState::Calling {
                    leg.state = LegState::Ringing;
                }
                // An early dialog (RFC 3261 §12.1.2): the first To tag wins.
                match leg.dialog.as_mut() {
                    Some(d) if is_ours(d, &msg) => d.on_response(&msg),
                    Some(_) => {}
                    None if msg.to().tag().is_some() => {
                        let ruri = leg.invite.request_uri_str().unwrap_or_default();
                        leg.dialog = Some(Dialog::uac_compat(&leg.invite, &msg, ruri));
                    }
                    None => {}
                }
            }
            200..=299 => self.agent_answered(now, &leg_id, msg),
            _ => {
                let (call, agent, state) = (leg.call, leg.agent.clone(), leg.state);
                let trunk = leg.trunk.clone();
                let role = leg.role;
                self.legs.remove(&leg_id);
                if role != LegRole::Agent {
                    if state != LegState::Cancelling {
                        tracing::info!(supervisor = %agent, status, "supervisor did not take the monitor call");
                    }
                    return self.unmonitor(call, &leg_id);
                }
                if let Some(c) = self.calls.get_mut(&call) {
                    c.ringing.retain(|r| r != &leg_id);
                }
                if state == LegState::Cancelling {
                    return; // the 487 we asked for
                }
                let why = match status {
                    486 | 600 | 603 | 480 => RingFailure::Rejected,
                    408 | 500..=599 => RingFailure::Unreachable,
                    _ => RingFailure::Rejected,
                };
                if let Some(attempt) = trunk {
                    return self.trunk_failed(now, call, attempt, Some(status));
                }
                tracing::info!(agent = %agent, status, "agent leg failed");
                self.router.ring_failed(call, &agent, why, now);
            }
        }
    }

    /// A 2xx on one of our legs: confirm the dialog (its early one, or a
    /// new one for another To tag) and ACK it (RFC 3261 §13.2.2.4).
    pub(super) fn confirm_leg(&mut self, leg_id: &str, msg: &Message) {
        let Some(proto) = self.legs.get(leg_id).map(|l| l.proto) else {
            return;
        };
        let via = self.via(&new_branch(), proto);
        let Some(leg) = self.legs.get_mut(leg_id) else {
            return;
        };
        let d = match leg.dialog.as_mut() {
            Some(d) if is_ours(d, msg) => {
                d.on_response(msg);
                d
            }
            _ => {
                let ruri = leg.invite.request_uri_str().unwrap_or_default();
                leg.dialog
                    .insert(Dialog::uac_compat(&leg.invite, msg, ruri))
            }
        };
        let ack = Bytes::from(d.ack(msg.cseq().seq, &via).build(None));
        let dest = leg_dest(d, proto, leg.flow, leg.dest);
        leg.ack = Some(ack.clone());
        self.send(dest, ack, proto);
    }

    fn agent_answered(&mut self, now: Instant, leg_id: &str, msg: Message) {
        self.confirm_leg(leg_id, &msg);
        let Some(leg) = self.legs.get(leg_id) else {
            return;
        };
        if let LegRole::Monitor { .. } = leg.role {
            return self.monitor_answered(now, leg_id, &msg);
        }
        let (call, agent, was) = (leg.call, leg.agent.clone(), leg.state);
        let via_trunk = leg.trunk.is_some();
        let wanted = was != LegState::Cancelling
            && self.calls.get(&call).is_some_and(|c| {
                c.state == CallState::Queued && c.ringing.iter().any(|r| r == leg_id)
            });
        let answer = Sdp::parse(&msg.body()).ok();
        let remote = answer.as_ref().and_then(sdp::remote_audio);
        let agent_te = answer.as_ref().and_then(sdp::answer_telephone_event);
        let (Some((remote, format)), true) = (remote, wanted) else {
            // Late 2xx after CANCEL, call gone, or no usable SDP: end this leg.
            if wanted {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.ringing.retain(|r| r != leg_id);
                }
                if via_trunk {
                    self.hang_up(now, call, Party::Engine, "failed");
                } else {
                    self.router
                        .ring_failed(call, &agent, RingFailure::Rejected, now);
                }
            }
            self.bye_leg(now, leg_id);
            return;
        };
        if let Some(leg) = self.legs.get_mut(leg_id) {
            leg.state = LegState::Confirmed;
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.ringing.retain(|r| r != leg_id);
        let others: Vec<String> = std::mem::take(&mut c.ringing);
        c.state = CallState::Bridged;
        c.bridged_leg = Some(leg_id.to_string());
        c.agent = Some(agent.clone());
        c.bridged = Some(now);
        crate::metrics::bridged(now.saturating_duration_since(c.arrived));
        let session = c.session.id;
        let codec = media_codec(&format).unwrap_or(media::Codec::Pcmu);
        self.media.set_remote(session, media::Leg::B, remote, codec);
        self.media
            .set_payload_type(session, media::Leg::B, format.pt);
        self.media
            .set_telephone_event(session, media::Leg::B, agent_te);
        self.media.bridge(session);
        self.start_recording(now, call);
        tracing::info!(agent = %agent, "agent answered: bridged");
        self.counters.calls_answered += 1;
        if !via_trunk {
            self.router.ring_answered(call, &agent, now);
        }
        for other in others {
            self.cancel_leg(now, &other);
        }
        self.answer_caller(now, call);
    }

    /// A new request in the agent leg's dialog (BYE, NOTIFY) with a new
    /// branch: the builder (add headers and the body), the branch, where it
    /// goes and on which transport. `None` when the leg has no dialog.
    pub(super) fn leg_request(
        &mut self,
        leg_id: &str,
        method: &str,
    ) -> Option<(RequestBuilder, String, SocketAddr, Proto)> {
        let proto = self.legs.get(leg_id)?.proto;
        let branch = new_branch();
        let via = self.via(&branch, proto);
        let leg = self.legs.get_mut(leg_id)?;
        let d = leg.dialog.as_mut()?;
        let r = d.request(method, &via);
        Some((r, branch, leg_dest(d, proto, leg.flow, leg.dest), proto))
    }

    /// Sends BYE on an agent leg (it was answered) and marks it ending.
    pub(super) fn bye_leg(&mut self, now: Instant, leg_id: &str) {
        let Some(leg) = self.legs.get_mut(leg_id) else {
            return;
        };
        leg.state = LegState::Ending;
        if let Some((r, branch, dest, proto)) = self.leg_request(leg_id, "BYE") {
            let bye = Bytes::from(r.build(None));
            self.tx
                .send_request(bye, Method::Bye, &branch, dest, proto.reliable(), now);
        }
        self.forget_leg_later(now, leg_id);
    }

    /// A retransmitted 2xx for an INVITE whose transaction ended: ACK again.
    pub(super) fn reack(&mut self, _now: Instant, msg: &Message) {
        if let Some(leg) = self.legs.get(msg.call_id()) {
            if let (Some(ack), Some(d)) = (leg.ack.clone(), leg.dialog.as_ref()) {
                let dest = leg_dest(d, leg.proto, leg.flow, leg.dest);
                let proto = leg.proto;
                self.send(dest, ack, proto);
                return;
            }
        }
        self.counters.stray_responses += 1;
    }

    /// Timer B/F fired on one of our client transactions.
    pub(super) fn agent_tx_timeout(&mut self, now: Instant, key: &TxKey) {
        let leg_id = self
            .legs
            .iter()
            .find(|(_, l)| &l.invite_tx == key)
            .map(|(id, _)| id.clone());
        let Some(leg_id) = leg_id else { return };
        let Some(leg) = self.legs.remove(&leg_id) else {
            return;
        };
        if leg.role != LegRole::Agent {
            return self.unmonitor(leg.call, &leg_id);
        }
        if let Some(c) = self.calls.get_mut(&leg.call) {
            c.ringing.retain(|r| r != &leg_id);
        }
        if let (Some(attempt), LegState::Calling | LegState::Ringing) =
            (leg.trunk.clone(), leg.state)
        {
            return self.trunk_failed(now, leg.call, attempt, None);
        }
        if matches!(leg.state, LegState::Calling | LegState::Ringing) {
            tracing::info!(agent = %leg.agent, "agent did not respond: unreachable");
            self.router
                .ring_failed(leg.call, &leg.agent, RingFailure::Unreachable, now);
        }
    }

    /// BYE (or another request) from an agent.
    pub(super) fn agent_in_dialog(&mut self, now: Instant, key: TxKey, msg: Message) {
        let leg_id = msg.call_id().to_string();
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        // RFC 3261 §12.2.2: the dialog checks tags and CSeq order, and
        // takes a new target from a target refresh.
        let checked = match leg.dialog.as_mut() {
            Some(d) => d.on_request(&msg),
            None => Err(DialogError::UnknownDialog),
        };
        if let Err(e) = checked {
            return self.refuse_in_dialog(now, &key, &msg, e);
        }
        let call = leg.call;
        match msg.method() {
            Some(Method::Bye) => {
                let resp = ResponseBuilder::new(&msg, 200).build();
                self.respond(&key, resp, now);
                let bridged = self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.bridged_leg.as_deref() == Some(&leg_id));
                if self
                    .legs
                    .get(&leg_id)
                    .is_some_and(|l| l.role != LegRole::Agent)
                {
                    return self.monitor_gone(&leg_id);
                }
                self.legs.remove(&leg_id);
                if bridged {
                    self.hang_up(now, call, Party::Agent, "completed");
                }
            }
            Some(Method::Refer) => self.agent_refer(now, key, &msg, &leg_id, call),
            Some(Method::Invite) | Some(Method::Update) => {
                let role = leg.role;
                let offer = self
                    .calls
                    .get(&call)
                    .map(|c| leg_offer(&self.cfg, c, role, 2));
                let proto = self.legs.get(&leg_id).map_or(Proto::Udp, |l| l.proto);
                let mut r = ResponseBuilder::new(&msg, 200).header("Contact", self.contact(proto));
                if let Some(o) = offer.as_ref() {
                    r = r.body("application/sdp", o.as_bytes());
                }
                let resp = r.build();
                self.respond(&key, resp, now);
                if let Some(d) = self.legs.get_mut(&leg_id).and_then(|l| l.dialog.as_mut()) {
                    d.response_sent(Method::Invite, msg.cseq().seq, 200);
                }
            }
            _ => {
                let resp = ResponseBuilder::new(&msg, 200).build();
                self.respond(&key, resp, now);
            }
        }
    }
}

/// Our SDP for an outgoing leg (`version` 1 for the INVITE, 2 for answers
/// to re-INVITE/UPDATE). An agent is offered the caller's codec first; a
/// supervisor's leg is mixed by the engine, so G.711 with telephone-events
/// (its keys switch the monitor mode).
fn leg_offer(cfg: &crate::config::Config, c: &super::Call, role: LegRole, version: u64) -> String {
    let (port, formats, te) = match role {
        LegRole::Agent => (
            c.session.b.port(),
            agent_formats(&c.codec, &cfg.raw.media.codecs),
            c.telephone_event,
        ),
        LegRole::Monitor { port } => (
            port,
            agent_formats(&PayloadFormat::pcmu(), &cfg.raw.media.codecs),
            Some(101),
        ),
    };
    sdp::offer_audio(cfg.raw.media.ip, port, &formats, te, c.key, version)
}

/// What we offer an agent: the caller's codec first (relayed untouched when
/// the phone takes it), then the other configured G.711 law, which the
/// media relay transcodes to and from.
fn agent_formats(caller: &PayloadFormat, configured: &[String]) -> Vec<PayloadFormat> {
    let mut out = vec![caller.clone()];
    for c in configured {
        let f = super::caller::offered_format(c);
        if !f.name.eq_ignore_ascii_case(&caller.name) && !out.iter().any(|o| o.name == f.name) {
            out.push(f);
        }
    }
    out
}

/// True when a response belongs to dialog `d` (same Call-ID and tags).
fn is_ours(d: &Dialog, msg: &Message) -> bool {
    DialogId::of_response(msg).is_some_and(|id| id == d.id)
}

/// Where a request in dialog `d` goes (RFC 3261 §12.2.1.1, loose routing):
/// its next hop (the first route, else the remote target) when that names
/// an IP literal. `peer` is where the peer's messages come from (the
/// caller's source, the agent's binding): over TCP/TLS requests reuse its
/// connection unless a route leads elsewhere, and it stands in for a host
/// name, which we never resolve for a peer.
pub(super) fn route_dest(d: &Dialog, proto: Proto, peer: SocketAddr) -> SocketAddr {
    let target = match proto.reliable() {
        true => peer,
        false => uri_addr(&d.remote_target).unwrap_or(peer),
    };
    match d.route_set.is_empty() {
        true => target,
        false => uri_addr(d.next_hop()).unwrap_or(target),
    }
}

/// Where an agent leg's in-dialog requests go: its RFC 5626 flow when it
/// registered one, else as [`route_dest`] says.
fn leg_dest(d: &Dialog, proto: Proto, flow: bool, dest: SocketAddr) -> SocketAddr {
    if flow {
        dest
    } else {
        route_dest(d, proto, dest)
    }
}

/// The address of a SIP URI whose host is an IP literal (port 5060 unless given).
fn uri_addr(uri: &str) -> Option<SocketAddr> {
    let u = Uri::parse(uri)?;
    let ip: IpAddr = u.host.parse().ok()?;
    Some(SocketAddr::new(ip, u.port.unwrap_or(5060)))
}

/// A caller id as a SIP user part (escaped where needed).
fn sip_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("anonymous");
    }
    out
}
