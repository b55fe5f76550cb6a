//! Prometheus metrics through the `metrics` facade.
//!
//! Two kinds of series:
//!
//! - **Events** (SIP messages, call ends, setup and wait times) are recorded
//!   where they happen by the small hooks below, called from the engine.
//! - **State** (active calls, queue depth, agents by state, ports, live RTP
//!   counters) is read from the engine when `/metrics` is scraped
//!   ([`export`]), so a gauge is never stale and the engine pays nothing
//!   between scrapes.
//!
//! Every name starts with `switchboard_` and carries its unit; the README's
//! "Metrics" section lists them all. The recorder is process-global and is
//! installed on first use ([`handle`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets (seconds) for call setup, queue wait and RTP jitter.
const SETUP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0,
];
/// Buckets (seconds) of the engine's offer latency: microseconds to 100 ms.
const OFFER_BUCKETS: &[f64] = &[
    1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1,
];
const JITTER_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32,
];

/// The installed recorder's handle (installs it on first call). `None` when
/// another recorder already owns the process (then nothing is exported).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("switchboard_rtp_jitter_seconds".into()),
                    JITTER_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("switchboard_offer_latency_seconds".into()),
                        OFFER_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SETUP_BUCKETS)
                });
            let recorder = match builder {
                Ok(b) => b.build_recorder(),
                Err(e) => {
                    tracing::error!("metrics: {e}");
                    return None;
                }
            };
            let handle = recorder.handle();
            if ::metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("metrics: another recorder is installed; /metrics stays empty");
                return None;
            }
            describe();
            // Series that must exist before their first event, so a
            // dashboard shows 0 rather than "no data".
            counter!("switchboard_sip_parse_errors_total").absolute(0);
            Some(handle)
        })
        .as_ref()
}

/// Prometheus text for `/metrics` (the caller refreshes state first).
pub fn render() -> String {
    match handle() {
        Some(h) => {
            h.run_upkeep();
            h.render()
        }
        None => String::new(),
    }
}

fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!(
        "switchboard_active_calls",
        "Calls the engine holds now, by state (queued, bridged)."
    );
    describe_counter!(
        "switchboard_calls_total",
        "Calls ended, by outcome (as in the CDR)."
    );
    describe_counter!(
        "switchboard_calls_offered_total",
        "Calls admitted to a queue."
    );
    describe_counter!(
        "switchboard_invites_rejected_total",
        "New INVITEs refused, by SIP status code."
    );
    describe_counter!(
        "switchboard_sip_requests_total",
        "SIP requests by direction (in, out) and method; retransmissions included."
    );
    describe_counter!(
        "switchboard_sip_responses_total",
        "SIP responses by direction (in, out) and status code; retransmissions included."
    );
    describe_counter!(
        "switchboard_sip_parse_errors_total",
        "Datagrams that did not parse as SIP."
    );
    describe_counter!(
        "switchboard_sip_retransmissions_total",
        "Retransmitted requests and responses absorbed by the transaction layer."
    );
    describe_gauge!("switchboard_sip_transactions", "Live SIP transactions.");
    describe_gauge!("switchboard_registrations", "Agent phones registered now.");
    describe_gauge!(
        "switchboard_queue_waiting_calls",
        "Callers waiting in a queue (not ringing)."
    );
    describe_gauge!(
        "switchboard_queue_ringing_calls",
        "Callers of a queue being offered to an agent."
    );
    describe_gauge!(
        "switchboard_queue_longest_wait_seconds",
        Unit::Seconds,
        "Longest current wait in a queue."
    );
    describe_gauge!("switchboard_queue_occupancy_ratio", "Time the queue's members were busy with calls (ringing, talking, wrap-up) / time they were logged in and unpaused, over the queue's first statistics window (0..1).");
    describe_gauge!("switchboard_queue_service_level_ratio", "Answered within the queue's service-level time / (answered + abandoned), over the queue's first statistics window (0..1).");
    describe_gauge!(
        "switchboard_queue_agents",
        "Agents serving a queue, by state."
    );
    describe_gauge!("switchboard_agents", "Configured agents by state.");
    describe_counter!("switchboard_rtp_packets_total", "RTP packets by leg (caller, agent) and direction (in: received from the leg, out: sent to it); ended and live calls.");
    describe_counter!(
        "switchboard_rtp_bytes_total",
        "RTP bytes by leg and direction; ended and live calls."
    );
    describe_counter!(
        "switchboard_rtp_lost_packets_total",
        "RTP packets lost on the way in, by leg (RFC 3550 A.3); ended and live calls."
    );
    describe_histogram!(
        "switchboard_rtp_jitter_seconds",
        Unit::Seconds,
        "Interarrival jitter of each leg at call end."
    );
    describe_gauge!(
        "switchboard_rtp_live_jitter_max_seconds",
        Unit::Seconds,
        "Highest interarrival jitter among live calls, by leg."
    );
    describe_gauge!(
        "switchboard_rtp_ports_in_use",
        "RTP/RTCP ports taken from the pool."
    );
    describe_gauge!("switchboard_rtp_ports", "Size of the RTP port range.");
    describe_gauge!("switchboard_media_sessions", "Media sessions open.");
    describe_gauge!(
        "switchboard_media_kernel_forwarding",
        "1 when established relay streams are forwarded in the kernel (tc/BPF, [media] kernel_forwarding), 0 when user space relays every packet."
    );
    describe_counter!(
        "switchboard_rtp_kernel_forwarded_packets_total",
        "Of the RTP packets relayed, those forwarded in the kernel; ended and live calls (live ones up to a second behind)."
    );
    describe_histogram!(
        "switchboard_call_setup_seconds",
        Unit::Seconds,
        "Caller INVITE to a milestone: stage=agent_invite (first agent INVITE sent), stage=bridged (agent answered, media bridged)."
    );
    describe_histogram!(
        "switchboard_queue_wait_seconds",
        Unit::Seconds,
        "Time in queue of each ended call (to bridging, or to the end when never bridged), by queue."
    );
    describe_counter!(
        "switchboard_rate_limited_total",
        "Requests refused by a per-source rate limit."
    );
    describe_counter!(
        "switchboard_banned_datagrams_total",
        "Datagrams dropped because their source is banned."
    );
    describe_counter!(
        "switchboard_cdr_write_errors_total",
        "CDRs that could not be written."
    );
    describe_counter!(
        "switchboard_config_reloads_total",
        "Configurations applied by SIGHUP or the API."
    );
    describe_counter!(
        "switchboard_overload_rejections_total",
        "New INVITEs refused by the overload gate, by reason: max_calls, media_workers, max_transactions, queue_delay (the engine fell behind)."
    );
    describe_counter!(
        "switchboard_admin_requests_total",
        "Admin HTTP requests by status code."
    );
}

// ----- hooks called from the engine --------------------------------------

/// An agent INVITE went out for a call; `first` when it is the call's first.
pub fn agent_rung(first: bool, since_invite: Duration) {
    if first && handle().is_some() {
        histogram!("switchboard_call_setup_seconds", "stage" => "agent_invite")
            .record(since_invite.as_secs_f64());
    }
}

/// Real time from the input that made the router offer a call (an agent
/// freed: `agent_free`; a new call: `call_arrival`) to the agent's INVITE
/// handed to the transaction layer.
pub fn offer_latency(trigger: &'static str, d: Duration) {
    if handle().is_some() {
        histogram!("switchboard_offer_latency_seconds", "trigger" => trigger)
            .record(d.as_secs_f64());
    }
}

/// An agent answered and the media was bridged.
pub fn bridged(since_invite: Duration) {
    if handle().is_some() {
        histogram!("switchboard_call_setup_seconds", "stage" => "bridged")
            .record(since_invite.as_secs_f64());
    }
}

/// RTP counters of ended calls; live calls are added at scrape time, so
/// the exported totals never go down.
struct Ended {
    /// [caller in, caller out, agent in, agent out]
    packets: [AtomicU64; 4],
    bytes: [AtomicU64; 4],
    /// [caller, agent]
    lost: [AtomicU64; 2],
    kernel: AtomicU64,
}

static ENDED: Ended = Ended {
    packets: [const { AtomicU64::new(0) }; 4],
    bytes: [const { AtomicU64::new(0) }; 4],
    lost: [const { AtomicU64::new(0) }; 2],
    kernel: AtomicU64::new(0),
};

