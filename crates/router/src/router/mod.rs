//! The [`Router`]: all agent and queue state, one owner, events in and
//! decisions out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::agent::{Agent, AgentState};
use crate::call::{Call, CallOrd, CallState};
use crate::config::RouterConfig;
use crate::error::RouterError;
use crate::event::{EndedBy, QueueLogEvent, RingFailure, RouterEvent};
use crate::free_set::Spares;
use crate::heads::Heads;
use crate::queue::{Bucket, Queue, Untidy};
use crate::stats::Rolling;
use crate::timers::Timers;
use crate::util::{dur_ns, ms, Clock, FxMap};
use crate::CallKey;

mod apply;
mod invariants;
mod routing;
mod timeouts;
mod variants;

/// Rolling-statistics slot length.
pub(crate) const STATS_SLOT_NS: u64 = 60 * 1_000_000_000;
/// Occupancy windows (router-wide).
pub(crate) const OCCUPANCY_WINDOWS: [Duration; 2] =
    [Duration::from_secs(15 * 60), Duration::from_secs(24 * 3600)];
/// A caller can overflow at most this many times.
const MAX_HOPS: u8 = 8;

/// Options for [`Router::enqueue_with`].
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    /// Offer this agent first and hold the caller for it up to the queue's
    /// `sticky_wait` (or `preferred_wait`), then fall back to any agent.
    pub preferred_agent: Option<String>,
    /// Overrides the queue's `sticky_wait` for `preferred_agent`.
    pub preferred_wait: Option<Duration>,
    /// Skills (with minimum levels) this caller needs on top of the queue's
    /// requirement, at every relaxation step (a higher level here wins).
    pub require: std::collections::BTreeMap<String, u8>,
}

/// Where a call is, for the engine and the admin API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum CallStatus {
    /// Waiting in a queue.
    Waiting {
        queue: String,
        position: usize,
        waited_ms: u64,
    },
    /// Being offered to these agents.
    Ringing { queue: String, agents: Vec<String> },
    /// Talking to an agent.
    Connected { queue: String, agent: String },
}

/// The ACD. See the crate documentation for the run loop.
#[derive(Debug)]
pub struct Router {
    pub(crate) clock: Clock,
    pub(crate) now: u64,
    pub(crate) agents: Vec<Agent>,
    pub(crate) agent_ix: FxMap<String, u32>,
    pub(crate) queues: Vec<Queue>,
    pub(crate) queue_ix: FxMap<String, u32>,
    pub(crate) buckets: Vec<Bucket>,
    /// Best waiting caller of each bucket (cache of `waiting.first()`).
    pub(crate) heads: Heads,
    pub(crate) skill_ix: FxMap<String, u16>,
    pub(crate) skill_names: Vec<String>,
    pub(crate) calls: FxMap<CallKey, Call>,
    pub(crate) timers: Timers,
    pub(crate) events: VecDeque<RouterEvent>,
    pub(crate) seq: u64,
    pub(crate) offer_seq: u64,
    /// caller -> (agent, when the agent last answered it).
    pub(crate) sticky: FxMap<String, (u32, u64)>,
    pub(crate) sticky_sweep_at: usize,
    /// Longest `sticky_window` of any queue (0: no queue is sticky).
    pub(crate) sticky_window: u64,
    pub(crate) occupancy: Rolling,
    /// Queues whose staffing dropped; checked against `leave_empty`.
    pub(crate) emptied: Vec<u32>,
    /// Agents freed during a timer batch, routed after it.
    pub(crate) deferred: Option<Vec<u32>>,
    /// Per agent: its listing generation while listed, else 0. A dense
    /// copy of `Agent::{listed, free_gen}` for sweeping stale free-set
    /// entries without touching every agent (may lag behind `listed`
    /// until the agent's next `refresh`: then it only keeps stale entries,
    /// which are dropped when met).
    pub(crate) live: Vec<u32>,
    /// How far back occupancy windows reach: the longest queue window plus
    /// one slot (agent meters keep their points from `now` minus this).
    pub(crate) occupancy_reach: u64,
    /// Empty free-set blocks and lists, shared by every set.
    pub(crate) spares: Spares,
    /// Free sets (pools) whose stale entries outgrew their limit, for
    /// [`Router::housekeep`].
    pub(crate) untidy: Untidy,
}

