//! How a queue chooses among free agents. One strategy per file, each a
//! [`SelectAgent`] implementation.
//!
//! Every routing bucket (a queue at one relaxation step) keeps its free
//! agents ordered by [`FreeKey`]: `(tier, primary, secondary, agent, gen)`.
//! The tier is the member's penalty; `primary` and `secondary` come from
//! [`SelectAgent::key`], computed when the agent becomes free. Choosing is
//! the set's first entry: O(1) to look, O(log n) to take, whatever the
//! number of agents. Its shape ([`FreeShape`]) follows how the strategy's
//! keys move between listings.
//!
//! Adding a strategy: write a file with a unit struct implementing
//! [`SelectAgent`], add a [`Strategy`] variant and a line in [`Strategy::selector`].

use std::fmt;
use std::str::FromStr;

use crate::util::Rng;

mod best_skill;
mod fewest_calls;
mod least_recent;
mod least_talk_time;
mod linear;
mod longest_idle;
mod random;
mod ring_all;
mod round_robin;
mod weighted_random;

pub use best_skill::BestSkill;
pub use fewest_calls::FewestCalls;
pub use least_recent::LeastRecent;
pub use least_talk_time::LeastTalkTime;
pub use linear::Linear;
pub use longest_idle::LongestIdle;
pub use random::Random;
pub use ring_all::RingAll;
pub use round_robin::RoundRobin;
pub use weighted_random::WeightedRandom;

/// The strategy names admins write in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The agent available for the longest time (since its last call's
    /// wrap-up ended, its login or its unpause).
    #[default]
    LongestIdle,
    /// Ring every free member of the best tier at once; first answer wins.
    RingAll,
    /// The agent whose last call ended longest ago.
    LeastRecent,
    /// The agent with the fewest answered calls since login.
    FewestCalls,
    /// The agent with the least talk time since login.
    LeastTalkTime,
    /// Round robin with memory: the next agent after the last one offered.
    RoundRobin,
    /// Always in configuration order (top-down).
    Linear,
    /// Uniformly random.
    Random,
    /// Random, proportional to the agent's `weight`.
    WeightedRandom,
    /// Highest proficiency in the required skills first; ties by idle time.
    BestSkill,
}

impl Strategy {
    /// Every strategy, in documentation order.
    pub const ALL: [Strategy; 10] = [
        Strategy::LongestIdle,
        Strategy::RingAll,
        Strategy::LeastRecent,
        Strategy::FewestCalls,
        Strategy::LeastTalkTime,
        Strategy::RoundRobin,
        Strategy::Linear,
        Strategy::Random,
        Strategy::WeightedRandom,
        Strategy::BestSkill,
    ];

    /// The config name, e.g. `"longest-idle"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest-idle",
            Strategy::RingAll => "ring-all",
            Strategy::LeastRecent => "least-recent",
            Strategy::FewestCalls => "fewest-calls",
            Strategy::LeastTalkTime => "least-talk-time",
            Strategy::RoundRobin => "round-robin",
            Strategy::Linear => "linear",
            Strategy::Random => "random",
            Strategy::WeightedRandom => "weighted-random",
            Strategy::BestSkill => "best-skill",
        }
    }

    /// The implementation.
    pub fn selector(self) -> &'static dyn SelectAgent {
        match self {
            Strategy::LongestIdle => &LongestIdle,
            Strategy::RingAll => &RingAll,
            Strategy::LeastRecent => &LeastRecent,
            Strategy::FewestCalls => &FewestCalls,
            Strategy::LeastTalkTime => &LeastTalkTime,
            Strategy::RoundRobin => &RoundRobin,
            Strategy::Linear => &Linear,
            Strategy::Random => &Random,
            Strategy::WeightedRandom => &WeightedRandom,
            Strategy::BestSkill => &BestSkill,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown strategy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown strategy \"{0}\"; expected one of longest-idle, ring-all, least-recent, fewest-calls, least-talk-time, round-robin, linear, random, weighted-random, best-skill")]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    /// Accepts the kebab-case names, plus `_` for `-` and Asterisk's
    /// spellings (`ringall`, `leastrecent`, `fewestcalls`, `rrmemory`,
    /// `wrandom`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        if let Some(st) = Strategy::ALL.into_iter().find(|st| st.as_str() == norm) {
            return Ok(st);
        }
        match norm.as_str() {
            "ringall" => Ok(Strategy::RingAll),
            "leastrecent" => Ok(Strategy::LeastRecent),
            "fewestcalls" => Ok(Strategy::FewestCalls),
            "rrmemory" | "rrordered" | "roundrobin" => Ok(Strategy::RoundRobin),
            "wrandom" => Ok(Strategy::WeightedRandom),
            "longestidle" => Ok(Strategy::LongestIdle),
            "top-down" | "topdown" => Ok(Strategy::Linear),
            _ => Err(UnknownStrategy(s.to_string())),
        }
    }
}

