//! Queues and their routing buckets.
//!
//! A bucket is a queue at one relaxation step: one requirement, one penalty
//! limit, the callers currently at that step (ordered) and the free agents
//! able to serve them (ordered by the queue's strategy). A call sits in
//! exactly one bucket; an agent belongs to every bucket whose requirement
//! it satisfies.

use std::collections::{BTreeMap, BTreeSet};

use crate::call::CallOrd;
use crate::config::QueueConfig;
use crate::free_set::FreeSet;
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
