//! The one TOML file an admin runs Switchboard from. Every key is documented
//! in `config/README.md`. `load` returns every problem at once, each with the
//! file and line it refers to.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::cidr::Cidr;
use crate::duration::serde_str;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl std::str::FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Listen, String> {
        let (t, addr) = s
            .split_once(':')
            .ok_or_else(|| format!("listen {s:?}: expected \"udp:IP:PORT\" or \"tcp:IP:PORT\""))?;
        let transport = match t.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            other => {
                return Err(format!(
                    "listen {s:?}: unsupported transport {other:?} (udp, tcp, tls)"
                ))
            }
        };
        let addr = addr
            .parse()
            .map_err(|_| format!("listen {s:?}: {addr:?} is not IP:PORT (IPv6 as [::1]:5060)"))?;
        Ok(Listen { transport, addr })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSection {
    pub listen: Vec<Spanned<String>>,
    /// Host written into Contact and Via; defaults to the first listen address.
    pub public_host: Option<String>,
    pub user_agent: String,
    #[serde(with = "serde_str")]
    pub t1: Duration,
    #[serde(with = "serde_str")]
    pub t2: Duration,
    #[serde(with = "serde_str")]
    pub t4: Duration,
    /// Registration expiry bounds (seconds).
    pub min_expires: u32,
    pub max_expires: u32,
    /// Reach agents at the address their REGISTER came from instead of the
    /// Contact they registered (phones behind NAT).
    pub nat: bool,
    /// Smallest session-timer interval (RFC 4028 Min-SE, seconds) we accept;
    /// a carrier asking for less gets 422.
    pub min_se: u32,
    /// PEM certificate chain and private key for `tls:` listeners (relative
    /// to the config file).
    pub tls_cert: Option<Spanned<PathBuf>>,
    pub tls_key: Option<Spanned<PathBuf>>,
    /// Re-send the queued caller's 183 this often so upstream proxies keep the
    /// INVITE transaction alive (RFC 3261 §13.3.1.1).
    #[serde(with = "serde_str")]
    pub provisional_refresh: Duration,
}

