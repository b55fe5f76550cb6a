//! Rolling-window statistics: counters in fixed time slots, summed over a
//! window on demand.

use std::collections::VecDeque;

use serde::Serialize;

/// Counters of one time slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub offered: u64,
    pub answered: u64,
    pub answered_in_sl: u64,
    pub answer_wait_ns: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    pub exited: u64,
    pub overflowed: u64,
    pub completed: u64,
    pub talk_ns: u64,
    pub wrap_ns: u64,
    pub ring_no_answer: u64,
    pub staffed_ns: u64,
    pub busy_ns: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.offered += o.offered;
        self.answered += o.answered;
        self.answered_in_sl += o.answered_in_sl;
        self.answer_wait_ns += o.answer_wait_ns;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
        self.exited += o.exited;
        self.overflowed += o.overflowed;
        self.completed += o.completed;
        self.talk_ns += o.talk_ns;
        self.wrap_ns += o.wrap_ns;
        self.ring_no_answer += o.ring_no_answer;
        self.staffed_ns += o.staffed_ns;
        self.busy_ns += o.busy_ns;
    }
}

/// Slots of `granularity` ns, kept for `retention` ns.
#[derive(Debug, Clone)]
pub(crate) struct Rolling {
    pub granularity: u64,
    pub retention: u64,
    slots: VecDeque<(u64, Counters)>,
}

impl Rolling {
    pub fn new(granularity: u64, retention: u64) -> Self {
        Rolling {
            granularity: granularity.max(1),
            retention,
            slots: VecDeque::new(),
        }
    }

    pub fn set_retention(&mut self, retention: u64) {
        self.retention = retention;
    }

    /// The slot counting events at `now`.
    pub fn at(&mut self, now: u64) -> &mut Counters {
        self.maybe_prune(now);
        let start = now - now % self.granularity;
        // Events are recorded in time order except interval splits, which
        // may go back; find the slot from the back.
        let pos = self.slots.iter().rposition(|&(s, _)| s <= start);
        match pos {
            Some(i) if self.slots[i].0 == start => &mut self.slots[i].1,
            Some(i) => {
                self.slots.insert(i + 1, (start, Counters::default()));
                &mut self.slots[i + 1].1
            }
            None => {
                self.slots.push_front((start, Counters::default()));
                &mut self.slots[0].1
            }
        }
    }

    /// Drops slots older than the retention, when a new slot begins.
    fn maybe_prune(&mut self, now: u64) {
        let start = now - now % self.granularity;
        if self.slots.back().is_none_or(|&(s, _)| s < start) {
            self.prune(now);
        }
    }

    /// Spreads an interval over the slots it covers (only the retained part).
    pub fn add_interval(&mut self, from: u64, to: u64, f: fn(&mut Counters, u64)) {
        let from = from.max(to.saturating_sub(self.retention));
        let mut t = from;
        while t < to {
            let slot_end = (t - t % self.granularity)
                .saturating_add(self.granularity)
                .min(to);
            f(self.at(t), slot_end - t);
            t = slot_end;
        }
    }

    pub fn prune(&mut self, now: u64) {
        let horizon = now.saturating_sub(self.retention + self.granularity);
        while self.slots.front().is_some_and(|&(s, _)| s < horizon) {
            self.slots.pop_front();
        }
    }

    /// Sum over the slots that start within `window` before `now`.
    pub fn sum(&self, now: u64, window: u64) -> Counters {
        let from = now.saturating_sub(window);
        let mut c = Counters::default();
        for (s, slot) in self.slots.iter().rev() {
            if s + self.granularity <= from {
                break;
            }
            c.add(slot);
        }
        c
    }
}

/// The first slot start that a window of `window` ns ending at `now` sums
/// ([`Rolling::sum`] takes the slots starting at or after it).
pub(crate) fn window_start(now: u64, window: u64, granularity: u64) -> u64 {
    let from = now.saturating_sub(window);
    from - from % granularity
}

/// One point of an [`AgentMeter`]: the agent's cumulative staffed and busy
/// time at `at`, and whether it is staffed / busy from then on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Point {
    at: u64,
    staffed_ns: u64,
    busy_ns: u64,
    staffed: bool,
    busy: bool,
}

/// One agent's staffed (logged in, unpaused) and busy (ringing, talking,
/// wrap-up) time for queue occupancy: a point per change of the two flags,
/// holding the cumulative time so far. A change appends one point (O(1),
/// whatever the number of the agent's queues); the time in any interval is
/// a difference of two cumulative values found by binary search, so a
/// queue's figure is summed over its members only when read.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentMeter {
    points: VecDeque<Point>,
}

