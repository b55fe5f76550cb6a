//! `weighted-random`: random, proportional to weight.

use super::random::{advance_race, race_key, race_key_alive};
use super::{AgentView, FreeKey, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// Random with probability proportional to the agent's `weight` (within the
/// best tier), in O(log n): the exponential race of [`super::Random`] with
/// rate `weight` (Efraimidis–Spirakis), on the free set's virtual clock so
/// that every decision is an exact, fresh weighted draw.
#[derive(Debug, Clone, Copy, Default)]
pub struct WeightedRandom;

impl SelectAgent for WeightedRandom {
    fn name(&self) -> &'static str {
        "weighted-random"
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
        race_key(memory, a.tier, a.weight, rng)
    }

    fn offered(&self, memory: &mut QueueMemory, picked: Option<&FreeKey>, _order: u32) {
        advance_race(memory, picked);
    }
}