/// What a strategy may look at when ordering a free agent. Times are
/// nanoseconds on the router's clock (since [`crate::Router::new`]).
#[derive(Debug, Clone, Copy)]
pub struct AgentView<'a> {
    /// Agent id.
    pub id: &'a str,
    /// Position in the configuration.
    pub order: u32,
    /// `weighted-random` weight (>= 1).
    pub weight: u32,
    /// When the agent last became available.
    pub idle_since: u64,
    /// When the agent's last call ended (0: never).
    pub last_call_end: u64,
    /// Calls answered since login.
    pub calls_answered: u64,
    /// Talk time since login.
    pub talk_ns: u64,
    /// Sum of the agent's levels in the skills this bucket requires.
    pub proficiency: u32,
    /// The agent's tier (penalty) in this bucket.
    pub tier: u32,
    /// Offer sequence number of this queue's last offer to the agent (0: never).
    pub last_offered_here: u64,
    /// Now: when the agent is (re)listed as free.
    pub listed_at: u64,
}

/// An entry in a bucket's free-agent set; smallest rings first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FreeKey {
    /// Member penalty: a higher tier rings only when no lower tier is free.
    pub tier: u32,
    /// Strategy key.
    pub primary: u64,
    /// Strategy tie-break.
    pub secondary: u64,
    /// Agent index (final tie-break, makes the key unique).
    pub agent: u32,
    /// The agent's listing generation: entries of an older generation are
    /// stale (the agent was busy since) and are dropped when met.
    pub gen: u32,
}

/// How a bucket keeps its free agents (see [`SelectAgent::shape`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeShape {
    /// One entry per listing, in a sorted list of small blocks: for keys
    /// that change at every listing and mostly grow (the agent goes to the
    /// back). Listing and taking are O(1) in the usual case, O(log n + B)
    /// for an older key; listing under a new key leaves the old entry
    /// behind, stale, cleared when met or by an incremental sweep.
    PerListing {
        /// One list per tier and `primary` key (fewest-calls: per call
        /// count; best-skill: per proficiency), so that listings go to the
        /// back of their list; else one list per tier.
        by_primary: bool,
    },
    /// One entry per member in an ordered set, replaced in O(log n) when
    /// the key changes and kept while the member is busy when
    /// [`SelectAgent::keeps`] says so: for keys that usually survive a busy
    /// spell.
    PerMember,
}

/// Memory a strategy may keep between offers, one per free set (a
/// queue's bucket, or the pool it shares).
#[derive(Debug, Clone, Default)]
pub struct QueueMemory {
    /// Virtual clocks of the random strategies' exponential race, one per
    /// tier, sorted by tier: the key of the last agent picked from that tier
    /// of this free set. Per set, not per queue, so a relaxation step's keys
    /// are not overtaken by picks elsewhere; per tier, so that picks in one
    /// tier never pass keys waiting in another (see [`Random`]).
    virtual_times: Vec<(u32, f64)>,
}

impl QueueMemory {
    /// The race clock of `tier` (0 before its first pick).
    pub fn virtual_time(&self, tier: u32) -> f64 {
        self.clock_of(tier).map_or(0.0, |i| self.virtual_times[i].1)
    }

    /// Where `tier`'s clock is in `virtual_times`, or would go.
    fn clock_of(&self, tier: u32) -> Result<usize, usize> {
        self.virtual_times.binary_search_by_key(&tier, |&(t, _)| t)
    }

    /// Moves the race clock of `tier` forward to `t` (never back).
    pub fn advance(&mut self, tier: u32, t: f64) {
        match self.clock_of(tier) {
            Ok(i) => {
                let v = &mut self.virtual_times[i].1;
                if t > *v {
                    *v = t;
                }
            }
            Err(i) => self.virtual_times.insert(i, (tier, t)),
        }
    }
}

/// A way of choosing among free agents.
pub trait SelectAgent: fmt::Debug + Send + Sync {
    /// The config name.
    fn name(&self) -> &'static str;

    /// Sort keys for a free agent: smallest is offered first. Called when the
    /// agent becomes free (and again whenever its counters change).
    fn key(&self, agent: &AgentView<'_>, memory: &QueueMemory, rng: &mut Rng) -> (u64, u64);

    /// How a bucket keeps its free agents under this strategy.
    fn shape(&self) -> FreeShape;

    /// For [`FreeShape::PerMember`] strategies: whether a member's entry
    /// `old`, left in the set while it was busy, still orders it correctly
    /// now that it is free again. Then listing it touches nothing; else the
    /// entry is replaced by a fresh [`SelectAgent::key`].
    fn keeps(&self, _old: &FreeKey, _agent: &AgentView<'_>, _memory: &QueueMemory) -> bool {
        false
    }

    /// Whether [`SelectAgent::keeps`] reads only the entry and the agent,
    /// never `memory` (linear, round-robin, the random ones): then an agent becoming free
    /// checks its entry without touching the free set's bucket.
    fn keeps_alone(&self) -> bool {
        false
    }

    /// Whether buckets of different queues with the same requirement,
    /// penalty limit and members may share one free set under this strategy
    /// (false when keys depend on per-queue state).
    fn shareable(&self) -> bool {
        true
    }

    /// Whether every free agent of the best tier is rung at once.
    fn rings_all(&self) -> bool {
        false
    }

    /// Called after an agent was offered a call of this queue: `picked` is
    /// its free-set key when the strategy chose it (`None` when the agent
    /// became free and took the best waiting caller).
    fn offered(&self, _memory: &mut QueueMemory, _picked: Option<&FreeKey>, _order: u32) {}
}
