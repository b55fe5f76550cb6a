//! The free agents of one bucket, smallest [`FreeKey`] first.
//!
//! Two shapes behind one interface, chosen by the strategy
//! ([`FreeShape`]):
//!
//! - **one entry per listing** ([`Blocks`]), for keys that change at every
//!   listing and mostly grow (longest-idle, ring-all, least-recent,
//!   fewest-calls, least-talk-time, best-skill): a sorted list of small
//!   blocks per tier, or per tier and `primary` key where that keeps
//!   listings at the back (fewest-calls: per call count; best-skill: per
//!   proficiency). Listing appends to the last block (a key smaller than the
//!   back, after an unpause say, is inserted in place: a binary search
//!   over blocks and a shift inside one block), taking pops the front
//!   block: O(1) for the usual case, O(log n + B) otherwise. An agent
//!   listed again leaves its old entry behind, stale; stale entries are
//!   dropped when met at the front, and an incremental sweep (one block
//!   per listing) clears the rest once the set outgrows twice its members,
//!   so no single decision pays for a whole compaction.
//! - **one entry per member** (an ordered set), for keys that usually
//!   survive a busy spell (round-robin, linear, random, weighted-random):
//!   the entry `Membership::listed` names, replaced in O(log n) when the
//!   key changes and otherwise left alone, so an agent coming back touches
//!   only the sets where its key changed. Entries of busy members stay
//!   and are dropped when met at the front.

use std::collections::{BTreeSet, VecDeque};

use crate::strategy::{FreeKey, FreeShape};

/// Entries per block: a shift inside one block stays within a few cache lines.
const BLOCK: usize = 32;
/// Empty blocks a list keeps for reuse.
const SPARE_BLOCKS: usize = 16;
/// Empty level lists a set keeps for reuse.
const SPARE_LISTS: usize = 16;

#[derive(Debug)]
pub(crate) enum FreeSet {
    PerListing(Levels),
    /// One entry per member at most; `gen` is always 0.
    PerMember(BTreeSet<FreeKey>),
}

impl FreeSet {
    pub fn new(shape: FreeShape) -> Self {
        match shape {
            FreeShape::PerListing { by_primary } => FreeSet::PerListing(Levels {
                by_primary,
                levels: Vec::new(),
                len: 0,
                sweep: None,
                spare: Vec::new(),
            }),
            FreeShape::PerMember => FreeSet::PerMember(BTreeSet::new()),
        }
    }

    /// Whether entries are one per member (replaced by key, never left
    /// stale by a new listing).
    pub fn per_member(&self) -> bool {
        matches!(self, FreeSet::PerMember(_))
    }

    /// Removes one entry by key (per-member sets only; a no-op otherwise).
    pub fn remove(&mut self, k: &FreeKey) {
        if let FreeSet::PerMember(s) = self {
            s.remove(k);
        }
    }

    #[inline]
    pub fn push(&mut self, k: FreeKey) {
        match self {
            FreeSet::PerMember(s) => {
                s.insert(k);
            }
            FreeSet::PerListing(b) => b.push(k),
        }
    }

    pub fn peek(&self) -> Option<FreeKey> {
        match self {
            FreeSet::PerMember(s) => s.first().copied(),
            FreeSet::PerListing(b) => b.peek(),
        }
    }

