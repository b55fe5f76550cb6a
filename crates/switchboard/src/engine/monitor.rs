//! Supervisor monitoring: the engine calls the supervisor's phone and
//! adds it to a bridged call as media leg C.
//!
//! Started from the admin API (`POST /api/v1/calls/{id}/monitor`), the way
//! a supervisor's desktop drives it in Amazon Connect or Genesys: the
//! supervisor's registered phone rings; once it answers it hears the call
//! (listen), coaches the agent without the caller hearing (whisper), or
//! joins it (barge). Keys on the supervisor's phone switch the mode during
//! the call, like Asterisk's ChanSpy: `1` listen, `2` whisper, `3` barge,
//! `#` leave. The call ends the monitor leg; the monitor leg never ends
//! the call.

use std::time::Instant;

use media::MonitorMode;
use serde_json::{json, Value};
use sip_core::sdp::{self, Sdp};
use sip_core::Message;

use super::agent_leg::{LegRole, LegState, LegTarget};
use super::caller::{media_codec, CallState};
use super::commands::Refused;
use super::Engine;

/// A supervisor on a call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Monitor {
    pub supervisor: String,
    pub mode: MonitorMode,
    /// Call-ID of the leg to the supervisor's phone.
    #[serde(skip)]
    pub leg: String,
    pub answered: bool,
}

impl Engine {
    /// Starts monitoring `call_id` from `supervisor`'s phone, or changes
    /// the mode of the supervisor already on it.
    pub(super) fn admin_monitor(
        &mut self,
        now: Instant,
        call_id: &str,
        supervisor: &str,
        mode: MonitorMode,
    ) -> Result<Value, Refused> {
        let Some(&key) = self.by_call_id.get(call_id) else {
            return Err(Refused::unknown("call", call_id));
        };
        let Some(c) = self.calls.get_mut(&key) else {
            return Err(Refused::unknown("call", call_id));
        };
        let conflict = |msg: String| Refused::new(409, msg, json!({ "call": call_id }));
        if let Some(m) = c.monitor.as_mut() {
            if m.supervisor != supervisor {
                return Err(conflict(format!(
                    "call is already monitored by {:?}",
                    m.supervisor
                )));
            }
            m.mode = mode;
            if m.answered {
                self.media.monitor(c.session.id, Some(mode));
            }
            tracing::info!(supervisor, ?mode, "monitor mode changed");
            return Ok(monitor_view(call_id, c.monitor.as_ref()));
        }
        if c.state != CallState::Bridged {
            return Err(conflict("call is not with an agent".into()));
        }
        if c.agent.as_deref() == Some(supervisor) {
            return Err(conflict("the supervisor is the call's agent".into()));
        }
        if self.cfg.agent(supervisor).is_none() {
            return Err(Refused::unknown("agent", supervisor));
        }
        let Some(binding) = self.registrar.binding(supervisor).cloned() else {
            return Err(Refused::new(
                409,
                format!("supervisor {supervisor:?} is not registered"),
                json!({ "agent": supervisor }),
            ));
        };
        let port = match self.media.attach_monitor(c.session.id) {
            Ok(addr) => addr.port(),
            Err(e) => {
                return Err(Refused::new(
                    503,
                    format!("no media port for the supervisor: {e}"),
                    json!({ "call": call_id }),
                ))
            }
        };
        let target = LegTarget::registered(&binding, supervisor, LegRole::Monitor { port });
        let session = c.session.id;
        let Some(leg) = self.send_leg_invite(now, key, target) else {
            self.media.detach_monitor(session);
            return Err(Refused::unknown("call", call_id));
        };
        tracing::info!(supervisor, ?mode, "calling supervisor to monitor");
        let c = self.calls.get_mut(&key).expect("call checked above");
        c.monitor = Some(Monitor {
            supervisor: supervisor.to_string(),
            mode,
            leg,
            answered: false,
        });
        Ok(monitor_view(call_id, c.monitor.as_ref()))
    }

    /// Takes the supervisor off the call (BYE or CANCEL to its phone).
    pub(super) fn admin_unmonitor(
        &mut self,
        now: Instant,
        call_id: &str,
    ) -> Result<Value, Refused> {
        let Some(&key) = self.by_call_id.get(call_id) else {
            return Err(Refused::unknown("call", call_id));
        };
        let leg = self
            .calls
            .get(&key)
            .and_then(|c| c.monitor.as_ref())
            .map(|m| m.leg.clone())
            .ok_or_else(|| {
                Refused::new(409, "call is not monitored", json!({ "call": call_id }))
            })?;
        self.leave_monitor(now, &leg);
        Ok(monitor_view(call_id, None))
    }

