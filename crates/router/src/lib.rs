//! # router — the Switchboard ACD
//!
//! Skills-based automatic call distribution as a pure state machine: agents,
//! skills, queues, strategies, relaxation, statistics. Events and the current
//! [`Instant`](std::time::Instant) go in; decisions ([`RouterEvent`]) and the
//! next deadline ([`Router::poll_timeout`]) come out. The router never reads
//! the clock, never does I/O and never spawns, so every rule is tested on a
//! simulated clock in microseconds.
//!
//! The engine owns one [`Router`] and drives it from a single task:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use router::*;
//!
//! let cfg = RouterConfig {
//!     agents: vec![AgentConfig { id: "alice".into(), skills: [("en".to_string(), 3)].into(), ..Default::default() }],
//!     queues: vec![QueueConfig { name: "sales".into(), require: [("en".to_string(), 2)].into(), ..Default::default() }],
//! };
//! let mut now = Instant::now();
//! let mut router = Router::new(cfg, now);
//! router.agent_login("alice", now).unwrap();
//! router.enqueue(1, "sales", 0, "+15551234", now).unwrap();
//!
//! // The run loop: after every input, drain the decisions; sleep until
//! // `poll_timeout`, then call `handle_timeout`.
//! loop {
//!     while let Some(ev) = router.poll_event() {
//!         match ev {
//!             RouterEvent::Offer { call, agent, .. } => {
//!                 // ring the agent's phone; here it answers, talks, hangs up
//!                 router.ring_answered(call, &agent, now);
//!                 now += Duration::from_secs(60);
//!                 router.call_ended(call, &agent, now);
//!             }
//!             RouterEvent::Log(line) => println!("{}", serde_json::to_string(&line).unwrap()),
//!             _ => {}
//!         }
//!     }
//!     match router.poll_timeout() {
//!         Some(t) => { now = now.max(t); router.handle_timeout(now); }
//!         None => break,
//!     }
//! }
//! assert_eq!(router.agent_state("alice"), Some(AgentState::Available));
//! ```
//!
//! ## How a decision stays sub-linear
//!
//! Each queue has one *bucket* per relaxation step. A bucket holds its
//! waiting callers in an ordered set (priority, then entry time) and its
//! free agents ordered by the queue's strategy ([`strategy`]): sorted block
//! lists with one entry per listing, or an ordered set with one entry per
//! member ([`strategy::FreeShape`]), shared with other buckets that have
//! the same requirement and members. A caller arriving takes its bucket's first free agent; an
//! agent becoming free compares the cached heads of its buckets (across all
//! its queues) and takes the best. Both are O(buckets of one agent + log n),
//! never a scan of all agents or callers.
//!
//! See the crate README for the feature table and benchmark figures.
#![forbid(unsafe_code)]
#![deny(clippy::disallowed_methods)]

mod agent;
pub mod anatomy;
mod call;
pub mod config;
mod error;
mod event;
mod free_set;
mod heads;
mod queue;
mod router;
mod snapshot;
mod stats;
pub mod strategy;
mod timers;
mod util;

/// The engine's id for a caller waiting or being served.
pub type CallKey = u64;

pub use agent::AgentState;
pub use config::{
    AgentConfig, ConfigIssue, Emptiness, Overflow, QueueConfig, RelaxStep, RouterConfig,
};
pub use error::RouterError;
pub use event::{EndedBy, ExitReason, QueueLogEvent, RingFailure, RouterEvent};
pub use router::{CallStatus, EnqueueOptions, Router};
pub use snapshot::{AgentSnapshot, QueueSnapshot, SkillSnapshot, Snapshot, StateCounts};
pub use stats::{OccupancyStats, WindowStats};
pub use strategy::{Strategy, UnknownStrategy};
pub use util::Rng;
