//! The free agents of one bucket, smallest [`FreeKey`] first.
//!
//! Two shapes behind one interface, chosen by the strategy
//! ([`FreeShape`]):
//!
//! - **one entry per listing** ([`Blocks`]), for keys that change at every
//!   listing and mostly grow (longest-idle, ring-all, least-recent,
//!   fewest-calls, least-talk-time, best-skill): a sorted list of small
//!   blocks per tier ([`Levels`]), or per tier and `primary` key where that
//!   keeps listings at the back (fewest-calls: per call count; best-skill:
//!   per proficiency), found by index in a ring of levels per tier
//!   ([`Ladder`]). Listing appends to the last block (a key smaller than the
//!   back, after an unpause say, is inserted in place: a binary search
//!   over blocks and a shift inside one block), taking pops the front
//!   block: O(1) for the usual case, O(log n + B) otherwise. An agent
//!   listed again leaves its old entry behind, stale; stale entries are
//!   dropped when met at the front, and an incremental sweep (one block
//!   per step, in the router's idle-time housekeeping, or in listings once
//!   a set is twice over) clears the rest once the set outgrows twice its
//!   members, so no single decision pays for a whole compaction. Emptied
//!   blocks and lists go to the router's [`Spares`], where new tails and
//!   levels come from: listing does not allocate in the steady state.
//! - **one entry per member** (an ordered set), for keys that usually
//!   survive a busy spell (round-robin, linear, random, weighted-random):
//!   the entry `Membership::listed` names, replaced in O(log n) when the
//!   key changes and otherwise left alone, so an agent coming back touches
//!   only the sets where its key changed. Entries of busy members stay
//!   and are dropped when met at the front.

use std::collections::{BTreeSet, VecDeque};

use crate::strategy::{FreeKey, FreeShape};

/// Entries per block: a shift inside one block stays within a few cache lines.
pub(crate) const BLOCK: usize = 32;
/// Empty blocks the router keeps for reuse (768 bytes each: 48 MiB at most).
const SPARE_BLOCKS: usize = 1 << 16;
/// Empty level lists the router keeps for reuse.
const SPARE_LISTS: usize = 1 << 12;

/// Empty blocks and level lists of all the free sets of a router, for the
/// next set that needs one, so that listing does not allocate in the steady
/// state. Sets empty blocks at the front and by sweeping and fill others at
/// their tails; a sweep empties tens of blocks of one set at once, more
/// than a set's own spares used to keep, and those went back to `malloc`
/// only to be allocated again a few listings later (a 1 KiB `malloc` makes
/// glibc consolidate its fast bins first: a tail of the listing).
#[derive(Debug, Default)]
pub(crate) struct Spares {
    blocks: Vec<VecDeque<Entry>>,
    lists: Vec<Blocks>,
    /// Blocks allocated so far (not taken from the spares).
    made: usize,
}

impl Spares {
    fn block(&mut self) -> VecDeque<Entry> {
        self.blocks.pop().unwrap_or_else(|| {
            self.made += 1;
            VecDeque::with_capacity(BLOCK)
        })
    }

    fn put_block(&mut self, mut block: VecDeque<Entry>) {
        if self.blocks.len() < SPARE_BLOCKS && block.capacity() >= BLOCK {
            block.clear();
            self.blocks.push(block);
        }
    }

    fn list(&mut self) -> Blocks {
        match self.lists.pop() {
            Some(list) => list,
            None => Blocks::new(self.block()),
        }
    }

    fn put_list(&mut self, mut list: Blocks) {
        while let Some(block) = list.blocks.pop_front() {
            self.put_block(block);
        }
        list.tail.clear();
        list.sweep = None;
        if self.lists.len() < SPARE_LISTS {
            self.lists.push(list);
        }
    }

    /// Blocks allocated so far.
    #[cfg(test)]
    pub fn made(&self) -> usize {
        self.made
    }
}

#[derive(Debug)]
// Per-listing sets are the larger on purpose: their last list's header is
// inline, in the bucket (no pointer to follow for a listing).
#[allow(clippy::large_enum_variant)]
pub(crate) enum FreeSet {
    PerListing(Levels),
    /// One entry per listing, by level (fewest-calls, best-skill).
    ByLevel(Ladder),
    /// One entry per member at most; `gen` is always 0.
    PerMember(BTreeSet<FreeKey>),
}