impl AgentMeter {
    /// The flags from `now` on (`now` never goes back). Points older than
    /// `horizon` are dropped, except the last one at or before it, so the
    /// cumulative time stays known from `horizon` on.
    pub fn set(&mut self, now: u64, staffed: bool, busy: bool, horizon: u64) {
        let (staffed_ns, busy_ns) = match self.points.back() {
            Some(p) if (p.staffed, p.busy) == (staffed, busy) => return,
            Some(p) if p.at >= now => {
                let (s, b) = (p.staffed_ns, p.busy_ns);
                self.points.pop_back();
                (s, b)
            }
            Some(_) => self.cumulative(now),
            None if !staffed && !busy => return,
            None => (0, 0),
        };
        if self
            .points
            .back()
            .is_some_and(|p| (p.staffed, p.busy) == (staffed, busy))
        {
            // Back to the flags before a change of the same instant.
            return;
        }
        self.points.push_back(Point {
            at: now,
            staffed_ns,
            busy_ns,
            staffed,
            busy,
        });
        while self.points.len() >= 2 && self.points[1].at <= horizon {
            self.points.pop_front();
        }
    }

    /// Whether the agent is (staffed, busy) as of its last change.
    pub fn flags(&self) -> (bool, bool) {
        self.points
            .back()
            .map_or((false, false), |p| (p.staffed, p.busy))
    }

    /// Whether the agent was never staffed since its points were kept.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Cumulative (staffed, busy) agent-ns at `t` (0 before the first point;
    /// exact from the horizon of the last [`AgentMeter::set`] on).
    pub fn cumulative(&self, t: u64) -> (u64, u64) {
        let i = self.points.partition_point(|p| p.at <= t);
        let Some(p) = i.checked_sub(1).map(|i| self.points[i]) else {
            return self
                .points
                .front()
                .map_or((0, 0), |p| (p.staffed_ns, p.busy_ns));
        };
        let d = t - p.at;
        (
            p.staffed_ns + if p.staffed { d } else { 0 },
            p.busy_ns + if p.busy { d } else { 0 },
        )
    }

    /// Agent-ns (staffed, busy) in `[from, to)`.
    #[cfg(test)]
    pub fn between(&self, from: u64, to: u64) -> (u64, u64) {
        if to <= from || self.points.is_empty() {
            return (0, 0);
        }
        let (s1, b1) = self.cumulative(to);
        let (s0, b0) = self.cumulative(from);
        (s1 - s0, b1 - b0)
    }
}

/// Statistics of one queue over one rolling window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowStats {
    /// Window length in seconds.
    pub window_secs: u64,
    /// Callers who entered.
    pub offered: u64,
    /// Callers answered by an agent.
    pub answered: u64,
    /// Callers who hung up while waiting.
    pub abandoned: u64,
    /// Of those, abandoned within the short-abandon threshold.
    pub short_abandoned: u64,
    /// Left by max wait, empty queue, full queue or queue removal.
    pub exited: u64,
    /// Moved to an overflow queue.
    pub overflowed: u64,
    /// Offers that were not answered.
    pub ring_no_answer: u64,
    /// Answered within the service-level threshold / (answered + abandoned
    /// after the short-abandon threshold), in percent. Abandons count against.
    pub service_level_pct: Option<f64>,
    /// Answered within the threshold / answered, in percent. Abandons ignored.
    pub service_level_answered_pct: Option<f64>,
    /// Average speed of answer (wait of answered callers), ms.
    pub asa_ms: Option<u64>,
    /// Average handle time (talk + wrap-up) of completed calls, ms.
    pub aht_ms: Option<u64>,
    /// Average talk time, ms.
    pub att_ms: Option<u64>,
    /// Abandoned (not short) / offered, percent.
    pub abandon_rate_pct: Option<f64>,
    /// Occupancy of the queue's members: time busy with calls (ringing,
    /// talking, wrap-up) / time staffed (logged in and unpaused: available
    /// or busy), percent. An agent in several queues counts in each.
    pub occupancy_pct: Option<f64>,
    /// Agent-seconds the queue's members were staffed.
    pub staffed_secs: u64,
    /// Agent-seconds the queue's members were busy with calls.
    pub busy_secs: u64,
}

impl WindowStats {
    pub(crate) fn from_counters(window_ns: u64, c: &Counters) -> Self {
        let pct = |num: u64, den: u64| (den > 0).then(|| num as f64 * 100.0 / den as f64);
        let avg_ms = |sum: u64, n: u64| (n > 0).then(|| sum / n / 1_000_000);
        let real_abandons = c.abandoned - c.short_abandoned;
        WindowStats {
            window_secs: window_ns / 1_000_000_000,
            offered: c.offered,
            answered: c.answered,
            abandoned: c.abandoned,
            short_abandoned: c.short_abandoned,
            exited: c.exited,
            overflowed: c.overflowed,
            ring_no_answer: c.ring_no_answer,
            service_level_pct: pct(c.answered_in_sl, c.answered + real_abandons),
            service_level_answered_pct: pct(c.answered_in_sl, c.answered),
            asa_ms: avg_ms(c.answer_wait_ns, c.answered),
            aht_ms: avg_ms(c.talk_ns + c.wrap_ns, c.completed),
            att_ms: avg_ms(c.talk_ns, c.completed),
            abandon_rate_pct: pct(real_abandons, c.offered),
            occupancy_pct: pct(c.busy_ns, c.staffed_ns),
            staffed_secs: c.staffed_ns / 1_000_000_000,
            busy_secs: c.busy_ns / 1_000_000_000,
        }
    }
}

