//! `fewest-calls`: the agent that answered the fewest calls.

use super::{AgentView, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// Fewest answered calls since login (across all its queues, so an agent in
/// several queues is not overloaded); ties by idle time.
#[derive(Debug, Clone, Copy, Default)]
pub struct FewestCalls;

impl SelectAgent for FewestCalls {
    fn name(&self) -> &'static str {
        "fewest-calls"
    }

    fn shape(&self) -> FreeShape {
        FreeShape::PerListing { by_primary: true }
    }

    fn key(&self, a: &AgentView<'_>, _memory: &QueueMemory, _rng: &mut Rng) -> (u64, u64) {
        (a.calls_answered, a.idle_since)
    }
}