impl FreeSet {
    pub fn new(shape: FreeShape) -> Self {
        match shape {
            FreeShape::PerListing { by_primary: true } => FreeSet::ByLevel(Ladder::default()),
            FreeShape::PerListing { by_primary: false } => FreeSet::PerListing(Levels::new(false)),
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
    pub fn push(&mut self, k: FreeKey, sp: &mut Spares) {
        match self {
            FreeSet::PerMember(s) => {
                s.insert(k);
            }
            FreeSet::PerListing(b) => b.push(k, sp),
            FreeSet::ByLevel(l) => {
                if !l.push(k, sp) {
                    self.spread(k, sp);
                }
            }
        }
    }

    /// A level too far from the others for a ladder's index (a strategy
    /// with sparse levels): the set becomes sorted lists of levels, once.
    #[cold]
    #[inline(never)]
    fn spread(&mut self, k: FreeKey, sp: &mut Spares) {
        let mut levels = Levels::new(true);
        if let FreeSet::ByLevel(l) = self {
            for k in l.entries() {
                levels.push(k, sp);
            }
        }
        levels.push(k, sp);
        *self = FreeSet::PerListing(levels);
    }

    pub fn peek(&self) -> Option<FreeKey> {
        match self {
            FreeSet::PerMember(s) => s.first().copied(),
            FreeSet::PerListing(b) => b.peek(),
            FreeSet::ByLevel(l) => l.peek(),
        }
    }

    pub fn pop(&mut self, sp: &mut Spares) -> Option<FreeKey> {
        match self {
            FreeSet::PerMember(s) => s.pop_first(),
            FreeSet::PerListing(b) => b.pop(sp),
            FreeSet::ByLevel(l) => l.pop(sp),
        }
    }

    /// Entries, stale ones included.
    #[inline]
    pub fn entry_count(&self) -> usize {
        match self {
            FreeSet::PerMember(s) => s.len(),
            FreeSet::PerListing(b) => b.len,
            FreeSet::ByLevel(l) => l.len,
        }
    }

    /// One step of the stale-entry sweep of a per-listing set: starts a
    /// sweep when the set holds more than `limit` entries, then clears one
    /// block per call until it has gone through them all. `keep` may keep
    /// stale entries (they are dropped when met) but must keep every
    /// current one. Returns whether it did a step.
    #[inline]
    pub fn sweep_step(
        &mut self,
        limit: usize,
        sp: &mut Spares,
        keep: impl FnMut(&FreeKey) -> bool,
    ) -> bool {
        match self {
            // The usual case, inline: no sweep under way, none to start.
            FreeSet::PerListing(b) if b.sweep.is_some() || b.len > limit => {
                b.sweep_step(limit, sp, keep);
                true
            }
            FreeSet::ByLevel(l) if l.sweep.is_some() || l.len > limit => {
                l.sweep_step(limit, sp, keep);
                true
            }
            _ => false,
        }
    }

    /// Whether a sweep is under way.
    pub fn sweeping(&self) -> bool {
        match self {
            FreeSet::PerListing(b) => b.sweep.is_some(),
            FreeSet::ByLevel(l) => l.sweep.is_some(),
            FreeSet::PerMember(_) => false,
        }
    }

    #[cfg(test)]
    pub fn retain(&mut self, mut keep: impl FnMut(&FreeKey) -> bool) {
        // A full sweep from the start, even if one is under way.
        match self {
            FreeSet::PerMember(s) => return s.retain(keep),
            FreeSet::PerListing(b) => {
                b.sweep = None;
                for l in b.lists.iter_mut().chain([&mut b.last]) {
                    l.sweep = None;
                }
            }
            FreeSet::ByLevel(l) => {
                l.sweep = None;
                for b in &mut l.slab {
                    b.sweep = None;
                }
            }
        }
        let mut sp = Spares::default();
        self.sweep_step(0, &mut sp, &mut keep);
        while self.sweeping() {
            self.sweep_step(0, &mut sp, &mut keep);
        }
    }

    /// Checks the representation of a per-listing set (tests).
    #[cfg(test)]
    pub fn check(&self) -> Result<(), String> {
        match self {
            FreeSet::PerMember(_) => Ok(()),
            FreeSet::PerListing(b) => b.check(),
            FreeSet::ByLevel(l) => l.check(),
        }
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> Vec<FreeKey> {
        match self {
            FreeSet::PerMember(s) => s.iter().copied().collect(),
            FreeSet::PerListing(b) => b.entries().collect(),
            FreeSet::ByLevel(l) => l.entries(),
        }
    }
}

/// A list's level: `(tier, primary)`, or `(tier, 0)` when not `by_primary`.
type Level = (u32, u64);

/// Per-listing entries: one [`Blocks`] list per level, levels non-empty and
/// in increasing order. The highest level's list is inline, on the lines
/// after this header (most listings append to it: a push reads this
/// header and the list's first line, both at a fixed offset in the bucket,
/// then writes the tail); the lower levels are kept apart: a search reads
/// only their small keys (a vector, searched as a slice: levels are few,
/// tiers, call counts, proficiencies), their lists sit in a ring buffer
/// (levels empty at the front, where it removes in O(1)).
#[derive(Debug)]
#[repr(C)] // the header on one line, the last list's hot fields on the next
pub(crate) struct Levels {
    /// The level of `last` while the set is not empty.
    last_level: Level,
    len: usize,
    by_primary: bool,
    /// The level being swept, one block per step, while a sweep runs
    /// (levels numbered from the lowest; `keys.len()` is `last`).
    sweep: Option<u32>,
    /// The levels below the last one, strictly increasing.
    keys: Vec<Level>,
    /// The highest level's entries: empty only when the set is.
    last: Blocks,
    /// `lists[i]` holds the entries of level `keys[i]`; never empty.
    lists: VecDeque<Blocks>,
}

impl Levels {
    fn new(by_primary: bool) -> Levels {
        Levels {
            last_level: (0, 0),
            len: 0,
            by_primary,
            sweep: None,
            keys: Vec::new(),
            last: Blocks::new(VecDeque::new()),
            lists: VecDeque::new(),
        }
    }

    fn level_of(&self, k: &FreeKey) -> Level {
        (k.tier, if self.by_primary { k.primary } else { 0 })
    }

    #[inline]
    fn push(&mut self, k: FreeKey, sp: &mut Spares) {
        let level = self.level_of(&k);
        self.len += 1;
        // The usual case: the last list.
        if self.last_level == level && !self.last.is_empty() {
            self.last.push(Entry::of(&k), sp);
            return;
        }
        self.push_level(level, k, sp);
    }

    /// Into another level than the last (creating it if needed): out of
    /// line, so that the usual push stays small enough to inline.
    #[inline(never)]
    fn push_level(&mut self, level: Level, k: FreeKey, sp: &mut Spares) {
        if self.last.is_empty() {
            // The set was empty.
            if self.last.tail.capacity() < BLOCK {
                self.last.tail = sp.block();
            }
            self.last_level = level;
            self.last.push(Entry::of(&k), sp);
            return;
        }
        if level > self.last_level {
            // A new highest level: the last list moves down, keeping its
            // number (the sweep's numbering does not change).
            let list = std::mem::replace(&mut self.last, sp.list());
            self.keys.push(self.last_level);
            self.lists.push_back(list);
            self.last_level = level;
            self.last.push(Entry::of(&k), sp);
            return;
        }
        let i = match self.keys.binary_search(&level) {
            Ok(i) => i,
            Err(i) => {
                self.keys.insert(i, level);
                self.lists.insert(i, sp.list());
                if let Some(s) = self.sweep.as_mut().filter(|s| **s as usize >= i) {
                    *s += 1;
                }
                i
            }
        };
        self.lists[i].push(Entry::of(&k), sp);
    }

    /// Level `i` (numbered from the lowest; `keys.len()` is the last).
    fn level_mut(&mut self, i: usize) -> Option<&mut Blocks> {
        if i < self.lists.len() {
            self.lists.get_mut(i)
        } else if i == self.lists.len() && !self.last.is_empty() {
            Some(&mut self.last)
        } else {
            None
        }
    }

    /// Level `i` emptied: its list goes back to the spares (the last list
    /// is replaced by the one below it, if any).
    fn remove_level(&mut self, i: usize, sp: &mut Spares) {
        if i < self.lists.len() {
            self.keys.remove(i);
            if let Some(list) = self.lists.remove(i) {
                sp.put_list(list);
            }
        } else if let (Some(list), Some(level)) = (self.lists.pop_back(), self.keys.pop()) {
            sp.put_list(std::mem::replace(&mut self.last, list));
            self.last_level = level;
        }
    }

    /// The tier of level `i` (numbered from the lowest; `keys.len()` is
    /// the last): its entries' own.
    fn tier_of(&self, i: usize) -> u32 {
        self.keys.get(i).unwrap_or(&self.last_level).0
    }

    fn peek(&self) -> Option<FreeKey> {
        let tier = self.tier_of(0);
        match self.lists.front() {
            Some(b) => b.peek(),
            None => self.last.peek(),
        }
        .map(|e| e.key(tier))
    }

    fn pop(&mut self, sp: &mut Spares) -> Option<FreeKey> {
        let tier = self.tier_of(0);
        let first = self.level_mut(0)?;
        let k = first.pop(sp).map(|e| e.key(tier));
        if first.is_empty() {
            self.remove_level(0, sp);
            if let Some(s) = self.sweep.as_mut() {
                *s = s.saturating_sub(1);
            }
        }
        self.len -= 1;
        k
    }

    fn sweep_step(
        &mut self,
        limit: usize,
        sp: &mut Spares,
        mut keep: impl FnMut(&FreeKey) -> bool,
    ) {
        let i = match self.sweep {
            Some(i) => i as usize,
            None if self.len > limit => 0,
            None => return,
        };
        let tier = self.tier_of(i);
        let Some(b) = self.level_mut(i) else {
            self.sweep = None;
            return;
        };
        let removed = b.sweep_step(sp, |e| keep(&e.key(tier)));
        let (emptied, done) = (b.is_empty(), b.sweep.is_none());
        self.len -= removed;
        let next = if emptied {
            self.remove_level(i, sp);
            i
        } else if done {
            i + 1
        } else {
            i
        };
        self.sweep = Some(next as u32);
    }

    fn entries(&self) -> impl Iterator<Item = FreeKey> + '_ {
        self.keys
            .iter()
            .zip(&self.lists)
            .chain(std::iter::once((&self.last_level, &self.last)))
            .flat_map(|(level, b)| b.entries().map(move |e| e.key(level.0)))
    }

    /// Checks the representation (tests): levels strictly increasing, the
    /// last one highest, one non-empty list per level (the last empty only
    /// with the set), every entry in its level, lengths summed.
    #[cfg(test)]
    fn check(&self) -> Result<(), String> {
        if self.keys.len() != self.lists.len() {
            return Err("keys and lists differ in length".into());
        }
        if self.last.is_empty() && (self.len > 0 || !self.lists.is_empty()) {
            return Err("an empty last level in a non-empty set".into());
        }
        let mut levels = self.keys.clone();
        if !self.last.is_empty() {
            levels.push(self.last_level);
        }
        if levels.windows(2).any(|w| w[0] >= w[1]) {
            return Err("levels not strictly increasing".into());
        }
        let mut total = 0;
        for (level, list) in levels.iter().zip(self.lists.iter().chain([&self.last])) {
            list.check()?;
            if list.is_empty() {
                return Err("an empty level".into());
            }
            if self.by_primary && list.entries().any(|e| e.primary != level.1) {
                return Err(format!("an entry outside its level {level:?}"));
            }
            total += list.entries().count();
        }
        if total != self.len {
            return Err(format!("len {} but {total} entries", self.len));
        }
        Ok(())
    }
}

/// One level of a ladder's rung: no entry, one entry inline (its tier and
/// level are the rung's and the slot's), or a list in the slab.
///
/// Most levels of a fewest-calls set late in a run hold one agent (call
/// counts spread, and an agent listed at a new count is often alone
/// there): kept inline, a push into such a level writes the ring's line
/// and nothing else, where a list would take a spare list, a slab slot and
/// a tail block, three more cold lines, and give them back when it empties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    secondary: u64,
    /// The entry's agent, or [`Slot::NONE`] / [`Slot::LIST`].
    agent: u32,
    /// The entry's generation, or the list's slab slot.
    gen: u32,
}

/// What a [`Slot`] holds.
enum Held {
    Nothing,
    One(FreeKey),
    List(u32),
}

impl Slot {
    const NONE: u32 = u32::MAX;
    const LIST: u32 = u32::MAX - 1;
    const EMPTY: Slot = Slot {
        secondary: 0,
        agent: Slot::NONE,
        gen: 0,
    };