/// Router-wide agent occupancy over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OccupancyStats {
    /// Window length in seconds.
    pub window_secs: u64,
    /// Busy (ringing, talking, wrap-up) / staffed (logged in, unpaused), percent.
    pub occupancy_pct: Option<f64>,
    /// Agent-seconds staffed.
    pub staffed_secs: u64,
    /// Agent-seconds busy.
    pub busy_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn windows_sum_only_recent_slots() {
        let mut r = Rolling::new(60 * S, 3600 * S);
        r.at(10 * S).offered += 1;
        r.at(130 * S).offered += 2;
        r.at(3000 * S).offered += 4;
        assert_eq!(r.sum(3010 * S, 900 * S).offered, 4);
        assert_eq!(r.sum(3010 * S, 3600 * S).offered, 7);
        r.prune(5000 * S);
        assert_eq!(r.sum(5000 * S, 3600 * S).offered, 4);
    }

    /// Counts (staffed, busy) of a list of changes at time `t` (s).
    fn flags_at(changes: &[(u64, bool, bool)], t: u64) -> (bool, bool) {
        changes
            .iter()
            .rev()
            .find(|c| c.0 <= t)
            .map_or((false, false), |c| (c.1, c.2))
    }

    /// The agent meter against a naive reference: per-second sampling of
    /// the flags, summed over the slots a window covers.
    #[test]
    fn agent_meter_matches_sampling() {
        let g = 60;
        let changes = [
            (0, true, false),
            (10, true, true),
            (70, true, false),
            (75, true, true),
            (200, false, false),
            (1000, true, false),
            (1100, true, true),
        ];
        let mut m = AgentMeter::default();
        for &(t, staffed, busy) in &changes {
            m.set(t * S, staffed, busy, 0);
        }
        for now in [1100, 1150, 1300, 2000, 5000] {
            for window in [60, 120, 900, 3600] {
                let lo = window_start(now * S, window * S, g * S);
                let (es, eb) = (lo / S..now).fold((0, 0), |(s, b), t| {
                    let (fs, fb) = flags_at(&changes, t);
                    (s + u64::from(fs) * S, b + u64::from(fb) * S)
                });
                assert_eq!(
                    m.between(lo, now * S),
                    (es, eb),
                    "now {now} window {window}"
                );
            }
        }
    }

    proptest::proptest! {
        /// Random changes (several may share an instant) and pruning: the
        /// time in any interval after the horizon is the sampled time.
        #[test]
        fn agent_meter_matches_a_naive_reference(
            steps in proptest::collection::vec((0..40u64, proptest::bool::ANY, proptest::bool::ANY), 1..80),
            keep in 0..400u64,
            queries in proptest::collection::vec((0..3000u64, 0..3000u64), 1..20),
        ) {
            let mut m = AgentMeter::default();
            let mut changes: Vec<(u64, bool, bool)> = Vec::new();
            let mut t = 0;
            for (dt, staffed, busy) in steps {
                t += dt;
                // Busy implies staffed in the router; the meter does not care.
                let horizon = t.saturating_sub(keep);
                m.set(t, staffed, busy, horizon);
                changes.retain(|c| c.0 != t);
                changes.push((t, staffed, busy));
                proptest::prop_assert_eq!(m.flags(), (staffed, busy));
            }
            let horizon = t.saturating_sub(keep);
            for (a, b) in queries {
                let (from, to) = (horizon + a.min(b), horizon + a.max(b));
                let (es, eb) = (from..to).fold((0, 0), |(s, b), x| {
                    let (fs, fb) = flags_at(&changes, x);
                    (s + u64::from(fs), b + u64::from(fb))
                });
                proptest::prop_assert_eq!(m.between(from, to), (es, eb), "[{}, {})", from, to);
            }
        }
    }

    #[test]
    fn intervals_are_split_across_slots() {
        let mut r = Rolling::new(60 * S, 3600 * S);
        r.add_interval(30 * S, 150 * S, |c, d| c.busy_ns += d);
        assert_eq!(r.sum(150 * S, 3600 * S).busy_ns, 120 * S);
        assert_eq!(r.sum(150 * S, 60 * S).busy_ns, 30 * S + 60 * S);
    }
}