impl Router {
    /// A router with this configuration; every agent starts logged out.
    pub fn new(cfg: RouterConfig, now: Instant) -> Router {
        let mut r = Router {
            clock: Clock { epoch: now },
            now: 0,
            agents: Vec::new(),
            agent_ix: FxMap::default(),
            queues: Vec::new(),
            queue_ix: FxMap::default(),
            buckets: Vec::new(),
            heads: Heads::default(),
            skill_ix: FxMap::default(),
            skill_names: Vec::new(),
            calls: FxMap::default(),
            timers: Timers::default(),
            events: VecDeque::new(),
            seq: 0,
            offer_seq: 0,
            sticky: FxMap::default(),
            sticky_sweep_at: 1024,
            sticky_window: 0,
            occupancy: Rolling::new(STATS_SLOT_NS, dur_ns(OCCUPANCY_WINDOWS[1])),
            emptied: Vec::new(),
            deferred: None,
            live: Vec::new(),
            occupancy_reach: 0,
            spares: Spares::default(),
            untidy: Untidy::default(),
        };
        r.apply_config(cfg);
        r
    }

    /// Re-applies queues, skills and agents. Waiting callers keep their
    /// priority, entry time and order; agents keep their state, calls and
    /// counters. Callers of removed queues exit (`QueueRemoved`), offers to
    /// removed agents are cancelled.
    pub fn reload(&mut self, cfg: RouterConfig, now: Instant) {
        self.tick(now);
        let (agents, queues) = (cfg.agents.len(), cfg.queues.len());
        self.apply_config(cfg);
        self.log(QueueLogEvent::ConfigReload { agents, queues });
        self.finish();
    }

    /// The agent's phone registered: it becomes available.
    pub fn agent_login(&mut self, agent: &str, now: Instant) -> Result<(), RouterError> {
        self.tick(now);
        let a = self.agent_idx(agent)?;
        if self.agents[a as usize].logged_in {
            return Ok(());
        }
        {
            let ag = &mut self.agents[a as usize];
            ag.logged_in = true;
            ag.login_at = self.now;
            ag.paused = false;
            ag.pause_reason = None;
            ag.ready_at = 0;
            ag.calls_answered = 0;
            ag.talk_ns = 0;
            ag.no_answers = 0;
            ag.staffed_ns = 0;
            ag.busy_ns = 0;
        }
        self.log(QueueLogEvent::Login {
            agent: agent.to_string(),
        });
        self.route_agent(a);
        self.finish();
        Ok(())
    }

    /// The agent's registration expired or was removed: it is logged out.
    /// Offers ringing it are cancelled and their callers go back to waiting
    /// (keeping their place); talking calls continue until `call_ended`.
    pub fn agent_logout(&mut self, agent: &str, now: Instant) -> Result<(), RouterError> {
        self.tick(now);
        let a = self.agent_idx(agent)?;
        if !self.agents[a as usize].logged_in {
            return Ok(());
        }
        self.logout_idx(a);
        self.finish();
        Ok(())
    }

    /// Pause with an optional reason code. Ringing offers continue.
    pub fn agent_pause(
        &mut self,
        agent: &str,
        reason: Option<String>,
        now: Instant,
    ) -> Result<(), RouterError> {
        self.tick(now);
        let a = self.agent_idx(agent)?;
        if !self.agents[a as usize].logged_in {
            return Err(RouterError::NotLoggedIn(agent.to_string()));
        }
        self.pause_idx(a, reason);
        self.finish();
        Ok(())
    }

    /// Unpause: the agent is offered the best waiting caller at once.
    pub fn agent_unpause(&mut self, agent: &str, now: Instant) -> Result<(), RouterError> {
        self.tick(now);
        let a = self.agent_idx(agent)?;
        let ag = &mut self.agents[a as usize];
        if !ag.logged_in {
            return Err(RouterError::NotLoggedIn(agent.to_string()));
        }
        if ag.paused {
            ag.paused = false;
            ag.pause_reason = None;
            ag.no_answers = 0;
            self.log(QueueLogEvent::Unpause {
                agent: agent.to_string(),
            });
        }
        self.route_agent(a);
        self.finish();
        Ok(())
    }

