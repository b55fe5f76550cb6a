//! `best-skill`: highest proficiency in the required skills first.

use super::{AgentView, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// The agent with the highest sum of levels in the skills the bucket
/// requires; ties by idle time (longest first).
#[derive(Debug, Clone, Copy, Default)]
pub struct BestSkill;

impl SelectAgent for BestSkill {
    fn name(&self) -> &'static str {
        "best-skill"
    }

    fn shape(&self) -> FreeShape {
        FreeShape::PerListing { by_primary: true }
    }

    fn key(&self, a: &AgentView<'_>, _memory: &QueueMemory, _rng: &mut Rng) -> (u64, u64) {
        (u64::from(u32::MAX - a.proficiency), a.idle_since)
    }
}
