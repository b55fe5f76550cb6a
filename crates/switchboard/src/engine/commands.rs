//! Requests from the admin API (and signals) to the engine, answered
//! inside the engine task so they see one consistent state.

use std::time::Instant;

use tokio::sync::oneshot;

use super::Engine;

/// One admin request. Replies go back on the enclosed channel.
#[non_exhaustive]
pub enum Command {
    /// Live state as JSON (`/api/v1/status`).
    Snapshot(oneshot::Sender<serde_json::Value>),
    /// Stop accepting new calls; live calls continue.
    Drain,
}

impl Engine {
    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::Snapshot(reply) => {
                let _ = reply.send(self.snapshot(now));
            }
            Command::Drain => self.drain(),
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
            "router": serde_json::to_value(self.router().snapshot(now)).unwrap_or_default(),
        })
    }
}
