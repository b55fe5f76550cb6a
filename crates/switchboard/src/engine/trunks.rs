//! Outbound trunks: probed with OPTIONS, marked down when they stop
//! answering and up again when they answer; overflow calls go out through
//! the first trunk that is up and fail over to the next on timeout or 5xx.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use router::CallKey;
use sip_core::transaction::{new_branch, TxKey};
use sip_core::{Message, Method, RequestBuilder};

use super::agent_leg::{LegTarget, TrunkAttempt};
use super::finish::Party;
use super::{new_tag, Engine, Timer};
use crate::transport::Proto;

/// Default time between OPTIONS probes of an outbound trunk.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, serde::Serialize)]
pub struct TrunkState {
    pub name: String,
    pub dest: SocketAddr,
    pub up: bool,
    #[serde(skip)]
    pub interval: Duration,
    /// The probe in flight: its Call-ID and transaction.
    #[serde(skip)]
    probe: Option<(String, TxKey)>,
}

impl Engine {
    /// (Re)builds the outbound trunk table from the config; a trunk that
    /// keeps its name and destination keeps its up/down state.
    pub(super) fn load_trunks(&mut self, now: Instant) {
        let old = std::mem::take(&mut self.trunks);
        for &(index, dest) in &self.cfg.outbound {
            let t = self.cfg.raw.trunks[index].get_ref();
            let prev = old.iter().find(|o| o.name == t.name && o.dest == dest);
            self.trunks.push(TrunkState {
                name: t.name.clone(),
                dest,
                up: prev.is_none_or(|p| p.up),
                interval: t.probe_interval.unwrap_or(PROBE_INTERVAL),
                probe: None,
            });
        }
        if !self.trunks.is_empty() {
            self.arm(now, Timer::ProbeTrunks);
        }
    }

    pub fn trunks(&self) -> &[TrunkState] {
        &self.trunks
    }

    /// Sends an OPTIONS to every outbound trunk without a probe in flight.
    pub(super) fn probe_trunks(&mut self, now: Instant) {
        for pos in 0..self.trunks.len() {
            if self.trunks[pos].probe.is_some() {
                continue;
            }
            let dest = self.trunks[pos].dest;
            let branch = new_branch();
            let call_id = format!("probe-{pos}-{}", new_tag());
            let uri = format!("sip:{dest}");
            let req = RequestBuilder::new("OPTIONS", &uri)
                .header("Via", self.via(&branch, Proto::Udp))
                .header("Max-Forwards", 70)
                .header(
                    "From",
                    format!("<sip:switchboard@{}>;tag={}", self.host, new_tag()),
                )
                .header("To", format!("<{uri}>"))
                .header("Call-ID", &call_id)
                .header("CSeq", "1 OPTIONS")
                .header("User-Agent", &self.cfg.raw.sip.user_agent)
                .build(None);
            let key =
                self.tx
                    .send_request(Bytes::from(req), Method::Options, &branch, dest, false, now);
            self.trunks[pos].probe = Some((call_id, key));
        }
        if let Some(every) = self.trunks.iter().map(|t| t.interval).min() {
            self.arm(now + every, Timer::ProbeTrunks);
        }
    }

    /// Any answer to a probe means the trunk is reachable. Returns false
    /// when `msg` is not a probe response.
    pub(super) fn probe_response(&mut self, msg: &Message) -> bool {
        let call_id = msg.call_id();
        let Some(t) = self
            .trunks
            .iter_mut()
            .find(|t| t.probe.as_ref().is_some_and(|(c, _)| c == call_id))
        else {
            return false;
        };
        if msg.status().is_some_and(|s| s >= 200) {
            t.probe = None;
            if !t.up {
                tracing::info!(trunk = %t.name, "trunk answers again: up");
            }
            t.up = true;
        }
        true
    }

    /// Timer F on a probe: the trunk is down. Returns false when `key` is
    /// not a probe.
    pub(super) fn probe_timeout(&mut self, key: &TxKey) -> bool {
        let Some(t) = self
            .trunks
            .iter_mut()
            .find(|t| t.probe.as_ref().is_some_and(|(_, k)| k == key))
        else {
            return false;
        };
        t.probe = None;
        if t.up {
            tracing::warn!(trunk = %t.name, "trunk does not answer OPTIONS: down");
        }
        t.up = false;
        true
    }

    /// Calls `number` for `call` through the first trunk at or after
    /// `from` that is up. False when no trunk is left.
    pub(super) fn dial_out(
        &mut self,
        now: Instant,
        call: CallKey,
        number: &str,
        from: usize,
    ) -> bool {
        for pos in from..self.trunks.len() {
            if !self.trunks[pos].up {
                continue;
            }
            let t = &self.trunks[pos];
            let uri = format!("sip:{number}@{}", t.dest);
            let target = LegTarget {
                to: format!("<{uri}>"),
                uri,
                dest: t.dest,
                proto: Proto::Udp,
                label: format!("trunk:{}", t.name),
                role: super::agent_leg::LegRole::Agent,
                flow: false,
                trunk: Some(TrunkAttempt {
                    position: pos,
                    number: number.to_string(),
                }),
            };
            tracing::info!(call, trunk = %t.name, number, "overflow: calling out");
            if self.send_leg_invite(now, call, target).is_some() {
                return true;
            }
        }
        false
    }

    /// An overflow leg failed: on timeout or 5xx the trunk is marked down
    /// and the next one tried; any other refusal ends the call.
    pub(super) fn trunk_failed(
        &mut self,
        now: Instant,
        call: CallKey,
        attempt: TrunkAttempt,
        status: Option<u16>,
    ) {
        let trunk_fault = status.is_none_or(|s| s == 408 || (500..600).contains(&s));
        if let Some(t) = self.trunks.get_mut(attempt.position) {
            tracing::warn!(trunk = %t.name, ?status, "overflow call failed on trunk");
            if trunk_fault {
                t.up = false;
            }
        }
        if trunk_fault && self.dial_out(now, call, &attempt.number, attempt.position + 1) {
            return;
        }
        self.hang_up(now, call, Party::Engine, "failed");
    }
}
