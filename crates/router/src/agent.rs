//! Agent state as the router sees it.
//!
//! ```text
//!              login                      offer             answer
//!  LoggedOut ────────▶ Available ─────────────▶ Ringing ────────▶ OnCall
//!      ▲                 ▲   │ pause              │ fail/timeout     │ call ended
//!      │ logout          │   ▼                    ▼ (busy delay)     ▼
//!      └──── (any) ─── Paused ◀── auto-pause ── Available ◀──── WrapUp
//! ```
//!
//! With a capacity above one the displayed state is the "busiest" of the
//! agent's slots (Ringing > OnCall > WrapUp > Available) and the agent keeps
//! receiving offers while a slot is free.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::call::CallOrd;
use crate::config::AgentConfig;
use crate::stats::AgentMeter;
use crate::strategy::{FreeKey, Strategy};
use crate::CallKey;

/// What an agent is doing, as shown on wallboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum AgentState {
    /// Not registered / logged out.
    LoggedOut,
    /// Can take a call (possibly after a short reject/no-answer delay).
    Available,
    /// Reserved: its phone is ringing for a call.
    Ringing,
    /// Talking.
    OnCall,
    /// After-call work.
    WrapUp,
    /// Paused (with a reason code).
    Paused,
}

/// One queue (bucket) an agent can serve.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Membership {
    pub bucket: u32,
    /// `Bucket::pool` of `bucket`.
    pub pool: u32,
    pub queue: u32,
    /// Offer sequence of the queue's last offer to this agent.
    pub last_offer: u64,
    pub tier: u32,
    pub proficiency: u32,
    /// `primary` and `secondary` of the entry this member has in a
    /// per-member ([`crate::strategy::FreeShape::PerMember`]) free set,
    /// while `is_listed` (only on the pool's own membership): the rest of
    /// the key is the membership's tier, the owner and generation 0
    /// ([`Membership::listed`]). A 48-byte membership where a whole key
    /// made 72: a listing and an offer read all of an agent's (dozens).
    listed_key: (u64, u64),
    is_listed: bool,
    /// The queue's strategy (its pool's: pools share one).
    pub strategy: Strategy,
    /// Whether the strategy's `keeps` reads only the entry and the agent
    /// ([`crate::strategy::SelectAgent::keeps_alone`]: linear, round-robin,
    /// random, weighted-random), so that listing checks `listed` without
    /// reading the pool's bucket.
    pub keeps_alone: bool,
}

// Every decision about an agent reads all its memberships.
const _: () = assert!(std::mem::size_of::<Membership>() == 48);

impl Membership {
    pub fn new(
        bucket: u32,
        pool: u32,
        queue: u32,
        tier: u32,
        proficiency: u32,
        strategy: Strategy,
    ) -> Membership {
        Membership {
            bucket,
            pool,
            queue,
            last_offer: 0,
            tier,
            proficiency,
            listed_key: (0, 0),
            is_listed: false,
            strategy,
            keeps_alone: strategy.selector().keeps_alone(),
        }
    }

    /// Agent `agent`'s entry in the per-member free set of this pool, if
    /// it has one.
    #[inline]
    pub fn listed(&self, agent: u32) -> Option<FreeKey> {
        self.is_listed.then_some(FreeKey {
            tier: self.tier,
            primary: self.listed_key.0,
            secondary: self.listed_key.1,
            agent,
            gen: 0,
        })
    }

    /// Records the entry a per-member set now holds for this member (its
    /// tier must be the membership's and its generation 0), or none.
    pub fn set_listed(&mut self, k: Option<&FreeKey>) {
        debug_assert!(k.is_none_or(|k| k.tier == self.tier && k.gen == 0));
        self.is_listed = k.is_some();
        self.listed_key = k.map_or((0, 0), |k| (k.primary, k.secondary));
    }

    /// Its place in [`Agent::buckets`]: the memberships of pools (free-set
    /// owners) first, by strategy, then by bucket. Listing an agent walks
    /// its pools in runs of one strategy, so the branches on the strategy
    /// (its key, its set's shape, whether it keeps an entry alone) are
    /// predicted; in bucket order strategies alternate at random, and their
    /// mispredictions were a fifth of a listing (`crates/router/README.md`).
    pub fn rank(&self) -> (bool, u8, u32) {
        (self.bucket != self.pool, self.strategy as u8, self.bucket)
    }
}

