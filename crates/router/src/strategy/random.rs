//! `random`: uniformly random.

use super::{AgentView, SelectAgent};
use crate::util::Rng;

/// A uniformly random free agent (within the best tier). The agent draws a
/// random key each time it becomes free, so choosing is still `first()`.
/// Deterministic for a given seed (the queue name).
#[derive(Debug, Clone, Copy, Default)]
pub struct Random;

impl SelectAgent for Random {
    fn name(&self) -> &'static str {
        "random"
    }

    fn key(&self, _a: &AgentView<'_>, rng: &mut Rng) -> (u64, u64) {
        (rng.next_u64(), 0)
    }
}
