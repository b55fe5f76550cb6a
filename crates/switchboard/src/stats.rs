//! Engine counters (exported on /metrics by the admin server).

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Counters {
    pub received: u64,
    pub requests: u64,
    pub responses: u64,
    pub parse_errors: u64,
    pub retransmissions: u64,
    pub stray_responses: u64,
    pub no_dialog: u64,
    pub calls_offered: u64,
    pub calls_answered: u64,
    pub calls_completed: u64,
    pub calls_abandoned: u64,
    pub calls_failed: u64,
    /// Supervisors who joined a call (listen, whisper or barge).
    pub monitors: u64,
    /// STUN keep-alives answered on the SIP UDP port (RFC 5626 §4.4.2).
    pub stun_keepalives: u64,
    pub rtp_timeouts: u64,
    pub cdr_errors: u64,
    pub reloads: u64,
    /// New INVITEs refused by the overload gate (503).
    pub overload_rejections: u64,
    /// The same, by the gate that refused them (`OVERLOAD_REASONS` order).
    pub overload_by_reason: [u64; OVERLOAD_REASONS.len()],
    /// Requests refused by a per-source rate limit (503).
    pub rate_limited: u64,
    /// Datagrams dropped from banned sources.
    pub banned_drops: u64,
    /// INVITEs refused, by status code.
    pub invite_rejected: std::collections::BTreeMap<u16, u64>,
}

/// Why the overload gate refused a new call (the `reason` label).
pub const OVERLOAD_REASONS: [&str; 4] = [
    "max_calls",
    "media_workers",
    "max_transactions",
    "queue_delay",
];

impl Counters {
    pub fn overload(&mut self, reason: &str) {
        self.overload_rejections += 1;
        if let Some(i) = OVERLOAD_REASONS.iter().position(|r| *r == reason) {
            self.overload_by_reason[i] += 1;
        }
    }

    pub fn rejected(&mut self, status: u16) {
        *self.invite_rejected.entry(status).or_default() += 1;
    }
}