    /// The supervisor's phone answered: attach it to the mix.
    pub(super) fn monitor_answered(&mut self, now: Instant, leg_id: &str, msg: &Message) {
        // (`now` is for the BYE of an unwanted answer.)
        let Some(leg) = self.legs.get(leg_id) else {
            return;
        };
        let call = leg.call;
        let live = self
            .calls
            .get(&call)
            .and_then(|c| c.monitor.as_ref())
            .is_some_and(|m| m.leg == leg_id);
        let answer = Sdp::parse(&msg.body()).ok();
        let remote = answer.as_ref().and_then(sdp::remote_audio);
        let (Some((remote, format)), true) = (remote, live) else {
            // Late answer after we gave up, or no usable SDP.
            self.bye_leg(now, leg_id);
            self.monitor_gone(leg_id);
            return;
        };
        let te = answer.as_ref().and_then(sdp::answer_telephone_event);
        if let Some(leg) = self.legs.get_mut(leg_id) {
            leg.state = LegState::Confirmed;
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(m) = c.monitor.as_mut() else { return };
        m.answered = true;
        let (session, mode) = (c.session.id, m.mode);
        let codec = media_codec(&format).unwrap_or(media::Codec::Pcmu);
        self.media.set_remote(session, media::Leg::C, remote, codec);
        self.media.set_telephone_event(session, media::Leg::C, te);
        self.media
            .detect_inband_dtmf(session, media::Leg::C, te.is_none());
        self.media.monitor(session, Some(mode));
        self.counters.monitors += 1;
        tracing::info!(supervisor = %m.supervisor, ?mode, "supervisor on the call");
    }

    /// A key on the supervisor's phone: switch mode, or leave.
    pub(super) fn monitor_key(&mut self, now: Instant, session: media::SessionId, digit: char) {
        let Some(c) = self.calls.values_mut().find(|c| c.session.id == session) else {
            return;
        };
        let Some(m) = c.monitor.as_mut() else { return };
        let mode = match digit {
            '1' => MonitorMode::Listen,
            '2' => MonitorMode::Whisper,
            '3' => MonitorMode::Barge,
            '#' => {
                let leg = m.leg.clone();
                return self.leave_monitor(now, &leg);
            }
            _ => return,
        };
        m.mode = mode;
        tracing::info!(supervisor = %m.supervisor, ?mode, "monitor mode from the keypad");
        self.media.monitor(session, Some(mode));
    }

    /// Takes the supervisor off: BYE to its phone once answered, CANCEL
    /// while it rings, and the call back to the plain relay.
    pub(super) fn leave_monitor(&mut self, now: Instant, leg_id: &str) {
        self.end_monitor_leg(now, leg_id);
        self.monitor_gone(leg_id);
    }

    /// Sends whatever ends the supervisor's leg: BYE once answered, CANCEL
    /// while ringing.
    pub(super) fn end_monitor_leg(&mut self, now: Instant, leg_id: &str) {
        match self.legs.get(leg_id).map(|l| l.state) {
            Some(LegState::Confirmed) => self.bye_leg(now, leg_id),
            Some(LegState::Calling | LegState::Ringing) => self.cancel_leg(now, leg_id),
            _ => {}
        }
    }

    /// The supervisor's leg is over (hung up, refused, removed): the call
    /// goes back to the plain relay and C's ports are freed. A leg still
    /// ending (our BYE or CANCEL outstanding) stays until its answer.
    pub(super) fn monitor_gone(&mut self, leg_id: &str) {
        let Some(leg) = self.legs.get(leg_id) else {
            return;
        };
        let call = leg.call;
        if !matches!(leg.state, LegState::Ending | LegState::Cancelling) {
            self.legs.remove(leg_id);
        }
        self.unmonitor(call, leg_id);
    }

    /// Forgets the call's supervisor if `leg_id` is its leg (the leg itself
    /// is already gone or going); detaching leg C stops the mix.
    pub(super) fn unmonitor(&mut self, call: router::CallKey, leg_id: &str) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.monitor.as_ref().is_some_and(|m| m.leg == leg_id) {
            if let Some(m) = c.monitor.take() {
                tracing::info!(supervisor = %m.supervisor, "supervisor left the call");
            }
            self.media.detach_monitor(c.session.id);
        }
    }
}

fn monitor_view(call_id: &str, m: Option<&Monitor>) -> Value {
    json!({ "call_id": call_id, "monitor": m })
}

impl Engine {
    /// Starts recording a call that was just bridged, when its queue
    /// records (`[[queue]] record = true`).
    pub(super) fn start_recording(&mut self, now: Instant, call: router::CallKey) {
        let stamp = crate::cdr::rfc3339(self.wall(now));
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let records = self
            .cfg
            .raw
            .queues
            .iter()
            .any(|q| q.get_ref().name == c.queue && q.get_ref().record);
        if !records || c.recording.is_some() {
            return;
        }
        let path = recording_path(&self.cfg.raw.media.recordings, &stamp, call, &c.call_id);
        tracing::info!(file = %path.display(), "recording the call");
        self.media.record(c.session.id, path.clone());
        c.recording = Some(path);
    }
}

/// `<dir>/<YYYY-MM-DD>/<HHMMSS>-<key>-<call-id>.wav`. The Call-ID comes
/// from the wire: only `[A-Za-z0-9._@-]` of it is kept (never a path
/// separator or a leading dot), at most 64 characters; the call key keeps
/// names unique.
fn recording_path(
    dir: &std::path::Path,
    rfc3339: &str,
    key: router::CallKey,
    call_id: &str,
) -> std::path::PathBuf {
    let date = rfc3339.get(..10).unwrap_or("undated");
    let time: String = rfc3339
        .get(11..19)
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let safe: String = call_id
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || "._@-".contains(ch) {
                ch
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    dir.join(date)
        .join(format!("{time}-{key}-{}.wav", safe.trim_start_matches('.')))
}

#[cfg(test)]
mod tests {
    #[test]
    fn recording_paths_are_safe() {
        let p = super::recording_path(
            std::path::Path::new("rec"),
            "2026-12-05T01:02:03.456Z",
            7,
            "../../etc/passwd\0x@host",
        );
        assert_eq!(
            p,
            std::path::Path::new("rec/2026-12-05/010203-7-_.._etc_passwd_x@host.wav")
        );
        assert_eq!(p.components().count(), 3, "no separator from the Call-ID");
    }
}
