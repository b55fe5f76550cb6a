//! Self-protection for new work: a global gate on new INVITEs driven by
//! measured load, and per-source token buckets for INVITE and REGISTER
//! with a temporary ban for sources that keep flooding.
//!
//! Only requests that would start something new are ever refused; requests
//! inside an existing dialog always pass, so an established call is never
//! dropped for load.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::OverloadSection;

/// Sources tracked at most; beyond it idle entries are evicted first.
const MAX_SOURCES: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Over its rate: answer 503 with Retry-After.
    Limited,
    /// Banned: drop without answering.
    Banned,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant, rate: f64, burst: f64) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Clone)]
struct Source {
    invite: Bucket,
    register: Bucket,
    /// Requests refused for rate since `strike_window`.
    strikes: u32,
    strike_window: Instant,
    banned_until: Option<Instant>,
    seen: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invite,
    Register,
}

pub struct Overload {
    cfg: OverloadSection,
    sources: HashMap<IpAddr, Source>,
    /// Smoothed delay between a datagram's arrival and its processing.
    queue_delay: Duration,
}

impl Overload {
    pub fn new(cfg: OverloadSection) -> Overload {
        Overload {
            cfg,
            sources: HashMap::new(),
            queue_delay: Duration::ZERO,
        }
    }

    pub fn set_config(&mut self, cfg: OverloadSection) {
        self.cfg = cfg;
    }

    pub fn retry_after(&self) -> u32 {
        self.cfg.retry_after
    }

    /// The shell reports how long a datagram waited before the engine saw it.
    pub fn note_queue_delay(&mut self, d: Duration) {
        // EWMA with alpha 1/16: reacts within tens of messages, ignores one spike.
        let cur = self.queue_delay.as_nanos() as i128;
        let next = cur + (d.as_nanos() as i128 - cur) / 16;
        self.queue_delay = Duration::from_nanos(next.max(0) as u64);
    }

    pub fn queue_delay(&self) -> Duration {
        self.queue_delay
    }