    fn one(k: &FreeKey) -> Slot {
        debug_assert!(k.agent < Slot::LIST, "agent index {} reserved", k.agent);
        Slot {
            secondary: k.secondary,
            agent: k.agent,
            gen: k.gen,
        }
    }

    fn list(slot: u32) -> Slot {
        Slot {
            secondary: 0,
            agent: Slot::LIST,
            gen: slot,
        }
    }

    fn is_empty(&self) -> bool {
        self.agent == Slot::NONE
    }

    /// What it holds, at this tier and level.
    #[inline]
    fn held(&self, tier: u32, level: u64) -> Held {
        match self.agent {
            Slot::NONE => Held::Nothing,
            Slot::LIST => Held::List(self.gen),
            agent => Held::One(FreeKey {
                tier,
                primary: level,
                secondary: self.secondary,
                agent,
                gen: self.gen,
            }),
        }
    }
}

/// Per-listing entries of a strategy that orders by a level first
/// (fewest-calls: the call count; best-skill: the proficiency), found by
/// index. Each tier has a ring of [`Slot`]s, one per level from its lowest
/// to its highest: empty, one entry inline, or the slab slot of that
/// level's list. A push reads the ring (sixteen bytes a level, warm), and
/// for a level of two entries or more the list's header and its tail; no
/// search, and creating or emptying a level in the middle moves nothing.
/// Levels are integers close together (call counts since login,
/// proficiency sums), so a ring spans at most the spread of its entries'
/// levels.
///
/// It replaced a sorted vector of levels with their lists (`Levels`), which
/// late in a bench run held a hundred levels and more per fewest-calls set:
/// finding a level read several cold lines, and creating or removing one in
/// the middle moved kilobytes of list headers.
#[derive(Debug, Default)]
pub(crate) struct Ladder {
    len: usize,
    /// One per tier with entries, by tier.
    rungs: Rungs,
    /// Lists, by slot; `vacant` slots hold an empty list without heap.
    slab: Vec<Blocks>,
    vacant: Vec<u32>,
    /// The level being swept, or the next one to sweep, while a sweep runs.
    sweep: Option<Level>,
}

/// The rungs of a ladder, by tier: the first inline (most sets have one
/// tier, so a push reads no other line to find its rung), the others in a
/// vector.
#[derive(Debug, Default)]
struct Rungs {
    first: Option<Rung>,
    rest: Vec<Rung>,
}

impl Rungs {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn iter(&self) -> impl Iterator<Item = &Rung> {
        self.first.iter().chain(&self.rest)
    }

