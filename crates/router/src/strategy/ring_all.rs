//! `ring-all`: ring every free agent of the best tier; first answer wins.

use super::{AgentView, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// Rings all free agents of the lowest penalty tier (up to the queue's
/// `ring_all_limit`, longest idle first).
#[derive(Debug, Clone, Copy, Default)]
pub struct RingAll;

impl SelectAgent for RingAll {
    fn name(&self) -> &'static str {
        "ring-all"
    }

    fn shape(&self) -> FreeShape {
        FreeShape::PerListing { by_primary: false }
    }

    fn key(&self, a: &AgentView<'_>, _memory: &QueueMemory, _rng: &mut Rng) -> (u64, u64) {
        (a.listed_at, u64::from(a.order))
    }

    fn rings_all(&self) -> bool {
        true
    }
}
