//! rtpload — RTP load generator for Switchboard's media relay.
//!
//! Opens N call pairs (a "caller" and an "agent" socket each), sends paced
//! G.711 (20 ms, 172-byte RTP) from both ends to the relay, and reports
//! packets/s, loss, reordering and one-way added latency (p50/p99/max).
//!
//! Two modes:
//! - `--engine`: start an in-process `MediaEngine` on loopback, create and
//!   bridge N sessions, and report the workers' CPU time per relayed packet
//!   (from `/proc/self/task/*/schedstat`).
//! - `--pair A,B` (repeatable) or `--pairs-file F` (one `A B` per line): drive
//!   an external relay whose bridged legs listen on A and B.
//! - `--direct --calls N`: no relay, each caller socket sends straight to its
//!   agent socket and back: the generator's own cost, the baseline that a
//!   relay's machine-wide CPU is measured against (`benches/compare/media`).
//!
//! `--warmup MS` sends one unmeasured packet per stream first and starts the
//! measured run MS later: relays that learn addresses from the first packet
//! (latching) have latched by then, so loss is the relay's, not latching's.
//!
//! ```text
//! rtpload --engine --calls 500 --seconds 10 [--workers 1]
//! rtpload --pair 10.0.0.5:20000,10.0.0.5:20004 --seconds 30
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::rtp::{RtpHeader, RtpPacket};
use media::{Codec, Leg, MediaConfig, MediaEngine};
use tokio::net::UdpSocket;

const MAGIC: u32 = 0x5357_4244; // "SWBD"

struct Args {
    direct: bool,
    warmup_ms: u64,
    engine: bool,
    calls: usize,
    seconds: f64,
    workers: usize,
    port_min: u16,
    pairs: Vec<(SocketAddr, SocketAddr)>,
    ptime_ms: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: rtpload (--engine [--calls N] [--workers W] [--port-min P] | --direct --calls N | --pair A,B ... | --pairs-file F)\n               [--seconds S] [--ptime MS] [--warmup MS]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        engine: false,
        direct: false,
        warmup_ms: 0,
        calls: 100,
        seconds: 10.0,
        workers: 1,
        port_min: 30000,
        pairs: vec![],
        ptime_ms: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--engine" => a.engine = true,
            "--direct" => a.direct = true,
            "--warmup" => a.warmup_ms = val().parse().unwrap_or_else(|_| usage()),
            "--calls" => a.calls = val().parse().unwrap_or_else(|_| usage()),
            "--seconds" => a.seconds = val().parse().unwrap_or_else(|_| usage()),
            "--workers" => a.workers = val().parse().unwrap_or_else(|_| usage()),
            "--port-min" => a.port_min = val().parse().unwrap_or_else(|_| usage()),
            "--ptime" => a.ptime_ms = val().parse().unwrap_or_else(|_| usage()),
            "--pair" => {
                let v = val();
                let (x, y) = v.split_once(',').unwrap_or_else(|| usage());
                a.pairs.push((
                    x.parse().unwrap_or_else(|_| usage()),
                    y.parse().unwrap_or_else(|_| usage()),
                ));
            }
            "--pairs-file" => {
                let text = std::fs::read_to_string(val()).unwrap_or_else(|e| {
                    eprintln!("{e}");
                    std::process::exit(2)
                });
                for line in text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                {
                    let mut f = line.split_whitespace();
                    match (f.next().map(str::parse), f.next().map(str::parse)) {
                        (Some(Ok(x)), Some(Ok(y))) => a.pairs.push((x, y)),
                        _ => usage(),
                    }
                }
            }
            _ => usage(),
        }
    }
    if !a.engine && !a.direct && a.pairs.is_empty() {
        usage();
    }
    a
}