    fn get(&self, i: usize) -> &Rung {
        match i {
            0 => self.first.as_ref().expect("a first rung"),
            _ => &self.rest[i - 1],
        }
    }

    fn get_mut(&mut self, i: usize) -> &mut Rung {
        match i {
            0 => self.first.as_mut().expect("a first rung"),
            _ => &mut self.rest[i - 1],
        }
    }

    fn insert(&mut self, i: usize, rung: Rung) {
        match i {
            0 => {
                if let Some(old) = self.first.replace(rung) {
                    self.rest.insert(0, old);
                }
            }
            _ => self.rest.insert(i - 1, rung),
        }
    }

    fn remove(&mut self, i: usize) {
        match i {
            0 => self.first = (!self.rest.is_empty()).then(|| self.rest.remove(0)),
            _ => {
                self.rest.remove(i - 1);
            }
        }
    }
}

#[derive(Debug)]
struct Rung {
    tier: u32,
    /// The level of `slots[0]`.
    base: u64,
    /// One slot per level from `base` on; the first and the last are never
    /// empty, and every list is non-empty.
    slots: VecDeque<Slot>,
}

impl Rung {
    fn held(&self, i: usize) -> Held {
        self.slots[i].held(self.tier, self.base + i as u64)
    }
}

/// The most levels a ladder's rung spans (64 KiB of slots); a level
/// farther from a rung's others turns the set into sorted lists of levels
/// ([`FreeSet::spread`]). Call counts since login and proficiency sums stay
/// well within it.
const MAX_SPAN: u64 = 1 << 12;

impl Ladder {
    /// Pushes `k`, unless its level is [`MAX_SPAN`] or more from its rung's
    /// others: then it returns false and changes nothing.
    #[inline]
    fn push(&mut self, k: FreeKey, sp: &mut Spares) -> bool {
        let r = match &self.rungs.first {
            // The usual case: one tier.
            Some(first) if first.tier == k.tier => 0,
            _ => {
                let at = self.rungs.iter().position(|r| r.tier >= k.tier);
                match at {
                    Some(r) if self.rungs.get(r).tier == k.tier => r,
                    at => {
                        let r = at.unwrap_or(self.rungs.len());
                        self.rungs.insert(
                            r,
                            Rung {
                                tier: k.tier,
                                base: k.primary,
                                slots: VecDeque::new(),
                            },
                        );
                        r
                    }
                }
            }
        };
        let rung = self.rungs.get_mut(r);
        let i = if rung.slots.is_empty() {
            rung.base = k.primary;
            rung.slots.push_back(Slot::EMPTY);
            0
        } else {
            let top = rung.base + rung.slots.len() as u64;
            if k.primary.max(top) - k.primary.min(rung.base) >= MAX_SPAN {
                return false;
            }
            if k.primary < rung.base {
                for _ in k.primary..rung.base {
                    rung.slots.push_front(Slot::EMPTY);
                }
                rung.base = k.primary;
                0
            } else {
                let i = (k.primary - rung.base) as usize;
                while rung.slots.len() <= i {
                    rung.slots.push_back(Slot::EMPTY);
                }
                i
            }
        };
        crate::anatomy::count(crate::anatomy::Step::LevelPush);
        self.len += 1;
        match rung.slots[i].held(k.tier, k.primary) {
            Held::Nothing => {
                crate::anatomy::count(crate::anatomy::Step::NewLevel);
                rung.slots[i] = Slot::one(&k);
            }
            Held::List(s) => self.slab[s as usize].push(Entry::of(&k), sp),
            Held::One(old) => self.second_entry(r, i, old, k, sp),
        }
        true
    }

