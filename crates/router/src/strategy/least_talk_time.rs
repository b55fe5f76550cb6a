//! `least-talk-time`: the agent that talked the least.

use super::{AgentView, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// Least talk time since login; ties by idle time.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastTalkTime;

impl SelectAgent for LeastTalkTime {
    fn name(&self) -> &'static str {
        "least-talk-time"
    }

    fn shape(&self) -> FreeShape {
        FreeShape::PerListing { by_primary: false }
    }

    fn key(&self, a: &AgentView<'_>, _memory: &QueueMemory, _rng: &mut Rng) -> (u64, u64) {
        (a.talk_ns, a.idle_since)
    }
}
