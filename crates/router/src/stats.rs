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

/// The agent-time of one queue's members for occupancy: how many are
/// staffed (logged in, unpaused: available or busy) and busy (ringing,
/// talking, wrapping up), integrated over time. The counts change at agent
/// state changes; the integral of a slot is written to the queue's
/// [`Rolling`] only once the slot is over (so a state change touches a few
/// bytes per queue, not the queue's slots), and the open part is added on
/// demand ([`Meter::open`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Meter {
    pub staffed: u32,
    pub busy: u32,
    /// Integrated up to here.
    since: u64,
    /// Agent-ns staffed / busy in the slot of `since`, not yet written.
    pend_staffed: u64,
    pend_busy: u64,
}

impl Meter {
    /// A meter with no agents, integrating from `now`.
    pub fn new(now: u64) -> Self {
        Meter {
            since: now,
            ..Default::default()
        }
    }

    /// Integrates the current counts up to `now`; call before changing
    /// them. Completed slots are written into `stats` (of granularity
    /// `g`), which is not touched otherwise.
    pub fn advance(&mut self, now: u64, g: u64, stats: &mut Rolling) {
        let mut t = self.since;
        if now <= t {
            return;
        }
        if now < t - t % g + g {
            // Still in the slot of `since`: the usual case.
            self.pend_staffed += u64::from(self.staffed) * (now - t);
            self.pend_busy += u64::from(self.busy) * (now - t);
            self.since = now;
            return;
        }
        debug_assert_eq!(g, stats.granularity);
        // Nothing older than the retention matters (an idle night, say).
        let floor = now.saturating_sub(stats.retention + g);
        if t < floor {
            self.write(t - t % g, stats);
            t = floor - floor % g;
        }
        while t < now {
            let slot = t - t % g;
            let end = (slot + g).min(now);
            self.pend_staffed += u64::from(self.staffed) * (end - t);
            self.pend_busy += u64::from(self.busy) * (end - t);
            if end == slot + g {
                self.write(slot, stats);
            }
            t = end;
        }
        self.since = now;
    }

    fn write(&mut self, slot: u64, stats: &mut Rolling) {
        if self.pend_staffed > 0 || self.pend_busy > 0 {
            let c = stats.at(slot);
            c.staffed_ns += self.pend_staffed;
            c.busy_ns += self.pend_busy;
        }
        self.pend_staffed = 0;
        self.pend_busy = 0;
    }

    /// Agent-ns `(staffed, busy)` not yet in the slots that a window of
    /// `window` ns ending at `now` sums ([`Rolling::sum`]).
    pub fn open(&self, now: u64, window: u64, granularity: u64) -> (u64, u64) {
        let from = now.saturating_sub(window);
        // `Rolling::sum` takes the slots starting at or after this.
        let lo = from - from % granularity;
        let (mut staffed, mut busy) = (0, 0);
        if self.since - self.since % granularity >= lo {
            staffed += self.pend_staffed;
            busy += self.pend_busy;
        }
        let start = self.since.max(lo);
        if now > start {
            staffed += u64::from(self.staffed) * (now - start);
            busy += u64::from(self.busy) * (now - start);
        }
        (staffed, busy)
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

    /// The meter against a naive reference: per-second sampling of the
    /// counts, summed over the slots a window covers.
    #[test]
    fn meter_matches_sampling() {
        let g = 60 * S;
        let mut r = Rolling::new(g, 3600 * S);
        let mut m = Meter::new(0);
        // (time s, staffed, busy) from then on
        let changes = [
            (0, 2, 0),
            (10, 2, 1),
            (70, 3, 1),
            (75, 3, 3),
            (200, 1, 1),
            (1000, 0, 0),
            (1100, 2, 2),
        ];
        let count_at = |t: u64| {
            changes
                .iter()
                .rev()
                .find(|c| c.0 <= t)
                .map_or((0, 0), |c| (c.1, c.2))
        };
        for &(t, staffed, busy) in &changes {
            m.advance(t * S, g, &mut r);
            m.staffed = staffed;
            m.busy = busy;
        }
        for now in [1100, 1150, 1300, 2000, 5000] {
            let now_ns = now * S;
            for window in [60, 120, 900, 3600] {
                let c = r.sum(now_ns, window * S);
                let (os, ob) = m.open(now_ns, window * S, g);
                let from = (now - window.min(now)) / 60 * 60;
                let (mut es, mut eb) = (0, 0);
                for t in from..now {
                    let (s, b) = count_at(t);
                    es += u64::from(s) * S;
                    eb += u64::from(b) * S;
                }
                assert_eq!(
                    (c.staffed_ns + os, c.busy_ns + ob),
                    (es, eb),
                    "now {now} window {window}"
                );
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
