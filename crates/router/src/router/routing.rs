//! The routing core: placing callers, choosing agents, offers, answers,
//! failures and ends. Every decision touches only the buckets of one call or
//! one agent: O(buckets of the agent + log n), never a scan of all agents or
//! all callers.

use crate::agent::AgentState;
use crate::call::{CallOrd, CallState, Leg};
use crate::config::{Emptiness, Overflow};
use crate::error::RouterError;
use crate::event::{EndedBy, ExitReason, QueueLogEvent, RingFailure, RouterEvent};
use crate::strategy::{AgentView, FreeKey, QueueMemory};
use crate::timers::Timer;
use crate::util::{dur_ns, ms};
use crate::CallKey;

use super::{Router, MAX_HOPS};

impl Router {
    /// Puts a detached caller into queue `q` (or its overflow chain).
    pub(crate) fn admit(&mut self, call: CallKey, mut q: u32) -> Result<(), RouterError> {
        loop {
            let qu = &self.queues[q as usize];
            let full = qu.cfg.max_len.is_some_and(|m| qu.in_queue >= m);
            let empty = !full && qu.cfg.join_empty.is_some_and(|e| self.is_empty(q, e));
            if !(full || empty) {
                break;
            }
            let queue = qu.name.clone();
            if full {
                self.log(QueueLogEvent::ExitFull {
                    call,
                    queue: queue.clone(),
                });
            } else {
                self.log(QueueLogEvent::ExitEmpty {
                    call,
                    queue: queue.clone(),
                    position: 0,
                    orig_position: 0,
                    wait_ms: 0,
                });
            }
            self.queues[q as usize].stats.at(self.now).exited += 1;
            let hops = self.calls.get(&call).map_or(MAX_HOPS, |c| c.hops);
            match self.overflow_target(q) {
                Some(to) if hops < MAX_HOPS => {
                    self.queues[q as usize].stats.at(self.now).overflowed += 1;
                    let to_name = self.queues[to as usize].name.clone();
                    self.log(QueueLogEvent::Overflow {
                        call,
                        queue: queue.clone(),
                        to: to_name.clone(),
                        wait_ms: 0,
                    });
                    self.events.push_back(RouterEvent::Moved {
                        call,
                        from: queue,
                        to: to_name,
                    });
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.hops += 1;
                    }
                    q = to;
                }
                _ => {
                    return Err(if full {
                        RouterError::QueueFull
                    } else {
                        RouterError::NoAgents(queue)
                    })
                }
            }
        }
        let extra = self
            .calls
            .get(&call)
            .map(|c| c.extra.clone())
            .unwrap_or_default();
        let variant = self.variant_for(q, &extra);
        if let Some(c) = self.calls.get_mut(&call) {
            c.variant = variant;
        }
        let now = self.now;
        let (prio, position) = {
            let c = self.calls.get(&call).expect("admit: call exists");
            (
                c.ord.prio,
                self.queues[q as usize].ahead_of_new(c.ord.prio) + 1,
            )
        };
        let qu = &mut self.queues[q as usize];
        qu.add_prio(prio);
        qu.stats.at(now).offered += 1;
        let step = qu.step_for(0);
        let sticky = qu.cfg.sticky_window.map(dur_ns);
        let sticky_wait = dur_ns(qu.cfg.sticky_wait);
        let queue = qu.name.clone();
        let c = self.calls.get_mut(&call).expect("admit: call exists");
        c.queue = q;
        c.queue_enter = now;
        c.step = step;
        c.gen += 1;
        c.expired = false;
        c.state = CallState::Detached;
        c.orig_position = position;
        if let Some(window) = sticky {
            if c.preferred.is_none() {
                if let Some(&(a, at)) = self.sticky.get(&c.caller) {
                    if now.saturating_sub(at) <= window {
                        c.preferred = Some(a);
                        c.park_until = now.saturating_add(sticky_wait);
                    }
                }
            }
        }
        let (caller, priority) = (c.caller.clone(), c.priority);
        self.log(QueueLogEvent::Enter {
            call,
            queue,
            caller,
            priority,
            position,
        });
        self.schedule_call_timers(call);
        self.route_call(call);
        Ok(())
    }

    pub(crate) fn overflow_target(&self, q: u32) -> Option<u32> {
        match &self.queues[q as usize].cfg.overflow {
            Some(Overflow::Queue(name)) => self
                .queue_ix
                .get(name)
                .copied()
                .filter(|&t| t != q && !self.queues[t as usize].removed),
            _ => None,
        }
    }

    pub(crate) fn is_empty(&self, q: u32, rule: Emptiness) -> bool {
        let qu = &self.queues[q as usize];
        match rule {
            Emptiness::NoAgents => qu.staffed == 0,
            Emptiness::NoReadyAgents => qu.ready == 0,
        }
    }

    /// Timers of a caller that just entered its queue (or was re-timed by a reload).
    pub(crate) fn schedule_call_timers(&mut self, call: CallKey) {
        let c = &self.calls[&call];
        let qu = &self.queues[c.queue as usize];
        let (gen, enter) = (c.gen, c.queue_enter);
        if let Some(&after) = qu.step_after.get(c.step + 1) {
            self.timers
                .push(enter.saturating_add(after), Timer::Relax { call, gen });
        }
        if let Some(w) = qu.cfg.max_wait {
            self.timers.push(
                enter.saturating_add(dur_ns(w)),
                Timer::MaxWait { call, gen },
            );
        }
        if let Some(every) = qu.cfg.announce_every.filter(|d| !d.is_zero()) {
            let first = qu.cfg.announce_first.unwrap_or(every);
            self.timers.push(
                enter.saturating_add(dur_ns(first)),
                Timer::Announce { call, gen },
            );
        }
        if c.park_until > self.now {
            self.timers.push(c.park_until, Timer::Park { call, gen });
        }
        if let Some(aging) = qu.cfg.priority_aging.filter(|d| !d.is_zero()) {
            self.timers.push(
                enter.saturating_add(dur_ns(aging)),
                Timer::Age { call, gen },
            );
        }
    }

    /// A detached caller looks for an agent: its preferred agent, else the
    /// queue strategy's choice among the free agents of its bucket, else it
    /// waits in the bucket.
    pub(crate) fn route_call(&mut self, call: CallKey) {
        let now = self.now;
        let c = &self.calls[&call];
        debug_assert_eq!(c.state, CallState::Detached);
        let q = c.queue;
        let ord = c.ord;
        let Some(b) = self.call_bucket(c) else {
            return;
        };
        if let Some(p) = c.preferred.filter(|_| c.park_until > now) {
            let ag = &mut self.agents[p as usize];
            if ag.ready() && ag.is_member(b) {
                if ag.is_free(now) {
                    self.offer(call, &[p]);
                } else {
                    ag.parked.insert(ord);
                    self.calls.get_mut(&call).expect("exists").state =
                        CallState::Parked { agent: p };
                }
                return;
            }
        }
        // Free agents of the bucket. Entries of agents that became busy (or
        // were listed again since) are stale and dropped here, lazily, so an
        // agent taking a call does not have to leave every free set it is in.
        loop {
            let Router {
                buckets,
                agents,
                queues,
                live,
                spares,
                ..
            } = self;
            let pool = buckets[b as usize].pool;
            // The pool's strategy is its queues'.
            let qu_strategy = queues[q as usize].cfg.strategy;
            let bucket = &mut buckets[pool as usize];
            let per_member = bucket.free.per_member();
            let Some(first) = bucket.free.pop(spares) else {
                break;
            };
            // A current per-listing entry carries the agent's generation in
            // `live`: most stale ones are dropped without touching the agent.
            if !per_member && live.get(first.agent as usize) != Some(&first.gen) {
                continue;
            }
            let ag = &mut agents[first.agent as usize];
            if per_member {
                ag.unlist(pool, qu_strategy);
            }
            if !ag.entry_valid(&first, per_member, now) {
                continue;
            }
            let qu = &mut queues[q as usize];
            qu.selector
                .offered(&mut bucket.memory, Some(&first), ag.order);
            if !qu.selector.rings_all() {
                self.offer(call, &[first.agent]);
                return;
            }
            let limit = qu.cfg.ring_all_limit.max(1);
            let mut chosen = vec![first.agent];
            while chosen.len() < limit {
                match bucket.free.peek() {
                    Some(k) if k.tier == first.tier => {
                        bucket.free.pop(spares);
                        let ag = &mut agents[k.agent as usize];
                        if per_member {
                            ag.unlist(pool, qu_strategy);
                        }
                        if ag.entry_valid(&k, per_member, now) && !chosen.contains(&k.agent) {
                            chosen.push(k.agent);
                        }
                    }
                    _ => break,
                }
            }
            self.offer(call, &chosen);
            return;
        }
        let bucket = &mut self.buckets[b as usize];
        bucket.waiting.insert(ord);
        if self.heads.get(b).is_none_or(|h| ord < h) {
            self.heads.set(b, Some(ord));
        }
        self.calls.get_mut(&call).expect("exists").state = CallState::Waiting { bucket: b };
    }

    /// The best caller agent `a` can serve: its parked callers first, then
    /// the best (priority, then longest wait) head across all its buckets,
    /// i.e. across all its queues. `None` bucket means parked.
    fn best_for(&self, a: u32) -> Option<(CallOrd, Option<u32>)> {
        let ag = &self.agents[a as usize];
        if let Some(&ord) = ag.parked.first() {
            return Some((ord, None));
        }
        let mut best: Option<(CallOrd, u32)> = None;
        for m in &ag.buckets {
            if let Some(h) = self.heads.get(m.bucket) {
                if best.is_none_or(|(o, _)| h < o) {
                    best = Some((h, m.bucket));
                }
            }
        }
        best.map(|(o, b)| (o, Some(b)))
    }

    /// A free agent takes the best caller it can serve, while it has free
    /// capacity. Inside a timer batch the agent only joins the free sets;
    /// [`Router::route_freed`] routes it once every agent freed at the same
    /// instant is there (so ring-all rings them all and strategies choose
    /// among them).
    pub(crate) fn route_agent(&mut self, a: u32) {
        if let Some(pending) = &mut self.deferred {
            pending.push(a);
            self.refresh(a);
            return;
        }
        while self.agents[a as usize].is_free(self.now) {
            let Some((ord, bucket)) = self.best_for(a) else {
                break;
            };
            match bucket {
                None => {
                    self.agents[a as usize].parked.remove(&ord);
                }
                Some(b) => {
                    let bk = &mut self.buckets[b as usize];
                    bk.waiting.remove(&ord);
                    self.heads.set(b, bk.waiting.first().copied());
                    let (q, pool) = (bk.queue, bk.pool);
                    let selector = self.queues[q as usize].selector;
                    let memory = &mut self.buckets[pool as usize].memory;
                    selector.offered(memory, None, self.agents[a as usize].order);
                }
            }
            if let Some(c) = self.calls.get_mut(&ord.call) {
                c.state = CallState::Detached;
            }
            self.offer(ord.call, &[a]);
        }
        self.refresh(a);
    }

    /// Routes an agent freed in a timer batch: the best caller it can serve
    /// is routed as if it had just arrived, so the queue's strategy picks
    /// among all free agents.
    pub(crate) fn route_freed(&mut self, a: u32) {
        while self.agents[a as usize].is_free(self.now) {
            let Some((ord, bucket)) = self.best_for(a) else {
                break;
            };
            if bucket.is_none() {
                self.agents[a as usize].parked.remove(&ord);
                if let Some(c) = self.calls.get_mut(&ord.call) {
                    c.state = CallState::Detached;
                }
                self.offer(ord.call, &[a]);
            } else {
                self.detach(ord.call, false);
                self.route_call(ord.call);
                if matches!(self.calls[&ord.call].state, CallState::Waiting { .. }) {
                    // Agent `a` is free and listed in that bucket, so the call
                    // must have been offered; never spin if that breaks.
                    debug_assert!(false, "agent {a} free but not offered call {}", ord.call);
                    break;
                }
            }
        }
        self.refresh(a);
    }

    /// Rings these agents for a detached caller.
    pub(crate) fn offer(&mut self, call: CallKey, agents: &[u32]) {
        let now = self.now;
        let q = self.calls[&call].queue;
        let qu = &self.queues[q as usize];
        let at = now.saturating_add(dur_ns(qu.cfg.ring_timeout));
        let mut legs = Vec::with_capacity(agents.len());
        for &a in agents {
            self.offer_seq += 1;
            let offer = self.offer_seq;
            legs.push(Leg { agent: a, offer });
            let ag = &mut self.agents[a as usize];
            ag.ringing.push(call);
            // Its entry in this bucket was taken and its counters change:
            // list it again (if it still has free capacity).
            ag.listed = false;
            for m in ag.buckets.iter_mut().filter(|m| m.queue == q) {
                m.last_offer = offer;
            }
            self.timers.push(at, Timer::Ring { call, offer });
            self.events.push_back(RouterEvent::Offer {
                call,
                agent: self.agents[a as usize].id.clone(),
                queue: self.queues[q as usize].name.clone(),
            });
            self.refresh(a);
        }
        self.calls.get_mut(&call).expect("offer: call exists").state =
            CallState::Ringing { legs, started: now };
    }

    /// Brings an agent's derived state, staffing counters and free-set
    /// entries up to date. Never routes.
    pub(crate) fn refresh(&mut self, a: u32) {
        let now = self.now;
        let Router {
            agents,
            buckets,
            queues,
            occupancy,
            emptied,
            live,
            occupancy_reach,
            spares,
            untidy,
            ..
        } = self;
        if live.len() < agents.len() {
            live.resize(agents.len(), 0);
        }
        let ag = &mut agents[a as usize];
        let st = ag.derive_state();
        if st != ag.state {
            let (from, staffed, busy) = (
                ag.since,
                ag.state != AgentState::LoggedOut && ag.state != AgentState::Paused,
                matches!(
                    ag.state,
                    AgentState::Ringing | AgentState::OnCall | AgentState::WrapUp
                ),
            );
            if staffed && now > from {
                ag.staffed_ns += now - from;
                occupancy.add_interval(from, now, |c, d| c.staffed_ns += d);
            }
            if busy && now > from {
                ag.busy_ns += now - from;
                occupancy.add_interval(from, now, |c, d| c.busy_ns += d);
            }
            if st == AgentState::Available {
                ag.idle_since = now;
            }
            // Occupancy: one point per change, whatever the agent's queues.
            ag.meter.set(
                now,
                st != AgentState::LoggedOut && st != AgentState::Paused,
                matches!(
                    st,
                    AgentState::Ringing | AgentState::OnCall | AgentState::WrapUp
                ),
                now.saturating_sub(*occupancy_reach),
            );
            ag.state = st;
            ag.since = now;
        }
        let staffed = ag.staffed();
        if staffed != ag.counted_staffed {
            for &q in &ag.queues {
                let qu = &mut queues[q as usize];
                if staffed {
                    qu.staffed += 1;
                } else {
                    qu.staffed -= 1;
                    if qu.staffed == 0 {
                        emptied.push(q);
                    }
                }
            }
            ag.counted_staffed = staffed;
        }
        let ready = ag.ready();
        if ready != ag.counted_ready {
            for &q in &ag.queues {
                let qu = &mut queues[q as usize];
                if ready {
                    qu.ready += 1;
                } else {
                    qu.ready -= 1;
                    if qu.ready == 0 {
                        emptied.push(q);
                    }
                }
            }
            for m in &ag.buckets {
                let b = &mut buckets[m.bucket as usize];
                if ready {
                    b.ready += 1;
                } else {
                    b.ready -= 1;
                }
            }
            ag.counted_ready = ready;
        }
        // Free-set entries: a free agent not yet listed enters every free set
        // it serves under a new generation. Per-listing sets leave the old
        // entries behind, stale, dropped by `route_call` when met or by the
        // incremental sweep; per-member sets keep or replace the entry.
        if !ag.is_free(now) {
            ag.listed = false;
        } else if !ag.listed {
            ag.listed = true;
            // Generation 0 means "not listed" in `live`.
            ag.free_gen = ag.free_gen.wrapping_add(1).max(1);
            live[a as usize] = ag.free_gen;
            // Once per free set: the memberships of pool-owning buckets.
            let mut view = AgentView {
                id: &ag.id,
                order: ag.order,
                weight: ag.cfg.weight.max(1),
                idle_since: ag.idle_since,
                last_call_end: ag.last_call_end,
                calls_answered: ag.calls_answered,
                talk_ns: ag.talk_ns,
                proficiency: 0,
                tier: 0,
                last_offered_here: 0,
                listed_at: now,
            };
            let (free_gen, listed) = (ag.free_gen, &mut ag.buckets);
            // Pools first (`Membership::rank`).
            for m in listed.iter_mut().take_while(|m| m.bucket == m.pool) {
                view.proficiency = m.proficiency;
                view.tier = m.tier;
                view.last_offered_here = m.last_offer;
                // Linear, round-robin, the random ones: the check reads
                // nothing of the set, so it is answered without touching
                // the bucket (once).
                crate::anatomy::count(crate::anatomy::Step::Pool);
                let kept_alone = m.keeps_alone.then(|| {
                    m.listed(a).is_some_and(|old| {
                        m.strategy
                            .selector()
                            .keeps(&old, &view, &QueueMemory::default())
                    })
                });
                if kept_alone == Some(true) {
                    crate::anatomy::count(crate::anatomy::Step::KeptAlone);
                    continue;
                }
                let bucket = &mut buckets[m.bucket as usize];
                let per_member = bucket.free.per_member();
                if let Some(old) = m.listed(a) {
                    // Still in the per-member set from before its busy spell.
                    if kept_alone.is_none() && bucket.selector.keeps(&old, &view, &bucket.memory) {
                        continue;
                    }
                    bucket.free.remove(&old);
                    crate::anatomy::count(crate::anatomy::Step::Replaced);
                    m.set_listed(None);
                }
                let (primary, secondary) =
                    bucket.selector.key(&view, &bucket.memory, &mut bucket.rng);
                let k = FreeKey {
                    tier: m.tier,
                    primary,
                    secondary,
                    agent: a,
                    gen: if per_member { 0 } else { free_gen },
                };
                bucket.free.push(k, spares);
                if per_member {
                    m.set_listed(Some(&k));
                } else {
                    // Stale entries beyond twice the members: the set goes
                    // to housekeeping (idle time); far beyond (no idle
                    // time), the listing sweeps a block itself.
                    let (limit, n) = (bucket.sweep_limit(), bucket.free.entry_count());
                    if n > 2 * limit {
                        bucket.sweep_step(spares, live);
                        crate::anatomy::count(crate::anatomy::Step::Sweep);
                    } else if n > limit {
                        untidy.push(m.bucket);
                    }
                }
            }
        }
        live[a as usize] = if ag.listed { ag.free_gen } else { 0 };
    }

    /// Takes a caller out of whatever set holds it. Ringing offers are
    /// cancelled (`CancelRing`); the released agents are returned so the
    /// caller can route them once its own bookkeeping is done.
    pub(crate) fn detach(&mut self, call: CallKey, cancel: bool) -> Vec<u32> {
        let Some(c) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        let ord = c.ord;
        let st = std::mem::replace(&mut c.state, CallState::Detached);
        let mut freed = Vec::new();
        match st {
            CallState::Waiting { bucket } => {
                let bk = &mut self.buckets[bucket as usize];
                bk.waiting.remove(&ord);
                if self.heads.get(bucket) == Some(ord) {
                    self.heads.set(bucket, bk.waiting.first().copied());
                }
            }
            CallState::Parked { agent } => {
                self.agents[agent as usize].parked.remove(&ord);
            }
            CallState::Ringing { legs, .. } => {
                for l in legs {
                    self.agents[l.agent as usize].ringing.retain(|&k| k != call);
                    if cancel {
                        self.events.push_back(RouterEvent::CancelRing {
                            call,
                            agent: self.agents[l.agent as usize].id.clone(),
                        });
                    }
                    self.refresh(l.agent);
                    freed.push(l.agent);
                }
            }
            st @ CallState::Connected { .. } => {
                self.calls.get_mut(&call).expect("exists").state = st;
            }
            CallState::Detached => {}
        }
        freed
    }

    /// Forgets a caller that left its queue.
    pub(crate) fn drop_call(&mut self, call: CallKey) {
        if let Some(c) = self.calls.remove(&call) {
            if c.in_queue() {
                self.queues[c.queue as usize].remove_prio(c.ord.prio);
            }
        }
    }

    pub(crate) fn answer(&mut self, call: CallKey, a: u32) {
        let now = self.now;
        let agent_id = self.agents[a as usize].id.clone();
        let (legs, started) = match self.calls.get_mut(&call) {
            Some(c) => match &mut c.state {
                CallState::Ringing { legs, started } if legs.iter().any(|l| l.agent == a) => {
                    (std::mem::take(legs), *started)
                }
                CallState::Connected { agent, .. } if *agent == a => return,
                _ => {
                    self.events.push_back(RouterEvent::CancelRing {
                        call,
                        agent: agent_id,
                    });
                    return;
                }
            },
            None => {
                self.events.push_back(RouterEvent::CancelRing {
                    call,
                    agent: agent_id,
                });
                return;
            }
        };
        let mut others = Vec::new();
        for l in &legs {
            self.agents[l.agent as usize].ringing.retain(|&k| k != call);
            if l.agent != a {
                self.events.push_back(RouterEvent::CancelRing {
                    call,
                    agent: self.agents[l.agent as usize].id.clone(),
                });
                others.push(l.agent);
            }
        }
        let c = self.calls.get_mut(&call).expect("exists");
        c.state = CallState::Connected {
            agent: a,
            answered: now,
        };
        let (q, prio, enter) = (c.queue, c.ord.prio, c.queue_enter);
        let caller = c.caller.clone();
        let wait = now.saturating_sub(enter);
        let qu = &mut self.queues[q as usize];
        qu.remove_prio(prio);
        let in_sl = wait <= dur_ns(qu.cfg.service_level);
        let st = qu.stats.at(now);
        st.answered += 1;
        st.answer_wait_ns += wait;
        if in_sl {
            st.answered_in_sl += 1;
        }
        let queue = qu.name.clone();
        let ag = &mut self.agents[a as usize];
        ag.on_call += 1;
        ag.calls_answered += 1;
        ag.no_answers = 0;
        ag.listed = false;
        self.remember_sticky(caller, a);
        self.log(QueueLogEvent::Connect {
            call,
            queue,
            agent: self.agents[a as usize].id.clone(),
            wait_ms: ms(wait),
            ring_ms: ms(now.saturating_sub(started)),
        });
        for o in others {
            self.route_agent(o);
        }
        self.route_agent(a);
    }

    fn remember_sticky(&mut self, caller: String, a: u32) {
        if caller.is_empty() || self.sticky_window == 0 {
            return;
        }
        self.sticky.insert(caller, (a, self.now));
        if self.sticky.len() > self.sticky_sweep_at {
            let window = self.sticky_window;
            let now = self.now;
            self.sticky
                .retain(|_, &mut (_, at)| now.saturating_sub(at) <= window);
            self.sticky_sweep_at = (self.sticky.len() * 2).max(1024);
        }
    }

    pub(crate) fn fail_leg(&mut self, call: CallKey, a: u32, why: RingFailure) {
        let now = self.now;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let CallState::Ringing { legs, started } = &mut c.state else {
            return;
        };
        let Some(i) = legs.iter().position(|l| l.agent == a) else {
            return;
        };
        legs.remove(i);
        let (started, empty, q) = (*started, legs.is_empty(), c.queue);
        self.agents[a as usize].ringing.retain(|&k| k != call);
        self.queues[q as usize].stats.at(now).ring_no_answer += 1;
        self.log(QueueLogEvent::RingNoAnswer {
            call,
            queue: self.queues[q as usize].name.clone(),
            agent: self.agents[a as usize].id.clone(),
            ring_ms: ms(now.saturating_sub(started)),
            reason: why,
        });
        self.penalize(a, why);
        self.refresh(a);
        if empty {
            self.requeue(call);
        }
        self.route_agent(a);
    }

    fn penalize(&mut self, a: u32, why: RingFailure) {
        let now = self.now;
        let ag = &mut self.agents[a as usize];
        let delay = match why {
            RingFailure::Rejected => ag.cfg.reject_delay,
            RingFailure::NoAnswer => ag.cfg.no_answer_delay,
            RingFailure::Unreachable => ag.cfg.unreachable_delay,
        };
        let mut auto_pause = false;
        if why != RingFailure::Rejected {
            ag.no_answers += 1;
            auto_pause = ag
                .cfg
                .auto_pause_after
                .is_some_and(|n| n > 0 && ag.no_answers >= n)
                && !ag.paused;
        }
        if !delay.is_zero() {
            ag.ready_at = ag.ready_at.max(now.saturating_add(dur_ns(delay)));
            let (at, gen) = (ag.ready_at, ag.gen);
            self.timers.push(at, Timer::Ready { agent: a, gen });
        }
        if auto_pause {
            self.pause_idx(a, Some("auto-pause: no answer".to_string()));
        }
    }

    /// A caller whose offers all failed waits again, keeping its place.
    pub(crate) fn requeue(&mut self, call: CallKey) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.state = CallState::Detached;
        let (expired, q) = (c.expired, c.queue);
        if self.queues[q as usize].removed {
            self.exit_call(call, ExitReason::QueueRemoved);
        } else if expired {
            self.exit_call(call, ExitReason::Timeout);
        } else {
            self.route_call(call);
        }
    }

    /// The caller leaves its queue unanswered; overflows if configured.
    pub(crate) fn exit_call(&mut self, call: CallKey, reason: ExitReason) {
        let now = self.now;
        let position = self.position(call);
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let (q, orig_position, waited, hops) = (
            c.queue,
            c.orig_position,
            now.saturating_sub(c.queue_enter),
            c.hops,
        );
        let freed = self.detach(call, true);
        let prio = self.calls[&call].ord.prio;
        let qu = &mut self.queues[q as usize];
        qu.remove_prio(prio);
        qu.stats.at(now).exited += 1;
        let queue = qu.name.clone();
        let wait_ms = ms(waited);
        self.log(match reason {
            ExitReason::Timeout => QueueLogEvent::ExitTimeout {
                call,
                queue: queue.clone(),
                position,
                orig_position,
                wait_ms,
            },
            ExitReason::Empty => QueueLogEvent::ExitEmpty {
                call,
                queue: queue.clone(),
                position,
                orig_position,
                wait_ms,
            },
            ExitReason::Full => QueueLogEvent::ExitFull {
                call,
                queue: queue.clone(),
            },
            ExitReason::QueueRemoved => QueueLogEvent::ExitRemoved {
                call,
                queue: queue.clone(),
                wait_ms,
            },
        });
        for a in freed {
            self.route_agent(a);
        }
        let target = if reason == ExitReason::QueueRemoved {
            None
        } else {
            self.overflow_target(q)
        };
        if let Some(to) = target.filter(|_| hops < MAX_HOPS) {
            self.queues[q as usize].stats.at(now).overflowed += 1;
            let to_name = self.queues[to as usize].name.clone();
            self.log(QueueLogEvent::Overflow {
                call,
                queue: queue.clone(),
                to: to_name.clone(),
                wait_ms,
            });
            self.events.push_back(RouterEvent::Moved {
                call,
                from: queue,
                to: to_name,
            });
            if let Some(c) = self.calls.get_mut(&call) {
                c.hops += 1;
            }
            if let Err(e) = self.admit(call, to) {
                let reason = if e == RouterError::QueueFull {
                    ExitReason::Full
                } else {
                    ExitReason::Empty
                };
                let queue = self.queues[self.calls[&call].queue as usize].name.clone();
                self.calls.remove(&call);
                self.events.push_back(RouterEvent::Exit {
                    call,
                    queue,
                    reason,
                });
            }
        } else {
            self.calls.remove(&call);
            self.events.push_back(RouterEvent::Exit {
                call,
                queue,
                reason,
            });
        }
    }

    pub(crate) fn end_call(&mut self, call: CallKey, a: u32, by: EndedBy) {
        let now = self.now;
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let CallState::Connected { agent, answered } = c.state else {
            return;
        };
        if agent != a {
            return;
        }
        let (q, wait) = (c.queue, answered.saturating_sub(c.queue_enter));
        let talk = now.saturating_sub(answered);
        self.calls.remove(&call);
        let qu = &mut self.queues[q as usize];
        let st = qu.stats.at(now);
        st.completed += 1;
        st.talk_ns += talk;
        let queue = qu.name.clone();
        let queue_wrap = qu.cfg.wrap_up;
        let ag = &mut self.agents[a as usize];
        ag.on_call = ag.on_call.saturating_sub(1);
        ag.talk_ns += talk;
        ag.last_call_end = now;
        ag.listed = false;
        let wrap = ag.cfg.wrap_up.unwrap_or(queue_wrap);
        if ag.staffed() && !wrap.is_zero() {
            ag.wrapping += 1;
            let gen = ag.gen;
            self.timers.push(
                now.saturating_add(dur_ns(wrap)),
                Timer::Wrap {
                    agent: a,
                    gen,
                    queue: q,
                    started: now,
                },
            );
        }
        let agent = ag.id.clone();
        let (wait_ms, talk_ms) = (ms(wait), ms(talk));
        self.log(match by {
            EndedBy::Agent => QueueLogEvent::CompleteAgent {
                call,
                queue,
                agent,
                wait_ms,
                talk_ms,
            },
            EndedBy::Caller => QueueLogEvent::CompleteCaller {
                call,
                queue,
                agent,
                wait_ms,
                talk_ms,
            },
            EndedBy::Transfer(to) => QueueLogEvent::Transfer {
                call,
                queue,
                agent,
                to,
                wait_ms,
                talk_ms,
            },
            EndedBy::Unknown => QueueLogEvent::Complete {
                call,
                queue,
                agent,
                wait_ms,
                talk_ms,
            },
        });
        self.route_agent(a);
    }

    pub(crate) fn logout_idx(&mut self, a: u32) {
        let now = self.now;
        let ag = &mut self.agents[a as usize];
        let session = now.saturating_sub(ag.login_at);
        ag.logged_in = false;
        ag.paused = false;
        ag.pause_reason = None;
        ag.wrapping = 0;
        ag.gen += 1;
        ag.ready_at = 0;
        let ringing = std::mem::take(&mut ag.ringing);
        let parked = std::mem::take(&mut ag.parked);
        let agent = ag.id.clone();
        self.refresh(a);
        self.log(QueueLogEvent::Logout {
            agent: agent.clone(),
            session_ms: ms(session),
        });
        for call in ringing {
            let Some(c) = self.calls.get_mut(&call) else {
                continue;
            };
            let CallState::Ringing { legs, .. } = &mut c.state else {
                continue;
            };
            legs.retain(|l| l.agent != a);
            let empty = legs.is_empty();
            self.events.push_back(RouterEvent::CancelRing {
                call,
                agent: agent.clone(),
            });
            if empty {
                self.requeue(call);
            }
        }
        self.unpark(parked);
    }

    fn unpark(&mut self, parked: std::collections::BTreeSet<CallOrd>) {
        for ord in parked {
            if let Some(c) = self.calls.get_mut(&ord.call) {
                c.state = CallState::Detached;
                c.park_until = 0;
                self.route_call(ord.call);
            }
        }
    }

    pub(crate) fn pause_idx(&mut self, a: u32, reason: Option<String>) {
        let ag = &mut self.agents[a as usize];
        ag.paused = true;
        ag.pause_reason.clone_from(&reason);
        let agent = ag.id.clone();
        let parked = std::mem::take(&mut ag.parked);
        self.log(QueueLogEvent::Pause { agent, reason });
        self.refresh(a);
        self.unpark(parked);
    }

    /// Applies `leave_empty` to queues whose staffing dropped.
    pub(crate) fn process_emptied(&mut self) {
        while let Some(q) = self.emptied.pop() {
            let qu = &self.queues[q as usize];
            let Some(rule) = qu.cfg.leave_empty else {
                continue;
            };
            if qu.removed || !self.is_empty(q, rule) {
                continue;
            }
            let mut leaving: Vec<CallOrd> = self
                .queue_buckets(q)
                .iter()
                .flat_map(|&b| self.buckets[b as usize].waiting.iter().copied())
                .collect();
            leaving.sort_unstable();
            for ord in leaving {
                self.exit_call(ord.call, ExitReason::Empty);
            }
        }
    }
}
