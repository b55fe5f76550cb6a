//! `random`: uniformly random.

use super::{AgentView, FreeKey, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// A uniformly random free agent (within the best tier), in O(log n).
///
/// An exponential race on a virtual clock: an agent entering the free set
/// draws `now_v + Exp(1)`; the smallest key wins and moves the clock to it.
/// By memorylessness every decision is a fresh race among the free agents,
/// so each is chosen with the same probability. Deterministic for a given
/// seed (the queue name). An agent's key stays in the set while it is busy
/// and is kept when it comes back if the clock has not reached it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Random;

impl SelectAgent for Random {
    fn name(&self) -> &'static str {
        "random"
    }

    fn shape(&self) -> FreeShape {
        FreeShape::PerMember
    }

    fn shareable(&self) -> bool {
        false
    }

    fn keeps(&self, old: &FreeKey, _a: &AgentView<'_>, memory: &QueueMemory) -> bool {
        race_key_alive(old, memory)
    }

    fn key(&self, _a: &AgentView<'_>, memory: &QueueMemory, rng: &mut Rng) -> (u64, u64) {
        race_key(memory, 1, rng)
    }

    fn offered(&self, memory: &mut QueueMemory, picked: Option<&FreeKey>, _order: u32) {
        advance_race(memory, picked);
    }
}

/// `virtual_time + Exp(weight)` as an order-preserving `u64`.
pub(super) fn race_key(memory: &QueueMemory, weight: u32, rng: &mut Rng) -> (u64, u64) {
    let u = rng.next_f64_open();
    let k = memory.virtual_time + (-u.ln() / f64::from(weight.max(1)));
    // Non-negative finite f64s order like their bit patterns.
    (k.to_bits(), 0)
}

/// Whether a race key drawn earlier is still ahead of the free set's virtual
/// clock. By memorylessness, a key `k > now_v` is distributed as
/// `now_v + Exp(weight)` given that it has not been reached, so an agent
/// back from a busy spell may keep it: the race stays exact.
pub(super) fn race_key_alive(old: &FreeKey, memory: &QueueMemory) -> bool {
    f64::from_bits(old.primary) > memory.virtual_time
}

pub(super) fn advance_race(memory: &mut QueueMemory, picked: Option<&FreeKey>) {
    if let Some(k) = picked {
        let t = f64::from_bits(k.primary);
        if t.is_finite() && t > memory.virtual_time {
            memory.virtual_time = t;
        }
    }
}