/// CPU time (ns) of this process's threads whose name starts with `prefix`.
fn threads_cpu_ns(prefix: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for t in dir.flatten() {
        let p = t.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with(prefix) {
            let s = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
            total += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

#[derive(Default)]
struct DirStats {
    received: u64,
    reordered: u64,
    duplicates: u64,
    latencies_us: Vec<u32>,
}

struct Shared {
    sent: AtomicU64,
    start: Instant,
}

struct Stream {
    sock: Arc<UdpSocket>,
    to: SocketAddr,
    pair: u32,
    dir: u8,
    ssrc: u32,
    seq: u16,
    ts: u32,
    n: u64,
}

/// One task sends for every stream: stream `i` sends in millisecond slot
/// `i % ptime_ms` of each packet time, so the load is spread evenly and
/// there is one timer, not one per stream.
async fn sender(mut streams: Vec<Stream>, ptime: Duration, run_for: Duration, sh: Arc<Shared>) {
    let slots = ptime.as_millis().max(1) as usize;
    let stop = sh.start + run_for;
    let mut payload = [0xFFu8; 160];
    let mut pkt = [0u8; 172];
    let mut tick: u64 = 0;
    loop {
        let at = sh.start + Duration::from_millis(tick);
        if at >= stop {
            return;
        }
        tokio::time::sleep_until(at.into()).await;
        let slot = (tick % slots as u64) as usize;
        for s in streams.iter_mut().skip(slot).step_by(slots) {
            let now = Instant::now();
            payload[0..4].copy_from_slice(&MAGIC.to_be_bytes());
            payload[4..8].copy_from_slice(&s.pair.to_be_bytes());
            payload[8] = s.dir;
            payload[9..17].copy_from_slice(&s.n.to_be_bytes());
            let sent_ns = now.duration_since(sh.start).as_nanos() as u64;
            payload[17..25].copy_from_slice(&sent_ns.to_be_bytes());
            let h = RtpHeader {
                marker: s.n == 0,
                payload_type: 0,
                sequence: s.seq,
                timestamp: s.ts,
                ssrc: s.ssrc,
            };
            let Some(len) = h.write(&payload, &mut pkt) else {
                continue;
            };
            let ok = match s.sock.try_send_to(&pkt[..len], s.to) {
                Ok(_) => true,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    s.sock.send_to(&pkt[..len], s.to).await.is_ok()
                }
                Err(_) => false,
            };
            if ok {
                s.n += 1;
                sh.sent.fetch_add(1, Ordering::Relaxed);
            }
            s.seq = s.seq.wrapping_add(1);
            s.ts = s.ts.wrapping_add(160);
        }
        tick += 1;
    }
}

async fn receiver(sock: Arc<UdpSocket>, until: Instant, sh: Arc<Shared>) -> DirStats {
    let mut st = DirStats::default();
    let mut max_seq: Option<u64> = None;
    let mut seen = std::collections::HashSet::new();
    let mut buf = [0u8; 2048];
    loop {
        let r = tokio::time::timeout_at(until.into(), sock.recv_from(&mut buf)).await;
        let Ok(Ok((n, _))) = r else { return st };
        let now_ns = Instant::now().duration_since(sh.start).as_nanos() as u64;
        let Ok(p) = RtpPacket::parse(&buf[..n]) else {
            continue;
        };
        let pl = p.payload();
        if pl.len() < 25 || pl[0..4] != MAGIC.to_be_bytes() {
            continue;
        }
        let seq = u64::from_be_bytes(pl[9..17].try_into().unwrap_or_default());
        let sent = u64::from_be_bytes(pl[17..25].try_into().unwrap_or_default());
        if !seen.insert(seq) {
            st.duplicates += 1;
            continue;
        }
        st.received += 1;
        match max_seq {
            Some(m) if seq < m => st.reordered += 1,
            _ => max_seq = Some(seq),
        }
        st.latencies_us
            .push((now_ns.saturating_sub(sent) / 1000) as u32);
    }
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut engine = None;
    let mut pairs = args.pairs.clone();
    if args.engine {
        let port_max = args.port_min as u32 + args.calls as u32 * 4 + 64;
        let e = MediaEngine::start(MediaConfig {
            bind_ip: "127.0.0.1".parse().expect("ip"),
            port_min: args.port_min,
            port_max: port_max.min(65535) as u16,
            workers: args.workers,
            rtp_timeout: Duration::from_secs(3600),
            kernel_forwarding: true,
        })
        .expect("start media engine");
        let mut sessions = vec![];
        for _ in 0..args.calls {
            let s = e.create_session().expect("create session");
            pairs.push((s.a, s.b));
            sessions.push(s);
        }
        engine = Some((e, sessions));
    }
    let ptime = Duration::from_millis(args.ptime_ms);
    let run_for = Duration::from_secs_f64(args.seconds);
    let (results, sent, elapsed, cpu) = rt.block_on(async {
        let mut socks = vec![];
        let n = if args.direct { args.calls } else { pairs.len() };
        for _ in 0..n {
            let c = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind"));
            let g = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind"));
            socks.push((c, g));
        }
        if args.direct {
            // No relay: each end sends to the other's socket.
            for (c, g) in &socks {
                let (ca, ga) = (c.local_addr().expect("addr"), g.local_addr().expect("addr"));
                pairs.push((ga, ca));
            }
        }
        if let Some((e, sessions)) = &engine {
            for (s, (c, g)) in sessions.iter().zip(&socks) {
                e.set_remote(s.id, Leg::A, c.local_addr().expect("addr"), Codec::Pcmu);
                e.set_remote(s.id, Leg::B, g.local_addr().expect("addr"), Codec::Pcmu);
                e.bridge(s.id);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let warmup = Duration::from_millis(args.warmup_ms);
        let sh = Arc::new(Shared {
            sent: AtomicU64::new(0),
            start: Instant::now() + Duration::from_millis(50) + warmup,
        });
        let until = sh.start + run_for + Duration::from_millis(500);
        let mut streams = vec![];
        let mut recvs = vec![];
        for (i, ((a, b), (c, g))) in pairs.iter().zip(&socks).enumerate() {
            for (dir, sock, to) in [(0u8, c, *a), (1u8, g, *b)] {
                streams.push(Stream {
                    sock: sock.clone(),
                    to,
                    pair: i as u32,
                    dir,
                    ssrc: rand::random(),
                    seq: rand::random(),
                    ts: rand::random(),
                    n: 0,
                });
            }
            recvs.push(tokio::spawn(receiver(g.clone(), until, sh.clone())));
            recvs.push(tokio::spawn(receiver(c.clone(), until, sh.clone())));
        }
        if !warmup.is_zero() {
            // One unmeasured packet per stream (receivers skip it: no
            // magic), so relays latch before the measured run.
            let mut pkt = [0u8; 172];
            for s in streams.iter_mut() {
                let h = RtpHeader {
                    marker: true,
                    payload_type: 0,
                    sequence: s.seq,
                    timestamp: s.ts,
                    ssrc: s.ssrc,
                };
                if let Some(len) = h.write(&[0u8; 160], &mut pkt) {
                    let _ = s.sock.send_to(&pkt[..len], s.to).await;
                }
                s.seq = s.seq.wrapping_add(1);
                s.ts = s.ts.wrapping_add(160);
            }
        }
        tokio::time::sleep_until((sh.start).into()).await;
        let cpu0 = threads_cpu_ns("media-worker");
        let _ = tokio::spawn(sender(streams, ptime, run_for, sh.clone())).await;
        let elapsed = sh.start.elapsed();
        let cpu = threads_cpu_ns("media-worker") - cpu0;
        let mut res = vec![];
        for r in recvs {
            if let Ok(r) = r.await {
                res.push(r);
            }
        }
        (
            res,
            sh.sent.load(Ordering::Relaxed),
            elapsed.min(run_for),
            cpu,
        )
    });
    let mut all = DirStats::default();
    for r in results {
        all.received += r.received;
        all.reordered += r.reordered;
        all.duplicates += r.duplicates;
        all.latencies_us.extend(r.latencies_us);
    }
    all.latencies_us.sort_unstable();
    let secs = elapsed.as_secs_f64();
    let loss = sent.saturating_sub(all.received);
    println!(
        "rtpload: {} call pairs, {:.1} s, ptime {} ms, {} packets each way per call/s",
        pairs.len(),
        secs,
        args.ptime_ms,
        1000 / args.ptime_ms.max(1)
    );
    println!("sent      {sent} packets ({:.0} pkt/s)", sent as f64 / secs);
    println!(
        "received  {} packets ({:.0} pkt/s)",
        all.received,
        all.received as f64 / secs
    );
    println!(
        "loss      {loss} ({:.3} %)",
        100.0 * loss as f64 / sent.max(1) as f64
    );
    println!(
        "reordered {}   duplicates {}",
        all.reordered, all.duplicates
    );
    println!(
        "one-way added latency ms: p50 {:.3}  p99 {:.3}  max {:.3}",
        pct(&all.latencies_us, 0.5),
        pct(&all.latencies_us, 0.99),
        pct(&all.latencies_us, 1.0)
    );
    if let Some((e, sessions)) = &engine {
        let (mut rx, mut relayed, mut errs) = (0u64, 0u64, 0u64);
        for s in sessions {
            let v = s.stats.snapshot();
            rx += v.a.rx_packets + v.b.rx_packets;
            relayed += v.relayed_a_to_b + v.relayed_b_to_a;
            errs += v.a.send_errors + v.b.send_errors;
        }
        println!("engine: received {rx}, relayed {relayed}, send errors {errs} (loss before the engine = sent - received; after = relayed - tool received)");
        println!(
            "engine: {} worker(s), CPU {:.3} s = {:.2} µs per relayed packet ({:.1} % of one core)",
            e.workers(),
            cpu as f64 / 1e9,
            cpu as f64 / 1e3 / relayed.max(1) as f64,
            100.0 * cpu as f64 / 1e9 / secs
        );
    }
}
