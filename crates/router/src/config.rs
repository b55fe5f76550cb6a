//! What the router is told: agents, queues and their rules.
//!
//! Every struct implements [`Default`], so callers write only the fields they
//! care about and end with `..Default::default()`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::strategy::Strategy;

/// The whole router configuration. [`crate::Router::reload`] takes a new one
/// without losing or reordering waiting callers.
#[derive(Clone, Debug, Default)]
pub struct RouterConfig {
    /// Agents, in order; the order is what `linear` and `round-robin` use.
    pub agents: Vec<AgentConfig>,
    /// Queues.
    pub queues: Vec<QueueConfig>,
}

/// One agent (a person behind a phone).
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Unique id (the engine uses the SIP user part).
    pub id: String,
    /// Skill name -> proficiency (1..=5 by convention; 0 means "listed but
    /// not able", which satisfies no requirement with a level >= 1).
    pub skills: BTreeMap<String, u8>,
    /// Concurrent calls (ringing + talking + wrapping up). Default 1.
    pub capacity: u32,
    /// Wrap-up time after each call; overrides the queue's `wrap_up`.
    pub wrap_up: Option<Duration>,
    /// Explicit membership: queue name -> penalty (tier). Empty means "every
    /// queue whose requirement the skills satisfy, penalty 0". When not
    /// empty the agent serves only the queues listed (and still only when
    /// its skills satisfy them).
    pub queues: BTreeMap<String, u32>,
    /// Weight for `weighted-random` (default 1; 0 behaves as 1).
    pub weight: u32,
    /// Pause automatically after this many consecutive unanswered offers
    /// (no-answer or unreachable). `None` never auto-pauses. Default 3.
    pub auto_pause_after: Option<u32>,
    /// After the agent rejects (486/603), do not offer it anything for this
    /// long. Default 10 s.
    pub reject_delay: Duration,
    /// After a ring timeout / no answer, wait this long. Default 5 s.
    pub no_answer_delay: Duration,
    /// After the phone was unreachable (408, 5xx, transport error). Default 30 s.
    pub unreachable_delay: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            id: String::new(),
            skills: BTreeMap::new(),
            capacity: 1,
            wrap_up: None,
            queues: BTreeMap::new(),
            weight: 1,
            auto_pause_after: Some(3),
            reject_delay: Duration::from_secs(10),
            no_answer_delay: Duration::from_secs(5),
            unreachable_delay: Duration::from_secs(30),
        }
    }
}

/// When a queue counts as "empty" for the join/leave rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Emptiness {
    /// No member agent is logged in.
    #[default]
    NoAgents,
    /// No member agent is logged in and unpaused.
    NoReadyAgents,
}

/// Where a caller goes when it leaves a queue without being answered
/// (max wait, leave-when-empty, queue full).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Move to this queue, keeping priority and the original entry time
    /// (the router does it and emits [`crate::RouterEvent::Moved`]).
    Queue(String),
    /// The engine transfers the caller to this number after
    /// [`crate::RouterEvent::Exit`].
    Number(String),
}

/// One bullseye relaxation step: after the caller has waited `after`, the
/// requirement becomes `require` (it may drop skills, add skills or lower
/// levels) and the penalty limit becomes `max_penalty`. Applies to callers
/// already waiting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelaxStep {
    /// Wait since the caller entered the queue.
    pub after: Duration,
    /// The complete requirement from then on.
    pub require: BTreeMap<String, u8>,
    /// Only members with at most this penalty. `None`: any.
    pub max_penalty: Option<u32>,
}

