//! Real-time and rolling statistics for wallboards and the admin API.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::agent::AgentState;
use crate::call::CallState;
use crate::router::{Router, OCCUPANCY_WINDOWS, STATS_SLOT_NS};
use crate::stats::{window_start, AgentMeter, OccupancyStats, WindowStats};
use crate::strategy::Strategy;
use crate::util::{dur_ns, ms};

/// Agents by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    pub logged_out: usize,
    pub available: usize,
    pub ringing: usize,
    pub on_call: usize,
    pub wrap_up: usize,
    pub paused: usize,
}

impl StateCounts {
    fn add(&mut self, s: AgentState) {
        match s {
            AgentState::LoggedOut => self.logged_out += 1,
            AgentState::Available => self.available += 1,
            AgentState::Ringing => self.ringing += 1,
            AgentState::OnCall => self.on_call += 1,
            AgentState::WrapUp => self.wrap_up += 1,
            AgentState::Paused => self.paused += 1,
        }
    }
}

/// Everything a wallboard shows, at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub queues: Vec<QueueSnapshot>,
    pub agents: Vec<AgentSnapshot>,
    pub skills: Vec<SkillSnapshot>,
    /// Router-wide agent occupancy, 15 min and 24 h.
    pub occupancy: Vec<OccupancyStats>,
}

/// One queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueSnapshot {
    pub name: String,
    pub strategy: Strategy,
    /// Callers waiting (including those held for a sticky agent).
    pub waiting: usize,
    /// Callers being offered to an agent.
    pub ringing: usize,
    /// Longest current wait, ms.
    pub longest_wait_ms: u64,
    /// Estimated wait for a new caller of priority 0, ms.
    pub ewt_ms: u64,
    /// Member agents by state.
    pub agents: StateCounts,
    /// Rolling windows (the queue's `stats_windows`).
    pub windows: Vec<WindowStats>,
}

/// One agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentSnapshot {
    pub id: String,
    pub state: AgentState,
    /// Time in the current state, ms.
    pub in_state_ms: u64,
    pub pause_reason: Option<String>,
    pub capacity: u32,
    /// Calls ringing, talking and wrapping up.
    pub ringing: usize,
    pub on_call: u32,
    pub wrap_up: u32,
    pub calls_answered: u64,
    pub talk_ms: u64,
    pub consecutive_no_answers: u32,
    /// Time left resting after an unanswered, rejected or unreachable offer
    /// (`no_answer_delay`, `reject_delay`, `unreachable_delay`), ms; 0 when
    /// the agent may be offered calls.
    pub resting_ms: u64,
    /// Busy / staffed since login, percent.
    pub occupancy_pct: Option<f64>,
    /// Queues it serves (at any relaxation step).
    pub queues: Vec<String>,
}

/// One skill: agents having it by state, callers waiting for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillSnapshot {
    pub skill: String,
    pub agents: StateCounts,
    /// Callers whose current requirement includes the skill.
    pub waiting: usize,
}