/// A call ended with this outcome after `waited` in `queue`.
pub fn call_ended(
    queue: &str,
    outcome: &'static str,
    waited: Duration,
    rtp: &media::StatsSnapshot,
) {
    if handle().is_none() {
        return;
    }
    counter!("switchboard_calls_total", "outcome" => outcome).increment(1);
    histogram!("switchboard_queue_wait_seconds", "queue" => queue.to_string())
        .record(waited.as_secs_f64());
    ENDED.kernel.fetch_add(rtp.kernel_relayed, Relaxed);
    for (i, leg) in [&rtp.a, &rtp.b].into_iter().enumerate() {
        ENDED.packets[2 * i].fetch_add(leg.rx_packets, Relaxed);
        ENDED.packets[2 * i + 1].fetch_add(leg.tx_packets, Relaxed);
        ENDED.bytes[2 * i].fetch_add(leg.rx_bytes, Relaxed);
        ENDED.bytes[2 * i + 1].fetch_add(leg.tx_bytes, Relaxed);
        ENDED.lost[i].fetch_add(leg.lost, Relaxed);
        if leg.rx_packets > 0 {
            histogram!("switchboard_rtp_jitter_seconds", "leg" => LEGS[i])
                .record(leg.jitter_us as f64 / 1e6);
        }
    }
}

const LEGS: [&str; 2] = ["caller", "agent"];

// ----- state, read at scrape time ------------------------------------------

/// What the engine reports when `/metrics` is scraped.
pub struct EngineState<'a> {
    pub queued: usize,
    pub bridged: usize,
    pub transactions: usize,
    pub registrations: usize,
    pub ports_in_use: usize,
    pub ports: usize,
    pub sessions: usize,
    pub kernel_forwarding: bool,
    pub counters: &'a crate::stats::Counters,
    pub router: &'a router::Snapshot,
    /// RTP counters of the calls alive now.
    pub live_rtp: Vec<media::StatsSnapshot>,
}

