//! Agent registrations (RFC 3261 §10): digest-authenticated REGISTER,
//! one binding per agent, expiry honoured, repeated failures locked out.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sip_core::{AuthError, DigestServer, HeaderName, Message, ResponseBuilder};

use crate::config::Config;
use crate::transport::Proto;

/// Where an agent's phone can be reached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Binding {
    /// The Contact URI the phone registered.
    pub contact: String,
    /// Where requests to it are sent: the Contact's address, or the REGISTER's
    /// source when `[sip] nat = true` or the Contact host is not an IP literal.
    pub target: SocketAddr,
    #[serde(skip)]
    pub expires_at: Instant,
    pub user_agent: Option<String>,
    /// Registered over TCP: requests go on that connection (target is its peer).
    pub proto: Proto,
    /// Registered with SIP Outbound (RFC 5626): `+sip.instance` and
    /// `reg-id` with `Supported: outbound`; requests go back on the flow
    /// the REGISTER came in on, whatever the Contact says.
    pub outbound: Option<Outbound>,
}

/// An RFC 5626 flow.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outbound {
    pub instance: String,
    pub reg_id: u32,
    /// Keep-alive interval we asked for (Flow-Timer), seconds.
    pub flow_timer: u32,
}

/// Flow-Timer we ask of outbound clients (RFC 5626 §4.4.1): CRLF pings on
/// TCP/TLS every 120 s; STUN over UDP every 29 s, inside common NAT
/// binding lifetimes.
const FLOW_TIMER_STREAM: u32 = 120;
const FLOW_TIMER_UDP: u32 = 29;

/// What the engine learns from one REGISTER.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    None,
    Login(String),
    Logout(String),
}

/// Bound on remembered failing (source, user) pairs so a flood of bad
/// credentials cannot grow memory without limit.
const MAX_FAILURE_ENTRIES: usize = 10_000;
/// How long a locked-out (source, user) pair keeps getting 403.
const LOCKOUT: Duration = Duration::from_secs(300);

pub struct Registrar {
    bindings: HashMap<String, Binding>,
    failures: HashMap<(IpAddr, String), (u32, Instant)>,
    digest: DigestServer,
}

impl Registrar {
    pub fn new(digest: DigestServer) -> Self {
        Registrar {
            bindings: HashMap::new(),
            failures: HashMap::new(),
            digest,
        }
    }

    pub fn binding(&self, agent: &str) -> Option<&Binding> {
        self.bindings.get(agent)
    }