    /// A caller joins a queue. Routing happens now: drain `poll_event`.
    /// Errors: `UnknownQueue`, `QueueFull` (at `max_len`, no overflow
    /// queue), `NoAgents` (`join_empty`), `DuplicateCall`.
    pub fn enqueue(
        &mut self,
        call: CallKey,
        queue: &str,
        priority: u8,
        caller: &str,
        now: Instant,
    ) -> Result<(), RouterError> {
        self.enqueue_with(
            call,
            queue,
            priority,
            caller,
            EnqueueOptions::default(),
            now,
        )
    }

    /// [`Router::enqueue`] with a preferred agent.
    pub fn enqueue_with(
        &mut self,
        call: CallKey,
        queue: &str,
        priority: u8,
        caller: &str,
        opts: EnqueueOptions,
        now: Instant,
    ) -> Result<(), RouterError> {
        self.tick(now);
        if self.calls.contains_key(&call) {
            return Err(RouterError::DuplicateCall(call));
        }
        let q = match self.queue_ix.get(queue) {
            Some(&q) if !self.queues[q as usize].removed => q,
            _ => return Err(RouterError::UnknownQueue(queue.to_string())),
        };
        self.seq += 1;
        let c = Call {
            ord: CallOrd {
                prio: 255 - priority,
                enter: self.now,
                seq: self.seq,
                call,
            },
            priority,
            queue: q,
            caller: caller.to_string(),
            queue_enter: self.now,
            step: 0,
            gen: 0,
            state: CallState::Detached,
            orig_position: 0,
            expired: false,
            hops: 0,
            preferred: None,
            park_until: 0,
            extra: opts.require.iter().map(|(s, &l)| (s.clone(), l)).collect(),
            variant: 0,
        };
        self.calls.insert(call, c);
        if let Some(p) = opts
            .preferred_agent
            .as_deref()
            .and_then(|p| self.agent_ix.get(p))
            .copied()
        {
            let wait = opts
                .preferred_wait
                .unwrap_or(self.queues[q as usize].cfg.sticky_wait);
            let c = self.calls.get_mut(&call).expect("just inserted");
            c.preferred = Some(p);
            c.park_until = self.now.saturating_add(dur_ns(wait));
        }
        let r = self.admit(call, q);
        if r.is_err() {
            self.calls.remove(&call);
        }
        self.finish();
        r
    }

    /// Moves a waiting caller to another queue (an admin's decision): offers
    /// ringing for it are cancelled (`CancelRing`), it keeps its priority and
    /// its original entry order, `Moved` tells the engine, and the queue log
    /// records an `overflow`. A caller already with an agent cannot be moved
    /// (`NotWaiting`); the target queue's limits apply as on entry, and a
    /// caller the target refuses leaves with `Exit`.
    pub fn move_call(&mut self, call: CallKey, to: &str, now: Instant) -> Result<(), RouterError> {
        self.tick(now);
        let to_q = match self.queue_ix.get(to) {
            Some(&q) if !self.queues[q as usize].removed => q,
            _ => return Err(RouterError::UnknownQueue(to.to_string())),
        };
        let Some(c) = self.calls.get(&call) else {
            return Err(RouterError::NotWaiting(call));
        };
        if matches!(c.state, CallState::Connected { .. }) {
            return Err(RouterError::NotWaiting(call));
        }
        let (q, waited) = (c.queue, self.now.saturating_sub(c.queue_enter));
        if q == to_q {
            return Ok(());
        }
        let freed = self.detach(call, true);
        let prio = self.calls[&call].ord.prio;
        let from = {
            let qu = &mut self.queues[q as usize];
            qu.remove_prio(prio);
            let st = qu.stats.at(self.now);
            st.exited += 1;
            st.overflowed += 1;
            qu.name.clone()
        };
        let to_name = self.queues[to_q as usize].name.clone();
        self.log(QueueLogEvent::Overflow {
            call,
            queue: from.clone(),
            to: to_name.clone(),
            wait_ms: ms(waited),
        });
        self.events.push_back(RouterEvent::Moved {
            call,
            from,
            to: to_name,
        });
        for a in freed {
            self.route_agent(a);
        }
        if let Err(e) = self.admit(call, to_q) {
            let reason = if e == RouterError::QueueFull {
                crate::ExitReason::Full
            } else {
                crate::ExitReason::Empty
            };
            let queue = self.queues[self.calls[&call].queue as usize].name.clone();
            self.calls.remove(&call);
            self.events.push_back(RouterEvent::Exit {
                call,
                queue,
                reason,
            });
        }
        self.finish();
        Ok(())
    }

