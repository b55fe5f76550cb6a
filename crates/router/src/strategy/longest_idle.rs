//! `longest-idle`: the agent that has been available the longest.

use super::{AgentView, QueueMemory, SelectAgent};
use crate::util::Rng;

/// Longest idle first (since its last call's wrap-up, login or unpause).
#[derive(Debug, Clone, Copy, Default)]
pub struct LongestIdle;

impl SelectAgent for LongestIdle {
    fn name(&self) -> &'static str {
        "longest-idle"
    }

    fn key(&self, a: &AgentView<'_>, _memory: &QueueMemory, _rng: &mut Rng) -> (u64, u64) {
        (a.idle_since, u64::from(a.order))
    }
}
