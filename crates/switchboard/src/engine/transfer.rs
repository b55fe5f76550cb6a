//! Blind transfer by an agent (RFC 3515 REFER): the agent's phone sends
//! REFER with `Refer-To: <sip:5001@engine>`; the caller leaves that agent
//! and joins the queue the number routes to, keeping its dialog and its
//! place in the CDR. Attended transfer (`Replaces`, RFC 3891) is refused
//! with 501 for now.

use std::time::Instant;

use bytes::Bytes;
use router::{CallKey, EndedBy};
use sip_core::dialog::refer::{refer_target, sipfrag};
use sip_core::transaction::TxKey;
use sip_core::{Message, Method, ResponseBuilder, Uri};

use super::caller::CallState;
use super::finish::Party;
use super::Engine;

impl Engine {
    /// A REFER on the agent leg `leg_id` of `call`.
    pub(super) fn agent_refer(
        &mut self,
        now: Instant,
        key: TxKey,
        msg: &Message,
        leg_id: &str,
        call: CallKey,
    ) {
        let refuse = |engine: &mut Engine, status: u16| {
            let resp = ResponseBuilder::new(msg, status).build();
            engine.respond(&key, resp, now);
        };
        let bridged = self
            .calls
            .get(&call)
            .is_some_and(|c| c.bridged_leg.as_deref() == Some(leg_id));
        if !bridged {
            return refuse(self, 481);
        }
        let (target, replaces) = match refer_target(msg) {
            Ok(t) => t,
            Err(code) => return refuse(self, code),
        };
        if replaces.is_some() {
            return refuse(self, 501);
        }
        let Some(number) =
            Uri::parse(&target).and_then(|u| u.user_decoded().map(|u| u.into_owned()))
        else {
            return refuse(self, 416);
        };
        let Some(route) = self.cfg.route(&number).cloned() else {
            return refuse(self, 404);
        };
        let queue = route.queue.get_ref().clone();
        let Some(leg) = self.legs.get(leg_id) else {
            return;
        };
        let (agent, proto) = (leg.agent.clone(), leg.proto);
        let resp = ResponseBuilder::new(msg, 202)
            .header("Contact", self.contact(proto))
            .build();
        self.respond(&key, resp, now);
        tracing::info!(call, agent = %agent, to = %number, queue = %queue, "blind transfer");
        self.notify_refer_result(now, leg_id, msg.cseq().seq, 200);

        // The agent's part ends; the caller goes back to waiting.
        self.router
            .call_ended_by(call, &agent, EndedBy::Transfer(number.clone()), now);
        self.bye_leg(now, leg_id);
        let music = self
            .music
            .get(&queue)
            .cloned()
            .unwrap_or_else(|| self.default_music.clone());
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.state = CallState::Queued;
        c.bridged_leg = None;
        c.bridged = None;
        c.agent = None;
        c.transfers.push(format!("{agent}>{number}"));
        c.queue = queue.clone();
        let (session, caller) = (c.session.id, c.caller.clone());
        self.media.unbridge(session);
        self.media.play(session, media::Leg::A, music, true);
        if let Err(e) = self
            .router
            .enqueue(call, &queue, route.priority, &caller, now)
        {
            tracing::warn!(call, queue = %queue, "transfer target refused the caller: {e:?}");
            self.hang_up(now, call, Party::Engine, "failed");
        }
    }

    /// The NOTIFY that tells the transferring phone how its REFER ended
    /// (RFC 3515 §2.4.5), closing the implicit subscription.
    fn notify_refer_result(&mut self, now: Instant, leg_id: &str, refer_seq: u32, status: u16) {
        let Some((r, branch, dest, proto)) = self.leg_request(leg_id, "NOTIFY") else {
            return;
        };
        let body = sipfrag(status);
        let r = r
            .header("Event", format!("refer;id={refer_seq}"))
            .header("Subscription-State", "terminated;reason=noresource")
            .header("Contact", self.contact(proto));
        let data = Bytes::from(r.build(Some(("message/sipfrag;version=2.0", body.as_bytes()))));
        self.tx
            .send_request(data, Method::Notify, &branch, dest, proto.reliable(), now);
    }
}