/// One queue.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Unique name.
    pub name: String,
    /// Skill -> minimum proficiency an agent needs to be offered its callers.
    pub require: BTreeMap<String, u8>,
    /// How the agent is chosen when several are free.
    pub strategy: Strategy,
    /// How long an agent rings before the router gives up on it. Default 15 s.
    pub ring_timeout: Duration,
    /// Wrap-up after each call (an agent's own `wrap_up` wins). Default 0.
    pub wrap_up: Duration,
    /// Leave the queue (exit-timeout) after waiting this long.
    pub max_wait: Option<Duration>,
    /// Refuse (or overflow) callers beyond this many waiting.
    pub max_len: Option<usize>,
    /// Members with a penalty above this are not offered at step 0.
    pub max_penalty: Option<u32>,
    /// Relaxation steps, in increasing `after`.
    pub relax: Vec<RelaxStep>,
    /// Refuse new callers when the queue is empty in this sense. Default: join anyway.
    pub join_empty: Option<Emptiness>,
    /// Make waiting callers leave (exit-empty) when the queue becomes empty in this sense.
    pub leave_empty: Option<Emptiness>,
    /// Where callers go on exit-timeout / exit-empty / full.
    pub overflow: Option<Overflow>,
    /// Prompt the engine plays on exit (opaque to the router; echoed in config only).
    pub exit_announcement: Option<String>,
    /// Offer a returning caller to the agent who served it within this window.
    pub sticky_window: Option<Duration>,
    /// How long a sticky or preferred-agent caller waits for that agent before
    /// any agent may take it. Default 20 s.
    pub sticky_wait: Duration,
    /// Announce position and estimated wait every so often. `None`: never.
    pub announce_every: Option<Duration>,
    /// First announcement after this wait (default: `announce_every`).
    pub announce_first: Option<Duration>,
    /// Service-level threshold (answered within). Default 20 s.
    pub service_level: Duration,
    /// Abandons quicker than this are "short" and excluded from service level. Default 5 s.
    pub short_abandon: Duration,
    /// Handle time assumed for the wait estimate before any call completed. Default 180 s.
    pub default_handle_time: Duration,
    /// Rolling statistic windows. Default 15 min and 24 h.
    pub stats_windows: Vec<Duration>,
    /// For `ring-all`: ring at most this many agents at once. Default 50.
    pub ring_all_limit: usize,
    /// Raise a waiting caller's priority by one every this long (up to 255),
    /// so a steady stream of higher-priority callers cannot hold it back
    /// forever. `None` (default): strict priority.
    pub priority_aging: Option<Duration>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            name: String::new(),
            require: BTreeMap::new(),
            strategy: Strategy::LongestIdle,
            ring_timeout: Duration::from_secs(15),
            wrap_up: Duration::ZERO,
            max_wait: None,
            max_len: None,
            max_penalty: None,
            relax: Vec::new(),
            join_empty: None,
            leave_empty: None,
            overflow: None,
            exit_announcement: None,
            sticky_window: None,
            sticky_wait: Duration::from_secs(20),
            announce_every: None,
            announce_first: None,
            service_level: Duration::from_secs(20),
            short_abandon: Duration::from_secs(5),
            default_handle_time: Duration::from_secs(180),
            stats_windows: vec![Duration::from_secs(15 * 60), Duration::from_secs(24 * 3600)],
            ring_all_limit: 50,
            priority_aging: None,
        }
    }
}

/// A problem found by [`RouterConfig::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Where: `agents[3].skills`, `queues[1].overflow`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl RouterConfig {
    /// Checks what the router cannot fix by itself. The router still runs
    /// with a config that has issues (it ignores the broken parts).
    pub fn validate(&self) -> Vec<ConfigIssue> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, a) in self.agents.iter().enumerate() {
            if a.id.is_empty() {
                out.push(issue(format!("agents[{i}].id"), "agent id is empty".into()));
            } else if !seen.insert(a.id.as_str()) {
                out.push(issue(
                    format!("agents[{i}].id"),
                    format!("agent \"{}\" is defined twice", a.id),
                ));
            }
            if a.capacity == 0 {
                out.push(issue(
                    format!("agents[{i}].capacity"),
                    format!("agent \"{}\" has capacity 0; use at least 1", a.id),
                ));
            }
            for q in a.queues.keys() {
                if !self.queues.iter().any(|qc| &qc.name == q) {
                    out.push(issue(
                        format!("agents[{i}].queues"),
                        format!("agent \"{}\" lists unknown queue \"{q}\"", a.id),
                    ));
                }
            }
        }
        let mut qseen = std::collections::HashSet::new();
        for (i, q) in self.queues.iter().enumerate() {
            if q.name.is_empty() {
                out.push(issue(
                    format!("queues[{i}].name"),
                    "queue name is empty".into(),
                ));
            } else if !qseen.insert(q.name.as_str()) {
                out.push(issue(
                    format!("queues[{i}].name"),
                    format!("queue \"{}\" is defined twice", q.name),
                ));
            }
            for (skill, lvl) in &q.require {
                if !self
                    .agents
                    .iter()
                    .any(|a| a.skills.get(skill).is_some_and(|l| l >= lvl))
                {
                    out.push(issue(
                        format!("queues[{i}].require"),
                        format!("queue \"{}\" requires skill \"{skill}\" at level {lvl}, which no agent has", q.name),
                    ));
                }
            }
            let mut last = Duration::ZERO;
            for (s, step) in q.relax.iter().enumerate() {
                if step.after < last {
                    out.push(issue(
                        format!("queues[{i}].relax[{s}].after"),
                        "relaxation steps must be in increasing order of `after`".into(),
                    ));
                }
                last = step.after;
            }
            if let Some(Overflow::Queue(to)) = &q.overflow {
                if to == &q.name {
                    out.push(issue(
                        format!("queues[{i}].overflow"),
                        format!("queue \"{}\" overflows to itself", q.name),
                    ));
                } else if !self.queues.iter().any(|qc| &qc.name == to) {
                    out.push(issue(
                        format!("queues[{i}].overflow"),
                        format!("queue \"{}\" overflows to unknown queue \"{to}\"", q.name),
                    ));
                }
            }
            if q.ring_timeout.is_zero() {
                out.push(issue(
                    format!("queues[{i}].ring_timeout"),
                    "ring timeout must be above zero".into(),
                ));
            }
        }
        out
    }
}

fn issue(path: String, message: String) -> ConfigIssue {
    ConfigIssue { path, message }
}
