//! One heap of deadlines. Entries are never removed early: each carries a
//! generation or offer id and is ignored when stale.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::CallKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// An offer rang for the queue's ring timeout.
    Ring { call: CallKey, offer: u64 },
    /// The call's priority ages by one.
    Age { call: CallKey, gen: u64 },
    /// The call reaches its next relaxation step.
    Relax { call: CallKey, gen: u64 },
    /// The call waited `max_wait`.
    MaxWait { call: CallKey, gen: u64 },
    /// Time for a position / EWT announcement.
    Announce { call: CallKey, gen: u64 },
    /// A sticky / preferred-agent hold ends.
    Park { call: CallKey, gen: u64 },
    /// One wrap-up slot of an agent ends.
    Wrap {
        agent: u32,
        gen: u64,
        queue: u32,
        started: u64,
    },
    /// An agent's reject / no-answer delay ends.
    Ready { agent: u32, gen: u64 },
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(u64, u64, Timer)>>,
    seq: u64,
}

impl Timers {
    pub fn push(&mut self, at: u64, t: Timer) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, t)));
    }

    pub fn peek(&self) -> Option<(u64, Timer)> {
        self.heap.peek().map(|Reverse((at, _, t))| (*at, *t))
    }

    pub fn pop_due(&mut self, now: u64) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse((_, _, t))| t),
            _ => None,
        }
    }

    pub fn pop(&mut self) {
        self.heap.pop();
    }
}
