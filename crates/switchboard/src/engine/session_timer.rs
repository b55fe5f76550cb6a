//! Session timers on the caller's leg (RFC 4028): a carrier that asks for
//! one gets `Session-Expires` in our 2xx; when it refreshes we renew, when
//! we are the refresher we send UPDATE (or a re-INVITE when the carrier
//! does not allow UPDATE) at half the interval, and a session nobody
//! refreshed ends with BYE on both legs.

use std::time::Instant;

use bytes::Bytes;
use router::CallKey;
use sip_core::dialog::session_timer::{
    uas_negotiate, IntervalTooSmall, Negotiated, Refresher, SessionTimer, SessionTimerAction,
};
use sip_core::dialog::DialogId;
use sip_core::transaction::new_branch;
use sip_core::{HeaderName, Message, Method, ResponseBuilder};

use super::agent_leg::route_dest;
use super::finish::Party;
use super::{Engine, Timer};

/// The headers a 2xx carries for a negotiated session timer.
pub(super) fn headers<'m>(r: ResponseBuilder<'m>, n: &Negotiated) -> ResponseBuilder<'m> {
    let refresher = match n.expires.refresher {
        Some(Refresher::Uac) => "uac",
        _ => "uas",
    };
    let r = r
        .header(
            "Session-Expires",
            format!("{};refresher={refresher}", n.expires.delta),
        )
        .header("Supported", "timer");
    if n.require_timer {
        r.header("Require", "timer")
    } else {
        r
    }
}

impl Engine {
    /// RFC 4028 §9 negotiation for an INVITE/UPDATE from the caller.
    pub(super) fn negotiate_timer(
        &self,
        req: &Message,
    ) -> Result<Option<Negotiated>, IntervalTooSmall> {
        uas_negotiate(req, self.cfg.raw.sip.min_se, None)
    }