/// Sets every state gauge and scrape-time counter.
pub fn export(s: &EngineState<'_>) {
    if handle().is_none() {
        return;
    }
    gauge!("switchboard_active_calls", "state" => "queued").set(s.queued as f64);
    gauge!("switchboard_active_calls", "state" => "bridged").set(s.bridged as f64);
    gauge!("switchboard_sip_transactions").set(s.transactions as f64);
    gauge!("switchboard_registrations").set(s.registrations as f64);
    gauge!("switchboard_rtp_ports_in_use").set(s.ports_in_use as f64);
    gauge!("switchboard_rtp_ports").set(s.ports as f64);
    gauge!("switchboard_media_sessions").set(s.sessions as f64);
    gauge!("switchboard_media_kernel_forwarding").set(f64::from(u8::from(s.kernel_forwarding)));
    let c = s.counters;
    counter!("switchboard_sip_parse_errors_total").absolute(c.parse_errors);
    counter!("switchboard_sip_retransmissions_total").absolute(c.retransmissions);
    counter!("switchboard_calls_offered_total").absolute(c.calls_offered);
    for (reason, n) in crate::stats::OVERLOAD_REASONS
        .iter()
        .zip(c.overload_by_reason)
    {
        counter!("switchboard_overload_rejections_total", "reason" => *reason).absolute(n);
    }
    counter!("switchboard_rate_limited_total").absolute(c.rate_limited);
    counter!("switchboard_banned_datagrams_total").absolute(c.banned_drops);
    counter!("switchboard_cdr_write_errors_total").absolute(c.cdr_errors);
    counter!("switchboard_config_reloads_total").absolute(c.reloads);
    for (d, dir) in crate::stats::DIRECTIONS.iter().enumerate() {
        for (i, &n) in c.sip.requests[d].iter().enumerate() {
            if n > 0 {
                let method = crate::stats::SIP_METHODS[i];
                counter!("switchboard_sip_requests_total", "direction" => *dir, "method" => method)
                    .absolute(n);
            }
        }
        for (i, &n) in c.sip.responses[d].iter().enumerate() {
            if n > 0 {
                let code = (i + 100).to_string();
                counter!("switchboard_sip_responses_total", "direction" => *dir, "code" => code)
                    .absolute(n);
            }
        }
    }
    for (code, n) in &c.invite_rejected {
        counter!("switchboard_invites_rejected_total", "code" => code.to_string()).absolute(*n);
    }
    for q in &s.router.queues {
        let name = q.name.clone();
        gauge!("switchboard_queue_waiting_calls", "queue" => name.clone()).set(q.waiting as f64);
        gauge!("switchboard_queue_ringing_calls", "queue" => name.clone()).set(q.ringing as f64);
        gauge!("switchboard_queue_longest_wait_seconds", "queue" => name.clone())
            .set(q.longest_wait_ms as f64 / 1000.0);
        if let Some(sl) = q.windows.first().and_then(|w| w.service_level_pct) {
            gauge!("switchboard_queue_service_level_ratio", "queue" => name.clone())
                .set(sl / 100.0);
        }
        if let Some(occ) = q.windows.first().and_then(|w| w.occupancy_pct) {
            gauge!("switchboard_queue_occupancy_ratio", "queue" => name.clone()).set(occ / 100.0);
        }
        for (state, n) in state_counts(&q.agents) {
            gauge!("switchboard_queue_agents", "queue" => name.clone(), "state" => state)
                .set(n as f64);
        }
    }
    let mut all = router::StateCounts::default();
    for a in &s.router.agents {
        match a.state {
            router::AgentState::LoggedOut => all.logged_out += 1,
            router::AgentState::Available => all.available += 1,
            router::AgentState::Ringing => all.ringing += 1,
            router::AgentState::OnCall => all.on_call += 1,
            router::AgentState::WrapUp => all.wrap_up += 1,
            router::AgentState::Paused => all.paused += 1,
        }
    }
    for (state, n) in state_counts(&all) {
        gauge!("switchboard_agents", "state" => state).set(n as f64);
    }
    let mut packets: [u64; 4] = std::array::from_fn(|i| ENDED.packets[i].load(Relaxed));
    let mut bytes: [u64; 4] = std::array::from_fn(|i| ENDED.bytes[i].load(Relaxed));
    let mut lost: [u64; 2] = std::array::from_fn(|i| ENDED.lost[i].load(Relaxed));
    let mut jitter = [0u64; 2];
    let mut kernel = ENDED.kernel.load(Relaxed);
    for r in &s.live_rtp {
        kernel += r.kernel_relayed;
        for (i, leg) in [&r.a, &r.b].into_iter().enumerate() {
            packets[2 * i] += leg.rx_packets;
            packets[2 * i + 1] += leg.tx_packets;
            bytes[2 * i] += leg.rx_bytes;
            bytes[2 * i + 1] += leg.tx_bytes;
            lost[i] += leg.lost;
            jitter[i] = jitter[i].max(leg.jitter_us);
        }
    }
    for (i, leg) in LEGS.iter().enumerate() {
        for (j, dir) in ["in", "out"].iter().enumerate() {
            counter!("switchboard_rtp_packets_total", "leg" => *leg, "direction" => *dir)
                .absolute(packets[2 * i + j]);
            counter!("switchboard_rtp_bytes_total", "leg" => *leg, "direction" => *dir)
                .absolute(bytes[2 * i + j]);
        }
        counter!("switchboard_rtp_lost_packets_total", "leg" => *leg).absolute(lost[i]);
        gauge!("switchboard_rtp_live_jitter_max_seconds", "leg" => *leg)
            .set(jitter[i] as f64 / 1e6);
    }
    counter!("switchboard_rtp_kernel_forwarded_packets_total").absolute(kernel);
}

fn state_counts(c: &router::StateCounts) -> [(&'static str, usize); 6] {
    [
        ("logged-out", c.logged_out),
        ("available", c.available),
        ("ringing", c.ringing),
        ("on-call", c.on_call),
        ("wrap-up", c.wrap_up),
        ("paused", c.paused),
    ]
}

/// One admin request answered with `status`.
pub fn admin_request(status: u16) {
    if handle().is_some() {
        counter!("switchboard_admin_requests_total", "code" => status.to_string()).increment(1);
    }
}
