//! `round-robin`: round robin with memory.

use std::collections::BTreeSet;
use std::ops::Bound;

use super::{AgentView, FreeKey, QueueMemory, SelectAgent};
use crate::util::Rng;

/// The first free agent after the one this queue offered last (in config
/// order, within the best tier), wrapping around. O(log n) with a range query.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobin;

impl SelectAgent for RoundRobin {
    fn name(&self) -> &'static str {
        "round-robin"
    }

    fn key(&self, a: &AgentView<'_>, _memory: &QueueMemory, _rng: &mut Rng) -> (u64, u64) {
        (u64::from(a.order), 0)
    }

    fn pick(&self, free: &BTreeSet<FreeKey>, memory: &QueueMemory) -> Option<FreeKey> {
        let first = *free.first()?;
        let Some(last) = memory.last_offered else {
            return Some(first);
        };
        let from = FreeKey {
            tier: first.tier,
            primary: u64::from(last) + 1,
            secondary: 0,
            agent: 0,
            gen: 0,
        };
        let to = FreeKey {
            tier: first.tier + 1,
            primary: 0,
            secondary: 0,
            agent: 0,
            gen: 0,
        };
        free.range((Bound::Included(from), Bound::Excluded(to)))
            .next()
            .copied()
            .or(Some(first))
    }

    fn offered(&self, memory: &mut QueueMemory, _picked: Option<&FreeKey>, order: u32) {
        memory.last_offered = Some(order);
    }
}