    /// (Re)starts the caller leg's timer after a 2xx that carried `n`.
    pub(super) fn start_session_timer(&mut self, now: Instant, call: CallKey, n: Negotiated) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let t = SessionTimer::start(n.expires, n.we_refresh(), now);
        c.session_timer = Some(t);
        c.timer_epoch += 1;
        let epoch = c.timer_epoch;
        if let Some(at) = t.poll_timeout() {
            self.arm(at, Timer::SessionExpiry { call, epoch });
        }
    }

    pub(super) fn session_timer_fired(&mut self, now: Instant, call: CallKey, epoch: u64) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.timer_epoch != epoch {
            return; // restarted since
        }
        let Some(t) = c.session_timer.as_mut() else {
            return;
        };
        match t.handle_timeout(now) {
            Some(SessionTimerAction::Refresh) => {
                if let Some(at) = t.poll_timeout() {
                    self.arm(at, Timer::SessionExpiry { call, epoch });
                }
                self.refresh_caller(now, call);
            }
            Some(SessionTimerAction::Expired) => {
                tracing::warn!(
                    call,
                    "session timer expired without a refresh: ending the call"
                );
                self.hang_up(now, call, Party::Engine, "session-expired");
            }
            None => {}
        }
    }

    /// We are the refresher: UPDATE when the caller allows it, else a
    /// re-INVITE with our unchanged SDP (RFC 4028 §7.4, RFC 3264 §8).
    fn refresh_caller(&mut self, now: Instant, call: CallKey) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(t) = c.session_timer else { return };
        let update = c
            .invite
            .list(HeaderName::Allow)
            .any(|m| m.eq_ignore_ascii_case("UPDATE"));
        if !update && !c.dialog.can_reinvite() {
            // An INVITE is pending either way (RFC 3261 §14.1); the
            // caller's own re-INVITE refreshes the session.
            return;
        }
        let method = if update { "UPDATE" } else { "INVITE" };
        let Some((r, branch, dest, proto)) = self.caller_request(call, method) else {
            return;
        };
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let r = r
            .header("Contact", self.contact(proto))
            .header(
                "Session-Expires",
                format!("{};refresher=uas", t.expires.delta),
            )
            .header("Supported", "timer");
        let body = (!update).then_some(("application/sdp", c.local_sdp.as_bytes()));
        let data = Bytes::from(r.build(body));
        let m = if update {
            Method::Update
        } else {
            Method::Invite
        };
        tracing::debug!(call, method, "session refresh");
        self.tx
            .send_request(data, m, &branch, dest, proto.reliable(), now);
    }

    /// A response on the caller's leg to a request we sent (BYE, refresh).
    /// A 2xx to our refresh restarts the timer; a 2xx to a re-INVITE is ACKed.
    pub(super) fn caller_leg_response(&mut self, now: Instant, call: CallKey, msg: &Message) {
        // The dialog takes a new target from a 2xx to our refresh, and
        // ends on 481/408 (RFC 3261 §12.2.1.2).
        if let Some(c) = self.calls.get_mut(&call) {
            if DialogId::of_response(msg).is_some_and(|id| id == c.dialog.id) {
                c.dialog.on_response(msg);
            }
        }
        let status = msg.status().unwrap_or(0);
        let method = msg.cseq().method;
        if !matches!(method, Method::Invite | Method::Update) || !(200..300).contains(&status) {
            if matches!(method, Method::Invite | Method::Update) && status >= 300 {
                // RFC 4028 §10: a refresh refused with 408/481 ends the session.
                if status == 408 || status == 481 {
                    self.hang_up(now, call, Party::Engine, "session-expired");
                }
            }
            return;
        }
        if method == Method::Invite {
            self.ack_caller(msg);
        }
        let renewed = self
            .calls
            .get(&call)
            .and_then(|c| c.session_timer)
            .map(|t| Negotiated {
                expires: t.expires,
                require_timer: false,
            });
        if let Some(mut n) = renewed {
            if let Some(se) = sip_core::dialog::session_timer::SessionExpires::of(msg) {
                n.expires.delta = se.delta;
            }
            n.expires.refresher = Some(Refresher::Uas);
            self.start_session_timer(now, call, n);
        }
    }

    /// ACK for a 2xx to our re-INVITE on the caller's leg (RFC 3261
    /// §13.2.2.4: the INVITE's CSeq number, a new branch).
    pub(super) fn ack_caller(&mut self, msg: &Message) {
        let Some(&call) = self.by_call_id.get(msg.call_id()) else {
            return;
        };
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let via = self.via(&new_branch(), c.proto);
        let data = Bytes::from(c.dialog.ack(msg.cseq().seq, &via).build(None));
        let dest = route_dest(&c.dialog, c.proto, c.source);
        self.send(dest, data, c.proto);
    }

    /// Answers the caller's refresh (re-INVITE/UPDATE) with our unchanged
    /// SDP and restarts the timer it negotiated; returns the status sent.
    pub(super) fn answer_caller_refresh(
        &mut self,
        now: Instant,
        call: CallKey,
        key: &sip_core::transaction::TxKey,
        msg: &Message,
    ) -> u16 {
        let Some(c) = self.calls.get(&call) else {
            return 0;
        };
        let negotiated = match self.negotiate_timer(msg) {
            Ok(n) => n,
            Err(e) => {
                let resp = ResponseBuilder::new(msg, e.status())
                    .header("Min-SE", e.min_se)
                    .build();
                self.respond(key, resp, now);
                return e.status();
            }
        };
        let mut r = ResponseBuilder::new(msg, 200).header("Contact", self.contact(c.proto));
        if let Some(n) = &negotiated {
            r = headers(r, n);
        }
        let resp = if msg.method() == Some(Method::Invite) || !msg.body().is_empty() {
            r.body("application/sdp", c.local_sdp.as_bytes()).build()
        } else {
            r.build()
        };
        self.respond(key, resp, now);
        if let Some(n) = negotiated {
            self.start_session_timer(now, call, n);
        }
        200
    }
}
