//! What the router tells the engine: decisions and a queue_log stream.

use std::time::Duration;

use serde::Serialize;

use crate::CallKey;

/// A decision or a log line, drained with [`crate::Router::poll_event`] after
/// every mutating call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterEvent {
    /// Ring this agent for this call. The agent is now reserved (ringing).
    Offer {
        call: CallKey,
        agent: String,
        queue: String,
    },
    /// Stop ringing this agent for this call: another agent answered
    /// (ring-all), the caller left, the agent logged out, or the answer came
    /// too late. The router has already released the agent.
    CancelRing { call: CallKey, agent: String },
    /// The queue's ring timeout expired: the engine must CANCEL that agent
    /// leg. The router has already counted it as no-answer and may `Offer`
    /// the call again in the same batch.
    RingTimeout { call: CallKey, agent: String },
    /// The caller leaves the queue unanswered. The engine hangs up, plays the
    /// queue's `exit_announcement`, or transfers to `Overflow::Number`.
    Exit {
        call: CallKey,
        queue: String,
        reason: ExitReason,
    },
    /// The caller moved to another queue (overflow), keeping its priority and
    /// original entry time. The engine may switch music.
    Moved {
        call: CallKey,
        from: String,
        to: String,
    },
    /// Play a position / estimated-wait announcement to this caller.
    Announce {
        call: CallKey,
        position: usize,
        ewt: Duration,
    },
    /// One queue_log line (JSON with `serde_json::to_string`).
    Log(QueueLogEvent),
}

/// Why a caller left a queue unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitReason {
    /// Waited `max_wait`.
    Timeout,
    /// No agents (the `leave_empty` rule).
    Empty,
    /// Queue at `max_len` (only when an overflow queue was also full).
    Full,
    /// The queue was removed by a config reload.
    QueueRemoved,
}

/// Why an offered agent did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RingFailure {
    /// 486 Busy Here / 603 Decline.
    Rejected,
    /// Rang until a timeout without answer (480, 487 after our CANCEL...).
    NoAnswer,
    /// 408, 5xx, transport error: the phone is not reachable.
    Unreachable,
}

/// Who ended a connected call (for completeagent / completecaller).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndedBy {
    /// The agent hung up.
    Agent,
    /// The caller hung up.
    Caller,
    /// The agent transferred the caller to this target.
    Transfer(String),
    /// Not known (logged as `complete`).
    Unknown,
}

/// Lines of the queue log, named like Asterisk's queue_log verbs.
/// Durations are whole milliseconds. Serialized with an `event` tag:
/// `{"event":"connect","call":7,"queue":"sales","agent":"alice","wait_ms":3200,"ring_ms":900}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum QueueLogEvent {
    /// Caller joined a queue.
    Enter {
        call: CallKey,
        queue: String,
        caller: String,
        priority: u8,
        position: usize,
    },
    /// An offered agent did not answer.
    RingNoAnswer {
        call: CallKey,
        queue: String,
        agent: String,
        ring_ms: u64,
        reason: RingFailure,
    },
    /// An agent answered.
    Connect {
        call: CallKey,
        queue: String,
        agent: String,
        wait_ms: u64,
        ring_ms: u64,
    },
    /// The agent hung up.
    CompleteAgent {
        call: CallKey,
        queue: String,
        agent: String,
        wait_ms: u64,
        talk_ms: u64,
    },
    /// The caller hung up.
    CompleteCaller {
        call: CallKey,
        queue: String,
        agent: String,
        wait_ms: u64,
        talk_ms: u64,
    },
    /// Ended, side not reported.
    Complete {
        call: CallKey,
        queue: String,
        agent: String,
        wait_ms: u64,
        talk_ms: u64,
    },
    /// The agent transferred the caller.
    Transfer {
        call: CallKey,
        queue: String,
        agent: String,
        to: String,
        wait_ms: u64,
        talk_ms: u64,
    },
    /// The caller hung up before an answer.
    Abandon {
        call: CallKey,
        queue: String,
        position: usize,
        orig_position: usize,
        wait_ms: u64,
    },
    /// Left after `max_wait`.
    ExitTimeout {
        call: CallKey,
        queue: String,
        position: usize,
        orig_position: usize,
        wait_ms: u64,
    },
    /// Left because the queue became empty (or refused joining it).
    ExitEmpty {
        call: CallKey,
        queue: String,
        position: usize,
        orig_position: usize,
        wait_ms: u64,
    },
    /// Refused because the queue was full.
    ExitFull { call: CallKey, queue: String },
    /// Left because the queue was removed.
    ExitRemoved {
        call: CallKey,
        queue: String,
        wait_ms: u64,
    },
    /// Moved to an overflow queue.
    Overflow {
        call: CallKey,
        queue: String,
        to: String,
        wait_ms: u64,
    },
    /// Agent paused.
    Pause {
        agent: String,
        reason: Option<String>,
    },
    /// Agent unpaused.
    Unpause { agent: String },
    /// Agent logged in.
    Login { agent: String },
    /// Agent logged out after being logged in this long.
    Logout { agent: String, session_ms: u64 },
    /// Configuration reloaded.
    ConfigReload { agents: usize, queues: usize },
}