impl Router {
    /// Real-time state and rolling statistics. O(agents + callers); meant
    /// for wallboards every second or so, not for every event.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let now_ns = self.clock.ns(now).max(self.now);
        let mut per_queue: Vec<(usize, usize, u64)> = vec![(0, 0, 0); self.queues.len()];
        let mut skill_waiting = vec![0usize; self.skill_names.len()];
        for c in self.calls.values() {
            let e = &mut per_queue[c.queue as usize];
            match c.state {
                CallState::Ringing { .. } => e.1 += 1,
                CallState::Connected { .. } => continue,
                _ => e.0 += 1,
            }
            e.2 = e.2.max(now_ns.saturating_sub(c.queue_enter));
            if let Some(b) = self.call_bucket(c) {
                for &(s, _) in &self.buckets[b as usize].require {
                    skill_waiting[s as usize] += 1;
                }
            }
        }
        let mut queue_agents = vec![StateCounts::default(); self.queues.len()];
        let mut skill_agents = vec![StateCounts::default(); self.skill_names.len()];
        let mut agents = Vec::with_capacity(self.agents.len());
        let mut open_staffed = 0u64;
        let mut open_busy = 0u64;
        for ag in self.agents.iter().filter(|a| !a.removed || a.logged_in) {
            for &q in &ag.queues {
                queue_agents[q as usize].add(ag.state);
            }
            for &(s, l) in &ag.skills {
                if l > 0 {
                    skill_agents[s as usize].add(ag.state);
                }
            }
            let open = now_ns.saturating_sub(ag.since);
            let staffed_state = !matches!(ag.state, AgentState::LoggedOut | AgentState::Paused);
            let busy_state = matches!(
                ag.state,
                AgentState::Ringing | AgentState::OnCall | AgentState::WrapUp
            );
            let staffed = ag.staffed_ns + if staffed_state { open } else { 0 };
            let busy = ag.busy_ns + if busy_state { open } else { 0 };
            if staffed_state {
                open_staffed += open;
            }
            if busy_state {
                open_busy += open;
            }
            agents.push(AgentSnapshot {
                id: ag.id.clone(),
                state: ag.state,
                in_state_ms: ms(open),
                pause_reason: ag.pause_reason.clone(),
                capacity: ag.capacity(),
                ringing: ag.ringing.len(),
                on_call: ag.on_call,
                wrap_up: ag.wrapping,
                calls_answered: ag.calls_answered,
                talk_ms: ms(ag.talk_ns),
                consecutive_no_answers: ag.no_answers,
                resting_ms: ms(ag.ready_at.saturating_sub(now_ns)),
                occupancy_pct: (staffed > 0).then(|| busy as f64 * 100.0 / staffed as f64),
                queues: ag
                    .queues
                    .iter()
                    .map(|&q| self.queues[q as usize].name.clone())
                    .collect(),
            });
        }
        let occupancy = self.queue_occupancy(now_ns);
        let queues = self
            .queues
            .iter()
            .enumerate()
            .filter(|(_, q)| !q.removed)
            .map(|(i, q)| {
                let (waiting, ringing, longest) = per_queue[i];
                QueueSnapshot {
                    name: q.name.clone(),
                    strategy: q.cfg.strategy,
                    waiting,
                    ringing,
                    longest_wait_ms: ms(longest),
                    ewt_ms: ms(dur_ns(self.ewt(
                        i as u32,
                        q.buckets.first().copied(),
                        q.ahead_of_new(255) + 1,
                        now_ns,
                    ))),
                    agents: queue_agents[i].clone(),
                    windows: q
                        .cfg
                        .stats_windows
                        .iter()
                        .enumerate()
                        .map(|(wi, w)| {
                            let window = dur_ns(*w);
                            let mut c = q.stats.sum(now_ns, window);
                            let (staffed, busy) = occupancy[i][wi];
                            c.staffed_ns += staffed;
                            c.busy_ns += busy;
                            WindowStats::from_counters(window, &c)
                        })
                        .collect(),
                }
            })
            .collect();
        let mut skills: BTreeMap<&str, SkillSnapshot> = BTreeMap::new();
        for (i, name) in self.skill_names.iter().enumerate() {
            skills.insert(
                name,
                SkillSnapshot {
                    skill: name.clone(),
                    agents: skill_agents[i].clone(),
                    waiting: skill_waiting[i],
                },
            );
        }
        let occupancy = OCCUPANCY_WINDOWS
            .iter()
            .map(|w: &Duration| {
                let c = self.occupancy.sum(now_ns, dur_ns(*w));
                let staffed = c.staffed_ns + open_staffed.min(dur_ns(*w));
                let busy = c.busy_ns + open_busy.min(dur_ns(*w));
                OccupancyStats {
                    window_secs: w.as_secs(),
                    occupancy_pct: (staffed > 0).then(|| busy as f64 * 100.0 / staffed as f64),
                    staffed_secs: staffed / 1_000_000_000,
                    busy_secs: busy / 1_000_000_000,
                }
            })
            .collect();
        Snapshot {
            queues,
            agents,
            skills: skills.into_values().collect(),
            occupancy,
        }
    }
}

impl Router {
    /// Agent-ns `(staffed, busy)` of every queue's members over each of its
    /// `stats_windows` ending at `now`: each agent's meter summed over its
    /// queues (from when it joined each), plus former members while they
    /// were in. O(agents × their queues × windows).
    fn queue_occupancy(&self, now: u64) -> Vec<Vec<(u64, u64)>> {
        let starts: Vec<Vec<u64>> = self
            .queues
            .iter()
            .map(|q| {
                q.cfg
                    .stats_windows
                    .iter()
                    .map(|w| window_start(now, dur_ns(*w), STATS_SLOT_NS))
                    .collect()
            })
            .collect();
        let mut out: Vec<Vec<(u64, u64)>> = starts.iter().map(|s| vec![(0, 0); s.len()]).collect();
        // Cumulative values of one agent at a few instants (the windows'
        // starts are the same for most queues).
        fn at(meter: &AgentMeter, t: u64, memo: &mut Vec<(u64, (u64, u64))>) -> (u64, u64) {
            if let Some(&(_, c)) = memo.iter().find(|&&(x, _)| x == t) {
                return c;
            }
            let c = meter.cumulative(t);
            memo.push((t, c));
            c
        }
        let mut memo = Vec::new();
        let mut add = |a: u32, q: u32, joined: u64, left: u64, memo: &mut Vec<_>| {
            let meter = &self.agents[a as usize].meter;
            let end = at(meter, left, memo);
            for (wi, &lo) in starts[q as usize].iter().enumerate() {
                let from = lo.max(joined);
                if from >= left {
                    continue;
                }
                let begin = at(meter, from, memo);
                let e = &mut out[q as usize][wi];
                e.0 += end.0 - begin.0;
                e.1 += end.1 - begin.1;
            }
        };
        for (a, ag) in self.agents.iter().enumerate() {
            if ag.meter.is_empty() {
                continue;
            }
            memo.clear();
            for (&q, &joined) in ag.queues.iter().zip(&ag.joined) {
                add(a as u32, q, joined, now, &mut memo);
            }
        }
        for (q, qu) in self.queues.iter().enumerate() {
            for &(a, joined, left) in &qu.former {
                memo.clear();
                add(a, q as u32, joined, left.min(now), &mut memo);
            }
        }
        out
    }
}
