//! Session timers (RFC 4028): `Session-Expires`, `Min-SE`, and the UAS/UAC
//! negotiation that decides who refreshes the session and how often.

use std::fmt;
use std::time::{Duration, Instant};

use crate::header::HeaderName;
use crate::message::Message;

/// The smallest Session-Expires anyone may use (RFC 4028 §4).
pub const ABSOLUTE_MIN_SE: u32 = 90;

/// Who sends the refreshing re-INVITE/UPDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Uac,
    Uas,
}

/// `Session-Expires: <delta-seconds>[;refresher=uac|uas]`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    pub delta: u32,
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    pub fn parse(v: &str) -> Option<SessionExpires> {
        let mut parts = v.split(';');
        let delta = parts.next()?.trim();
        if delta.is_empty() || delta.len() > 10 || !delta.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let delta = delta.parse().ok()?;
        let mut refresher = None;
        for p in parts {
            if let Some((n, v)) = p.split_once('=') {
                if n.trim().eq_ignore_ascii_case("refresher") {
                    refresher = match v.trim() {
                        r if r.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
                        r if r.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
                        _ => return None,
                    };
                }
            }
        }
        Some(SessionExpires { delta, refresher })
    }

    /// The `Session-Expires` (or compact `x`) header of a message.
    pub fn of(msg: &Message) -> Option<SessionExpires> {
        msg.header(HeaderName::SessionExpires)
            .and_then(SessionExpires::parse)
    }

    /// When the refresher sends its refresh: half the interval (§10).
    pub fn refresh_after(&self) -> Duration {
        Duration::from_secs(u64::from(self.delta) / 2)
    }

    /// When the other side gives up and sends BYE without a refresh:
    /// the interval minus min(32 s, interval/3) (§10).
    pub fn expire_after(&self) -> Duration {
        let d = u64::from(self.delta);
        Duration::from_secs(d - (d / 3).min(32))
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.delta)?;
        match self.refresher {
            Some(Refresher::Uac) => f.write_str(";refresher=uac"),
            Some(Refresher::Uas) => f.write_str(";refresher=uas"),
            None => Ok(()),
        }
    }
}

/// `Min-SE` of a message.
pub fn min_se(msg: &Message) -> Option<u32> {
    msg.headers_named("Min-SE")
        .next()
        .and_then(|v| v.split(';').next()?.trim().parse().ok())
}

/// True when a list header (Supported, Require, ...) names `tag`.
pub fn has_option_tag(msg: &Message, header: HeaderName, tag: &str) -> bool {
    msg.list(header).any(|t| t.trim().eq_ignore_ascii_case(tag))
}

/// What a UAS puts in its 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// `Session-Expires` for the response; the refresher is always set.
    pub expires: SessionExpires,
    /// Add `Require: timer` (the refresher is the UAC, §9).
    pub require_timer: bool,
}

impl Negotiated {
    /// True when this side (the UAS) must send the refreshes.
    pub fn we_refresh(&self) -> bool {
        self.expires.refresher == Some(Refresher::Uas)
    }
}

/// The request's interval is below what we accept: answer 422 with
/// `Min-SE: min_se` (RFC 4028 §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Session-Expires below Min-SE {min_se}")]
pub struct IntervalTooSmall {
    pub min_se: u32,
}

impl IntervalTooSmall {
    pub fn status(&self) -> u16 {
        422
    }
}