    /// The caller hung up (or was cancelled) while waiting or ringing.
    /// Reserved agents are released with `CancelRing`. On a connected call
    /// this is `call_ended_by(.., EndedBy::Caller, ..)`.
    pub fn abandon(&mut self, call: CallKey, now: Instant) {
        self.tick(now);
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if let CallState::Connected { agent, .. } = c.state {
            self.end_call(call, agent, EndedBy::Caller);
            self.finish();
            return;
        }
        let q = c.queue;
        let waited = self.now.saturating_sub(c.queue_enter);
        let position = self.position(call);
        let orig_position = c.orig_position;
        let freed = self.detach(call, true);
        {
            let qu = &mut self.queues[q as usize];
            let short = waited < dur_ns(qu.cfg.short_abandon);
            let st = qu.stats.at(self.now);
            st.abandoned += 1;
            if short {
                st.short_abandoned += 1;
            }
        }
        let queue = self.queues[q as usize].name.clone();
        self.log(QueueLogEvent::Abandon {
            call,
            queue,
            position,
            orig_position,
            wait_ms: ms(waited),
        });
        self.drop_call(call);
        for a in freed {
            self.route_agent(a);
        }
        self.finish();
    }

    /// The agent answered. Other agents rung for this call get `CancelRing`.
    /// A late answer (after `RingTimeout`/`CancelRing`) gets `CancelRing`
    /// back for that agent.
    pub fn ring_answered(&mut self, call: CallKey, agent: &str, now: Instant) {
        self.tick(now);
        let Some(&a) = self.agent_ix.get(agent) else {
            return;
        };
        self.answer(call, a);
        self.finish();
    }

    /// The offer failed. The caller goes back to waiting (keeping its place)
    /// once no other agent rings for it. The agent is not offered anything
    /// for its reject / no-answer / unreachable delay, and is paused after
    /// `auto_pause_after` consecutive no-answers.
    pub fn ring_failed(&mut self, call: CallKey, agent: &str, why: RingFailure, now: Instant) {
        self.tick(now);
        let Some(&a) = self.agent_ix.get(agent) else {
            return;
        };
        self.fail_leg(call, a, why);
        self.finish();
    }

    /// The talk ended (side unknown, logged as `complete`). The agent wraps
    /// up for the queue's (or its own) wrap-up time, then becomes available.
    pub fn call_ended(&mut self, call: CallKey, agent: &str, now: Instant) {
        self.call_ended_by(call, agent, EndedBy::Unknown, now);
    }

    /// [`Router::call_ended`] saying who hung up (completeagent /
    /// completecaller / transfer in the queue log).
    pub fn call_ended_by(&mut self, call: CallKey, agent: &str, by: EndedBy, now: Instant) {
        self.tick(now);
        let Some(&a) = self.agent_ix.get(agent) else {
            return;
        };
        self.end_call(call, a, by);
        self.finish();
    }