impl Default for SipSection {
    fn default() -> Self {
        SipSection {
            listen: vec![Spanned::new(0..0, "udp:127.0.0.1:5060".into())],
            public_host: None,
            user_agent: format!("Switchboard/{}", env!("CARGO_PKG_VERSION")),
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            min_expires: 60,
            max_expires: 3600,
            nat: false,
            min_se: 90,
            tls_cert: None,
            tls_key: None,
            provisional_refresh: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSection {
    pub ip: IpAddr,
    pub rtp_ports: Spanned<[u16; 2]>,
    pub workers: usize,
    #[serde(with = "serde_str")]
    pub rtp_timeout: Duration,
    pub codecs: Vec<String>,
    /// Folder of announcement prompts (position, wait, goodbye); relative
    /// to the config file. No announcements when absent.
    pub prompts: Option<Spanned<PathBuf>>,
    /// Where recordings of queues with `record = true` go, as
    /// `<recordings>/<YYYY-MM-DD>/<time>-<call-id>.wav` (relative to the
    /// working directory, like the CDR file).
    pub recordings: PathBuf,
    /// Forward established plain relay streams in the kernel (tc/BPF,
    /// Linux ≥ 6.6 with CAP_BPF and CAP_NET_ADMIN); user space relays
    /// everything when it cannot be loaded.
    pub kernel_forwarding: bool,
}

impl Default for MediaSection {
    fn default() -> Self {
        MediaSection {
            ip: IpAddr::from([127, 0, 0, 1]),
            rtp_ports: Spanned::new(0..0, [20000, 20999]),
            workers: 0,
            rtp_timeout: Duration::from_secs(60),
            codecs: vec!["PCMU".into(), "PCMA".into(), "G722".into(), "opus".into()],
            prompts: None,
            recordings: "recordings".into(),
            kernel_forwarding: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    pub listen: Spanned<String>,
    /// File holding the admin API bearer token (relative to the config file).
    pub token_file: Option<Spanned<PathBuf>>,
    /// Environment variable holding the admin API bearer token.
    pub token_env: Option<Spanned<String>>,
}

impl Default for AdminSection {
    fn default() -> Self {
        AdminSection {
            listen: Spanned::new(0..0, "127.0.0.1:8080".into()),
            token_file: None,
            token_env: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    pub realm: String,
    /// File holding the nonce HMAC secret, shared by every node; a random
    /// secret is made at start when absent.
    pub secret_file: Option<PathBuf>,
    #[serde(with = "serde_str")]
    pub nonce_ttl: Duration,
    /// Failed attempts from one source for one user before 403.
    pub max_failures: u32,
    /// Digest algorithms offered, one challenge each, in this order
    /// (RFC 8760 §2.4: clients take the first they support).
    pub algorithms: Vec<Spanned<String>>,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            realm: "switchboard".into(),
            secret_file: None,
            nonce_ttl: Duration::from_secs(300),
            max_failures: 3,
            algorithms: vec![
                Spanned::new(0..0, "MD5".into()),
                Spanned::new(0..0, "SHA-256".into()),
            ],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CdrSection {
    pub path: PathBuf,
    /// Queue events (enter, connect, abandon, ...) as JSON lines, like
    /// Asterisk's queue_log. Off when absent.
    pub queue_log: Option<PathBuf>,
}

impl Default for CdrSection {
    fn default() -> Self {
        CdrSection {
            path: "cdr.jsonl".into(),
            queue_log: None,
        }
    }
}

/// SIP capture to a Homer server (HEPv3 over UDP).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HepSection {
    /// Homer's HEP address, `"IP:PORT"`.
    pub address: Spanned<String>,
    #[serde(default = "default_hep_agent")]
    pub agent_id: u32,
    /// Name of an environment variable holding the HEP auth key, if Homer wants one.
    #[serde(default)]
    pub password_env: Option<String>,
}

fn default_hep_agent() -> u32 {
    2001
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OverloadSection {
    /// Most simultaneous calls; `None` = limited only by the RTP port range.
    pub max_calls: Option<usize>,
    /// Most live SIP transactions before new INVITEs are refused.
    pub max_transactions: usize,
    /// Most media sessions per media worker thread (the relay's load)
    /// before new INVITEs are refused; `None` = limited by the port range.
    pub max_sessions_per_worker: Option<usize>,
    /// Smoothed wait of an arrived datagram before the engine handles it,
    /// above which new INVITEs are refused.
    #[serde(with = "serde_str")]
    pub max_queue_delay: Duration,
    /// Seconds in the Retry-After of an overload 503.
    pub retry_after: u32,
    /// Per-source REGISTER rate (per second) and burst.
    pub register_rate: f64,
    pub register_burst: f64,
    /// Per-source INVITE rate for sources outside every trunk (they get 403
    /// anyway; this stops them costing more than that).
    pub stranger_invite_rate: f64,
    /// Refusals within 10 s after which a source is banned (dropped silently).
    pub ban_after: u32,
    #[serde(with = "serde_str")]
    pub ban: Duration,
}

impl Default for OverloadSection {
    fn default() -> Self {
        OverloadSection {
            max_calls: None,
            max_transactions: 500_000,
            max_sessions_per_worker: None,
            max_queue_delay: Duration::from_millis(250),
            retry_after: 5,
            register_rate: 50.0,
            register_burst: 200.0,
            stranger_invite_rate: 5.0,
            ban_after: 50,
            ban: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    pub name: String,
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    /// Most new calls per second from this trunk's sources; beyond it 503 +
    /// Retry-After. Unlimited when absent.
    #[serde(default)]
    pub max_cps: Option<f64>,
    /// Where calls out through this trunk go (`"udp:IP:PORT"`); such a
    /// trunk is probed with OPTIONS and used for overflow to a number.
    #[serde(default)]
    pub outbound: Option<Spanned<String>>,
    /// How often an outbound trunk is probed.
    #[serde(default, with = "serde_str::option")]
    pub probe_interval: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub id: String,
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    #[serde(default)]
    pub capacity: Option<u32>,
    #[serde(default, with = "serde_str::option")]
    pub wrap_up: Option<Duration>,
    /// Explicit queue membership with a penalty (tier) each; empty = every
    /// queue the skills satisfy, penalty 0.
    #[serde(default)]
    pub queues: BTreeMap<String, u32>,
    /// Weight for `weighted-random`.
    #[serde(default)]
    pub weight: Option<u32>,
    /// Consecutive unanswered offers before the agent is paused
    /// automatically; 0 = never.
    #[serde(default)]
    pub auto_pause_after: Option<u32>,
    /// Rest after rejecting a call (486/603) before the next offer.
    #[serde(default, with = "serde_str::option")]
    pub reject_delay: Option<Duration>,
    /// Rest after a ring timeout before the next offer.
    #[serde(default, with = "serde_str::option")]
    pub no_answer_delay: Option<Duration>,
    /// Rest after the phone was unreachable (408, 5xx, no response).
    #[serde(default, with = "serde_str::option")]
    pub unreachable_delay: Option<Duration>,
}

/// One bullseye relaxation step of a queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaxConfig {
    #[serde(with = "serde_str")]
    pub after: Duration,
    #[serde(default)]
    pub require: BTreeMap<String, u8>,
    #[serde(default)]
    pub max_penalty: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmptinessConfig {
    NoAgents,
    NoReadyAgents,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerMode {
    /// Queue with 183 + early media; the caller is answered when an agent is.
    Early,
    /// Answer the caller at once (200), then queue.
    Immediate,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub name: String,
    #[serde(default = "empty_require")]
    pub require: Spanned<BTreeMap<String, u8>>,
    #[serde(default = "default_strategy")]
    pub strategy: Spanned<String>,
    #[serde(default = "default_ring_timeout", with = "serde_str")]
    pub ring_timeout: Duration,
    #[serde(default = "default_wrap_up", with = "serde_str")]
    pub wrap_up: Duration,
    #[serde(default, with = "serde_str::option")]
    pub max_wait: Option<Duration>,
    #[serde(default)]
    pub max_len: Option<usize>,
    #[serde(default)]
    pub music: Option<Spanned<PathBuf>>,
    #[serde(default = "default_answer")]
    pub answer: AnswerMode,
    /// Members with a penalty above this are not offered before relaxation.
    #[serde(default)]
    pub max_penalty: Option<u32>,
    /// Bullseye relaxation steps (applied to callers already waiting).
    #[serde(default)]
    pub relax: Vec<RelaxConfig>,
    /// Refuse new callers (480) when the queue is empty in this sense.
    #[serde(default)]
    pub join_empty: Option<EmptinessConfig>,
    /// Make waiting callers leave when the queue becomes empty in this sense.
    #[serde(default)]
    pub leave_empty: Option<EmptinessConfig>,
    /// Where callers go on max wait / empty / full: another queue...
    #[serde(default)]
    pub overflow_queue: Option<Spanned<String>>,
    /// ...or a number, called out through the outbound trunks in order.
    #[serde(default)]
    pub overflow_number: Option<Spanned<String>>,
    /// Offer a returning caller to the agent who served it within this window.
    #[serde(default, with = "serde_str::option")]
    pub sticky_window: Option<Duration>,
    /// How long a sticky caller waits for that agent before anyone may take it.
    #[serde(default, with = "serde_str::option")]
    pub sticky_wait: Option<Duration>,
    /// Announce position and estimated wait this often (`None`: never).
    #[serde(default, with = "serde_str::option")]
    pub announce_every: Option<Duration>,
    /// Service level threshold: answered within this counts as in service.
    #[serde(default, with = "serde_str::option")]
    pub service_level: Option<Duration>,
    /// Abandons quicker than this are "short" (excluded from service level).
    #[serde(default, with = "serde_str::option")]
    pub short_abandon: Option<Duration>,
    /// `ring-all`: agents rung at once, at most.
    #[serde(default)]
    pub ring_all_limit: Option<usize>,
    /// Rolling statistics windows (default 15 min and 24 h).
    #[serde(default)]
    pub stats_windows: Option<Vec<String>>,
    /// First position/wait announcement after this wait (default: announce_every).
    #[serde(default, with = "serde_str::option")]
    pub announce_first: Option<Duration>,
    /// Handle time assumed for the wait estimate until calls have completed.
    #[serde(default, with = "serde_str::option")]
    pub default_handle_time: Option<Duration>,
    /// WAV played to a caller leaving unanswered (instead of the prompt
    /// folder's `goodbye`), relative to the config file.
    #[serde(default)]
    pub exit_announcement: Option<Spanned<PathBuf>>,
    /// Raise a waiting caller's priority by one step after each such wait,
    /// so a steady stream of higher-priority calls cannot starve it.
    #[serde(default, with = "serde_str::option")]
    pub priority_aging: Option<Duration>,
    /// A key that lets a waiting caller leave the queue (to the overflow
    /// number when there is one, else a goodbye), e.g. `"0"`.
    #[serde(default)]
    pub exit_key: Option<Spanned<String>>,
    /// Record this queue's calls (stereo WAV, caller left, agent right)
    /// into `[media] recordings`.
    #[serde(default)]
    pub record: bool,
}

fn empty_require() -> Spanned<BTreeMap<String, u8>> {
    Spanned::new(0..0, BTreeMap::new())
}
fn default_strategy() -> Spanned<String> {
    Spanned::new(0..0, "longest-idle".into())
}
fn default_ring_timeout() -> Duration {
    Duration::from_secs(15)
}
fn default_wrap_up() -> Duration {
    Duration::from_secs(5)
}
fn default_answer() -> AnswerMode {
    AnswerMode::Early
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Request-URI user that selects this route; `"*"` matches any.
    pub to: String,
    pub queue: Spanned<String>,
    #[serde(default)]
    pub priority: u8,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub sip: SipSection,
    #[serde(default)]
    pub media: MediaSection,
    #[serde(default)]
    pub admin: AdminSection,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub cdr: CdrSection,
    #[serde(default)]
    pub overload: OverloadSection,
    #[serde(default)]
    pub hep: Option<HepSection>,
    #[serde(default, rename = "trunk")]
    pub trunks: Vec<Spanned<TrunkConfig>>,
    #[serde(default, rename = "agent")]
    pub agents: Vec<Spanned<AgentConfig>>,
    #[serde(default, rename = "queue")]
    pub queues: Vec<Spanned<QueueConfig>>,
    #[serde(default, rename = "route")]
    pub routes: Vec<Spanned<RouteConfig>>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub raw: RawConfig,
    pub listen: Vec<Listen>,
    pub admin_listen: SocketAddr,
    pub trunks: Vec<(String, Vec<Cidr>)>,
    pub strategies: BTreeMap<String, router::Strategy>,
    /// Music files resolved against the config file's folder.
    pub music: BTreeMap<String, PathBuf>,
    /// The prompt folder resolved against the config file's folder.
    pub prompts: Option<PathBuf>,
    /// Per-queue exit announcements resolved against the config file's folder.
    pub exit_announcements: BTreeMap<String, PathBuf>,
    /// Outbound trunks in config order: (index into `trunks`, destination).
    pub outbound: Vec<(usize, SocketAddr)>,
    /// Resolved TLS certificate and key paths, when a `tls:` listener exists.
    pub tls: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// All the errors of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.into(),
            line: 0,
            message: format!("cannot read: {e}"),
        }])
    })?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let mut errs = Errors {
        file: path.to_path_buf(),
        text,
        list: Vec::new(),
    };
    let raw: RawConfig = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let line = e.span().map(|s| errs.line(s.start)).unwrap_or(0);
            errs.list.push(ConfigError {
                file: path.into(),
                line,
                message: e.message().trim().to_string(),
            });
            return Err(ConfigErrors(errs.list));
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let cfg = validate(raw, base, &mut errs);
    if errs.list.is_empty() {
        Ok(Config {
            path: path.to_path_buf(),
            ..cfg
        })
    } else {
        Err(ConfigErrors(errs.list))
    }
}

struct Errors<'t> {
    file: PathBuf,
    text: &'t str,
    list: Vec<ConfigError>,
}

impl Errors<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }
    fn at(&mut self, span: std::ops::Range<usize>, message: String) {
        let line = if span == (0..0) {
            0
        } else {
            self.line(span.start)
        };
        self.list.push(ConfigError {
            file: self.file.clone(),
            line,
            message,
        });
    }
}

fn validate(raw: RawConfig, base: &Path, errs: &mut Errors<'_>) -> Config {
    let mut listen = Vec::new();
    for l in &raw.sip.listen {
        match l.get_ref().parse::<Listen>() {
            Ok(v) => listen.push(v),
            Err(e) => errs.at(l.span(), e),
        }
    }
    let mut tls = None;
    if listen.iter().any(|l| l.transport == Transport::Tls) {
        match (&raw.sip.tls_cert, &raw.sip.tls_key) {
            (Some(c), Some(k)) => match crate::transport::tls::acceptor(
                &base.join(c.get_ref()),
                &base.join(k.get_ref()),
            ) {
                Ok(_) => tls = Some((base.join(c.get_ref()), base.join(k.get_ref()))),
                Err(e) => errs.at(c.span(), format!("[sip] tls_cert/tls_key: {e}")),
            },
            _ => errs.at(
                0..0,
                "[sip] a tls: listener needs tls_cert and tls_key".into(),
            ),
        }
    }
    if raw.sip.listen.is_empty() {
        errs.at(0..0, "[sip] listen: at least one address is needed".into());
    }
    let admin_listen = match raw.admin.listen.get_ref().parse() {
        Ok(a) => a,
        Err(_) => {
            errs.at(
                raw.admin.listen.span(),
                format!(
                    "[admin] listen {:?} is not IP:PORT",
                    raw.admin.listen.get_ref()
                ),
            );
            SocketAddr::from(([127, 0, 0, 1], 8080))
        }
    };
    for (span, message) in crate::admin::auth::check(&raw.admin, admin_listen, base) {
        errs.at(span, message);
    }
    let [lo, hi] = *raw.media.rtp_ports.get_ref();
    if lo >= hi || hi - lo < 3 || lo < 1024 {
        errs.at(
            raw.media.rtp_ports.span(),
            format!("[media] rtp_ports [{lo}, {hi}]: need 1024 <= low < high with room for at least two RTP/RTCP pairs"),
        );
    }
    for c in &raw.media.codecs {
        if !matches!(
            c.to_ascii_uppercase().as_str(),
            "PCMU" | "PCMA" | "G722" | "OPUS"
        ) {
            errs.at(
                0..0,
                format!("[media] codecs: {c:?} is not supported here (PCMU, PCMA, G722, opus)"),
            );
        }
    }
    for a in &raw.auth.algorithms {
        if parse_algorithm(a.get_ref()).is_none() {
            errs.at(
                a.span(),
                format!("[auth] algorithms: {:?} is not MD5 or SHA-256", a.get_ref()),
            );
        }
    }
    if raw.auth.algorithms.is_empty() {
        errs.at(0..0, "[auth] algorithms: at least one is needed".into());
    }
    for t in &raw.trunks {
        if t.get_ref()
            .max_cps
            .is_some_and(|r| !(r > 0.0 && r.is_finite()))
        {
            errs.at(
                t.span(),
                format!("trunk {:?}: max_cps must be above zero", t.get_ref().name),
            );
        }
    }
    let o = &raw.overload;
    if !(o.register_rate > 0.0 && o.register_burst >= 1.0 && o.stranger_invite_rate > 0.0) {
        errs.at(0..0, "[overload] register_rate and stranger_invite_rate must be above zero, register_burst at least 1".into());
    }
    if raw.sip.min_expires > raw.sip.max_expires {
        errs.at(0..0, "[sip] min_expires is above max_expires".into());
    }

    let mut trunks = Vec::new();
    let mut outbound = Vec::new();
    for t in &raw.trunks {
        if let Some(o) = &t.get_ref().outbound {
            match o.get_ref().parse::<Listen>() {
                Ok(l) if l.transport == Transport::Udp => outbound.push((trunks.len(), l.addr)),
                Ok(_) => errs.at(
                    o.span(),
                    format!(
                        "trunk {:?}: outbound supports udp only for now",
                        t.get_ref().name
                    ),
                ),
                Err(e) => errs.at(
                    o.span(),
                    format!("trunk {:?}: outbound: {e}", t.get_ref().name),
                ),
            }
        }
        let mut cidrs = Vec::new();
        for a in &t.get_ref().allow {
            match a.get_ref().parse::<Cidr>() {
                Ok(c) => cidrs.push(c),
                Err(e) => errs.at(a.span(), format!("trunk {:?}: {e}", t.get_ref().name)),
            }
        }
        trunks.push((t.get_ref().name.clone(), cidrs));
    }

    let mut agent_ids = std::collections::BTreeSet::new();
    for a in &raw.agents {
        let ag = a.get_ref();
        if ag.id.is_empty()
            || !ag
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
        {
            errs.at(
                a.span(),
                format!("agent id {:?} must be letters, digits or -_.+", ag.id),
            );
        }
        if !agent_ids.insert(ag.id.clone()) {
            errs.at(a.span(), format!("agent {:?} is defined twice", ag.id));
        }
        if ag.password.is_empty() {
            errs.at(a.span(), format!("agent {:?} has an empty password", ag.id));
        }
        for (skill, level) in &ag.skills {
            if *level == 0 || *level > 10 {
                errs.at(
                    a.span(),
                    format!(
                        "agent {:?}: skill {skill:?} level {level} must be 1..=10",
                        ag.id
                    ),
                );
            }
        }
    }

    let mut strategies = BTreeMap::new();
    let mut music = BTreeMap::new();
    let mut exit_announcements = BTreeMap::new();
    let mut queue_names = std::collections::BTreeSet::new();
    for q in &raw.queues {
        let qc = q.get_ref();
        if !queue_names.insert(qc.name.clone()) {
            errs.at(q.span(), format!("queue {:?} is defined twice", qc.name));
        }
        match qc.strategy.get_ref().parse::<router::Strategy>() {
            Ok(s) => {
                strategies.insert(qc.name.clone(), s);
            }
            Err(_) => errs.at(
                qc.strategy.span(),
                format!(
                    "queue {:?}: unknown strategy {:?}",
                    qc.name,
                    qc.strategy.get_ref()
                ),
            ),
        }
        for (skill, level) in qc.require.get_ref() {
            let served = raw
                .agents
                .iter()
                .any(|a| a.get_ref().skills.get(skill).is_some_and(|l| l >= level));
            if !served {
                errs.at(
                    qc.require.span(),
                    format!(
                        "queue {:?} requires skill {skill:?} >= {level}, which no agent has",
                        qc.name
                    ),
                );
            }
        }
        if qc.ring_timeout.is_zero() {
            errs.at(
                q.span(),
                format!("queue {:?}: ring_timeout must be above zero", qc.name),
            );
        }
        for w in qc.stats_windows.iter().flatten() {
            match crate::duration::parse(w) {
                Ok(d) if !d.is_zero() => {}
                Ok(_) => errs.at(
                    q.span(),
                    format!(
                        "queue {:?}: stats_windows {w:?} must be above zero",
                        qc.name
                    ),
                ),
                Err(e) => errs.at(q.span(), format!("queue {:?}: stats_windows: {e}", qc.name)),
            }
        }
        if let Some(x) = &qc.exit_announcement {
            let p = base.join(x.get_ref());
            if !p.is_file() {
                errs.at(
                    x.span(),
                    format!(
                        "queue {:?}: exit_announcement {} does not exist",
                        qc.name,
                        p.display()
                    ),
                );
            } else {
                exit_announcements.insert(qc.name.clone(), p);
            }
        }
        if let Some(m) = &qc.music {
            let p = base.join(m.get_ref());
            if !p.is_file() {
                errs.at(
                    m.span(),
                    format!(
                        "queue {:?}: music file {} does not exist",
                        qc.name,
                        p.display()
                    ),
                );
            } else {
                music.insert(qc.name.clone(), p);
            }
        }
    }
    if let Some(h) = &raw.hep {
        if h.address.get_ref().parse::<SocketAddr>().is_err() {
            errs.at(
                h.address.span(),
                format!("[hep] address {:?} is not IP:PORT", h.address.get_ref()),
            );
        }
    }
    let has_outbound = raw.trunks.iter().any(|t| t.get_ref().outbound.is_some());
    for q in &raw.queues {
        let qc = q.get_ref();
        if let Some(n) = &qc.overflow_number {
            if qc.overflow_queue.is_some() {
                errs.at(
                    n.span(),
                    format!(
                        "queue {:?}: overflow_queue and overflow_number exclude each other",
                        qc.name
                    ),
                );
            } else if !has_outbound {
                errs.at(
                    n.span(),
                    format!(
                        "queue {:?}: overflow_number needs a [[trunk]] with `outbound`",
                        qc.name
                    ),
                );
            } else if n.get_ref().is_empty()
                || !n
                    .get_ref()
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+*#".contains(&b))
            {
                errs.at(
                    n.span(),
                    format!(
                        "queue {:?}: overflow_number {:?} must be digits (+, *, # allowed)",
                        qc.name,
                        n.get_ref()
                    ),
                );
            }
        }
        if let Some(o) = &q.get_ref().overflow_queue {
            if !queue_names.contains(o.get_ref()) {
                errs.at(
                    o.span(),
                    format!(
                        "queue {:?}: overflow_queue {:?} is not defined",
                        q.get_ref().name,
                        o.get_ref()
                    ),
                );
            }
        }
    }
    for q in &raw.queues {
        if let Some(k) = &q.get_ref().exit_key {
            let ok = k.get_ref().len() == 1
                && k.get_ref()
                    .chars()
                    .all(|c| c.is_ascii_digit() || "*#ABCD".contains(c));
            if !ok {
                errs.at(
                    k.span(),
                    format!(
                        "queue {:?}: exit_key must be one of 0-9 * # A-D",
                        q.get_ref().name
                    ),
                );
            }
        }
    }
    for a in &raw.agents {
        for q in a.get_ref().queues.keys() {
            if !queue_names.contains(q) {
                errs.at(
                    a.span(),
                    format!(
                        "agent {:?} lists queue {q:?}, which is not defined",
                        a.get_ref().id
                    ),
                );
            }
        }
    }
    for r in &raw.routes {
        let rc = r.get_ref();
        if !queue_names.contains(rc.queue.get_ref()) {
            errs.at(
                rc.queue.span(),
                format!(
                    "route {:?} names queue {:?}, which is not defined",
                    rc.to,
                    rc.queue.get_ref()
                ),
            );
        }
    }
    let prompts = raw.media.prompts.as_ref().and_then(|p| {
        let dir = base.join(p.get_ref());
        if dir.is_dir() {
            Some(dir)
        } else {
            errs.at(
                p.span(),
                format!("[media] prompts: folder {} does not exist", dir.display()),
            );
            None
        }
    });
    let cfg = Config {
        path: PathBuf::new(),
        raw,
        listen,
        admin_listen,
        trunks,
        strategies,
        music,
        prompts,
        exit_announcements,
        outbound,
        tls,
    };
    // The router's own checks (relaxation order, capacity...), placed on the
    // entry they concern; the ones checked above are not repeated.
    for issue in cfg.router_config().validate() {
        let path = issue.path.as_str();
        if [".require", ".id", ".name", ".queues"]
            .iter()
            .any(|s| path.ends_with(s))
        {
            continue;
        }
        let index = |prefix: &str| {
            path.strip_prefix(prefix)
                .and_then(|r| r.split(']').next())
                .and_then(|n| n.parse::<usize>().ok())
        };
        let span = if let Some(i) = index("queues[") {
            cfg.raw.queues.get(i).map(|q| q.span())
        } else if let Some(i) = index("agents[") {
            cfg.raw.agents.get(i).map(|a| a.span())
        } else {
            None
        };
        errs.at(span.unwrap_or(0..0), issue.to_string());
    }
    cfg
}

fn emptiness(e: EmptinessConfig) -> router::Emptiness {
    match e {
        EmptinessConfig::NoAgents => router::Emptiness::NoAgents,
        EmptinessConfig::NoReadyAgents => router::Emptiness::NoReadyAgents,
    }
}

pub fn parse_algorithm(s: &str) -> Option<sip_core::DigestAlgorithm> {
    match s.to_ascii_uppercase().as_str() {
        "MD5" => Some(sip_core::DigestAlgorithm::Md5),
        "SHA-256" => Some(sip_core::DigestAlgorithm::Sha256),
        _ => None,
    }
}

impl Config {
    /// Digest algorithms to challenge with, in preference order.
    pub fn digest_algorithms(&self) -> Vec<sip_core::DigestAlgorithm> {
        self.raw
            .auth
            .algorithms
            .iter()
            .filter_map(|a| parse_algorithm(a.get_ref()))
            .collect()
    }

    /// The router's view of agents and queues.
    pub fn router_config(&self) -> router::RouterConfig {
        router::RouterConfig {
            agents: self
                .raw
                .agents
                .iter()
                .map(|a| {
                    let a = a.get_ref();
                    let d = router::AgentConfig::default();
                    router::AgentConfig {
                        id: a.id.clone(),
                        skills: a.skills.clone(),
                        capacity: a.capacity.unwrap_or(1),
                        wrap_up: a.wrap_up,
                        queues: a.queues.clone(),
                        weight: a.weight.unwrap_or(d.weight),
                        auto_pause_after: match a.auto_pause_after {
                            Some(0) => None,
                            Some(n) => Some(n),
                            None => d.auto_pause_after,
                        },
                        reject_delay: a.reject_delay.unwrap_or(d.reject_delay),
                        no_answer_delay: a.no_answer_delay.unwrap_or(d.no_answer_delay),
                        unreachable_delay: a.unreachable_delay.unwrap_or(d.unreachable_delay),
                    }
                })
                .collect(),
            queues: self
                .raw
                .queues
                .iter()
                .map(|q| {
                    let q = q.get_ref();
                    let d = router::QueueConfig::default();
                    router::QueueConfig {
                        name: q.name.clone(),
                        require: q.require.get_ref().clone(),
                        strategy: self
                            .strategies
                            .get(&q.name)
                            .copied()
                            .unwrap_or(router::Strategy::LongestIdle),
                        ring_timeout: q.ring_timeout,
                        wrap_up: q.wrap_up,
                        max_wait: q.max_wait,
                        max_len: q.max_len,
                        max_penalty: q.max_penalty,
                        relax: q
                            .relax
                            .iter()
                            .map(|r| router::RelaxStep {
                                after: r.after,
                                require: r.require.clone(),
                                max_penalty: r.max_penalty,
                            })
                            .collect(),
                        join_empty: q.join_empty.map(emptiness),
                        leave_empty: q.leave_empty.map(emptiness),
                        overflow: q
                            .overflow_queue
                            .as_ref()
                            .map(|o| router::Overflow::Queue(o.get_ref().clone()))
                            .or_else(|| {
                                q.overflow_number
                                    .as_ref()
                                    .map(|n| router::Overflow::Number(n.get_ref().clone()))
                            }),
                        sticky_window: q.sticky_window,
                        sticky_wait: q.sticky_wait.unwrap_or(d.sticky_wait),
                        announce_every: q.announce_every,
                        service_level: q.service_level.unwrap_or(d.service_level),
                        short_abandon: q.short_abandon.unwrap_or(d.short_abandon),
                        ring_all_limit: q.ring_all_limit.unwrap_or(d.ring_all_limit),
                        priority_aging: q.priority_aging,
                        announce_first: q.announce_first,
                        stats_windows: q
                            .stats_windows
                            .as_ref()
                            .map(|w| {
                                w.iter()
                                    .filter_map(|d| crate::duration::parse(d).ok())
                                    .collect()
                            })
                            .unwrap_or(d.stats_windows),
                        default_handle_time: q.default_handle_time.unwrap_or(d.default_handle_time),
                        exit_announcement: q
                            .exit_announcement
                            .as_ref()
                            .map(|p| p.get_ref().display().to_string()),
                    }
                })
                .collect(),
        }
    }

    pub fn agent(&self, id: &str) -> Option<&AgentConfig> {
        self.raw
            .agents
            .iter()
            .map(|a| a.get_ref())
            .find(|a| a.id == id)
    }

    pub fn queue(&self, name: &str) -> Option<&QueueConfig> {
        self.raw
            .queues
            .iter()
            .map(|q| q.get_ref())
            .find(|q| q.name == name)
    }

    /// The route for a Request-URI user: exact match first, then `*`.
    pub fn route(&self, user: &str) -> Option<&RouteConfig> {
        let routes = || self.raw.routes.iter().map(|r| r.get_ref());
        routes()
            .find(|r| r.to == user)
            .or_else(|| routes().find(|r| r.to == "*"))
    }

    /// The trunk whose ACL admits this source.
    pub fn trunk_for(&self, ip: IpAddr) -> Option<&str> {
        self.trunk_index(ip).map(|i| self.trunks[i].0.as_str())
    }

    fn trunk_index(&self, ip: IpAddr) -> Option<usize> {
        self.trunks
            .iter()
            .position(|(_, cidrs)| cidrs.iter().any(|c| c.contains(ip)))
    }

    /// The INVITE rate a source may send: its trunk's `max_cps` (unlimited
    /// when unset), or the stranger rate for sources outside every trunk.
    pub fn invite_rate_for(&self, ip: IpAddr) -> Option<f64> {
        match self.trunk_index(ip) {
            Some(i) => self.raw.trunks[i].get_ref().max_cps,
            None => Some(self.raw.overload.stranger_invite_rate),
        }
    }

    /// Host for our Via/Contact.
    pub fn public_host(&self) -> String {
        match &self.raw.sip.public_host {
            Some(h) => h.clone(),
            None => {
                let a = self
                    .listen
                    .first()
                    .map(|l| l.addr)
                    .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 5060)));
                match a.ip() {
                    IpAddr::V6(v6) => format!("[{v6}]:{}", a.port()),
                    v4 => format!("{v4}:{}", a.port()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[sip]
listen = ["udp:127.0.0.1:5060"]

[[trunk]]
name = "carrier"
allow = ["127.0.0.0/8"]

[[agent]]
id = "1001"
password = "secret"
skills = { english = 5 }

[[queue]]
name = "support"
require = { english = 1 }

[[route]]
to = "5000"
queue = "support"
"#;

    #[test]
    fn loads_a_good_config() {
        let c = parse(Path::new("t.toml"), GOOD).unwrap();
        assert_eq!(c.listen[0].addr.port(), 5060);
        assert_eq!(c.route("5000").unwrap().queue.get_ref(), "support");
        assert!(c.route("6000").is_none());
        assert_eq!(c.trunk_for("127.0.0.2".parse().unwrap()), Some("carrier"));
        assert_eq!(c.trunk_for("10.0.0.2".parse().unwrap()), None);
    }

    #[test]
    fn reports_every_error_with_its_line() {
        let bad = GOOD
            .replace("english = 1 }", "spanish = 2 }")
            .replace("queue = \"support\"", "queue = \"sales\"")
            .replace("127.0.0.0/8", "127.0.0.0/88");
        let errs = parse(Path::new("t.toml"), &bad).unwrap_err().0;
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter()
                .any(|e| e.starts_with("t.toml:7:") && e.contains("prefix length")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|e| e.starts_with("t.toml:16:") && e.contains("\"spanish\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|e| e.starts_with("t.toml:20:") && e.contains("\"sales\"")),
            "{text:?}"
        );
    }

    #[test]
    fn router_features_map_and_router_issues_have_lines() {
        let extra = r#"
[[queue]]
name = "overflow"
require = { english = 1 }
relax = [{ after = "30s", require = { english = 1 } }, { after = "10s" }]
"#;
        let with_relax = GOOD.replace("require = { english = 1 }\n", "require = { english = 1 }\noverflow_queue = \"overflow\"\nannounce_every = \"30s\"\njoin_empty = \"no-ready-agents\"\n") + extra;
        let errs = parse(Path::new("t.toml"), &with_relax).unwrap_err().0;
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].message.contains("increasing"), "{errs:?}");
        assert_eq!(errs[0].line, 25, "{errs:?}");
        let fixed = with_relax.replace(", { after = \"10s\" }", ", { after = \"60s\" }");
        let c = parse(Path::new("t.toml"), &fixed).unwrap();
        let r = c.router_config();
        let q = &r.queues[0];
        assert_eq!(q.overflow, Some(router::Overflow::Queue("overflow".into())));
        assert_eq!(q.announce_every, Some(Duration::from_secs(30)));
        assert_eq!(q.join_empty, Some(router::Emptiness::NoReadyAgents));
        assert_eq!(r.queues[1].relax.len(), 2);
        let bad = GOOD.replace(
            "require = { english = 1 }\n",
            "require = { english = 1 }\noverflow_queue = \"nowhere\"\n",
        );
        let errs = parse(Path::new("t.toml"), &bad).unwrap_err().0;
        assert!(errs[0].to_string().starts_with("t.toml:17:"), "{errs:?}");
    }

    #[test]
    fn syntax_and_unknown_keys_have_lines() {
        let errs = parse(
            Path::new("t.toml"),
            "[sip]\nlisten = [\"udp:127.0.0.1:5060\"]\nlistne = 1\n",
        )
        .unwrap_err();
        assert_eq!(errs.0[0].line, 3, "{errs}");
        let errs = parse(Path::new("t.toml"), "[sip\n").unwrap_err();
        assert_eq!(errs.0[0].line, 1, "{errs}");
    }
}
