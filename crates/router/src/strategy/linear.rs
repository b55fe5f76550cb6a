//! `linear`: top-down in configuration order.

use super::{AgentView, FreeKey, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// Always the first free agent in configuration order (within the best tier).
#[derive(Debug, Clone, Copy, Default)]
pub struct Linear;

impl SelectAgent for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn shape(&self) -> FreeShape {
        FreeShape::PerMember
    }

    fn keeps_alone(&self) -> bool {
        true
    }

    fn keeps(&self, old: &FreeKey, a: &AgentView<'_>, _memory: &QueueMemory) -> bool {
        (old.primary, old.secondary) == (u64::from(a.order), 0)
    }

    fn key(&self, a: &AgentView<'_>, _memory: &QueueMemory, _rng: &mut Rng) -> (u64, u64) {
        (u64::from(a.order), 0)
    }
}