    pub fn pop(&mut self) -> Option<FreeKey> {
        match self {
            FreeSet::PerMember(s) => s.pop_first(),
            FreeSet::PerListing(b) => b.pop(),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        match self {
            FreeSet::PerMember(s) => s.len(),
            FreeSet::PerListing(b) => b.len,
        }
    }

    /// One step of the stale-entry sweep of a per-listing set: starts a
    /// sweep when the set holds more than `limit` entries, then clears one
    /// block per call until it has gone through them all. `keep` may keep
    /// stale entries (they are dropped when met) but must keep every
    /// current one.
    #[inline]
    pub fn sweep_step(&mut self, limit: usize, keep: impl FnMut(&FreeKey) -> bool) {
        if let FreeSet::PerListing(b) = self {
            // The usual case, inline: no sweep under way, none to start.
            if b.sweep.is_some() || b.len > limit {
                b.sweep_step(limit, keep);
            }
        }
    }

    /// Whether a sweep is under way.
    #[cfg(test)]
    pub fn sweeping(&self) -> bool {
        matches!(self, FreeSet::PerListing(b) if b.sweep.is_some())
    }

    #[cfg(test)]
    pub fn retain(&mut self, mut keep: impl FnMut(&FreeKey) -> bool) {
        match self {
            FreeSet::PerMember(s) => s.retain(keep),
            FreeSet::PerListing(b) => {
                // A full sweep from the start, even if one is under way.
                b.sweep = None;
                for (_, l) in &mut b.levels {
                    l.sweep = None;
                }
                b.sweep_step(0, &mut keep);
                while b.sweep.is_some() {
                    b.sweep_step(0, &mut keep);
                }
            }
        }
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> Vec<FreeKey> {
        match self {
            FreeSet::PerMember(s) => s.iter().copied().collect(),
            FreeSet::PerListing(b) => b
                .levels
                .iter()
                .flat_map(|(_, l)| l.blocks.iter().flatten().chain(&l.tail).copied())
                .collect(),
        }
    }
}

/// A list's level: `(tier, primary)`, or `(tier, 0)` when not `by_primary`.
type Level = (u32, u64);

/// Per-listing entries: one [`Blocks`] list per level, levels non-empty and
/// in increasing order. Lists are boxed so that a new level (a call count
/// reached for the first time) shifts 24-byte entries, not whole lists.
/// Levels are few (tiers, call counts, proficiencies): a plain vector,
/// searched as a slice, costs less than a ring buffer, even when its first
/// level empties.
#[derive(Debug)]
pub(crate) struct Levels {
    by_primary: bool,
    levels: Vec<(Level, Box<Blocks>)>,
    len: usize,
    /// The level being swept, one block per step, while a sweep runs.
    sweep: Option<usize>,
    /// Lists of levels that emptied, kept for new levels (no allocation in
    /// the steady state, where levels come and go: fewest-calls).
    // Boxed: they move back into `levels` as they are.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Blocks>>,
}

impl Levels {
    fn new_list(&mut self) -> Box<Blocks> {
        self.spare.pop().unwrap_or_else(|| {
            Box::new(Blocks {
                tail: VecDeque::with_capacity(BLOCK),
                ..Blocks::default()
            })
        })
    }

    fn recycle(&mut self, mut b: Box<Blocks>) {
        if self.spare.len() < SPARE_LISTS {
            while let Some(block) = b.blocks.pop_front() {
                b.recycle(block);
            }
            b.tail.clear();
            b.len = 0;
            b.sweep = None;
            self.spare.push(b);
        }
    }

    #[inline]
    fn push(&mut self, k: FreeKey) {
        let level = (k.tier, if self.by_primary { k.primary } else { 0 });
        self.len += 1;
        // The usual case: the last list.
        if let Some((l, b)) = self.levels.last_mut() {
            if *l == level {
                b.push(k);
                return;
            }
        }
        self.push_level(level, k);
    }

    /// Into another level than the last (creating it if needed): out of
    /// line, so that the usual push stays small enough to inline.
    #[inline(never)]
    fn push_level(&mut self, level: Level, k: FreeKey) {
        let i = match self.levels.binary_search_by_key(&level, |(l, _)| *l) {
            Ok(i) => i,
            Err(i) => {
                let list = self.new_list();
                self.levels.insert(i, (level, list));
                if let Some(s) = self.sweep.as_mut().filter(|s| **s >= i) {
                    *s += 1;
                }
                i
            }
        };
        self.levels[i].1.push(k);
    }

    fn peek(&self) -> Option<FreeKey> {
        self.levels.first().and_then(|(_, b)| b.peek())
    }

    fn pop(&mut self) -> Option<FreeKey> {
        let first = &mut self.levels.first_mut()?.1;
        let k = first.pop();
        if first.len == 0 {
            let (_, list) = self.levels.remove(0);
            self.recycle(list);
            if let Some(s) = self.sweep.as_mut() {
                *s = s.saturating_sub(1);
            }
        }
        self.len -= 1;
        k
    }

    fn sweep_step(&mut self, limit: usize, keep: impl FnMut(&FreeKey) -> bool) {
        let i = match self.sweep {
            Some(i) => i,
            None if self.len > limit => 0,
            None => return,
        };
        let Some((_, b)) = self.levels.get_mut(i) else {
            self.sweep = None;
            return;
        };
        if b.sweep.is_none() {
            b.sweep = Some(0);
        }
        let before = b.len;
        b.sweep_step(keep);
        self.len -= before - b.len;
        self.sweep = Some(if b.len == 0 {
            let (_, list) = self.levels.remove(i);
            self.recycle(list);
            i
        } else if b.sweep.is_none() {
            i + 1
        } else {
            i
        });
    }
}

/// Sorted entries in blocks of fewer than `2 * BLOCK`: `blocks` then
/// `tail`, every block in key order and non-empty (the tail is empty only
/// when the whole list is), blocks in key order. The tail, where listings
/// go, is kept inline so that appending touches as few cache lines as
/// possible.
#[derive(Debug, Default)]
#[repr(C)] // the tail and the length first: what a listing touches
pub(crate) struct Blocks {
    tail: VecDeque<FreeKey>,
    len: usize,
    blocks: VecDeque<VecDeque<FreeKey>>,
    /// The next block to sweep (`blocks.len()` is the tail), while a sweep runs.
    sweep: Option<usize>,
    /// Empty blocks kept for the next full tails (blocks are emptied at the
    /// front or by the sweep and filled at the back: no allocation in the
    /// steady state; a large `malloc` costs more than the whole listing).
    spare: Vec<VecDeque<FreeKey>>,
}

impl Blocks {
    fn recycle(&mut self, mut block: VecDeque<FreeKey>) {
        if self.spare.len() < SPARE_BLOCKS && block.capacity() >= BLOCK {
            block.clear();
            self.spare.push(block);
        }
    }

    fn block_mut(&mut self, i: usize) -> &mut VecDeque<FreeKey> {
        if i < self.blocks.len() {
            &mut self.blocks[i]
        } else {
            &mut self.tail
        }
    }

    #[inline]
    fn push(&mut self, k: FreeKey) {
        self.len += 1;
        if self.tail.back().is_none_or(|b| *b <= k) {
            if self.tail.len() >= BLOCK {
                self.new_tail();
            }
            self.tail.push_back(k);
            return;
        }
        self.insert(k);
    }

    /// The tail is full: it becomes the last block, a spare one the tail.
    #[cold]
    #[inline(never)]
    fn new_tail(&mut self) {
        let fresh = self
            .spare
            .pop()
            .unwrap_or_else(|| VecDeque::with_capacity(BLOCK));
        let full = std::mem::replace(&mut self.tail, fresh);
        self.blocks.push_back(full);
    }

    /// An older key than the back: in place.
    #[cold]
    #[inline(never)]
    fn insert(&mut self, k: FreeKey) {
        // An older key: into the first block whose back is not smaller.
        let i = self
            .blocks
            .partition_point(|b| b.back().is_some_and(|e| *e < k));
        let block = self.block_mut(i);
        let pos = block.partition_point(|e| *e < k);
        block.insert(pos, k);
        if block.len() >= 2 * BLOCK {
            let second = block.split_off(BLOCK);
            if i == self.blocks.len() {
                let first = std::mem::replace(&mut self.tail, second);
                self.blocks.push_back(first);
            } else {
                self.blocks.insert(i + 1, second);
            }
            if let Some(s) = self.sweep.as_mut().filter(|s| **s > i) {
                *s += 1;
            }
        }
    }

    fn peek(&self) -> Option<FreeKey> {
        match self.blocks.front() {
            Some(b) => b.front().copied(),
            None => self.tail.front().copied(),
        }
    }

    fn pop(&mut self) -> Option<FreeKey> {
        let k = match self.blocks.front_mut() {
            Some(first) => {
                let k = first.pop_front();
                if first.is_empty() {
                    if let Some(b) = self.blocks.pop_front() {
                        self.recycle(b);
                    }
                    if let Some(s) = self.sweep.as_mut() {
                        *s = s.saturating_sub(1);
                    }
                }
                k
            }
            None => self.tail.pop_front(),
        };
        if k.is_some() {
            self.len -= 1;
        }
        k
    }

    fn sweep_step(&mut self, keep: impl FnMut(&FreeKey) -> bool) {
        let Some(i) = self.sweep else {
            return;
        };
        if i > self.blocks.len() {
            self.sweep = None;
            return;
        }
        let is_tail = i == self.blocks.len();
        let block = self.block_mut(i);
        let before = block.len();
        block.retain(keep);
        let n = block.len();
        self.len -= before - n;
        if is_tail {
            // The last block: refill the tail from the previous block if
            // it emptied or fits into it.
            if let Some(prev) = self.blocks.back_mut() {
                if n == 0 || prev.len() + n <= BLOCK {
                    prev.extend(self.tail.drain(..));
                    let emptied = std::mem::replace(
                        &mut self.tail,
                        self.blocks.pop_back().expect("non-empty"),
                    );
                    self.recycle(emptied);
                }
            }
            self.sweep = None;
            return;
        }
        if n == 0 {
            if let Some(b) = self.blocks.remove(i) {
                self.recycle(b);
            }
            return;
        }
        // Merge into the previous block when both fit in one.
        if i > 0 && self.blocks[i - 1].len() + n <= BLOCK {
            let mut block = self.blocks.remove(i).expect("in range");
            self.blocks[i - 1].extend(block.drain(..));
            self.recycle(block);
            return;
        }
        self.sweep = Some(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    const SHAPES: [FreeShape; 3] = [
        FreeShape::PerListing { by_primary: false },
        FreeShape::PerListing { by_primary: true },
        FreeShape::PerMember,
    ];

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
    fn every_shape_gives_the_same_order() {
        let keys = [
            k(1, 5, 0),
            k(0, 7, 1),
            k(0, 7, 0),
            k(0, 9, 2),
            k(1, 6, 3),
            k(0, 8, 4),
        ];
        for shape in SHAPES {
            let mut s = FreeSet::new(shape);
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
                ],
                "{shape:?}"
            );
        }
    }

    #[test]
    fn blocks_split_and_sweep() {
        let mut s = FreeSet::new(FreeShape::PerListing { by_primary: false });
        // Descending pushes: every one is an in-place insert, blocks split.
        for i in (0..500u64).rev() {
            s.push(k(0, i, i as u32));
        }
        assert_eq!(s.len(), 500);
        let FreeSet::PerListing(l) = &s else {
            unreachable!()
        };
        let b = &l.levels[0].1;
        assert!(b.blocks.len() > 500 / (2 * BLOCK));
        assert!(b
            .blocks
            .iter()
            .all(|b| !b.is_empty() && b.len() < 2 * BLOCK));
        assert!(!b.tail.is_empty() && b.tail.len() < 2 * BLOCK);
        // A sweep runs one block per step and drops what `keep` rejects.
        let mut steps = 0;
        s.sweep_step(100, |k| k.primary % 2 == 0);
        while s.sweeping() {
            s.sweep_step(100, |k| k.primary % 2 == 0);
            steps += 1;
        }
        assert!(steps > 1);
        assert_eq!(s.len(), 250);
        let got: Vec<u64> = s.entries().iter().map(|k| k.primary).collect();
        assert_eq!(got, (0..500).step_by(2).collect::<Vec<_>>());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(FreeKey),
        Pop,
        Remove(usize),
        Sweep(u32, usize),
        Retain(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = (0..3u32, 0..40u64, 0..4u64, 0..60u32, 0..3u32).prop_map(
            |(tier, primary, secondary, agent, gen)| FreeKey {
                tier,
                primary,
                secondary,
                agent,
                gen,
            },
        );
        prop_oneof![
            8 => key.prop_map(Op::Push),
            3 => Just(Op::Pop),
            1 => any::<usize>().prop_map(Op::Remove),
            2 => (0..7u32, 0..80usize).prop_map(|(m, l)| Op::Sweep(m, l)),
            1 => (0..7u32).prop_map(Op::Retain),
        ]
    }

    proptest! {
        /// Every shape behaves as a sorted set of keys (the naive
        /// reference): same first entry, same pops, same contents, through
        /// splits, merges, sweeps and in-place inserts.
        #[test]
        fn shapes_match_a_sorted_reference(ops in prop::collection::vec(op(), 1..600)) {
            for shape in SHAPES {
                let mut s = FreeSet::new(shape);
                let mut reference: BTreeSet<FreeKey> = BTreeSet::new();
                for op in &ops {
                    let drop = |m: u32| move |k: &FreeKey| (k.agent + k.gen) % 7 != m;
                    match op {
                        Op::Push(key) => {
                            // Keys are unique in use (agent + gen); skip duplicates.
                            if reference.insert(*key) {
                                s.push(*key);
                            }
                        }
                        Op::Pop => prop_assert_eq!(s.pop(), reference.pop_first()),
                        Op::Remove(i) => {
                            // Only per-member sets remove by key.
                            if shape == FreeShape::PerMember && !reference.is_empty() {
                                let key = *reference.iter().nth(i % reference.len()).unwrap();
                                reference.remove(&key);
                                s.remove(&key);
                            }
                        }
                        Op::Sweep(m, limit) => {
                            // A sweep step removes a subset of what `keep` rejects.
                            s.sweep_step(*limit, drop(*m));
                            let now: BTreeSet<FreeKey> = s.entries().into_iter().collect();
                            prop_assert!(now.is_subset(&reference));
                            prop_assert!(reference.difference(&now).all(|k| !drop(*m)(k)));
                            reference = now;
                        }
                        Op::Retain(m) => {
                            reference.retain(drop(*m));
                            s.retain(drop(*m));
                        }
                    }
                    prop_assert_eq!(s.peek(), reference.first().copied());
                    prop_assert_eq!(s.len(), reference.len());
                }
                prop_assert_eq!(s.entries(), reference.iter().copied().collect::<Vec<_>>());
            }
        }
    }
}
