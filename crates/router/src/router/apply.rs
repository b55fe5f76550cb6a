//! Applying a configuration (at start and on reload): interning skills,
//! rebuilding buckets and memberships, and putting every caller back in its
//! place.

use std::collections::{HashMap, HashSet};

use crate::agent::{Agent, Membership};
use crate::call::{CallOrd, CallState};
use crate::config::RouterConfig;
use crate::event::ExitReason;
use crate::free_set::FreeSet;
use crate::queue::{Bucket, Queue};
use crate::stats::Rolling;
use crate::strategy::{QueueMemory, Strategy};
use crate::util::{dur_ns, Rng};

use super::{Router, STATS_SLOT_NS};

impl Router {
    pub(crate) fn intern(&mut self, name: &str) -> u16 {
        if let Some(&i) = self.skill_ix.get(name) {
            return i;
        }
        let i = self.skill_names.len() as u16;
        self.skill_ix.insert(name.to_string(), i);
        self.skill_names.push(name.to_string());
        i
    }

    pub(crate) fn apply_config(&mut self, cfg: RouterConfig) {
        let now = self.now;
        // 1. Callers in sets leave them (the sets are rebuilt).
        let mut replace: Vec<CallOrd> = Vec::new();
        for c in self.calls.values_mut() {
            if matches!(
                c.state,
                CallState::Waiting { .. } | CallState::Parked { .. }
            ) {
                c.state = CallState::Detached;
                replace.push(c.ord);
            }
        }
        // Queues each agent was a member of, and since when (occupancy).
        let mut was_member: Vec<Vec<(u32, u64)>> = Vec::with_capacity(self.agents.len());
        for ag in &mut self.agents {
            ag.parked.clear();
            ag.listed = false;
            ag.counted_staffed = false;
            ag.counted_ready = false;
            ag.buckets.clear();
            was_member.push(ag.queues.drain(..).zip(ag.joined.drain(..)).collect());
        }

        // 2. Skills.
        self.skill_ix.clear();
        self.skill_names.clear();

        // 3. Agents: same id keeps its runtime state.
        let mut seen = HashSet::new();
        let mut newly_removed = Vec::new();
        for (order, ac) in cfg.agents.into_iter().enumerate() {
            if ac.id.is_empty() || !seen.insert(ac.id.clone()) {
                continue;
            }
            let a = match self.agent_ix.get(&ac.id) {
                Some(&a) => a,
                None => {
                    let a = self.agents.len() as u32;
                    self.agent_ix.insert(ac.id.clone(), a);
                    self.agents
                        .push(Agent::new(ac.id.clone(), ac.clone(), order as u32));
                    a
                }
            };
            let mut skills: Vec<(u16, u8)> = ac
                .skills
                .iter()
                .map(|(s, &l)| (self.intern(s), l))
                .collect();
            skills.sort_unstable();
            let ag = &mut self.agents[a as usize];
            ag.skills = skills;
            ag.cfg = ac;
            ag.order = order as u32;
            ag.removed = false;
        }
        for (a, ag) in self.agents.iter_mut().enumerate() {
            if !seen.contains(&ag.id) && !ag.removed {
                ag.removed = true;
                newly_removed.push(a as u32);
            }
        }

        // 4. Queues: same name keeps its callers and statistics.
        let mut qseen = HashSet::new();
        for qc in cfg.queues {
            if qc.name.is_empty() || !qseen.insert(qc.name.clone()) {
                continue;
            }
            let retention = qc
                .stats_windows
                .iter()
                .max()
                .copied()
                .map(dur_ns)
                .unwrap_or(0);
            let q = match self.queue_ix.get(&qc.name) {
                Some(&q) => q,
                None => {
                    let q = self.queues.len() as u32;
                    self.queue_ix.insert(qc.name.clone(), q);
                    self.queues.push(Queue {
                        name: qc.name.clone(),
                        cfg: qc.clone(),
                        removed: false,
                        selector: qc.strategy.selector(),
                        buckets: Vec::new(),
                        variants: Vec::new(),
                        step_after: Vec::new(),
                        in_queue: 0,
                        by_prio: Default::default(),
                        staffed: 0,
                        ready: 0,
                        stats: Rolling::new(STATS_SLOT_NS, retention),
                        former: Vec::new(),
                    });
                    q
                }
            };
            let qu = &mut self.queues[q as usize];
            qu.selector = qc.strategy.selector();
            qu.stats.set_retention(retention);
            qu.cfg = qc;
            qu.removed = false;
        }
        for qu in &mut self.queues {
            if !qseen.contains(&qu.name) {
                qu.removed = true;
            }
            qu.buckets.clear();
            qu.variants.clear();
            qu.step_after.clear();
            qu.staffed = 0;
            qu.ready = 0;
        }
        // Occupancy windows reach back this far; older points and former
        // members are forgotten.
        self.occupancy_reach = self
            .queues
            .iter()
            .map(|q| q.stats.retention)
            .max()
            .unwrap_or(0)
            .saturating_add(STATS_SLOT_NS);
        let reach = now.saturating_sub(self.occupancy_reach);
        for qu in &mut self.queues {
            qu.former.retain(|&(_, _, left)| left > reach);
        }

        self.sticky_window = self
            .queues
            .iter()
            .filter(|q| !q.removed)
            .filter_map(|q| q.cfg.sticky_window)
            .max()
            .map(dur_ns)
            .unwrap_or(0);

        // 5. Buckets: one per queue and relaxation step. Buckets with the
        // same requirement, penalty limit, explicit members and a shareable
        // strategy share one free set.
        self.buckets.clear();
        self.heads.clear();
        self.untidy.clear();
        let mut explicit: HashMap<&str, Vec<(u32, u32)>> = HashMap::new();
        for (a, ag) in self.agents.iter().enumerate() {
            if !ag.removed {
                for (q, &tier) in &ag.cfg.queues {
                    explicit
                        .entry(q.as_str())
                        .or_default()
                        .push((a as u32, tier));
                }
            }
        }
        let explicit: HashMap<String, Vec<(u32, u32)>> = explicit
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        type PoolKey = (Vec<(u16, u8)>, Option<u32>, Strategy, Vec<(u32, u32)>);
        let mut pools: HashMap<PoolKey, u32> = HashMap::new();
        for q in 0..self.queues.len() {
            if self.queues[q].removed {
                continue;
            }
            let mut steps = vec![(
                0u64,
                self.queues[q].cfg.require.clone(),
                self.queues[q].cfg.max_penalty,
            )];
            for s in &self.queues[q].cfg.relax {
                let after = dur_ns(s.after).max(steps.last().map_or(0, |l| l.0));
                steps.push((after, s.require.clone(), s.max_penalty));
            }
            for (step, (after, require, max_penalty)) in steps.into_iter().enumerate() {
                let mut req: Vec<(u16, u8)> =
                    require.iter().map(|(s, &l)| (self.intern(s), l)).collect();
                req.sort_unstable();
                let b = self.buckets.len() as u32;
                let strategy = self.queues[q].cfg.strategy;
                let pool = if strategy.selector().shareable() {
                    let sig = explicit
                        .get(&self.queues[q].name)
                        .cloned()
                        .unwrap_or_default();
                    *pools
                        .entry((req.clone(), max_penalty, strategy, sig))
                        .or_insert(b)
                } else {
                    b
                };
                self.buckets.push(Bucket {
                    pool,
                    queue: q as u32,
                    require: req,
                    max_penalty,
                    waiting: Default::default(),
                    free: FreeSet::new(strategy.selector().shape()),
                    selector: strategy.selector(),
                    rng: Rng::from_name(&step_seed(&self.queues[q].name, "", step)),
                    memory: QueueMemory::default(),
                    ready: 0,
                    members: 0,
                });
                self.heads.push_empty();
                let qu = &mut self.queues[q];
                qu.buckets.push(b);
                qu.step_after.push(after);
            }
        }

        // 6. Memberships, through a skill -> agents index.
        let mut by_skill: Vec<Vec<u32>> = vec![Vec::new(); self.skill_names.len()];
        for (a, ag) in self.agents.iter().enumerate() {
            if ag.removed {
                continue;
            }
            for &(s, l) in &ag.skills {
                if l > 0 {
                    by_skill[s as usize].push(a as u32);
                }
            }
        }
        let all: Vec<u32> = (0..self.agents.len() as u32)
            .filter(|&a| !self.agents[a as usize].removed)
            .collect();
        for b in 0..self.buckets.len() {
            let bucket = &self.buckets[b];
            let qname = &self.queues[bucket.queue as usize].name;
            let candidates = bucket
                .require
                .iter()
                .filter(|&&(_, l)| l > 0)
                .map(|&(s, _)| &by_skill[s as usize])
                .min_by_key(|v| v.len())
                .unwrap_or(&all);
            let mut members = 0u32;
            for &a in candidates {
                let ag = &self.agents[a as usize];
                let tier = if ag.cfg.queues.is_empty() {
                    0
                } else {
                    match ag.cfg.queues.get(qname) {
                        Some(&p) => p,
                        None => continue,
                    }
                };
                if bucket.max_penalty.is_some_and(|m| tier > m) {
                    continue;
                }
                let mut proficiency = 0u32;
                let mut ok = true;
                for &(s, l) in &bucket.require {
                    let have = ag.level(s);
                    if have < l {
                        ok = false;
                        break;
                    }
                    proficiency += u32::from(have);
                }
                if ok {
                    let queue = bucket.queue;
                    // A pool's buckets share its strategy.
                    let strategy = self.queues[queue as usize].cfg.strategy;
                    members += 1;
                    let ag = &mut self.agents[a as usize];
                    ag.join(Membership::new(
                        b as u32,
                        self.buckets[b].pool,
                        queue,
                        tier,
                        proficiency,
                        strategy,
                    ));
                    if !ag.queues.contains(&queue) {
                        ag.queues.push(queue);
                        // A member before keeps its time; a new one counts from now.
                        let joined = was_member
                            .get(a as usize)
                            .and_then(|old| old.iter().find(|&&(q, _)| q == queue))
                            .map_or(now, |&(_, j)| j);
                        ag.joined.push(joined);
                    }
                }
            }
            self.buckets[b].members = members;
        }

        // Agents that left a queue still count there for the time they were in it.
        for (a, old) in was_member.into_iter().enumerate() {
            for (q, joined) in old {
                if !self.agents[a].queues.contains(&q) && now > joined {
                    self.queues[q as usize].former.push((a as u32, joined, now));
                }
            }
        }

        // 7. Counters and free sets.
        for a in 0..self.agents.len() as u32 {
            self.refresh(a);
        }

        // 8. Removed agents are logged out (offers cancelled, callers back).
        for a in newly_removed {
            if self.agents[a as usize].logged_in {
                self.logout_idx(a);
            }
        }

        // 9. Every caller: new step for its wait, new timers, back in place
        // (in caller order, so the best callers choose first).
        for c in self.calls.values_mut() {
            if c.in_queue() {
                c.gen += 1;
            }
        }
        let mut timed: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, c)| c.in_queue())
            .map(|(&k, _)| k)
            .collect();
        timed.sort_unstable();
        for call in timed {
            let c = &self.calls[&call];
            let qu = &self.queues[c.queue as usize];
            if qu.removed {
                continue;
            }
            let step = qu.step_for(now.saturating_sub(c.queue_enter));
            let (q, extra) = (c.queue, c.extra.clone());
            let variant = self.variant_for(q, &extra);
            let c = self.calls.get_mut(&call).expect("exists");
            c.step = step;
            c.variant = variant;
            self.schedule_call_timers(call);
        }
        // Staffing may have changed anywhere: re-check `leave_empty`.
        self.emptied.extend(0..self.queues.len() as u32);
        replace.sort_unstable();
        for ord in replace {
            let Some(c) = self.calls.get(&ord.call) else {
                continue;
            };
            if c.state != CallState::Detached {
                continue;
            }
            if self.queues[c.queue as usize].removed {
                self.exit_call(ord.call, ExitReason::QueueRemoved);
            } else {
                self.route_call(ord.call);
            }
        }
    }
}

/// The seed of a free set's random numbers: the queue name for its first
/// step (as before steps had their own), then name, variant and step.
pub(crate) fn step_seed(queue: &str, variant: &str, step: usize) -> String {
    if variant.is_empty() && step == 0 {
        queue.to_string()
    } else {
        format!("{queue}/{variant}/{step}")
    }
}