    /// A second entry for a level of one: the level gets a list.
    #[cold]
    #[inline(never)]
    fn second_entry(&mut self, r: usize, i: usize, old: FreeKey, k: FreeKey, sp: &mut Spares) {
        crate::anatomy::count(crate::anatomy::Step::LevelList);
        let mut list = sp.list();
        list.push(Entry::of(&old), sp);
        list.push(Entry::of(&k), sp);
        let s = match self.vacant.pop() {
            Some(s) => {
                self.slab[s as usize] = list;
                s
            }
            None => {
                self.slab.push(list);
                (self.slab.len() - 1) as u32
            }
        };
        self.rungs.get_mut(r).slots[i] = Slot::list(s);
    }

    /// What the lowest level holds (the first rung's first), and its tier.
    fn first(&self) -> Option<(Held, u32)> {
        let rung = self.rungs.first.as_ref()?;
        Some((rung.held(0), rung.tier))
    }

    fn peek(&self) -> Option<FreeKey> {
        match self.first()? {
            (Held::Nothing, _) => None,
            (Held::One(k), _) => Some(k),
            (Held::List(s), tier) => self.slab[s as usize].peek().map(|e| e.key(tier)),
        }
    }

    fn pop(&mut self, sp: &mut Spares) -> Option<FreeKey> {
        let (k, emptied) = match self.first()? {
            (Held::Nothing, _) => return None,
            (Held::One(k), _) => (k, true),
            (Held::List(s), tier) => {
                let list = &mut self.slab[s as usize];
                let k = list.pop(sp)?.key(tier);
                (k, list.is_empty())
            }
        };
        self.len -= 1;
        if emptied {
            self.emptied(0, 0, sp);
        }
        Some(k)
    }

    /// Level `i` of rung `r` emptied: its list, if it had one, goes back to
    /// the spares, and the rung is trimmed to its first and last levels
    /// with entries (or goes).
    fn emptied(&mut self, r: usize, i: usize, sp: &mut Spares) {
        crate::anatomy::count(crate::anatomy::Step::LevelEmptied);
        let rung = self.rungs.get_mut(r);
        let old = std::mem::replace(&mut rung.slots[i], Slot::EMPTY);
        while rung.slots.front().is_some_and(Slot::is_empty) {
            rung.slots.pop_front();
            rung.base += 1;
        }
        while rung.slots.back().is_some_and(Slot::is_empty) {
            rung.slots.pop_back();
        }
        if rung.slots.is_empty() {
            self.rungs.remove(r);
        }
        if old.agent == Slot::LIST {
            self.vacant.push(old.gen);
            let list = std::mem::replace(
                &mut self.slab[old.gen as usize],
                Blocks::new(VecDeque::new()),
            );
            sp.put_list(list);
        }
    }

    /// The first level at or after `from` that has entries: (rung, index).
    fn level_from(&self, from: Level) -> Option<(usize, usize)> {
        for (r, rung) in self.rungs.iter().enumerate() {
            if rung.tier < from.0 {
                continue;
            }
            let start = if rung.tier == from.0 {
                from.1.saturating_sub(rung.base) as usize
            } else {
                0
            };
            if let Some(i) = (start..rung.slots.len()).find(|&i| !rung.slots[i].is_empty()) {
                return Some((r, i));
            }
        }
        None
    }

