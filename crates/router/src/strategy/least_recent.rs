//! `least-recent`: the agent whose last call ended longest ago.

use super::{AgentView, FreeShape, QueueMemory, SelectAgent};
use crate::util::Rng;

/// Least recently hung up first; agents who never took a call come first.
/// Unlike `longest-idle`, a pause or a re-login does not reset the clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastRecent;

impl SelectAgent for LeastRecent {
    fn name(&self) -> &'static str {
        "least-recent"
    }

    fn shape(&self) -> FreeShape {
        FreeShape::PerListing { by_primary: false }
    }

    fn key(&self, a: &AgentView<'_>, _memory: &QueueMemory, _rng: &mut Rng) -> (u64, u64) {
        (a.last_call_end, a.idle_since)
    }
}