/// UAS negotiation for a dialog-creating or refreshing INVITE/UPDATE
/// (RFC 4028 §9). `local_min_se` is the smallest interval we accept;
/// `preferred`, when set, is the interval we would like (we may lower the
/// request's interval towards it, never below its Min-SE, and we use it
/// when the request has none). `Ok(None)`: no session timer.
pub fn uas_negotiate(
    request: &Message,
    local_min_se: u32,
    preferred: Option<u32>,
) -> Result<Option<Negotiated>, IntervalTooSmall> {
    let local_min = local_min_se.max(ABSOLUTE_MIN_SE);
    let floor = min_se(request).unwrap_or(ABSOLUTE_MIN_SE).max(local_min);
    let uac_supports = has_option_tag(request, HeaderName::Supported, "timer")
        || has_option_tag(request, HeaderName::Require, "timer");
    let (delta, refresher) = match SessionExpires::of(request) {
        Some(se) => {
            if se.delta < local_min {
                return Err(IntervalTooSmall { min_se: local_min });
            }
            let delta = preferred.map_or(se.delta, |p| p.max(floor).min(se.delta));
            let refresher = match se.refresher {
                Some(r) if uac_supports || r == Refresher::Uas => r,
                _ if uac_supports => Refresher::Uac,
                _ => Refresher::Uas,
            };
            (delta, refresher)
        }
        None => {
            let Some(p) = preferred else {
                return Ok(None);
            };
            let r = if uac_supports {
                Refresher::Uac
            } else {
                Refresher::Uas
            };
            (p.max(floor), r)
        }
    };
    Ok(Some(Negotiated {
        expires: SessionExpires {
            delta,
            refresher: Some(refresher),
        },
        require_timer: refresher == Refresher::Uac,
    }))
}

/// UAC side: the timer in force after a 2xx (RFC 4028 §7.2). Without
/// `Session-Expires` in the 2xx the UAS does not do session timers; if we
/// asked for one (`requested`) we refresh it ourselves (§7.4).
pub fn uac_result(response: &Message, requested: Option<u32>) -> Option<SessionExpires> {
    match SessionExpires::of(response) {
        Some(mut se) => {
            se.refresher.get_or_insert(Refresher::Uac);
            Some(se)
        }
        None => requested.map(|delta| SessionExpires {
            delta,
            refresher: Some(Refresher::Uac),
        }),
    }
}

/// What the session timer asks the call to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTimerAction {
    /// We are the refresher: send a re-INVITE or UPDATE now.
    Refresh,
    /// No refresh arrived in time: send BYE (RFC 4028 §10).
    Expired,
}

/// One dialog's running session timer, sans-IO: arm it with
/// [`SessionTimer::start`] after each successful (re)negotiation, wake at
/// [`SessionTimer::poll_timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    pub expires: SessionExpires,
    /// True when this side is the refresher.
    pub we_refresh: bool,
    deadline: Option<Instant>,
}

impl SessionTimer {
    /// Starts (or restarts, on every 2xx to a refresh) the timer.
    pub fn start(expires: SessionExpires, we_refresh: bool, now: Instant) -> SessionTimer {
        let after = if we_refresh {
            expires.refresh_after()
        } else {
            expires.expire_after()
        };
        SessionTimer {
            expires,
            we_refresh,
            deadline: Some(now + after),
        }
    }