    /// One step of the sweep: one block of one level's list, or one
    /// level's inline entry (a level's list is swept block by block, then
    /// the next level's).
    fn sweep_step(
        &mut self,
        limit: usize,
        sp: &mut Spares,
        mut keep: impl FnMut(&FreeKey) -> bool,
    ) {
        let from = match self.sweep {
            Some(level) => level,
            None if self.len > limit => (0, 0),
            None => return,
        };
        let Some((r, i)) = self.level_from(from) else {
            self.sweep = None;
            return;
        };
        let rung = self.rungs.get(r);
        let level = (rung.tier, rung.base + i as u64);
        let next = Some((level.0, level.1 + 1));
        match rung.held(i) {
            Held::Nothing => unreachable!("level_from finds a level with entries"),
            Held::One(k) => {
                self.sweep = next;
                if !keep(&k) {
                    self.len -= 1;
                    self.emptied(r, i, sp);
                }
            }
            Held::List(s) => {
                let b = &mut self.slab[s as usize];
                self.len -= b.sweep_step(sp, |e| keep(&e.key(level.0)));
                let (emptied, done) = (b.is_empty(), b.sweep.is_none());
                self.sweep = if emptied || done { next } else { Some(level) };
                if emptied {
                    self.emptied(r, i, sp);
                }
            }
        }
    }

    /// Every entry, in key order.
    fn entries(&self) -> Vec<FreeKey> {
        let mut all = Vec::with_capacity(self.len);
        for rung in self.rungs.iter() {
            for i in 0..rung.slots.len() {
                match rung.held(i) {
                    Held::Nothing => {}
                    Held::One(k) => all.push(k),
                    Held::List(s) => {
                        all.extend(self.slab[s as usize].entries().map(|e| e.key(rung.tier)))
                    }
                }
            }
        }
        all
    }

    /// Checks the representation (tests): rungs by tier, each trimmed to
    /// levels with entries at both ends; every list non-empty, in its
    /// level, in its own slot; slab slots either a level's or vacant;
    /// lengths summed.
    #[cfg(test)]
    fn check(&self) -> Result<(), String> {
        let tiers: Vec<u32> = self.rungs.iter().map(|r| r.tier).collect();
        if tiers.windows(2).any(|w| w[0] >= w[1]) {
            return Err("rungs not strictly by tier".into());
        }
        let mut slots = self.vacant.clone();
        let mut total = 0;
        for rung in self.rungs.iter() {
            let ends = [rung.slots.front(), rung.slots.back()];
            if ends.iter().any(|e| e.is_none_or(Slot::is_empty)) {
                return Err("a rung empty or not trimmed to its levels".into());
            }
            for i in 0..rung.slots.len() {
                let level = (rung.tier, rung.base + i as u64);
                match rung.held(i) {
                    Held::Nothing => {}
                    Held::One(_) => total += 1,
                    Held::List(s) => {
                        slots.push(s);
                        let list = &self.slab[s as usize];
                        list.check()?;
                        if list.is_empty() {
                            return Err(format!("an empty list at level {level:?}"));
                        }
                        if list.entries().any(|e| e.primary != level.1) {
                            return Err(format!("an entry outside its level {level:?}"));
                        }
                        total += list.entries().count();
                    }
                }
            }
        }
        slots.sort_unstable();
        if slots != (0..self.slab.len() as u32).collect::<Vec<_>>() {
            return Err("slab slots not each either a level's or vacant".into());
        }
        if total != self.len {
            return Err(format!("len {} but {total} entries", self.len));
        }
        Ok(())
    }
}

/// `VecDeque::retain` for a block, over one contiguous slice (a sweep
/// step filters up to `2 * BLOCK` entries: a few instructions each).
fn retain_block(block: &mut VecDeque<Entry>, mut keep: impl FnMut(&Entry) -> bool) {
    let s = block.make_contiguous();
    let (mut i, mut n) = (0, 0);
    while i < s.len() {
        let k = s[i];
        if keep(&k) {
            s[n] = k;
            n += 1;
        }
        i += 1;
    }
    block.truncate(n);
}

/// A stored entry: a [`FreeKey`] without its tier, which its list implies
/// (a list holds one tier's entries): 24 bytes where a key is 32, so a
/// block, a sweep step and a listing's tail write read and write a
/// quarter fewer lines. Ordered as the keys of one tier are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    primary: u64,
    secondary: u64,
    agent: u32,
    gen: u32,
}

impl Entry {
    #[inline]
    fn of(k: &FreeKey) -> Entry {
        Entry {
            primary: k.primary,
            secondary: k.secondary,
            agent: k.agent,
            gen: k.gen,
        }
    }

    /// The key, in its list's tier.
    #[inline]
    fn key(self, tier: u32) -> FreeKey {
        FreeKey {
            tier,
            primary: self.primary,
            secondary: self.secondary,
            agent: self.agent,
            gen: self.gen,
        }
    }
}

/// Sorted entries in blocks of fewer than `2 * BLOCK`: `blocks` then
/// `tail`, every block in key order and non-empty (the tail is empty only
/// when the whole list is), blocks in key order. The tail, where listings
/// go, and a copy of its last entry are on the header's first cache line,
/// so that appending reads one line of the header and writes the tail
/// without reading it.
#[derive(Debug)]
#[repr(C, align(64))] // what a listing touches on the first line
pub(crate) struct Blocks {
    tail: VecDeque<Entry>,
    /// The tail's last entry while the tail is not empty.
    back: Entry,
    /// The next block to sweep (`blocks.len()` is the tail), while a sweep runs.
    sweep: Option<usize>,
    blocks: VecDeque<VecDeque<Entry>>,
}

