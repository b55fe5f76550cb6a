//! `longest-idle`: the agent that has been available the longest.

use super::{AgentView, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// Longest idle first: the agent that has been offerable the longest (since
/// its last call's wrap-up ended, its login, its unpause or the end of a
/// reject / no-answer delay). Keys only grow, so the bucket is a FIFO.
#[derive(Debug, Clone, Copy, Default)]
pub struct LongestIdle;

impl SelectAgent for LongestIdle {
    fn name(&self) -> &'static str {
        "longest-idle"
    }

    fn shape(&self) -> FreeShape {
        FreeShape::PerListing { by_primary: false }
    }

    fn key(&self, a: &AgentView<'_>, _memory: &QueueMemory, _rng: &mut Rng) -> (u64, u64) {
        (a.listed_at, u64::from(a.order))
    }
}