    /// `None` once expired.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// `Some` once the deadline has passed. After `Refresh` the timer waits
    /// for the rest of the interval; call [`SessionTimer::start`] when the
    /// refresh succeeds, or it reports `Expired`.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<SessionTimerAction> {
        let deadline = self.deadline?;
        if now < deadline {
            return None;
        }
        if self.we_refresh {
            self.we_refresh = false;
            let rest = self
                .expires
                .expire_after()
                .saturating_sub(self.expires.refresh_after());
            self.deadline = Some(deadline + rest);
            return Some(SessionTimerAction::Refresh);
        }
        self.deadline = None;
        Some(SessionTimerAction::Expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn invite(extra: &str) -> Message {
        Message::parse(Bytes::from(format!(
            "INVITE sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:b@h>;tag=1\r\nTo: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        )))
        .unwrap()
    }

    #[test]
    fn parses_and_prints() {
        let se = SessionExpires::parse("1800;refresher=UAC").unwrap();
        assert_eq!(
            se,
            SessionExpires {
                delta: 1800,
                refresher: Some(Refresher::Uac)
            }
        );
        assert_eq!(se.to_string(), "1800;refresher=uac");
        assert_eq!(SessionExpires::parse(" 90 ").unwrap().refresher, None);
        assert!(SessionExpires::parse("x").is_none());
        assert!(SessionExpires::parse("90;refresher=proxy").is_none());
        assert!(SessionExpires::parse("99999999999").is_none());
        assert_eq!(se.refresh_after(), Duration::from_secs(900));
        assert_eq!(se.expire_after(), Duration::from_secs(1768));
        let short = SessionExpires::parse("90").unwrap();
        assert_eq!(short.expire_after(), Duration::from_secs(60));
        // Compact form `x`.
        assert_eq!(
            SessionExpires::of(&invite("x: 600\r\n")).unwrap().delta,
            600
        );
        assert_eq!(min_se(&invite("Min-SE: 120\r\n")), Some(120));
    }

    #[test]
    fn uas_rejects_short_intervals_with_422() {
        let e = uas_negotiate(
            &invite("Session-Expires: 60\r\nSupported: timer\r\n"),
            90,
            None,
        )
        .unwrap_err();
        assert_eq!((e.status(), e.min_se), (422, 90));
        let e = uas_negotiate(&invite("Session-Expires: 300\r\n"), 600, None).unwrap_err();
        assert_eq!(e.min_se, 600);
    }

    #[test]
    fn uas_picks_refresher_and_interval() {
        // UAC supports timers and did not choose: it refreshes; Require: timer.
        let n = uas_negotiate(
            &invite("Session-Expires: 1800\r\nSupported: timer, 100rel\r\n"),
            90,
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(n.expires.to_string(), "1800;refresher=uac");
        assert!(n.require_timer && !n.we_refresh());
        // UAC without timer support: we refresh.
        let n = uas_negotiate(&invite("Session-Expires: 1800\r\n"), 90, Some(600))
            .unwrap()
            .unwrap();
        assert_eq!(n.expires.to_string(), "600;refresher=uas");
        assert!(!n.require_timer && n.we_refresh());
        // Lowering stops at the request's Min-SE.
        let n = uas_negotiate(
            &invite("Session-Expires: 1800;refresher=uas\r\nMin-SE: 900\r\nSupported: timer\r\n"),
            90,
            Some(300),
        )
        .unwrap()
        .unwrap();
        assert_eq!(n.expires.to_string(), "900;refresher=uas");
        // No Session-Expires and no wish: no timer. With a wish: ours.
        assert_eq!(uas_negotiate(&invite(""), 90, None), Ok(None));
        let n = uas_negotiate(&invite("Supported: timer\r\n"), 90, Some(1800))
            .unwrap()
            .unwrap();
        assert_eq!(n.expires.to_string(), "1800;refresher=uac");
    }

    #[test]
    fn uac_reads_the_2xx() {
        let ok = |extra: &str| {
            Message::parse(Bytes::from(format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:b@h>;tag=1\r\nTo: <sip:a@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
            )))
            .unwrap()
        };
        assert_eq!(
            uac_result(
                &ok("Session-Expires: 900;refresher=uas\r\nRequire: timer\r\n"),
                Some(1800)
            )
            .unwrap()
            .refresher,
            Some(Refresher::Uas)
        );
        assert_eq!(uac_result(&ok(""), None), None);
        assert_eq!(
            uac_result(&ok(""), Some(1800)).unwrap().to_string(),
            "1800;refresher=uac"
        );
    }

    #[test]
    fn timer_refreshes_at_half_and_expires_without_refresh() {
        let t0 = Instant::now();
        let se = SessionExpires::parse("1800;refresher=uas").unwrap();
        let mut ours = SessionTimer::start(se, true, t0);
        assert_eq!(ours.poll_timeout().unwrap(), t0 + Duration::from_secs(900));
        assert_eq!(ours.handle_timeout(t0 + Duration::from_secs(899)), None);
        assert_eq!(
            ours.handle_timeout(t0 + Duration::from_secs(900)),
            Some(SessionTimerAction::Refresh)
        );
        // The refresh never succeeded: expire at 1800 - 32.
        assert_eq!(ours.poll_timeout().unwrap(), t0 + Duration::from_secs(1768));
        assert_eq!(
            ours.handle_timeout(t0 + Duration::from_secs(1768)),
            Some(SessionTimerAction::Expired)
        );
        assert_eq!(ours.poll_timeout(), None);
        // The peer refreshes: we only watch.
        let theirs = SessionTimer::start(se, false, t0);
        assert_eq!(
            theirs.poll_timeout().unwrap(),
            t0 + Duration::from_secs(1768)
        );
        // A successful refresh restarts it.
        let again = SessionTimer::start(se, true, t0 + Duration::from_secs(900));
        assert_eq!(
            again.poll_timeout().unwrap(),
            t0 + Duration::from_secs(1800)
        );
    }
}
