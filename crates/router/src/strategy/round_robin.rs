//! `round-robin`: round robin with memory.

use super::{AgentView, FreeKey, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// Round robin with memory: the free agent this queue offered least
/// recently (never-offered agents first, in config order), within the best
/// tier. With every agent free this is the classic cycle a, b, c, a...; an
/// agent skipped because it was busy gets the next turn once free.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobin;

impl SelectAgent for RoundRobin {
    fn name(&self) -> &'static str {
        "round-robin"
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

    fn keeps(&self, old: &FreeKey, a: &AgentView<'_>, _memory: &QueueMemory) -> bool {
        (old.primary, old.secondary) == (a.last_offered_here, u64::from(a.order))
    }

    fn key(&self, a: &AgentView<'_>, _memory: &QueueMemory, _rng: &mut Rng) -> (u64, u64) {
        (a.last_offered_here, u64::from(a.order))
    }
}
