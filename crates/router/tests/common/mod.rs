//! A simulated clock around a router.
#![allow(dead_code, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use router::*;

pub fn skills(s: &[(&str, u8)]) -> BTreeMap<String, u8> {
    s.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

pub fn agent(id: &str, s: &[(&str, u8)]) -> AgentConfig {
    AgentConfig {
        id: id.into(),
        skills: skills(s),
        ..Default::default()
    }
}

pub fn queue(name: &str, require: &[(&str, u8)], strategy: Strategy) -> QueueConfig {
    QueueConfig {
        name: name.into(),
        require: skills(require),
        strategy,
        ..Default::default()
    }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub struct Sim {
    pub r: Router,
    pub t0: Instant,
    pub now: Instant,
    pub log: Vec<RouterEvent>,
}

impl Sim {
    pub fn new(cfg: RouterConfig) -> Sim {
        let t0 = Instant::now();
        Sim {
            r: Router::new(cfg, t0),
            t0,
            now: t0,
            log: Vec::new(),
        }
    }

    /// Logs in every agent (in order).
    pub fn with_all_logged_in(cfg: RouterConfig) -> Sim {
        let ids: Vec<String> = cfg.agents.iter().map(|a| a.id.clone()).collect();
        let mut s = Sim::new(cfg);
        for id in ids {
            s.r.agent_login(&id, s.now).unwrap();
        }
        s.drain();
        s
    }

    /// Moves the clock, firing every deadline on the way at its own time.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.r.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.r.handle_timeout(self.now);
        }
        self.now = end;
        self.r.handle_timeout(self.now);
    }

    pub fn drain(&mut self) -> Vec<RouterEvent> {
        let mut out = Vec::new();
        while let Some(e) = self.r.poll_event() {
            out.push(e);
        }
        self.log.extend(out.iter().cloned());
        out
    }

    /// Offers among the pending events (other events are dropped).
    pub fn offers(&mut self) -> Vec<(CallKey, String)> {
        self.drain()
            .into_iter()
            .filter_map(|e| match e {
                RouterEvent::Offer { call, agent, .. } => Some((call, agent)),
                _ => None,
            })
            .collect()
    }

    pub fn enqueue(&mut self, call: CallKey, q: &str, prio: u8) {
        self.r
            .enqueue(call, q, prio, &format!("caller{call}"), self.now)
            .unwrap();
    }

    pub fn answer(&mut self, call: CallKey, agent: &str) {
        self.r.ring_answered(call, agent, self.now);
    }

    pub fn end(&mut self, call: CallKey, agent: &str) {
        self.r.call_ended(call, agent, self.now);
    }

    pub fn state(&self, agent: &str) -> AgentState {
        self.r.agent_state(agent).unwrap()
    }

    /// Answer the only offer pending and return it.
    pub fn answer_next(&mut self) -> (CallKey, String) {
        let o = self.offers();
        assert_eq!(o.len(), 1, "expected one offer, got {o:?}");
        let (c, a) = o[0].clone();
        self.answer(c, &a);
        (c, a)
    }
}
