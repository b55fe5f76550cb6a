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
    /// SIP requests and responses in and out, for /metrics (counted here,
    /// not through the metrics registry on every message).
    #[serde(skip)]
    pub sip: SipCounts,
}

/// Request methods counted by name; anything else is `OTHER` (the last slot).
pub const SIP_METHODS: [&str; 15] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "INFO",
    "UPDATE",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
    "OTHER",
];

/// Direction index of [`SipCounts`]: 0 = in, 1 = out.
pub const DIRECTIONS: [&str; 2] = ["in", "out"];

#[derive(Debug, Default, Clone)]
pub struct SipCounts {
    /// Requests by direction and [`SIP_METHODS`] index.
    pub requests: [[u64; SIP_METHODS.len()]; 2],
    /// Responses by direction and status code − 100 (100..=699).
    pub responses: [Vec<u64>; 2],
}

impl SipCounts {
    pub fn request(&mut self, dir: usize, method: &[u8]) {
        let i = SIP_METHODS[..SIP_METHODS.len() - 1]
            .iter()
            .position(|m| m.as_bytes() == method)
            .unwrap_or(SIP_METHODS.len() - 1);
        self.requests[dir][i] += 1;
    }

    pub fn response(&mut self, dir: usize, code: u16) {
        let Some(i) = code.checked_sub(100).map(usize::from).filter(|&i| i < 600) else {
            return;
        };
        let v = &mut self.responses[dir];
        if v.len() <= i {
            v.resize(600, 0);
        }
        v[i] += 1;
    }

    /// A datagram the engine sends, counted by its start line.
    pub fn outgoing(&mut self, data: &[u8]) {
        let first = data.split(|&b| b == b' ').next().unwrap_or_default();
        if first == b"SIP/2.0" {
            let code = data
                .get(8..11)
                .and_then(|c| std::str::from_utf8(c).ok())
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            self.response(1, code);
        } else {
            self.request(1, first);
        }
    }

    /// A message the engine received.
    pub fn incoming(&mut self, msg: &sip_core::Message) {
        match msg.status() {
            Some(code) => self.response(0, code),
            None => self.request(0, msg.method_str().unwrap_or("").as_bytes()),
        }
    }
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
