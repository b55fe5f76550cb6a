//! Requests from the admin API (and signals) to the engine, answered
//! inside the engine task so they see one consistent state.
//!
//! Reads return JSON views; actions return the new view or a [`Refused`]
//! that says whose fault it was and maps to an HTTP status (404 for an
//! unknown name, 409 for a transition the current state does not allow).

use std::sync::Arc;
use std::time::Instant;

use router::{AgentState, RouterError};
use serde_json::{json, Value};
use sip_core::ResponseBuilder;
use tokio::sync::oneshot;

use super::caller::CallState;
use super::finish::Party;
use super::{Call, Engine, ReloadReport};
use crate::config::Config;

/// One admin request. Replies go back on the enclosed channel.
#[non_exhaustive]
pub enum Command {
    /// Live state as JSON (`/api/v1/status`).
    Snapshot(oneshot::Sender<serde_json::Value>),
    /// Stop accepting new calls; live calls continue.
    Drain,
    /// The running configuration (the admin server reads its path and token).
    Config(oneshot::Sender<Arc<Config>>),
    /// A read-only view.
    Query(Query, oneshot::Sender<Result<Value, Refused>>),
    /// Change an agent's state.
    Agent {
        id: String,
        action: AgentAction,
        reply: oneshot::Sender<Result<Value, Refused>>,
    },
    /// End a call (queued: 480 to the caller; bridged: BYE both legs).
    Hangup {
        call_id: String,
        reply: oneshot::Sender<Result<Value, Refused>>,
    },
    /// Move a waiting caller to another queue.
    Move {
        call_id: String,
        queue: String,
        reply: oneshot::Sender<Result<Value, Refused>>,
    },
    /// Put a supervisor on a bridged call, or change its mode.
    Monitor {
        call_id: String,
        supervisor: String,
        mode: media::MonitorMode,
        reply: oneshot::Sender<Result<Value, Refused>>,
    },
    /// Take the supervisor off a call.
    Unmonitor {
        call_id: String,
        reply: oneshot::Sender<Result<Value, Refused>>,
    },
    /// Apply a configuration already loaded and validated.
    Reload(Box<Config>, oneshot::Sender<ReloadReport>),
    /// Refresh the state gauges before `/metrics` renders.
    Metrics(oneshot::Sender<()>),
}

/// What [`Command::Query`] reads.
#[derive(Debug, Clone)]
pub enum Query {
    Queues,
    Queue(String),
    Agents,
    Agent(String),
    Calls,
    Call(String),
    /// Queues, agents and totals in one object (wallboard).
    Wallboard,
}

/// Agent state changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    Login,
    Logout,
    Pause(Option<String>),
    Unpause,
}

/// A request the engine refused: HTTP status and a JSON body whose
/// `error` field names the thing.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

impl Refused {
    pub fn new(status: u16, error: impl Into<String>, extra: Value) -> Refused {
        let mut body = json!({ "error": error.into() });
        if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
            b.extend(extra);
        }
        Refused { status, body }
    }

    pub(super) fn unknown(kind: &str, name: &str) -> Refused {
        Refused::new(
            404,
            format!("unknown {kind} {name:?}"),
            json!({ kind: name }),
        )
    }

    fn conflict(agent: &str, state: AgentState, error: String) -> Refused {
        Refused::new(409, error, json!({ "agent": agent, "state": state }))
    }
}