impl Blocks {
    fn new(tail: VecDeque<Entry>) -> Blocks {
        Blocks {
            tail,
            back: Entry::default(),
            sweep: None,
            blocks: VecDeque::new(),
        }
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.blocks.iter().flatten().chain(&self.tail)
    }

    /// The tail is empty only when the whole list is.
    #[inline]
    fn is_empty(&self) -> bool {
        self.tail.is_empty()
    }

    /// The tail changed otherwise than by an append: copy its last entry.
    fn sync_back(&mut self) {
        if let Some(b) = self.tail.back() {
            self.back = *b;
        }
    }

    fn block_mut(&mut self, i: usize) -> &mut VecDeque<Entry> {
        if i < self.blocks.len() {
            &mut self.blocks[i]
        } else {
            &mut self.tail
        }
    }

    #[inline]
    fn push(&mut self, k: Entry, sp: &mut Spares) {
        if self.tail.is_empty() || self.back <= k {
            if self.tail.len() >= BLOCK {
                self.new_tail(sp);
            }
            self.tail.push_back(k);
            self.back = k;
            return;
        }
        self.insert(k, sp);
    }

    /// The tail is full: it becomes the last block, a spare one the tail.
    #[cold]
    #[inline(never)]
    fn new_tail(&mut self, sp: &mut Spares) {
        crate::anatomy::count(crate::anatomy::Step::NewTail);
        let fresh = sp.block();
        let full = std::mem::replace(&mut self.tail, fresh);
        self.blocks.push_back(full);
    }

