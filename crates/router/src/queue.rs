//! Queues and their routing buckets.
//!
//! A bucket is a queue at one relaxation step: one requirement, one penalty
//! limit, the callers currently at that step (ordered) and the free agents
//! able to serve them (ordered by the queue's strategy). A call sits in
//! exactly one bucket; an agent belongs to every bucket whose requirement
//! it satisfies.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::call::CallOrd;
use crate::config::QueueConfig;
use crate::free_set::{FreeSet, Spares};
use crate::stats::Rolling;
use crate::strategy::{QueueMemory, SelectAgent};
use crate::util::Rng;

/// Fields in declaration order (`repr(C)`): what listing an agent reads
/// first (the strategy and its state, the member count: one line), then
/// the free set (its header on the next line, the last level's list on the
/// one after), the waiting callers last.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct Bucket {
    /// The queue's strategy (a copy, so that listing an agent does not
    /// touch its queues) and its random numbers for this free set (seeded
    /// from the queue name and step). Used only when `pool` is this bucket.
    pub selector: &'static dyn SelectAgent,
    pub rng: Rng,
    /// The strategy's memory for this free set (the random strategies'
    /// virtual clock). Used only when `pool` is this bucket.
    pub memory: QueueMemory,
    /// Member agents (any state): bounds the free set before a sweep.
    pub members: u32,
    /// The bucket whose `free` set this one uses: itself, or the first
    /// bucket with the same requirement, penalty limit, members and a
    /// shareable strategy (relaxation steps of many queues often converge).
    pub pool: u32,
    pub queue: u32,
    /// Members logged in and unpaused.
    pub ready: u32,
    /// Free agents, smallest key first; may hold stale entries. Used only
    /// when `pool` is this bucket.
    pub free: FreeSet,
    pub waiting: BTreeSet<CallOrd>,
    pub require: Vec<(u16, u8)>,
    pub max_penalty: Option<u32>,
}

impl Bucket {
    /// Entries the free set may hold, stale ones included, before it is
    /// swept.
    pub fn sweep_limit(&self) -> usize {
        2 * self.members as usize + 64
    }

    /// One step of the free set's stale-entry sweep (see
    /// [`FreeSet::sweep_step`]); `live` holds each agent's current listing
    /// generation. Returns whether it did a step.
    pub fn sweep_step(&mut self, sp: &mut Spares, live: &[u32]) -> bool {
        let limit = self.sweep_limit();
        self.free
            .sweep_step(limit, sp, |k| live[k.agent as usize] == k.gen)
    }
}

/// Free sets waiting for housekeeping, oldest first, each once.
#[derive(Debug, Default)]
pub(crate) struct Untidy {
    queue: VecDeque<u32>,
    /// Bit `b`: bucket `b` is in `queue`.
    queued: Vec<u64>,
}

impl Untidy {
    /// Queues bucket `b` unless it is queued already.
    pub fn push(&mut self, b: u32) {
        let (w, bit) = (b as usize / 64, 1u64 << (b % 64));
        if self.queued.len() <= w {
            self.queued.resize(w + 1, 0);
        }
        if self.queued[w] & bit == 0 {
            self.queued[w] |= bit;
            self.queue.push_back(b);
        }
    }

    pub fn front(&self) -> Option<u32> {
        self.queue.front().copied()
    }

    pub fn pop_front(&mut self) {
        if let Some(b) = self.queue.pop_front() {
            self.queued[b as usize / 64] &= !(1u64 << (b % 64));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn clear(&mut self) {
        self.queue.clear();
        self.queued.clear();
    }

    /// Each queued bucket once, with its bit, and no other bit (tests and
    /// invariants).
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for &b in &self.queue {
            let bit = self.queued.get(b as usize / 64).map(|w| w >> (b % 64) & 1);
            if !seen.insert(b) || bit != Some(1) {
                return Err(format!(
                    "bucket {b}: queued for housekeeping twice or without its bit"
                ));
            }
        }
        let bits: u32 = self.queued.iter().map(|w| w.count_ones()).sum();
        if bits as usize != self.queue.len() {
            return Err("housekeeping bits without a queued set".into());
        }
        Ok(())
    }
}

/// Extra skills (by name) and the bucket of each step for them.
pub(crate) type Variant = (Vec<(String, u8)>, Vec<u32>);

#[derive(Debug)]
pub(crate) struct Queue {
    pub name: String,
    pub cfg: QueueConfig,
    pub removed: bool,
    pub selector: &'static dyn SelectAgent,
    /// Bucket of each step (index 0 = base requirement).
    pub buckets: Vec<u32>,
    /// Variants for callers with extra skills: (extra skills, bucket per step).
    pub variants: Vec<Variant>,
    /// Wait (ns) at which each step starts; `[0, relax[0].after, ...]`.
    pub step_after: Vec<u64>,
    /// Callers in the queue (waiting, parked or ringing).
    pub in_queue: usize,
    /// Callers in the queue by `255 - priority`.
    pub by_prio: BTreeMap<u8, usize>,
    /// Members logged in / logged in and unpaused.
    pub staffed: u32,
    pub ready: u32,
    pub stats: Rolling,
    /// Agents that left the queue (at a reload) and when they were members:
    /// `(agent, joined, left)`, for occupancy while the windows reach it.
    pub former: Vec<(u32, u64, u64)>,
}

impl Queue {
    pub fn step_for(&self, waited: u64) -> usize {
        self.step_after
            .iter()
            .rposition(|&a| a <= waited)
            .unwrap_or(0)
    }

    pub fn add_prio(&mut self, prio: u8) {
        self.in_queue += 1;
        *self.by_prio.entry(prio).or_default() += 1;
    }

    pub fn remove_prio(&mut self, prio: u8) {
        self.in_queue = self.in_queue.saturating_sub(1);
        if let Some(n) = self.by_prio.get_mut(&prio) {
            *n -= 1;
            if *n == 0 {
                self.by_prio.remove(&prio);
            }
        }
    }

    /// Callers at this priority or above (a newcomer's position minus one).
    pub fn ahead_of_new(&self, prio: u8) -> usize {
        self.by_prio.range(..=prio).map(|(_, n)| n).sum()
    }
}
