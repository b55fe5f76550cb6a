//! The free agents of one bucket, smallest [`FreeKey`] first.
//!
//! Three shapes behind one interface:
//!
//! - one FIFO per tier for strategies whose keys only grow (longest-idle,
//!   ring-all: the key is the time the agent became offerable), where
//!   listing and taking are O(1) and cache-friendly;
//! - a binary min-heap for strategies whose keys come in any order and
//!   change at every listing (fewest-calls, least-talk-time, ...): an O(1)
//!   average push per listing;
//! - an ordered set for strategies whose key usually survives a busy spell
//!   (round-robin, linear, random, weighted-random): at most one entry per
//!   member, removed or replaced by key in O(log n), so an agent becoming
//!   free again touches only the sets where its key changed.
//!
//! FIFOs and heaps may hold stale entries (of agents listed again since),
//! dropped by the caller when met. An ordered set holds exactly the entry
//! its member's `Membership::listed` names; entries of busy members stay
//! and are dropped when met at the front.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};

use crate::strategy::FreeKey;

#[derive(Debug)]
pub(crate) enum FreeSet {
    Heap(BinaryHeap<Reverse<FreeKey>>),
    /// `(tier, entries in key order)`, by increasing tier.
    Fifo(Vec<(u32, VecDeque<FreeKey>)>),
    /// One entry per member at most; `gen` is always 0.
    Indexed(BTreeSet<FreeKey>),
}

impl FreeSet {
    /// The shape for a strategy: FIFO if its keys only grow, ordered set if
    /// its keys are kept across busy spells, heap otherwise.
    pub fn new(monotone: bool, indexed: bool) -> Self {
        if monotone {
            FreeSet::Fifo(Vec::new())
        } else if indexed {
            FreeSet::Indexed(BTreeSet::new())
        } else {
            FreeSet::Heap(BinaryHeap::new())
        }
    }

    /// Whether this is the ordered-set shape (entries removed by key).
    pub fn is_indexed(&self) -> bool {
        matches!(self, FreeSet::Indexed(_))
    }

    /// Removes one entry by key (ordered sets only; a no-op otherwise).
    pub fn remove(&mut self, k: &FreeKey) {
        if let FreeSet::Indexed(s) = self {
            s.remove(k);
        }
    }

    pub fn push(&mut self, k: FreeKey) {
        match self {
            FreeSet::Heap(h) => h.push(Reverse(k)),
            FreeSet::Indexed(s) => {
                s.insert(k);
            }
            FreeSet::Fifo(tiers) => {
                let i = match tiers.binary_search_by_key(&k.tier, |(t, _)| *t) {
                    Ok(i) => i,
                    Err(i) => {
                        tiers.insert(i, (k.tier, VecDeque::new()));
                        i
                    }
                };
                let q = &mut tiers[i].1;
                if q.back().is_none_or(|b| *b <= k) {
                    q.push_back(k);
                } else {
                    // Same-instant keys with a smaller tie-break: insert near the back.
                    let pos = q.partition_point(|e| *e <= k);
                    q.insert(pos, k);
                }
            }
        }
    }

    pub fn peek(&self) -> Option<FreeKey> {
        match self {
            FreeSet::Heap(h) => h.peek().map(|r| r.0),
            FreeSet::Indexed(s) => s.first().copied(),
            FreeSet::Fifo(tiers) => tiers.iter().find_map(|(_, q)| q.front().copied()),
        }
    }

    pub fn pop(&mut self) -> Option<FreeKey> {
        match self {
            FreeSet::Heap(h) => h.pop().map(|r| r.0),
            FreeSet::Indexed(s) => s.pop_first(),
            FreeSet::Fifo(tiers) => tiers.iter_mut().find_map(|(_, q)| q.pop_front()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            FreeSet::Heap(h) => h.len(),
            FreeSet::Indexed(s) => s.len(),
            FreeSet::Fifo(tiers) => tiers.iter().map(|(_, q)| q.len()).sum(),
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&FreeKey) -> bool) {
        match self {
            FreeSet::Heap(h) => h.retain(|r| keep(&r.0)),
            FreeSet::Indexed(s) => s.retain(keep),
            FreeSet::Fifo(tiers) => {
                for (_, q) in tiers.iter_mut() {
                    q.retain(&mut keep);
                }
                tiers.retain(|(_, q)| !q.is_empty());
            }
        }
    }

    /// Every entry, in no particular order.
    pub fn entries(&self) -> Vec<FreeKey> {
        match self {
            FreeSet::Heap(h) => h.iter().map(|r| r.0).collect(),
            FreeSet::Indexed(s) => s.iter().copied().collect(),
            FreeSet::Fifo(tiers) => tiers.iter().flat_map(|(_, q)| q.iter().copied()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(tier: u32, primary: u64, agent: u32) -> FreeKey {
        FreeKey {
            tier,
            primary,
            secondary: 0,
            agent,
            gen: 0,
        }
    }

    #[test]
    fn both_shapes_give_the_same_order() {
        let keys = [
            k(1, 5, 0),
            k(0, 7, 1),
            k(0, 7, 0),
            k(0, 9, 2),
            k(1, 6, 3),
            k(0, 8, 4),
        ];
        for (monotone, indexed) in [(false, false), (true, false), (false, true)] {
            let mut s = FreeSet::new(monotone, indexed);
            for key in keys {
                s.push(key);
            }
            let mut out = Vec::new();
            while let Some(x) = s.pop() {
                out.push((x.tier, x.primary, x.agent));
            }
            assert_eq!(
                out,
                [
                    (0, 7, 0),
                    (0, 7, 1),
                    (0, 8, 4),
                    (0, 9, 2),
                    (1, 5, 0),
                    (1, 6, 3)
                ]
            );
        }
    }
}
