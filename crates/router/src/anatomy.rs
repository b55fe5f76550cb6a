//! What listings do, counted, for the routing bench's anatomy of the
//! slowest decisions (`ROUTER_BENCH_ONLY=listed-anatomy`, feature
//! `anatomy`). Without the feature every count compiles to nothing.

/// A step a decision may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A free set the listed agent owns an entry in was visited.
    Pool,
    /// A per-member entry was kept without reading the set.
    KeptAlone,
    /// A per-member entry was replaced (removed, inserted again).
    Replaced,
    /// An entry went into a set ordered by level first (fewest-calls,
    /// best-skill).
    LevelPush,
    /// Such a set's entry went into a level that had none (inline).
    NewLevel,
    /// Such a set's level of one entry got a second, and a list.
    LevelList,
    /// Such a set's level list emptied and went.
    LevelEmptied,
    /// A stale-entry sweep step ran in the listing (its set had outgrown
    /// twice its limit: housekeeping had not kept up).
    Sweep,
    /// A list's tail filled and a spare block became the tail.
    NewTail,
    /// An older key than the back went in place.
    InPlace,
}

impl Step {
    /// Every step, in declaration order.
    pub const ALL: [Step; 10] = [
        Step::Pool,
        Step::KeptAlone,
        Step::Replaced,
        Step::LevelPush,
        Step::NewLevel,
        Step::LevelList,
        Step::LevelEmptied,
        Step::Sweep,
        Step::NewTail,
        Step::InPlace,
    ];
}

#[cfg(feature = "anatomy")]
static COUNTS: [std::sync::atomic::AtomicU64; Step::ALL.len()] =
    [const { std::sync::atomic::AtomicU64::new(0) }; Step::ALL.len()];

/// Counts one step (nothing without the `anatomy` feature).
#[inline(always)]
pub(crate) fn count(_step: Step) {
    #[cfg(feature = "anatomy")]
    COUNTS[_step as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// The counts so far, in [`Step::ALL`] order; `None` without the feature.
pub fn counts() -> Option<[u64; Step::ALL.len()]> {
    #[cfg(feature = "anatomy")]
    return Some(std::array::from_fn(|i| {
        COUNTS[i].load(std::sync::atomic::Ordering::Relaxed)
    }));
    #[cfg(not(feature = "anatomy"))]
    None
}
