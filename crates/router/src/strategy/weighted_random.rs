//! `weighted-random`: random, proportional to weight.

use super::{AgentView, SelectAgent};
use crate::util::Rng;

/// Random with probability proportional to the agent's `weight`, by an
/// exponential race (Efraimidis–Spirakis): each free agent draws
/// `-ln(U) / weight` and the smallest wins. Keys are drawn when the agent
/// becomes free, so choosing stays O(log n).
#[derive(Debug, Clone, Copy, Default)]
pub struct WeightedRandom;

impl SelectAgent for WeightedRandom {
    fn name(&self) -> &'static str {
        "weighted-random"
    }

    fn key(&self, a: &AgentView<'_>, rng: &mut Rng) -> (u64, u64) {
        let u = rng.next_f64_open();
        let k = -u.ln() / f64::from(a.weight.max(1));
        // Non-negative finite f64s order like their bit patterns.
        (k.to_bits(), 0)
    }
}
