//! A caller inside the router.

use crate::CallKey;

/// Order of callers: higher priority first, then earlier entry, then
/// arrival sequence. Compared across queues, which is what makes an agent
/// serving several queues take the best caller of all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct CallOrd {
    /// `255 - priority`, so that higher priorities sort first.
    pub prio: u8,
    /// Entry time (router clock, ns); kept across overflow and reload.
    pub enter: u64,
    pub seq: u64,
    pub call: CallKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Leg {
    pub agent: u32,
    pub offer: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallState {
    /// In no set (transient, while being routed).
    Detached,
    /// In a bucket's waiting set.
    Waiting { bucket: u32 },
    /// Waiting for one agent (sticky / preferred) until `park_until`.
    Parked { agent: u32 },
    /// Offered to these agents.
    Ringing { legs: Vec<Leg>, started: u64 },
    /// Talking to an agent; no longer in the queue.
    Connected { agent: u32, answered: u64 },
}

#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub ord: CallOrd,
    pub priority: u8,
    pub queue: u32,
    pub caller: String,
    /// Entry in the current queue (relaxation, max wait, stats).
    pub queue_enter: u64,
    pub step: usize,
    /// Generation of the call's queue timers (relax, max wait, announce, park).
    pub gen: u64,
    pub state: CallState,
    pub orig_position: usize,
    /// Max wait passed while ringing: exit when the ring fails.
    pub expired: bool,
    pub hops: u8,
    pub preferred: Option<u32>,
    pub park_until: u64,
    /// Extra skills the caller needs (`EnqueueOptions::require`).
    pub extra: Vec<(String, u8)>,
    /// Index + 1 into its queue's `variants` (0: the queue's own buckets).
    pub variant: u32,
}

impl Call {
    pub fn in_queue(&self) -> bool {
        !matches!(self.state, CallState::Connected { .. })
    }
}
