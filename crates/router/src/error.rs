//! Errors returned to the engine.

use crate::CallKey;

/// Why the router refused a request. Every variant is the caller's (engine's
/// or admin's) concern: the router itself never fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// No queue with this name in the current config.
    #[error("unknown queue \"{0}\"")]
    UnknownQueue(String),
    /// No agent with this id in the current config.
    #[error("unknown agent \"{0}\"")]
    UnknownAgent(String),
    /// The queue is at `max_len` and has no queue overflow.
    #[error("queue is full")]
    QueueFull,
    /// The queue is empty and its `join_empty` rule refuses new callers.
    #[error("queue \"{0}\" has no agents")]
    NoAgents(String),
    /// This call key is already queued or connected.
    #[error("call {0} is already known to the router")]
    DuplicateCall(CallKey),
    /// The agent must be logged in for this.
    #[error("agent \"{0}\" is not logged in")]
    NotLoggedIn(String),
    /// No waiting caller with this key (unknown, or already with an agent).
    #[error("call {0} is not waiting in a queue")]
    NotWaiting(CallKey),
}