    pub fn bindings(&self) -> impl Iterator<Item = (&String, &Binding)> {
        self.bindings.iter()
    }

    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// Handles a REGISTER; returns the response and the agent state change.
    pub fn register(
        &mut self,
        cfg: &Config,
        req: &Message,
        (source, proto): (SocketAddr, Proto),
        now: Instant,
        now_unix: u64,
        to_tag: &str,
    ) -> (Vec<u8>, Change) {
        let user = req
            .to()
            .uri()
            .and_then(|u| u.user_decoded().map(|u| u.into_owned()))
            .unwrap_or_default();
        let key = (source.ip(), user.clone());
        if let Some((n, since)) = self.failures.get(&key) {
            if *n >= cfg.raw.auth.max_failures && now.duration_since(*since) < LOCKOUT {
                return (
                    ResponseBuilder::new(req, 403).to_tag(to_tag).build(),
                    Change::None,
                );
            }
        }
        let challenge = |stale: bool, digest: &DigestServer| {
            let mut r = ResponseBuilder::new(req, 401).to_tag(to_tag);
            for alg in cfg.digest_algorithms() {
                r = r.header("WWW-Authenticate", digest.challenge(now_unix, stale, alg));
            }
            r.build()
        };
        let Some(auth) = req.header(HeaderName::Authorization) else {
            return (challenge(false, &self.digest), Change::None);
        };
        let verified = self.digest.verify(auth, "REGISTER", now_unix, |u| {
            cfg.agent(u).map(|a| a.password.clone())
        });
        let agent = match verified {
            Ok(name) if name == user => name,
            Err(AuthError::Stale) => return (challenge(true, &self.digest), Change::None),
            Ok(_) | Err(_) => {
                self.note_failure(key, now);
                return (challenge(false, &self.digest), Change::None);
            }
        };
        self.failures.remove(&key);

        let star = req.list(HeaderName::Contact).any(|c| c.trim() == "*");
        let contact = req.contact().filter(|c| !c.star);
        let requested = contact
            .and_then(|c| {
                c.params
                    .value("expires")
                    .and_then(|e| e.parse::<u32>().ok())
            })
            .or_else(|| req.expires())
            .unwrap_or(3600);
        if star || requested == 0 {
            if star && requested != 0 {
                return (
                    ResponseBuilder::new(req, 400).to_tag(to_tag).build(),
                    Change::None,
                );
            }
            let change = match self.bindings.remove(&agent) {
                Some(_) => Change::Logout(agent),
                None => Change::None,
            };
            return (
                ResponseBuilder::new(req, 200).to_tag(to_tag).build(),
                change,
            );
        }
        let Some(contact) = contact else {
            // A query: list current bindings.
            let mut r = ResponseBuilder::new(req, 200).to_tag(to_tag);
            if let Some(b) = self.bindings.get(&agent) {
                let left = b.expires_at.saturating_duration_since(now).as_secs();
                r = r.header("Contact", format!("<{}>;expires={left}", b.contact));
            }
            return (r.build(), Change::None);
        };
        if requested < cfg.raw.sip.min_expires {
            let r = ResponseBuilder::new(req, 423)
                .to_tag(to_tag)
                .header("Min-Expires", cfg.raw.sip.min_expires)
                .build();
            return (r, Change::None);
        }
        let granted = requested.min(cfg.raw.sip.max_expires);
        // RFC 5626 §5: outbound needs the client's `Supported: outbound`,
        // an instance id and a reg-id; then the flow is the target.
        let outbound = match (
            req.list(HeaderName::Supported)
                .any(|o| o.eq_ignore_ascii_case("outbound")),
            contact.params.value("+sip.instance"),
            contact
                .params
                .value("reg-id")
                .and_then(|r| r.parse::<u32>().ok()),
        ) {
            (true, Some(instance), Some(reg_id)) => Some(Outbound {
                instance: instance.trim_matches('"').to_string(),
                reg_id,
                flow_timer: if proto.reliable() {
                    FLOW_TIMER_STREAM
                } else {
                    FLOW_TIMER_UDP
                },
            }),
            _ => None,
        };
        // §5.1: a REGISTER that crossed a proxy must find it in Path with
        // "ob", or the flow cannot be reached back: 439.
        if outbound.is_some()
            && req.vias().count() > 1
            && !req
                .headers_named("Path")
                .flat_map(sip_core::split_commas)
                .next()
                .is_some_and(|p| p.contains(";ob"))
        {
            let r = ResponseBuilder::new(req, 439)
                .to_tag(to_tag)
                .header("Supported", "outbound")
                .build();
            return (r, Change::None);
        }
        let target = contact
            .uri()
            .filter(|_| !cfg.raw.sip.nat && !proto.reliable() && outbound.is_none())
            .and_then(|u| {
                let ip: IpAddr = u.host.parse().ok()?;
                Some(SocketAddr::new(ip, u.port.unwrap_or(5060)))
            })
            .unwrap_or(source);
        let binding = Binding {
            contact: contact.uri_text.to_string(),
            target,
            expires_at: now + Duration::from_secs(granted as u64),
            user_agent: req.header(HeaderName::UserAgent).map(str::to_string),
            proto,
            outbound: outbound.clone(),
        };
        let change = if self.bindings.insert(agent.clone(), binding).is_none() {
            Change::Login(agent)
        } else {
            Change::None
        };
        let mut r = ResponseBuilder::new(req, 200).to_tag(to_tag).header(
            "Contact",
            format!("<{}>;expires={granted}", contact.uri_text),
        );
        if let Some(o) = &outbound {
            r = r
                .header("Require", "outbound")
                .header("Flow-Timer", o.flow_timer);
        }
        (r.build(), change)
    }

    fn note_failure(&mut self, key: (IpAddr, String), now: Instant) {
        if self.failures.len() >= MAX_FAILURE_ENTRIES {
            self.failures
                .retain(|_, (_, since)| now.duration_since(*since) < LOCKOUT);
            if self.failures.len() >= MAX_FAILURE_ENTRIES {
                self.failures.clear();
            }
        }
        let e = self.failures.entry(key).or_insert((0, now));
        e.0 += 1;
        e.1 = now;
    }

    /// Removes expired bindings; returns the agents that went away.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let gone: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, b)| b.expires_at <= now)
            .map(|(a, _)| a.clone())
            .collect();
        for a in &gone {
            self.bindings.remove(a);
        }
        gone
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.bindings.values().map(|b| b.expires_at).min()
    }

    /// Drops bindings of agents no longer in the config (after a reload).
    pub fn retain_agents(&mut self, cfg: &Config) -> Vec<String> {
        let gone: Vec<String> = self
            .bindings
            .keys()
            .filter(|a| cfg.agent(a).is_none())
            .cloned()
            .collect();
        for a in &gone {
            self.bindings.remove(a);
        }
        gone
    }
}
