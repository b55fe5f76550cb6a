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
    /// Requests refused by a per-source rate limit (503).
    pub rate_limited: u64,
    /// Datagrams dropped from banned sources.
    pub banned_drops: u64,
    /// INVITEs refused, by status code.
    pub invite_rejected: std::collections::BTreeMap<u16, u64>,
}

impl Counters {
    pub fn rejected(&mut self, status: u16) {
        *self.invite_rejected.entry(status).or_default() += 1;
    }
}
