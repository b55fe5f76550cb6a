//! Ending a call: whatever each leg still needs (final response, BYE or
//! CANCEL), the router told, the media ports released, and one CDR written.

use std::time::Instant;

use bytes::Bytes;
use router::CallKey;
use sip_core::{Method, ResponseBuilder};

use super::agent_leg::LegState;
use super::Engine;
use crate::cdr::{rfc3339, Cdr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Caller,
    Agent,
    Engine,
}

impl Party {
    fn as_str(self) -> &'static str {
        match self {
            Party::Caller => "caller",
            Party::Agent => "agent",
            Party::Engine => "engine",
        }
    }
}

impl Engine {
    /// `by` ended the call (BYE, queue exit, RTP timeout, admin hang-up).
    pub(crate) fn hang_up(
        &mut self,
        now: Instant,
        call: CallKey,
        by: Party,
        outcome: &'static str,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let mut status = None;
        if let Some(key) = c.invite_tx.take() {
            // Still early: a final response instead of a BYE.
            let code = if outcome == "timeout" { 480 } else { 500 };
            status = Some(code);
            let resp = ResponseBuilder::new(&c.invite, code)
                .to_tag(&c.dialog.id.local_tag)
                .build();
            self.respond(&key, resp, now);
        } else if by != Party::Caller {
            self.bye_caller(now, call);
        }
        self.end_call(now, call, by, outcome, status);
    }

    fn bye_caller(&mut self, now: Instant, call: CallKey) {
        let Some((r, branch, dest, proto)) = self.caller_request(call, "BYE") else {
            return;
        };
        let bye = Bytes::from(r.build(None));
        self.tx
            .send_request(bye, Method::Bye, &branch, dest, proto.reliable(), now);
    }

    /// Tears the call down once the caller's side is settled.
    pub(super) fn end_call(
        &mut self,
        now: Instant,
        call: CallKey,
        by: Party,
        outcome: &'static str,
        status: Option<u16>,
    ) {
        let Some(c) = self.calls.remove(&call) else {
            return;
        };
        self.by_call_id.remove(&c.call_id);
        for leg in &c.ringing {
            self.cancel_leg(now, leg);
        }
        if let Some(m) = &c.monitor {
            self.end_monitor_leg(now, &m.leg);
        }
        if let Some(leg) = &c.bridged_leg {
            if by != Party::Agent
                && self
                    .legs
                    .get(leg)
                    .is_some_and(|l| l.state == LegState::Confirmed)
            {
                self.bye_leg(now, leg);
            } else {
                self.legs.remove(leg);
            }
        }
        match (&c.agent, c.bridged) {
            // Overflowed through a trunk: the router let the call go at its exit.
            (Some(agent), Some(_)) if agent.starts_with("trunk:") => {}
            (Some(agent), Some(_)) => self.router.call_ended(call, agent, now),
            _ => self.router.abandon(call, now),
        }
        let stats = c.session.stats.snapshot();
        self.media.release(c.session.id);
        let outcome = if outcome == "completed" && c.bridged.is_none() {
            "abandoned"
        } else {
            outcome
        };
        match outcome {
            "completed" => self.counters.calls_completed += 1,
            "abandoned" => self.counters.calls_abandoned += 1,
            _ => self.counters.calls_failed += 1,
        }
        crate::metrics::call_ended(
            &c.queue,
            outcome,
            c.bridged
                .unwrap_or(now)
                .saturating_duration_since(c.arrived),
            &stats,
        );
        let secs =
            |a: Instant, b: Instant| (b.saturating_duration_since(a).as_millis() as f64) / 1000.0;
        let cdr = Cdr {
            call_id: c.call_id.clone(),
            caller: c.caller.clone(),
            called: c.called.clone(),
            trunk: Some(c.trunk.clone()),
            queue: Some(c.queue.clone()),
            agent: c.agent.clone(),
            arrived: rfc3339(self.wall(c.arrived)),
            answered: c.answered.map(|t| rfc3339(self.wall(t))),
            bridged: c.bridged.map(|t| rfc3339(self.wall(t))),
            ended: rfc3339(self.wall(now)),
            wait_seconds: secs(c.arrived, c.bridged.unwrap_or(now)),
            talk_seconds: c.bridged.map(|b| secs(b, now)).unwrap_or(0.0),
            hangup_by: by.as_str(),
            outcome,
            sip_status: status,
            agents_tried: c.agents_tried.clone(),
            dtmf: c.dtmf.clone(),
            transfers: c.transfers.clone(),
            rtp: Some(stats),
            recording: c.recording.as_ref().map(|p| p.display().to_string()),
        };
        tracing::info!(call_id = %c.call_id, outcome, hangup_by = by.as_str(), "call ended");
        if let Err(e) = self.cdr.write(&cdr) {
            tracing::error!(call_id = %c.call_id, "CDR write failed: {e}");
            self.counters.cdr_errors += 1;
        }
    }
}