#[derive(Debug)]
pub(crate) struct Agent {
    pub id: String,
    pub cfg: AgentConfig,
    pub order: u32,
    /// Sorted by skill index.
    pub skills: Vec<(u16, u8)>,
    pub removed: bool,
    pub logged_in: bool,
    pub login_at: u64,
    pub paused: bool,
    pub pause_reason: Option<String>,
    /// Calls ringing this agent.
    pub ringing: Vec<CallKey>,
    pub on_call: u32,
    pub wrapping: u32,
    /// Not offered before this time (reject / no-answer delay).
    pub ready_at: u64,
    /// Bumped on logout: invalidates wrap-up and ready timers.
    pub gen: u64,
    pub state: AgentState,
    pub since: u64,
    pub idle_since: u64,
    pub last_call_end: u64,
    pub calls_answered: u64,
    pub talk_ns: u64,
    pub no_answers: u32,
    /// In [`Membership::rank`] order.
    pub buckets: Vec<Membership>,
    /// Distinct queues of `buckets`.
    pub queues: Vec<u32>,
    /// When the agent became a member of each of `queues` (its time counts
    /// in a queue's occupancy from then on).
    pub joined: Vec<u64>,
    /// Whether the entries of generation `free_gen` are current.
    pub listed: bool,
    pub free_gen: u32,
    /// Callers waiting for this agent specifically (sticky / preferred).
    pub parked: BTreeSet<CallOrd>,
    /// What is counted in queue/bucket staffing counters.
    pub counted_staffed: bool,
    pub counted_ready: bool,
    /// Staffed and busy time for its queues' occupancy.
    pub meter: AgentMeter,
    /// Since login: time staffed (logged in, unpaused) and busy (ringing, talking, wrap-up).
    pub staffed_ns: u64,
    pub busy_ns: u64,
}

impl Agent {
    pub fn new(id: String, cfg: AgentConfig, order: u32) -> Self {
        Agent {
            id,
            cfg,
            order,
            skills: Vec::new(),
            removed: false,
            logged_in: false,
            login_at: 0,
            paused: false,
            pause_reason: None,
            ringing: Vec::new(),
            on_call: 0,
            wrapping: 0,
            ready_at: 0,
            gen: 0,
            state: AgentState::LoggedOut,
            since: 0,
            idle_since: 0,
            last_call_end: 0,
            calls_answered: 0,
            talk_ns: 0,
            no_answers: 0,
            buckets: Vec::new(),
            queues: Vec::new(),
            joined: Vec::new(),
            listed: false,
            free_gen: 0,
            parked: BTreeSet::new(),
            counted_staffed: false,
            counted_ready: false,
            meter: AgentMeter::default(),
            staffed_ns: 0,
            busy_ns: 0,
        }
    }

    pub fn capacity(&self) -> u32 {
        self.cfg.capacity.max(1)
    }

    pub fn used(&self) -> u32 {
        self.ringing.len() as u32 + self.on_call + self.wrapping
    }

    pub fn staffed(&self) -> bool {
        self.logged_in && !self.removed
    }

    pub fn ready(&self) -> bool {
        self.staffed() && !self.paused
    }

    /// Can be offered a call now.
    pub fn is_free(&self, now: u64) -> bool {
        self.ready() && self.used() < self.capacity() && self.ready_at <= now
    }

    pub fn derive_state(&self) -> AgentState {
        if !self.staffed() {
            AgentState::LoggedOut
        } else if self.paused {
            AgentState::Paused
        } else if !self.ringing.is_empty() {
            AgentState::Ringing
        } else if self.on_call > 0 {
            AgentState::OnCall
        } else if self.wrapping > 0 {
            AgentState::WrapUp
        } else {
            AgentState::Available
        }
    }

    /// Whether a free-set entry of this agent is current. Entries of
    /// per-member sets are replaced, never left behind, so only
    /// per-listing entries carry a listing generation.
    pub fn entry_valid(&self, k: &FreeKey, per_member: bool, now: u64) -> bool {
        self.listed && (per_member || k.gen == self.free_gen) && self.is_free(now)
    }

    pub fn level(&self, skill: u16) -> u8 {
        match self.skills.binary_search_by_key(&skill, |&(s, _)| s) {
            Ok(i) => self.skills[i].1,
            Err(_) => 0,
        }
    }

    /// A new membership, in its place.
    pub fn join(&mut self, m: Membership) {
        let at = self.buckets.partition_point(|e| e.rank() < m.rank());
        self.buckets.insert(at, m);
    }

    /// Its entry in per-member free set `pool`, of that strategy, was taken
    /// out.
    pub fn unlist(&mut self, pool: u32, strategy: Strategy) {
        let rank = (false, strategy as u8, pool);
        if let Ok(i) = self.buckets.binary_search_by_key(&rank, Membership::rank) {
            self.buckets[i].set_listed(None);
        }
    }

    pub fn is_member(&self, bucket: u32) -> bool {
        self.buckets.iter().any(|m| m.bucket == bucket)
    }
}