    /// Why a new call must be refused now, if it must. `media` is the relay's
    /// load: (sessions, worker threads).
    pub fn gate(
        &self,
        active_calls: usize,
        transactions: usize,
        media: (usize, usize),
    ) -> Option<&'static str> {
        if let Some(per) = self.cfg.max_sessions_per_worker {
            if media.0 >= per.saturating_mul(media.1.max(1)) {
                return Some("media_workers");
            }
        }
        if self.cfg.max_calls.is_some_and(|m| active_calls >= m) {
            return Some("max_calls");
        }
        if transactions >= self.cfg.max_transactions {
            return Some("max_transactions");
        }
        if self.queue_delay > self.cfg.max_queue_delay {
            return Some("queue_delay");
        }
        None
    }

    /// Is this source banned? (Checked before any parsing work.)
    pub fn is_banned(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.sources.get_mut(&ip) {
            Some(s) => match s.banned_until {
                Some(t) if t > now => true,
                Some(_) => {
                    s.banned_until = None;
                    s.strikes = 0;
                    false
                }
                None => false,
            },
            None => false,
        }
    }

    /// Charges one new request of `kind` from `ip`. `rate` overrides the
    /// per-source INVITE rate (a trunk's `max_cps`); `None` = unlimited.
    pub fn admit(
        &mut self,
        ip: IpAddr,
        kind: Kind,
        invite_rate: Option<f64>,
        now: Instant,
    ) -> Verdict {
        let (rate, burst) = match kind {
            Kind::Invite => match invite_rate {
                Some(r) => (r, (r * 2.0).max(1.0)),
                None => return Verdict::Allow,
            },
            Kind::Register => (self.cfg.register_rate, self.cfg.register_burst),
        };
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&ip) {
            self.evict(now);
        }
        let s = self.sources.entry(ip).or_insert_with(|| Source {
            invite: Bucket {
                tokens: burst,
                last: now,
            },
            register: Bucket {
                tokens: burst,
                last: now,
            },
            strikes: 0,
            strike_window: now,
            banned_until: None,
            seen: now,
        });
        s.seen = now;
        if s.banned_until.is_some_and(|t| t > now) {
            return Verdict::Banned;
        }
        let bucket = match kind {
            Kind::Invite => &mut s.invite,
            Kind::Register => &mut s.register,
        };
        if bucket.take(now, rate, burst) {
            return Verdict::Allow;
        }
        if now.duration_since(s.strike_window) > Duration::from_secs(10) {
            s.strike_window = now;
            s.strikes = 0;
        }
        s.strikes += 1;
        if s.strikes >= self.cfg.ban_after {
            s.banned_until = Some(now + self.cfg.ban);
            tracing::warn!(source = %ip, ban = ?self.cfg.ban, "flooding source banned");
            return Verdict::Banned;
        }
        Verdict::Limited
    }

    fn evict(&mut self, now: Instant) {
        let idle = Duration::from_secs(60);
        self.sources.retain(|_, s| {
            s.banned_until.is_some_and(|t| t > now) || now.duration_since(s.seen) < idle
        });
        if self.sources.len() >= MAX_SOURCES {
            // Still full of active sources: forget the oldest half.
            let mut seen: Vec<Instant> = self.sources.values().map(|s| s.seen).collect();
            seen.sort();
            let cutoff = seen[seen.len() / 2];
            self.sources.retain(|_, s| s.seen > cutoff);
        }
    }

    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> OverloadSection {
        OverloadSection {
            register_rate: 2.0,
            register_burst: 2.0,
            ban_after: 3,
            ..Default::default()
        }
    }

    #[test]
    fn buckets_refill_and_floods_get_banned() {
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let mut o = Overload::new(cfg());
        assert_eq!(o.admit(ip, Kind::Register, None, t0), Verdict::Allow);
        assert_eq!(o.admit(ip, Kind::Register, None, t0), Verdict::Allow);
        assert_eq!(o.admit(ip, Kind::Register, None, t0), Verdict::Limited);
        // Half a second refills one token at 2/s.
        assert_eq!(
            o.admit(ip, Kind::Register, None, t0 + Duration::from_millis(500)),
            Verdict::Allow
        );
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(o.admit(ip, Kind::Register, None, t1), Verdict::Limited);
        assert_eq!(o.admit(ip, Kind::Register, None, t1), Verdict::Banned);
        assert!(o.is_banned(ip, t1));
        assert!(!o.is_banned(ip, t1 + cfg().ban + Duration::from_millis(1)));
        // INVITEs from a source without a rate are never limited.
        for _ in 0..1000 {
            assert_eq!(
                o.admit("127.0.0.10".parse().unwrap(), Kind::Invite, None, t0),
                Verdict::Allow
            );
        }
    }

    #[test]
    fn gate_follows_measured_load() {
        let mut o = Overload::new(OverloadSection {
            max_calls: Some(10),
            ..Default::default()
        });
        assert_eq!(o.gate(9, 0, (0, 1)), None);
        assert_eq!(o.gate(10, 0, (0, 1)), Some("max_calls"));
        assert_eq!(o.gate(0, 1_000_000, (0, 1)), Some("max_transactions"));
        for _ in 0..200 {
            o.note_queue_delay(Duration::from_secs(1));
        }
        assert_eq!(o.gate(0, 0, (0, 1)), Some("queue_delay"));
        let busy = Overload::new(OverloadSection {
            max_sessions_per_worker: Some(100),
            ..Default::default()
        });
        assert_eq!(busy.gate(0, 0, (199, 2)), None);
        assert_eq!(busy.gate(0, 0, (200, 2)), Some("media_workers"));
    }

    #[test]
    fn source_table_is_bounded() {
        let t0 = Instant::now();
        let mut o = Overload::new(cfg());
        for i in 0..(MAX_SOURCES as u32 + 1000) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            o.admit(
                ip,
                Kind::Register,
                None,
                t0 + Duration::from_micros(i as u64),
            );
        }
        assert!(o.tracked_sources() <= MAX_SOURCES);
    }
}