impl Engine {
    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::Snapshot(reply) => {
                let _ = reply.send(self.snapshot(now));
            }
            Command::Drain => self.drain(),
            Command::Config(reply) => {
                let _ = reply.send(Arc::clone(&self.cfg));
            }
            Command::Query(q, reply) => {
                let _ = reply.send(self.query(now, q));
            }
            Command::Agent { id, action, reply } => {
                let r = self.agent_action(now, &id, action);
                self.after_input(now);
                let r = r.and_then(|()| self.query(now, Query::Agent(id)));
                let _ = reply.send(r);
            }
            Command::Hangup { call_id, reply } => {
                let _ = reply.send(self.admin_hangup(now, &call_id));
            }
            Command::Move {
                call_id,
                queue,
                reply,
            } => {
                let _ = reply.send(self.admin_move(now, &call_id, &queue));
            }
            Command::Monitor {
                call_id,
                supervisor,
                mode,
                reply,
            } => {
                let _ = reply.send(self.admin_monitor(now, &call_id, &supervisor, mode));
            }
            Command::Unmonitor { call_id, reply } => {
                let _ = reply.send(self.admin_unmonitor(now, &call_id));
            }
            Command::Reload(cfg, reply) => {
                let _ = reply.send(self.reload(*cfg, now));
            }
            Command::Metrics(reply) => {
                self.export_metrics(now);
                let _ = reply.send(());
            }
        }
        self.after_input(now);
    }

    /// Live state for the API.
    pub fn snapshot(&self, now: Instant) -> serde_json::Value {
        let calls: Vec<serde_json::Value> = self
            .calls()
            .map(|c| {
                serde_json::json!({
                    "call_id": c.call_id, "caller": c.caller, "queue": c.queue,
                    "state": c.state, "agent": c.agent,
                })
            })
            .collect();
        let registrations: serde_json::Map<String, serde_json::Value> = self
            .registrar()
            .bindings()
            .map(|(a, b)| (a.clone(), serde_json::to_value(b).unwrap_or_default()))
            .collect();
        serde_json::json!({
            "draining": self.is_draining(),
            "calls": calls,
            "registrations": registrations,
            "counters": self.counters,
            "media": { "ports_in_use": self.media.ports_in_use(), "sessions": self.media.sessions() },
            "transactions": self.tx.len(),
            "trunks": self.trunks(),
            "router": serde_json::to_value(self.router().snapshot(now)).unwrap_or_default(),
        })
    }

    fn query(&self, now: Instant, q: Query) -> Result<Value, Refused> {
        match q {
            Query::Queues => {
                let snap = self.router.snapshot(now);
                let queues: Vec<Value> = snap.queues.iter().map(queue_view).collect();
                Ok(json!({ "queues": queues }))
            }
            Query::Queue(name) => {
                let snap = self.router.snapshot(now);
                let q = snap
                    .queues
                    .iter()
                    .find(|q| q.name == name)
                    .ok_or_else(|| Refused::unknown("queue", &name))?;
                let mut v = queue_view(q);
                let mut calls: Vec<&Call> =
                    self.calls.values().filter(|c| c.queue == name).collect();
                calls.sort_by_key(|c| c.arrived);
                v["calls"] = calls.iter().map(|c| self.call_view(now, c)).collect();
                Ok(v)
            }
            Query::Agents => {
                let snap = self.router.snapshot(now);
                let agents: Vec<Value> = snap.agents.iter().map(|a| self.agent_view(a)).collect();
                Ok(json!({ "agents": agents }))
            }
            Query::Agent(id) => {
                let snap = self.router.snapshot(now);
                snap.agents
                    .iter()
                    .find(|a| a.id == id)
                    .map(|a| self.agent_view(a))
                    .ok_or_else(|| Refused::unknown("agent", &id))
            }
            Query::Calls => {
                let mut calls: Vec<&Call> = self.calls.values().collect();
                calls.sort_by_key(|c| c.arrived);
                let calls: Vec<Value> = calls.iter().map(|c| self.call_view(now, c)).collect();
                Ok(json!({ "calls": calls }))
            }
            Query::Call(call_id) => self
                .by_call_id
                .get(&call_id)
                .and_then(|k| self.calls.get(k))
                .map(|c| self.call_view(now, c))
                .ok_or_else(|| Refused::unknown("call", &call_id)),
            Query::Wallboard => {
                let snap = self.router.snapshot(now);
                let queues: Vec<Value> = snap.queues.iter().map(queue_view).collect();
                let agents: Vec<Value> = snap.agents.iter().map(|a| self.agent_view(a)).collect();
                let mut states = router::StateCounts::default();
                for a in &snap.agents {
                    count_state(&mut states, a.state);
                }
                let bridged = self
                    .calls
                    .values()
                    .filter(|c| c.state == CallState::Bridged)
                    .count();
                Ok(json!({
                    "draining": self.draining,
                    "calls": { "active": self.calls.len(), "bridged": bridged,
                               "queued": self.calls.len() - bridged },
                    "agent_states": states,
                    "queues": queues,
                    "agents": agents,
                }))
            }
        }
    }

    fn agent_view(&self, a: &router::AgentSnapshot) -> Value {
        let cfg = self.cfg.agent(&a.id);
        let binding = self.registrar.binding(&a.id);
        let mut v = serde_json::to_value(a).unwrap_or_default();
        v["name"] = json!(cfg.and_then(|c| c.name.clone()));
        v["registered"] = json!(binding.is_some());
        v["contact"] = json!(binding.map(|b| b.contact.clone()));
        v
    }

    fn call_view(&self, now: Instant, c: &Call) -> Value {
        let secs = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64();
        let status = self.router.call_status(c.key, now);
        json!({
            "call_id": c.call_id,
            "caller": c.caller,
            "called": c.called,
            "trunk": c.trunk,
            "queue": c.queue,
            "state": c.state,
            "agent": c.agent,
            "router": status,
            "ringing_agents": c.ringing.iter()
                .filter_map(|l| self.legs.get(l).map(|l| l.agent.clone()))
                .collect::<Vec<_>>(),
            "age_seconds": secs(c.arrived, now),
            "wait_seconds": secs(c.arrived, c.bridged.unwrap_or(now)),
            "talk_seconds": c.bridged.map(|b| secs(b, now)),
            // A second behind at most for streams forwarded in the kernel:
            // no system call per call in listings.
            "rtp": c.session.stats.snapshot_folded(),
            "monitor": c.monitor,
            "recording": c.recording,
        })
    }

    fn agent_action(&mut self, now: Instant, id: &str, action: AgentAction) -> Result<(), Refused> {
        let Some(state) = self.router.agent_state(id) else {
            return Err(Refused::unknown("agent", id));
        };
        let paused = state == AgentState::Paused
            || self
                .router
                .snapshot(now)
                .agents
                .iter()
                .any(|a| a.id == id && a.pause_reason.is_some());
        let logged_in = state != AgentState::LoggedOut;
        let r = match action {
            AgentAction::Login if logged_in => {
                return Err(Refused::conflict(
                    id,
                    state,
                    format!("agent {id:?} is already logged in"),
                ))
            }
            AgentAction::Login if self.registrar.binding(id).is_none() => {
                return Err(Refused::conflict(
                    id,
                    state,
                    format!("agent {id:?} has no registered phone: register it first"),
                ))
            }
            AgentAction::Login => self.router.agent_login(id, now),
            AgentAction::Logout if !logged_in => {
                return Err(Refused::conflict(
                    id,
                    state,
                    format!("agent {id:?} is not logged in"),
                ))
            }
            AgentAction::Logout => self.router.agent_logout(id, now),
            AgentAction::Pause(reason) => self.router.agent_pause(id, reason, now),
            AgentAction::Unpause if logged_in && !paused => {
                return Err(Refused::conflict(
                    id,
                    state,
                    format!("agent {id:?} is not paused"),
                ))
            }
            AgentAction::Unpause => self.router.agent_unpause(id, now),
        };
        tracing::info!(agent = %id, ok = r.is_ok(), "admin: agent state change");
        r.map_err(|e| match e {
            RouterError::UnknownAgent(_) => Refused::unknown("agent", id),
            other => Refused::conflict(id, state, other.to_string()),
        })
    }

    /// Admin hang-up. A caller still waiting gets `480` (never answered:
    /// outcome `failed`); a bridged call gets BYE on both legs (outcome
    /// `completed`). Either way the call writes its CDR now.
    /// Moves a waiting caller to `queue`, keeping its priority and entry
    /// order; its music follows (the router's `Moved`). 404 for an unknown
    /// call or queue, 409 when the caller is already with an agent.
    fn admin_move(&mut self, now: Instant, call_id: &str, queue: &str) -> Result<Value, Refused> {
        let Some(&key) = self.by_call_id.get(call_id) else {
            return Err(Refused::unknown("call", call_id));
        };
        match self.router.move_call(key, queue, now) {
            Ok(()) => {
                tracing::info!(call_id = %call_id, to = %queue, "admin: move to another queue");
                self.after_input(now);
                Ok(json!({ "call_id": call_id, "queue": queue }))
            }
            Err(router::RouterError::UnknownQueue(q)) => Err(Refused::unknown("queue", &q)),
            Err(e) => Err(Refused::new(409, e.to_string(), json!({ "call": call_id }))),
        }
    }

    fn admin_hangup(&mut self, now: Instant, call_id: &str) -> Result<Value, Refused> {
        let Some(&key) = self.by_call_id.get(call_id) else {
            return Err(Refused::unknown("call", call_id));
        };
        let Some(c) = self.calls.get_mut(&key) else {
            return Err(Refused::unknown("call", call_id));
        };
        tracing::info!(call_id = %call_id, queue = %c.queue, "admin: hang up");
        let was = c.state;
        if let Some(tx) = c.invite_tx.take() {
            let resp = ResponseBuilder::new(&c.invite, 480)
                .to_tag(&c.dialog.id.local_tag)
                .header(
                    "Reason",
                    "SIP;cause=480;text=\"Disconnected by supervisor\"",
                )
                .build();
            self.respond(&tx, resp, now);
            self.end_call(now, key, Party::Engine, "failed", Some(480));
        } else {
            let outcome = if was == CallState::Bridged {
                "completed"
            } else {
                "failed"
            };
            self.hang_up(now, key, Party::Engine, outcome);
        }
        Ok(json!({ "call_id": call_id, "ended": true }))
    }

    fn export_metrics(&self, now: Instant) {
        let snap = self.router.snapshot(now);
        let bridged = self
            .calls
            .values()
            .filter(|c| c.state == CallState::Bridged)
            .count();
        let [lo, hi] = *self.cfg.raw.media.rtp_ports.get_ref();
        crate::metrics::export(&crate::metrics::EngineState {
            queued: self.calls.len() - bridged,
            bridged,
            transactions: self.tx.len(),
            registrations: self.registrar.len(),
            ports_in_use: self.media.ports_in_use(),
            ports: usize::from(hi.saturating_sub(lo)) + 1,
            sessions: self.media.sessions(),
            kernel_forwarding: self.media.kernel_forwarding(),
            counters: &self.counters,
            router: &snap,
            live_rtp: self
                .calls
                .values()
                // No system call per call at scrape time (a second behind
                // at most for streams forwarded in the kernel).
                .map(|c| c.session.stats.snapshot_folded())
                .collect(),
        });
    }
}

fn queue_view(q: &router::QueueSnapshot) -> Value {
    let mut v = serde_json::to_value(q).unwrap_or_default();
    v["service_level_pct"] = json!(q.windows.first().and_then(|w| w.service_level_pct));
    v
}

fn count_state(c: &mut router::StateCounts, s: AgentState) {
    match s {
        AgentState::LoggedOut => c.logged_out += 1,
        AgentState::Available => c.available += 1,
        AgentState::Ringing => c.ringing += 1,
        AgentState::OnCall => c.on_call += 1,
        AgentState::WrapUp => c.wrap_up += 1,
        AgentState::Paused => c.paused += 1,
    }
}
