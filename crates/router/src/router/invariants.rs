//! Internal consistency checks, for tests (property tests call them after
//! every step). O(everything): never called by the router itself.

use std::collections::HashMap;

use crate::agent::AgentState;
use crate::call::CallState;
use crate::strategy::Strategy;

use super::Router;

impl Router {
    /// Checks every internal invariant; `Err` names the first one broken.
    /// For tests only.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let now = self.now;
        // Calls vs the sets holding them.
        let mut in_queue: HashMap<u32, usize> = HashMap::new();
        let mut ringing: HashMap<u32, usize> = HashMap::new();
        for (&k, c) in &self.calls {
            if c.ord.call != k {
                return Err(format!("call {k}: ord names {}", c.ord.call));
            }
            if c.in_queue() {
                *in_queue.entry(c.queue).or_default() += 1;
            }
            match &c.state {
                CallState::Detached => return Err(format!("call {k} left detached")),
                CallState::Waiting { bucket } => {
                    let b = &self.buckets[*bucket as usize];
                    if !b.waiting.contains(&c.ord) {
                        return Err(format!("call {k} not in its bucket"));
                    }
                    if self.call_bucket(c) != Some(*bucket) {
                        return Err(format!(
                            "call {k} in bucket {bucket}, expected step {} of its queue",
                            c.step
                        ));
                    }
                }
                CallState::Parked { agent } => {
                    if !self.agents[*agent as usize].parked.contains(&c.ord) {
                        return Err(format!("call {k} not parked at its agent"));
                    }
                }
                CallState::Ringing { legs, .. } => {
                    if legs.is_empty() {
                        return Err(format!("call {k} ringing nobody"));
                    }
                    for l in legs {
                        *ringing.entry(l.agent).or_default() += 1;
                        if !self.agents[l.agent as usize].ringing.contains(&k) {
                            return Err(format!(
                                "call {k} rings {} which does not know it",
                                l.agent
                            ));
                        }
                    }
                }
                CallState::Connected { .. } => {}
            }
        }
        for (q, qu) in self.queues.iter().enumerate() {
            let n = in_queue.get(&(q as u32)).copied().unwrap_or(0);
            if qu.in_queue != n || qu.by_prio.values().sum::<usize>() != n {
                return Err(format!(
                    "queue {}: in_queue {} by_prio {:?}, counted {n}",
                    qu.name, qu.in_queue, qu.by_prio
                ));
            }
        }
        let waiting_total: usize = self.buckets.iter().map(|b| b.waiting.len()).sum();
        let waiting_calls = self
            .calls
            .values()
            .filter(|c| matches!(c.state, CallState::Waiting { .. }))
            .count();
        if waiting_total != waiting_calls {
            return Err(format!(
                "{waiting_total} callers in buckets, {waiting_calls} waiting"
            ));
        }
        self.untidy.check()?;
        for (b, bk) in self.buckets.iter().enumerate() {
            if self.heads.get(b as u32) != bk.waiting.first().copied() {
                return Err(format!("bucket {b}: stale head"));
            }
            let per_member = bk.free.per_member();
            for k in &bk.free.entries() {
                let ag = &self.agents[k.agent as usize];
                if per_member {
                    // Exactly the entry the pool's membership names.
                    let m = ag.buckets.iter().find(|m| m.bucket == b as u32);
                    if m.and_then(|m| m.listed(k.agent)) != Some(*k) {
                        return Err(format!(
                            "bucket {b}: entry {k:?} of agent {} is not its listed one",
                            ag.id
                        ));
                    }
                    // A race key in the set is ahead of its tier's clock (what
                    // lets an agent keep it without reading the set).
                    let random = matches!(
                        self.queues[bk.queue as usize].cfg.strategy,
                        Strategy::Random | Strategy::WeightedRandom
                    );
                    if random && f64::from_bits(k.primary) < bk.memory.virtual_time(k.tier) {
                        return Err(format!(
                            "bucket {b}: race key {k:?} of agent {} behind its tier's clock",
                            ag.id
                        ));
                    }
                }
                // Other entries are stale and dropped lazily.
                let owner = ag
                    .buckets
                    .iter()
                    .any(|m| m.bucket == b as u32 && m.pool == b as u32);
                if ag.entry_valid(k, per_member, now) && !owner {
                    return Err(format!(
                        "bucket {b}: free agent {} has an entry {k:?} but no membership",
                        ag.id
                    ));
                }
            }
            let mut current: Vec<u32> = bk
                .free
                .entries()
                .iter()
                .filter(|k| self.agents[k.agent as usize].entry_valid(k, per_member, now))
                .map(|k| k.agent)
                .collect();
            current.sort_unstable();
            if current.windows(2).any(|w| w[0] == w[1]) {
                return Err(format!("bucket {b}: an agent listed twice"));
            }
            let ready = self
                .agents
                .iter()
                .filter(|a| a.ready() && a.buckets.iter().any(|m| m.bucket == b as u32))
                .count();
            if ready != bk.ready as usize {
                return Err(format!("bucket {b}: ready {} counted {ready}", bk.ready));
            }
        }
        for ag in &self.agents {
            let flags = (
                !matches!(ag.state, AgentState::LoggedOut | AgentState::Paused),
                matches!(
                    ag.state,
                    AgentState::Ringing | AgentState::OnCall | AgentState::WrapUp
                ),
            );
            if ag.meter.flags() != flags {
                return Err(format!(
                    "agent {}: occupancy meter says {:?}, state {:?}",
                    ag.id,
                    ag.meter.flags(),
                    ag.state
                ));
            }
            if ag.joined.len() != ag.queues.len() || ag.joined.iter().any(|&j| j > self.now) {
                return Err(format!("agent {}: queue join times {:?}", ag.id, ag.joined));
            }
        }
        for (a, ag) in self.agents.iter().enumerate() {
            let r = ringing.get(&(a as u32)).copied().unwrap_or(0);
            if r != ag.ringing.len() {
                return Err(format!(
                    "agent {}: {} ringing, calls say {r}",
                    ag.id,
                    ag.ringing.len()
                ));
            }
            if ag.used() > ag.capacity() {
                return Err(format!(
                    "agent {}: {} calls, capacity {}",
                    ag.id,
                    ag.used(),
                    ag.capacity()
                ));
            }
            if ag.state != ag.derive_state() {
                return Err(format!(
                    "agent {}: state {:?} should be {:?}",
                    ag.id,
                    ag.state,
                    ag.derive_state()
                ));
            }
            if !ag.buckets.windows(2).all(|w| w[0].rank() < w[1].rank()) {
                return Err(format!("agent {}: memberships out of rank order", ag.id));
            }
            if let Some(m) = ag.buckets.iter().find(|m| {
                m.strategy != self.queues[m.queue as usize].cfg.strategy
                    || m.pool != self.buckets[m.bucket as usize].pool
            }) {
                return Err(format!("agent {}: membership {m:?} not its queue's", ag.id));
            }
            for m in &ag.buckets {
                if let Some(k) = m.listed(a as u32) {
                    let set = &self.buckets[m.bucket as usize].free;
                    if m.bucket != m.pool || !set.per_member() || !set.entries().contains(&k) {
                        return Err(format!(
                            "agent {}: listed entry {k:?} missing from bucket {}",
                            ag.id, m.bucket
                        ));
                    }
                }
            }
            if ag.is_free(now) {
                if !ag.listed {
                    return Err(format!("agent {} free but not listed", ag.id));
                }
                // In every free set it serves, with a current entry.
                for m in ag.buckets.iter().filter(|m| m.bucket == m.pool) {
                    let set = &self.buckets[m.bucket as usize].free;
                    let present = set
                        .entries()
                        .iter()
                        .any(|k| k.agent == a as u32 && ag.entry_valid(k, set.per_member(), now));
                    if !present {
                        return Err(format!(
                            "agent {} free but missing from bucket {}",
                            ag.id, m.bucket
                        ));
                    }
                }
                // Nobody waits while an agent able to serve them is free.
                if !ag.parked.is_empty() {
                    return Err(format!("agent {} free with parked callers", ag.id));
                }
                for m in &ag.buckets {
                    if let Some(h) = self.heads.get(m.bucket) {
                        return Err(format!(
                            "agent {} free while call {} waits in its bucket",
                            ag.id, h.call
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