    /// Runs everything due at `now`: ring timeouts, wrap-up ends, busy
    /// delays, relaxation steps, sticky holds, max-wait exits, announcements.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        self.finish();
    }

    /// Whether [`Router::housekeep`] has work: free sets holding more stale
    /// entries than their limit.
    pub fn housekeeping_pending(&self) -> bool {
        !self.untidy.is_empty()
    }

    /// Housekeeping, for the engine's idle time: up to `budget` steps of
    /// the stale-entry sweep (one block of one free set each, a few hundred
    /// nanoseconds), in the sets that outgrew their limit, oldest first.
    /// Listings only queue such sets; a set left to grow to twice its limit
    /// (no idle time) is swept by the listings themselves, one step per
    /// push, so sets stay bounded either way. Returns whether work is left.
    pub fn housekeep(&mut self, budget: usize) -> bool {
        let mut steps = 0;
        while steps < budget {
            let Some(pool) = self.untidy.front() else {
                break;
            };
            let bucket = &mut self.buckets[pool as usize];
            let swept = bucket.sweep_step(&mut self.spares, &self.live);
            steps += usize::from(swept);
            if !swept || !bucket.free.sweeping() {
                self.untidy.pop_front();
            }
        }
        !self.untidy.is_empty()
    }

    /// The earliest deadline, for the engine's sleep.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|(at, _)| self.clock.instant(at))
    }

    /// The next decision or log line, in order.
    pub fn poll_event(&mut self) -> Option<RouterEvent> {
        self.events.pop_front()
    }

    /// Current state of an agent.
    pub fn agent_state(&self, agent: &str) -> Option<AgentState> {
        self.agent_ix
            .get(agent)
            .map(|&a| self.agents[a as usize].state)
    }

    /// Where a call is.
    pub fn call_status(&self, call: CallKey, now: Instant) -> Option<CallStatus> {
        let c = self.calls.get(&call)?;
        let queue = self.queues[c.queue as usize].name.clone();
        Some(match &c.state {
            CallState::Ringing { legs, .. } => CallStatus::Ringing {
                queue,
                agents: legs
                    .iter()
                    .map(|l| self.agents[l.agent as usize].id.clone())
                    .collect(),
            },
            CallState::Connected { agent, .. } => CallStatus::Connected {
                queue,
                agent: self.agents[*agent as usize].id.clone(),
            },
            _ => CallStatus::Waiting {
                queue,
                position: self.position(call),
                waited_ms: ms(self.clock.ns(now).saturating_sub(c.queue_enter)),
            },
        })
    }

    /// Estimated wait for a caller of this priority joining `queue` now.
    pub fn estimate_wait(&self, queue: &str, priority: u8, now: Instant) -> Option<Duration> {
        let q = *self.queue_ix.get(queue)?;
        let qu = &self.queues[q as usize];
        let position = qu.ahead_of_new(255 - priority) + 1;
        Some(self.ewt(q, qu.buckets.first().copied(), position, self.clock.ns(now)))
    }

    /// The configuration of a queue (e.g. its `overflow` number or
    /// `exit_announcement` after an `Exit`).
    pub fn queue_config(&self, queue: &str) -> Option<&crate::QueueConfig> {
        self.queue_ix
            .get(queue)
            .map(|&q| &self.queues[q as usize])
            .filter(|q| !q.removed)
            .map(|q| &q.cfg)
    }

    /// Callers in a queue (waiting, held for an agent or ringing).
    pub fn queue_len(&self, queue: &str) -> Option<usize> {
        self.queue_ix
            .get(queue)
            .map(|&q| self.queues[q as usize].in_queue)
    }

    // ---- internals shared by the submodules ----

    /// Advances the router's clock and runs whatever fell due on the way,
    /// so every input is applied after the deadlines that preceded it.
    pub(crate) fn tick(&mut self, now: Instant) {
        self.now = self.now.max(self.clock.ns(now));
        // Deadlines of one instant form a batch: agents they free are routed
        // after all of them applied.
        while let Some((at, _)) = self.timers.peek().filter(|&(at, _)| at <= self.now) {
            self.deferred = Some(Vec::new());
            while let Some(t) = self.timers.pop_due(at) {
                self.fire(t);
            }
            for a in self.deferred.take().unwrap_or_default() {
                self.route_freed(a);
            }
        }
    }

    /// End of every public mutating call: leave-empty rules, stale timers.
    pub(crate) fn finish(&mut self) {
        self.process_emptied();
        while let Some((_, t)) = self.timers.peek() {
            if self.timer_live(&t) {
                break;
            }
            self.timers.pop();
        }
    }

    pub(crate) fn agent_idx(&self, agent: &str) -> Result<u32, RouterError> {
        match self.agent_ix.get(agent) {
            Some(&a) if !self.agents[a as usize].removed => Ok(a),
            _ => Err(RouterError::UnknownAgent(agent.to_string())),
        }
    }

    pub(crate) fn log(&mut self, ev: QueueLogEvent) {
        self.events.push_back(RouterEvent::Log(ev));
    }

    /// Callers ahead of this one in its queue, plus one.
    pub(crate) fn position(&self, call: CallKey) -> usize {
        let Some(c) = self.calls.get(&call) else {
            return 0;
        };
        let mut n = 1;
        for b in self.queue_buckets(c.queue) {
            n += self.buckets[b as usize].waiting.range(..c.ord).count();
        }
        n
    }

    /// Estimated wait: position x average handle time / agents able to serve.
    pub(crate) fn ewt(&self, q: u32, bucket: Option<u32>, position: usize, now: u64) -> Duration {
        let qu = &self.queues[q as usize];
        let window = qu
            .cfg
            .stats_windows
            .first()
            .copied()
            .unwrap_or(Duration::from_secs(900));
        let c = qu.stats.sum(now, dur_ns(window));
        let aht = (c.talk_ns + c.wrap_ns)
            .checked_div(c.completed)
            .unwrap_or_else(|| dur_ns(qu.cfg.default_handle_time));
        let agents = bucket
            .map(|b| self.buckets[b as usize].ready)
            .unwrap_or(qu.ready)
            .max(1);
        Duration::from_nanos(aht.saturating_mul(position as u64) / u64::from(agents))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{AgentConfig, QueueConfig};
    use crate::strategy::Strategy;

    #[allow(clippy::disallowed_methods)] // the test's epoch
    fn world() -> Router {
        let agents = (0..3)
            .map(|i| AgentConfig {
                id: format!("a{i}"),
                skills: [("en".to_string(), 1)].into(),
                ..Default::default()
            })
            .collect();
        // Different strategies: the two queues do not share a free set.
        let queues = [
            ("busy", Strategy::LongestIdle),
            ("quiet", Strategy::LeastRecent),
        ]
        .map(|(name, strategy)| QueueConfig {
            name: name.to_string(),
            require: [("en".to_string(), 1)].into(),
            strategy,
            ..Default::default()
        })
        .into();
        Router::new(RouterConfig { agents, queues }, Instant::now())
    }

    /// Serves `calls` calls of queue "busy": every agent freed is listed
    /// again in "quiet" too, whose set keeps the old entries, stale.
    fn serve(r: &mut Router, from: u64, calls: u64, now: &mut Instant) {
        for call in from..from + calls {
            *now += Duration::from_secs(1);
            r.enqueue(call, "busy", 0, "", *now).unwrap();
            let mut agent = None;
            while let Some(ev) = r.poll_event() {
                if let RouterEvent::Offer { agent: a, .. } = ev {
                    agent = Some(a);
                }
            }
            let agent = agent.expect("an agent is free");
            r.ring_answered(call, &agent, *now);
            r.call_ended(call, &agent, *now);
            while r.poll_event().is_some() {}
        }
    }

    /// The free set's bucket of a queue's first step.
    fn pool<'a>(r: &'a Router, queue: &str) -> &'a Bucket {
        let b = r.queues[r.queue_ix[queue] as usize].buckets[0];
        &r.buckets[r.buckets[b as usize].pool as usize]
    }

    fn entries(r: &Router, queue: &str) -> usize {
        pool(r, queue).free.entry_count()
    }

    #[test]
    fn stale_entries_go_in_idle_time_or_in_listings_when_there_is_none() {
        let mut r = world();
        let mut now = r.clock.epoch;
        for a in ["a0", "a1", "a2"] {
            r.agent_login(a, now).unwrap();
        }
        let limit = pool(&r, "quiet").sweep_limit();
        // Past the limit, the quiet queue's set waits for housekeeping.
        serve(&mut r, 1, limit as u64, &mut now);
        assert!(entries(&r, "quiet") > limit);
        assert!(r.housekeeping_pending());
        while r.housekeep(1) {}
        assert!(!r.housekeeping_pending());
        assert!(entries(&r, "quiet") <= 3, "only current entries left");
        r.check_invariants().unwrap();
        // Without idle time, listings sweep once a set is twice over.
        serve(&mut r, 1000, 20 * limit as u64, &mut now);
        // (a step clears one block; a block holds fewer than 2 * BLOCK)
        assert!(entries(&r, "quiet") <= 2 * limit + 2 * crate::free_set::BLOCK);
        r.check_invariants().unwrap();
        // And the quiet queue still finds its agents.
        r.enqueue(9999, "quiet", 0, "", now).unwrap();
        assert!(std::iter::from_fn(|| r.poll_event())
            .any(|ev| matches!(ev, RouterEvent::Offer { call: 9999, .. })));
    }
}
