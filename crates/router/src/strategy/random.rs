//! `random`: uniformly random.

use super::{AgentView, FreeKey, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// A uniformly random free agent (within the best tier), in O(log n).
///
/// An exponential race on a virtual clock: an agent entering the free set
/// draws `now_v + Exp(1)`; the smallest key wins and moves the clock to it.
/// By memorylessness every decision is a fresh race among the free agents,
/// so each is chosen with the same probability. Deterministic for a given
/// seed (the queue name).
///
/// One clock per tier: the set hands out entries in (tier, key) order, so a
/// tier's clock only ever moves to a key taken from the front of that tier,
/// and every entry still in the set is ahead of its tier's clock. An agent's
/// key stays in the set while it is busy (it is dropped only when met at the
/// front), so an agent coming back whose entry is still there keeps it: by
/// memorylessness a key not yet reached is distributed as `now_v + Exp(w)`,
/// and the race stays exact. That check reads only the agent's membership
/// ([`SelectAgent::keeps_alone`]), not the set. (With one clock for all
/// tiers, picks in a better tier could pass keys waiting in a worse one.)
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

    fn keeps_alone(&self) -> bool {
        true
    }

    fn keeps(&self, old: &FreeKey, _a: &AgentView<'_>, _memory: &QueueMemory) -> bool {
        race_key_alive(old)
    }

    fn key(&self, a: &AgentView<'_>, memory: &QueueMemory, rng: &mut Rng) -> (u64, u64) {
        race_key(memory, a.tier, 1, rng)
    }

    fn offered(&self, memory: &mut QueueMemory, picked: Option<&FreeKey>, _order: u32) {
        advance_race(memory, picked);
    }
}

/// `virtual_time(tier) + Exp(weight)` as an order-preserving `u64`.
pub(super) fn race_key(memory: &QueueMemory, tier: u32, weight: u32, rng: &mut Rng) -> (u64, u64) {
    let u = rng.next_f64_open();
    let k = memory.virtual_time(tier) + (-u.ln() / f64::from(weight.max(1)));
    // Non-negative finite f64s order like their bit patterns.
    (k.to_bits(), 0)
}

/// Whether a race key drawn earlier may be kept: the router asks only while
/// the entry is still in the set, which means its tier's clock has not
/// reached it (see [`Random`]); a finite key is all that is left to check.
pub(super) fn race_key_alive(old: &FreeKey) -> bool {
    f64::from_bits(old.primary).is_finite()
}

pub(super) fn advance_race(memory: &mut QueueMemory, picked: Option<&FreeKey>) {
    if let Some(k) = picked {
        let t = f64::from_bits(k.primary);
        if t.is_finite() {
            memory.advance(k.tier, t);
        }
    }
}