    /// An older key than the back: in place.
    #[cold]
    #[inline(never)]
    fn insert(&mut self, k: Entry, sp: &mut Spares) {
        crate::anatomy::count(crate::anatomy::Step::InPlace);
        // An older key: into the first block whose back is not smaller.
        let i = self
            .blocks
            .partition_point(|b| b.back().is_some_and(|e| *e < k));
        let block = self.block_mut(i);
        let pos = block.partition_point(|e| *e < k);
        block.insert(pos, k);
        if block.len() >= 2 * BLOCK {
            let mut second = sp.block();
            second.extend(block.drain(BLOCK..));
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
        self.sync_back();
    }

    fn peek(&self) -> Option<Entry> {
        match self.blocks.front() {
            Some(b) => b.front().copied(),
            None => self.tail.front().copied(),
        }
    }

    fn pop(&mut self, sp: &mut Spares) -> Option<Entry> {
        let k = match self.blocks.front_mut() {
            Some(first) => {
                let k = first.pop_front();
                if first.is_empty() {
                    if let Some(b) = self.blocks.pop_front() {
                        sp.put_block(b);
                    }
                    if let Some(s) = self.sweep.as_mut() {
                        *s = s.saturating_sub(1);
                    }
                }
                k
            }
            // The tail's back stays (or the tail empties).
            None => self.tail.pop_front(),
        };
        k
    }

    /// One block of this list's sweep, from its first block if none is
    /// under way; `sweep` is `None` again once the tail is done. Returns
    /// the number of entries removed.
    fn sweep_step(&mut self, sp: &mut Spares, keep: impl FnMut(&Entry) -> bool) -> usize {
        let i = *self.sweep.get_or_insert(0);
        if i > self.blocks.len() {
            self.sweep = None;
            return 0;
        }
        let is_tail = i == self.blocks.len();
        let block = self.block_mut(i);
        let before = block.len();
        retain_block(block, keep);
        let n = block.len();
        let removed = before - n;
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
                    sp.put_block(emptied);
                }
            }
            self.sync_back();
            self.sweep = None;
            return removed;
        }
        if n == 0 {
            if let Some(b) = self.blocks.remove(i) {
                sp.put_block(b);
            }
            return removed;
        }
        // Merge into the previous block when both fit in one.
        if i > 0 && self.blocks[i - 1].len() + n <= BLOCK {
            let mut block = self.blocks.remove(i).expect("in range");
            self.blocks[i - 1].extend(block.drain(..));
            sp.put_block(block);
            return removed;
        }
        self.sweep = Some(i + 1);
        removed
    }

    /// Checks the representation (tests): blocks non-empty, sorted, in
    /// order and under `2 * BLOCK`; the tail empty only with the list;
    /// `back` the tail's last entry; `len` the number of entries.
    #[cfg(test)]
    fn check(&self) -> Result<(), String> {
        if self
            .blocks
            .iter()
            .any(|b| b.is_empty() || b.len() >= 2 * BLOCK)
        {
            return Err("an empty or oversized block".into());
        }
        if self.tail.len() >= 2 * BLOCK || (self.tail.is_empty() && !self.blocks.is_empty()) {
            return Err("an oversized tail, or an empty tail in a non-empty list".into());
        }
        let all: Vec<&Entry> = self.entries().collect();
        if all.windows(2).any(|w| w[0] >= w[1]) {
            return Err("entries out of order".into());
        }
        if self.tail.back().is_some_and(|b| *b != self.back) {
            return Err("`back` is not the tail's last entry".into());
        }
        Ok(())
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
            let mut sp = Spares::default();
            for key in keys {
                s.push(key, &mut sp);
            }
            let mut out = Vec::new();
            while let Some(x) = s.pop(&mut sp) {
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
    fn a_level_of_one_holds_its_entry_in_the_ring() {
        let mut s = FreeSet::new(FreeShape::PerListing { by_primary: true });
        let mut sp = Spares::default();
        // Agents alone at their call counts: no list, no block.
        for (p, a) in [(7, 0), (3, 1), (12, 2)] {
            s.push(k(0, p, a), &mut sp);
        }
        assert_eq!((sp.made(), s.check()), (0, Ok(())));
        // A second agent at count 7: that level gets a list.
        s.push(k(0, 7, 3), &mut sp);
        assert_eq!((sp.made(), s.check()), (1, Ok(())));
        // A sweep drops a stale inline entry and trims the ring.
        s.retain(|e| e.agent != 1);
        assert_eq!(s.check(), Ok(()));
        let order: Vec<u32> = std::iter::from_fn(|| s.pop(&mut sp))
            .map(|k| k.agent)
            .collect();
        assert_eq!(order, [0, 3, 2]);
        assert_eq!((s.entry_count(), s.check()), (0, Ok(())));
    }

    #[test]
    fn a_level_far_from_the_others_turns_a_ladder_into_sorted_levels() {
        let mut s = FreeSet::new(FreeShape::PerListing { by_primary: true });
        let mut sp = Spares::default();
        for (p, a) in [(5, 0), (3, 1), (5, 2), (9, 3)] {
            s.push(k(0, p, a), &mut sp);
        }
        assert!(matches!(s, FreeSet::ByLevel(_)));
        s.push(k(0, 1 << 40, 4), &mut sp);
        s.push(k(1, 0, 5), &mut sp);
        assert!(matches!(s, FreeSet::PerListing(_)), "spread out once");
        assert_eq!(s.check(), Ok(()));
        let order: Vec<u32> = std::iter::from_fn(|| s.pop(&mut sp))
            .map(|k| k.agent)
            .collect();
        assert_eq!(order, [1, 0, 2, 3, 4, 5]);
    }

    #[test]
    fn blocks_split_and_sweep() {
        let mut s = FreeSet::new(FreeShape::PerListing { by_primary: false });
        let mut sp = Spares::default();
        // Descending pushes: every one is an in-place insert, blocks split.
        for i in (0..500u64).rev() {
            s.push(k(0, i, i as u32), &mut sp);
        }
        assert_eq!(s.entry_count(), 500);
        let FreeSet::PerListing(l) = &s else {
            unreachable!()
        };
        let b = &l.last;
        assert!(b.blocks.len() > 500 / (2 * BLOCK));
        assert!(b
            .blocks
            .iter()
            .all(|b| !b.is_empty() && b.len() < 2 * BLOCK));
        assert!(!b.tail.is_empty() && b.tail.len() < 2 * BLOCK);
        // A sweep runs one block per step and drops what `keep` rejects.
        let mut steps = 0;
        s.sweep_step(100, &mut sp, |k| k.primary % 2 == 0);
        while s.sweeping() {
            s.sweep_step(100, &mut sp, |k| k.primary % 2 == 0);
            steps += 1;
        }
        assert!(steps > 1);
        assert_eq!(s.entry_count(), 250);
        let got: Vec<u64> = s.entries().iter().map(|k| k.primary).collect();
        assert_eq!(got, (0..500).step_by(2).collect::<Vec<_>>());
    }

    /// Listings as in the router: every agent listed again and again, its
    /// old entries stale and swept; in the fewest-calls shape levels come
    /// and go. After the first rounds every block and list comes from the
    /// spares: listing does not allocate.
    #[test]
    fn steady_listing_takes_blocks_from_the_spares() {
        let mut sp = Spares::default();
        let mut sets =
            [false, true].map(|by_primary| FreeSet::new(FreeShape::PerListing { by_primary }));
        let agents = 300u64;
        let mut live = vec![0u32; agents as usize];
        let mut made = Vec::new();
        for round in 0..40u64 {
            for i in 0..2_000u64 {
                let agent = (i * 7_919 + round) % agents;
                live[agent as usize] += 1;
                let key = FreeKey {
                    tier: 0,
                    // A call count: levels of three counts per round.
                    primary: round + agent % 3,
                    secondary: round * 2_000 + i,
                    agent: agent as u32,
                    gen: live[agent as usize],
                };
                for s in &mut sets {
                    s.push(key, &mut sp);
                    let limit = 2 * agents as usize + 64;
                    s.sweep_step(limit, &mut sp, |k| live[k.agent as usize] == k.gen);
                    assert_eq!(s.check(), Ok(()));
                }
            }
            made.push(sp.made());
        }
        assert!(made[0] > 0);
        assert_eq!(made[10], made[39], "blocks made per round: {made:?}");
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
                let mut sp = Spares::default();
                let mut reference: BTreeSet<FreeKey> = BTreeSet::new();
                for op in &ops {
                    let drop = |m: u32| move |k: &FreeKey| (k.agent + k.gen) % 7 != m;
                    match op {
                        Op::Push(key) => {
                            // Keys are unique in use (agent + gen); skip duplicates.
                            if reference.insert(*key) {
                                s.push(*key, &mut sp);
                            }
                        }
                        Op::Pop => prop_assert_eq!(s.pop(&mut sp), reference.pop_first()),
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
                            s.sweep_step(*limit, &mut sp, drop(*m));
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
                    prop_assert_eq!(s.check(), Ok(()));
                    prop_assert_eq!(s.peek(), reference.first().copied());
                    prop_assert_eq!(s.entry_count(), reference.len());
                }
                prop_assert_eq!(s.entries(), reference.iter().copied().collect::<Vec<_>>());
            }
        }
    }
}
